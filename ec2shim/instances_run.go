// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package ec2shim

import (
	"context"

	"pinet.io/pinet/cloud"
)

// RunInstances: the wire side of the cloud service's launch.

type ebsInput struct {
	VolumeSize          *int32 `ec2:"VolumeSize"`
	DeleteOnTermination *bool  `ec2:"DeleteOnTermination"`
	SnapshotID          string `ec2:"SnapshotId"`
	VolumeType          string `ec2:"VolumeType"`
	Encrypted           *bool  `ec2:"Encrypted"`
	Iops                *int32 `ec2:"Iops"`
	Throughput          *int32 `ec2:"Throughput"`
}

type blockDeviceMappingInput struct {
	DeviceName  string    `ec2:"DeviceName"`
	VirtualName string    `ec2:"VirtualName"`
	EBS         *ebsInput `ec2:"Ebs"`
	NoDevice    *string   `ec2:"NoDevice"`
}

type runInstancesInput struct {
	ImageID             string                    `ec2:"ImageId"`
	MinCount            int32                     `ec2:"MinCount,required"`
	MaxCount            int32                     `ec2:"MaxCount,required"`
	InstanceType        string                    `ec2:"InstanceType"`
	KeyName             string                    `ec2:"KeyName"`
	UserData            []byte                    `ec2:"UserData"`
	SecurityGroups      []string                  `ec2:"SecurityGroup,list"`
	SecurityGroupIDs    []string                  `ec2:"SecurityGroupId,list"`
	Placement           *placement                `ec2:"Placement"`
	KernelID            string                    `ec2:"KernelId"`
	RamdiskID           string                    `ec2:"RamdiskId"`
	BlockDeviceMappings []blockDeviceMappingInput `ec2:"BlockDeviceMapping,list"`
	ClientToken         string                    `ec2:"ClientToken"`
	TagSpecifications   []tagSpecification        `ec2:"TagSpecification,list"`
	ShutdownBehavior    string                    `ec2:"InstanceInitiatedShutdownBehavior"`
	Monitoring          *struct {
		Enabled bool `ec2:"Enabled"`
	} `ec2:"Monitoring"`
	MetadataOptions       *metadataOptionsInput `ec2:"MetadataOptions"`
	DisableAPITermination bool                  `ec2:"DisableApiTermination"`
	DisableAPIStop        bool                  `ec2:"DisableApiStop"`
	EbsOptimized          bool                  `ec2:"EbsOptimized"`
	DryRun                bool                  `ec2:"DryRun"`
}

// toService is the launch as the service takes it.
func (in *runInstancesInput) toService() cloud.RunInstancesInput {
	out := cloud.RunInstancesInput{ImageID: in.ImageID, MinCount: in.MinCount, MaxCount: in.MaxCount,
		InstanceType: in.InstanceType, KeyName: in.KeyName, UserData: in.UserData, SecurityGroups: in.SecurityGroups,
		SecurityGroupIDs: in.SecurityGroupIDs, KernelID: in.KernelID, RamdiskID: in.RamdiskID,
		ClientToken: in.ClientToken, TagSpecifications: toTagSpecifications(in.TagSpecifications),
		ShutdownBehavior: in.ShutdownBehavior, DisableAPITermination: in.DisableAPITermination,
		DisableAPIStop: in.DisableAPIStop, EbsOptimized: in.EbsOptimized, DryRun: in.DryRun}
	if in.Placement != nil {
		out.Placement = &cloud.Placement{AvailabilityZone: in.Placement.AvailabilityZone,
			GroupName: in.Placement.GroupName, Tenancy: in.Placement.Tenancy}
	}
	if in.Monitoring != nil {
		out.Monitoring = &cloud.MonitoringInput{Enabled: in.Monitoring.Enabled}
	}
	if in.MetadataOptions != nil {
		mo := cloud.MetadataOptionsInput(*in.MetadataOptions)
		out.MetadataOptions = &mo
	}
	for _, m := range in.BlockDeviceMappings {
		bdm := cloud.BlockDeviceMappingInput{DeviceName: m.DeviceName, VirtualName: m.VirtualName, NoDevice: m.NoDevice}
		if m.EBS != nil {
			ebs := cloud.EBSInput(*m.EBS)
			bdm.EBS = &ebs
		}
		out.BlockDeviceMappings = append(out.BlockDeviceMappings, bdm)
	}
	return out
}

func (s *Server) runInstances(ctx context.Context, who cloud.Caller, in *runInstancesInput) (any, error) {
	return encoded(toReservation)(s.svc.RunInstances(ctx, who, in.toService()))
}
