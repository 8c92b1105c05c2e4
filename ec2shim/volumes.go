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
	"pinet.io/pinet/ec2shim/query"
)

// Volumes: the wire side of the cloud service's volume operations.

func (s *Server) volumeRoutes() map[string]action {
	return map[string]action{
		"CreateVolume":    s.createVolume,
		"DeleteVolume":    s.deleteVolume,
		"DescribeVolumes": s.describeVolumes,
		"AttachVolume":    s.attachVolume,
		"DetachVolume":    s.detachVolume,
	}
}

// deviceName is what AttachVolume accepts (the service's check, here for the shim's tests).
var deviceName = cloud.DeviceName

// deviceSlot is the disk a device name stands for, as the service decides it.
func deviceSlot(device string) (string, bool) { return cloud.DeviceSlot(device) }

// volumeAttachmentItem is EC2's VolumeAttachment.
type volumeAttachmentItem struct {
	VolumeID            string          `xml:"volumeId"`
	InstanceID          string          `xml:"instanceId"`
	Device              string          `xml:"device"`
	State               string          `xml:"status"`
	AttachTime          query.Timestamp `xml:"attachTime"`
	DeleteOnTermination bool            `xml:"deleteOnTermination"`
}

// volumeItem is EC2's Volume.
type volumeItem struct {
	VolumeID           string                           `xml:"volumeId"`
	Size               int32                            `xml:"size"`
	SnapshotID         string                           `xml:"snapshotId"`
	AvailabilityZone   string                           `xml:"availabilityZone"`
	State              string                           `xml:"status"`
	CreateTime         query.Timestamp                  `xml:"createTime"`
	Attachments        query.List[volumeAttachmentItem] `xml:"attachmentSet"`
	VolumeType         string                           `xml:"volumeType"`
	Encrypted          bool                             `xml:"encrypted"`
	MultiAttachEnabled bool                             `xml:"multiAttachEnabled"`
	TagSet             *query.List[tagItem]             `xml:"tagSet,omitempty"`
}

func toAttachmentItem(a *cloud.VolumeAttachment) *volumeAttachmentItem {
	item := &volumeAttachmentItem{VolumeID: a.VolumeID, InstanceID: a.InstanceID, Device: a.Device,
		State: a.State, DeleteOnTermination: a.DeleteOnTermination}
	if !a.AttachTime.IsZero() {
		item.AttachTime = query.NewTimestamp(a.AttachTime)
	}
	return item
}

func toVolumeItem(v *cloud.Volume) *volumeItem {
	item := &volumeItem{VolumeID: v.VolumeID, Size: v.SizeGiB, SnapshotID: v.SnapshotID,
		AvailabilityZone: v.AvailabilityZone, State: v.State, CreateTime: query.NewTimestamp(v.CreateTime),
		Attachments: query.NewList[volumeAttachmentItem](), VolumeType: v.VolumeType, Encrypted: v.Encrypted,
		MultiAttachEnabled: v.MultiAttachEnabled, TagSet: tagList(v.Tags)}
	for i := range v.Attachments {
		item.Attachments.Items = append(item.Attachments.Items, *toAttachmentItem(&v.Attachments[i]))
	}
	return item
}

type createVolumeInput struct {
	Size               *int32             `ec2:"Size"`
	SnapshotID         string             `ec2:"SnapshotId"`
	AvailabilityZone   string             `ec2:"AvailabilityZone"`
	AvailabilityZoneID string             `ec2:"AvailabilityZoneId"`
	VolumeType         string             `ec2:"VolumeType"`
	Encrypted          bool               `ec2:"Encrypted"`
	ClientToken        string             `ec2:"ClientToken"`
	TagSpecifications  []tagSpecification `ec2:"TagSpecification,list"`
	DryRun             bool               `ec2:"DryRun"`
}

func (s *Server) createVolume(ctx context.Context, c *call) (any, error) {
	var in createVolumeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	v, err := s.svc.CreateVolume(ctx, c.caller(), cloud.CreateVolumeInput{SizeGiB: in.Size, SnapshotID: in.SnapshotID,
		AvailabilityZone: in.AvailabilityZone, AvailabilityZoneID: in.AvailabilityZoneID, VolumeType: in.VolumeType,
		Encrypted: in.Encrypted, ClientToken: in.ClientToken,
		TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return toVolumeItem(v), nil
}

type volumeIDInput struct {
	VolumeID string `ec2:"VolumeId,required"`
	DryRun   bool   `ec2:"DryRun"`
}

func (s *Server) deleteVolume(ctx context.Context, c *call) (any, error) {
	var in volumeIDInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := s.svc.DeleteVolume(ctx, c.caller(), cloud.VolumeIDInput{VolumeID: in.VolumeID, DryRun: in.DryRun}); err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

type describeVolumesInput struct {
	VolumeIDs []string       `ec2:"VolumeId,list"`
	Filters   []query.Filter `ec2:"Filter,list"`
	DryRun    bool           `ec2:"DryRun"`
	query.Paging
}

type describeVolumesOutput struct {
	Volumes   query.List[volumeItem] `xml:"volumeSet"`
	NextToken string                 `xml:"nextToken,omitempty"`
}

func (s *Server) describeVolumes(ctx context.Context, c *call) (any, error) {
	var in describeVolumesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	vols, next, err := s.svc.DescribeVolumes(ctx, c.caller(), cloud.DescribeVolumesInput{VolumeIDs: in.VolumeIDs,
		Filters: in.Filters, DryRun: in.DryRun, Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken}})
	if err != nil {
		return nil, err
	}
	out := &describeVolumesOutput{Volumes: query.NewList[volumeItem](), NextToken: next}
	for i := range vols {
		out.Volumes.Items = append(out.Volumes.Items, *toVolumeItem(&vols[i]))
	}
	return out, nil
}

type attachVolumeInput struct {
	VolumeID   string `ec2:"VolumeId,required"`
	InstanceID string `ec2:"InstanceId,required"`
	Device     string `ec2:"Device,required"`
	DryRun     bool   `ec2:"DryRun"`
}

func (s *Server) attachVolume(ctx context.Context, c *call) (any, error) {
	var in attachVolumeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	a, err := s.svc.AttachVolume(ctx, c.caller(), cloud.AttachVolumeInput{VolumeID: in.VolumeID,
		InstanceID: in.InstanceID, Device: in.Device, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return toAttachmentItem(a), nil
}

type detachVolumeInput struct {
	VolumeID   string `ec2:"VolumeId,required"`
	InstanceID string `ec2:"InstanceId"`
	Device     string `ec2:"Device"`
	Force      bool   `ec2:"Force"`
	DryRun     bool   `ec2:"DryRun"`
}

func (s *Server) detachVolume(ctx context.Context, c *call) (any, error) {
	var in detachVolumeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	a, err := s.svc.DetachVolume(ctx, c.caller(), cloud.DetachVolumeInput{VolumeID: in.VolumeID,
		InstanceID: in.InstanceID, Device: in.Device, Force: in.Force, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return toAttachmentItem(a), nil
}
