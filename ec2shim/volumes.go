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
	"pinet.io/pinet/ec2shim/query"
)

// Volumes: the wire side of the cloud service's volume operations.

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
	Iops               int32                            `xml:"iops,omitempty"`
	Throughput         int32                            `xml:"throughput,omitempty"`
	Encrypted          bool                             `xml:"encrypted"`
	MultiAttachEnabled bool                             `xml:"multiAttachEnabled"`
	TagSet             *query.List[tagItem]             `xml:"tagSet,omitempty"`
}

func toAttachmentItem(a cloud.VolumeAttachment) volumeAttachmentItem {
	item := volumeAttachmentItem{VolumeID: a.VolumeID, InstanceID: a.InstanceID, Device: a.Device,
		State: a.State, DeleteOnTermination: a.DeleteOnTermination}
	if !a.AttachTime.IsZero() {
		item.AttachTime = query.NewTimestamp(a.AttachTime)
	}
	return item
}

func toVolumeItem(v cloud.Volume) volumeItem {
	return volumeItem{VolumeID: v.VolumeID, Size: v.SizeGiB, SnapshotID: v.SnapshotID,
		AvailabilityZone: v.AvailabilityZone, State: v.State, CreateTime: query.NewTimestamp(v.CreateTime),
		Attachments: listOf(v.Attachments, toAttachmentItem),
		VolumeType:  v.VolumeType, Iops: v.Iops, Throughput: v.Throughput, Encrypted: v.Encrypted, MultiAttachEnabled: v.MultiAttachEnabled, TagSet: tagList(v.Tags)}
}

type createVolumeInput struct {
	Size               *int32             `ec2:"Size"`
	SnapshotID         string             `ec2:"SnapshotId"`
	AvailabilityZone   string             `ec2:"AvailabilityZone"`
	AvailabilityZoneID string             `ec2:"AvailabilityZoneId"`
	VolumeType         string             `ec2:"VolumeType"`
	Iops               *int32             `ec2:"Iops"`
	Throughput         *int32             `ec2:"Throughput"`
	Encrypted          bool               `ec2:"Encrypted"`
	ClientToken        string             `ec2:"ClientToken"`
	TagSpecifications  []tagSpecification `ec2:"TagSpecification,list"`
	DryRun             bool               `ec2:"DryRun"`
}

func (s *Server) createVolume(ctx context.Context, who cloud.Caller, in *createVolumeInput) (any, error) {
	return encoded(byPointer(toVolumeItem))(s.svc.CreateVolume(ctx, who,
		cloud.CreateVolumeInput{SizeGiB: in.Size, SnapshotID: in.SnapshotID, AvailabilityZone: in.AvailabilityZone,
			AvailabilityZoneID: in.AvailabilityZoneID, VolumeType: in.VolumeType, Iops: in.Iops, Throughput: in.Throughput, Encrypted: in.Encrypted,
			ClientToken: in.ClientToken, TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun}))
}

type volumeIDInput struct {
	VolumeID string `ec2:"VolumeId,required"`
	DryRun   bool   `ec2:"DryRun"`
}

func (s *Server) deleteVolume(ctx context.Context, who cloud.Caller, in *volumeIDInput) (any, error) {
	return done(s.svc.DeleteVolume(ctx, who, cloud.VolumeIDInput{VolumeID: in.VolumeID, DryRun: in.DryRun}))
}

type describeVolumesInput struct {
	VolumeIDs []string `ec2:"VolumeId,list"`
	pagedDescribeInput
}

type describeVolumesOutput struct {
	Volumes   query.List[volumeItem] `xml:"volumeSet"`
	NextToken string                 `xml:"nextToken,omitempty"`
}

func toDescribeVolumesOutput(vols []cloud.Volume, next string) *describeVolumesOutput {
	return &describeVolumesOutput{Volumes: listOf(vols, toVolumeItem), NextToken: next}
}

func (s *Server) describeVolumes(ctx context.Context, who cloud.Caller, in *describeVolumesInput) (any, error) {
	return encodedPage(toDescribeVolumesOutput)(s.svc.DescribeVolumes(ctx, who, cloud.DescribeVolumesInput{
		VolumeIDs: in.VolumeIDs, Filters: in.Filters, DryRun: in.DryRun, Page: page(in.Paging)}))
}

type attachVolumeInput struct {
	VolumeID   string `ec2:"VolumeId,required"`
	InstanceID string `ec2:"InstanceId,required"`
	Device     string `ec2:"Device,required"`
	DryRun     bool   `ec2:"DryRun"`
}

func (s *Server) attachVolume(ctx context.Context, who cloud.Caller, in *attachVolumeInput) (any, error) {
	return encoded(byPointer(toAttachmentItem))(s.svc.AttachVolume(ctx, who, cloud.AttachVolumeInput{VolumeID: in.VolumeID,
		InstanceID: in.InstanceID, Device: in.Device, DryRun: in.DryRun}))
}

type detachVolumeInput struct {
	VolumeID   string `ec2:"VolumeId,required"`
	InstanceID string `ec2:"InstanceId"`
	Device     string `ec2:"Device"`
	Force      bool   `ec2:"Force"`
	DryRun     bool   `ec2:"DryRun"`
}

func (s *Server) detachVolume(ctx context.Context, who cloud.Caller, in *detachVolumeInput) (any, error) {
	return encoded(byPointer(toAttachmentItem))(s.svc.DetachVolume(ctx, who, cloud.DetachVolumeInput{VolumeID: in.VolumeID,
		InstanceID: in.InstanceID, Device: in.Device, Force: in.Force, DryRun: in.DryRun}))
}

type modifyVolumeInput struct {
	VolumeID           string `ec2:"VolumeId,required"`
	Size               *int32 `ec2:"Size"`
	VolumeType         string `ec2:"VolumeType"`
	Iops               *int32 `ec2:"Iops"`
	Throughput         *int32 `ec2:"Throughput"`
	MultiAttachEnabled *bool  `ec2:"MultiAttachEnabled"`
	DryRun             bool   `ec2:"DryRun"`
}

// volumeModificationItem is EC2's VolumeModification.
type volumeModificationItem struct {
	VolumeID           string           `xml:"volumeId"`
	ModificationState  string           `xml:"modificationState"`
	StatusMessage      string           `xml:"statusMessage,omitempty"`
	TargetSize         int32            `xml:"targetSize"`
	TargetVolumeType   string           `xml:"targetVolumeType"`
	OriginalSize       int32            `xml:"originalSize"`
	OriginalVolumeType string           `xml:"originalVolumeType"`
	Progress           int              `xml:"progress"`
	StartTime          query.Timestamp  `xml:"startTime"`
	EndTime            *query.Timestamp `xml:"endTime,omitempty"`
}

func toVolumeModificationItem(m cloud.VolumeModification) volumeModificationItem {
	item := volumeModificationItem{VolumeID: m.VolumeID, ModificationState: m.State, StatusMessage: m.StatusMessage,
		TargetSize: m.TargetSizeGiB, TargetVolumeType: m.TargetVolumeType, OriginalSize: m.OriginalSizeGiB,
		OriginalVolumeType: m.OriginalVolumeType, Progress: m.Progress, StartTime: query.NewTimestamp(m.StartTime)}
	if !m.EndTime.IsZero() {
		end := query.NewTimestamp(m.EndTime)
		item.EndTime = &end
	}
	return item
}

type modifyVolumeOutput struct {
	VolumeModification volumeModificationItem `xml:"volumeModification"`
}

func (s *Server) modifyVolume(ctx context.Context, who cloud.Caller, in *modifyVolumeInput) (any, error) {
	m, err := s.svc.ModifyVolume(ctx, who, cloud.ModifyVolumeInput{VolumeID: in.VolumeID, SizeGiB: in.Size,
		VolumeType: in.VolumeType, Iops: in.Iops, Throughput: in.Throughput, MultiAttachEnabled: in.MultiAttachEnabled, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &modifyVolumeOutput{VolumeModification: toVolumeModificationItem(*m)}, nil
}

type describeVolumesModificationsInput struct {
	VolumeIDs []string `ec2:"VolumeId,list"`
	pagedDescribeInput
}

type describeVolumesModificationsOutput struct {
	Modifications query.List[volumeModificationItem] `xml:"volumeModificationSet"`
	NextToken     string                             `xml:"nextToken,omitempty"`
}

func toDescribeVolumesModificationsOutput(mods []cloud.VolumeModification, next string) *describeVolumesModificationsOutput {
	return &describeVolumesModificationsOutput{Modifications: listOf(mods, toVolumeModificationItem), NextToken: next}
}

func (s *Server) describeVolumesModifications(ctx context.Context, who cloud.Caller, in *describeVolumesModificationsInput) (any, error) {
	return encodedPage(toDescribeVolumesModificationsOutput)(s.svc.DescribeVolumesModifications(ctx, who,
		cloud.DescribeVolumesModificationsInput{VolumeIDs: in.VolumeIDs, Filters: in.Filters, DryRun: in.DryRun, Page: page(in.Paging)}))
}

type volumeStatusDetailItem struct {
	Name   string `xml:"name"`
	Status string `xml:"status"`
}

type volumeStatusInfo struct {
	Status  string                             `xml:"status"`
	Details query.List[volumeStatusDetailItem] `xml:"details"`
}

// volumeStatusItem is EC2's VolumeStatusItem; PiNet has no volume events or actions.
type volumeStatusItem struct {
	VolumeID         string               `xml:"volumeId"`
	AvailabilityZone string               `xml:"availabilityZone"`
	VolumeStatus     volumeStatusInfo     `xml:"volumeStatus"`
	Events           query.List[struct{}] `xml:"eventsSet"`
	Actions          query.List[struct{}] `xml:"actionsSet"`
}

type describeVolumeStatusOutput struct {
	VolumeStatuses query.List[volumeStatusItem] `xml:"volumeStatusSet"`
	NextToken      string                       `xml:"nextToken,omitempty"`
}

func toVolumeStatusItem(st cloud.VolumeStatus) volumeStatusItem {
	return volumeStatusItem{VolumeID: st.VolumeID, AvailabilityZone: st.AvailabilityZone,
		VolumeStatus: volumeStatusInfo{Status: st.Status, Details: listOf(st.Details, func(d cloud.StatusDetail) volumeStatusDetailItem {
			return volumeStatusDetailItem(d)
		})}, Events: query.NewList[struct{}](), Actions: query.NewList[struct{}]()}
}

func toDescribeVolumeStatusOutput(items []cloud.VolumeStatus, next string) *describeVolumeStatusOutput {
	return &describeVolumeStatusOutput{VolumeStatuses: listOf(items, toVolumeStatusItem), NextToken: next}
}

func (s *Server) describeVolumeStatus(ctx context.Context, who cloud.Caller, in *describeVolumesInput) (any, error) {
	return encodedPage(toDescribeVolumeStatusOutput)(s.svc.DescribeVolumeStatus(ctx, who, cloud.DescribeVolumeStatusInput{
		VolumeIDs: in.VolumeIDs, Filters: in.Filters, DryRun: in.DryRun, Page: page(in.Paging)}))
}
