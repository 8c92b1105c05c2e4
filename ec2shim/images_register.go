/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

import (
	"context"

	"pinet.io/pinet/cloud"
)

type registerImageInput struct {
	ImageLocation       string                    `ec2:"ImageLocation"`
	Name                string                    `ec2:"Name,required"`
	Description         string                    `ec2:"Description"`
	Architecture        string                    `ec2:"Architecture"`
	KernelID            string                    `ec2:"KernelId"`
	RamdiskID           string                    `ec2:"RamdiskId"`
	RootDeviceName      string                    `ec2:"RootDeviceName"`
	VirtualizationType  string                    `ec2:"VirtualizationType"`
	BlockDeviceMappings []blockDeviceMappingInput `ec2:"BlockDeviceMapping,list"`
	TagSpecifications   []tagSpecification        `ec2:"TagSpecification,list"`
	DryRun              bool                      `ec2:"DryRun"`
}

type registerImageOutput struct {
	ImageID string `xml:"imageId"`
}

// registerImage registers a bundle (cloud.Service.RegisterImage reads its manifest as the caller).
func (s *Server) registerImage(ctx context.Context, c *call) (any, error) {
	var in registerImageInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	devices := make([]cloud.ImageBlockDevice, 0, len(in.BlockDeviceMappings))
	for _, m := range in.BlockDeviceMappings {
		devices = append(devices, cloud.ImageBlockDevice{DeviceName: m.DeviceName, EBS: m.EBS != nil})
	}
	id, err := s.svc.RegisterImage(ctx, c.caller(), cloud.RegisterImageInput{Location: in.ImageLocation,
		Name: in.Name, Description: in.Description, Architecture: in.Architecture, KernelID: in.KernelID,
		RamdiskID: in.RamdiskID, RootDeviceName: in.RootDeviceName, VirtualizationType: in.VirtualizationType,
		BlockDeviceMappings: devices, TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &registerImageOutput{ImageID: id}, nil
}
