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

// Snapshots: the wire side of the cloud service's snapshot operations.

// snapshotItem is EC2's Snapshot.
type snapshotItem struct {
	SnapshotID   string               `xml:"snapshotId"`
	VolumeID     string               `xml:"volumeId"`
	State        string               `xml:"status"`
	StateMessage string               `xml:"statusMessage,omitempty"`
	StartTime    query.Timestamp      `xml:"startTime"`
	Progress     string               `xml:"progress"`
	OwnerID      string               `xml:"ownerId"`
	Description  string               `xml:"description"`
	VolumeSize   int32                `xml:"volumeSize"`
	Encrypted    bool                 `xml:"encrypted"`
	TagSet       *query.List[tagItem] `xml:"tagSet,omitempty"`
}

func toSnapshotItem(s cloud.Snapshot) snapshotItem {
	return snapshotItem{SnapshotID: s.SnapshotID, VolumeID: s.VolumeID, State: s.State, StateMessage: s.StateMessage,
		StartTime: query.NewTimestamp(s.StartTime), Progress: s.Progress, OwnerID: s.OwnerID, Description: s.Description,
		VolumeSize: s.VolumeSizeGiB, Encrypted: s.Encrypted, TagSet: tagList(s.Tags)}
}

type createSnapshotInput struct {
	VolumeID          string             `ec2:"VolumeId,required"`
	Description       string             `ec2:"Description"`
	TagSpecifications []tagSpecification `ec2:"TagSpecification,list"`
	DryRun            bool               `ec2:"DryRun"`
}

func (s *Server) createSnapshot(ctx context.Context, who cloud.Caller, in *createSnapshotInput) (any, error) {
	return encoded(byPointer(toSnapshotItem))(s.svc.CreateSnapshot(ctx, who, cloud.CreateSnapshotInput{VolumeID: in.VolumeID,
		Description: in.Description, TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun}))
}

type snapshotIDInput struct {
	SnapshotID string `ec2:"SnapshotId,required"`
	DryRun     bool   `ec2:"DryRun"`
}

func (s *Server) deleteSnapshot(ctx context.Context, who cloud.Caller, in *snapshotIDInput) (any, error) {
	return done(s.svc.DeleteSnapshot(ctx, who, cloud.SnapshotIDInput{SnapshotID: in.SnapshotID, DryRun: in.DryRun}))
}

type describeSnapshotsInput struct {
	SnapshotIDs  []string `ec2:"SnapshotId,list"`
	OwnerIDs     []string `ec2:"Owner,list"`
	RestorableBy []string `ec2:"RestorableBy,list"`
	pagedDescribeInput
}

type describeSnapshotsOutput struct {
	Snapshots query.List[snapshotItem] `xml:"snapshotSet"`
	NextToken string                   `xml:"nextToken,omitempty"`
}

func toDescribeSnapshotsOutput(snaps []cloud.Snapshot, next string) *describeSnapshotsOutput {
	return &describeSnapshotsOutput{Snapshots: listOf(snaps, toSnapshotItem), NextToken: next}
}

func (s *Server) describeSnapshots(ctx context.Context, who cloud.Caller, in *describeSnapshotsInput) (any, error) {
	return encodedPage(toDescribeSnapshotsOutput)(s.svc.DescribeSnapshots(ctx, who, cloud.DescribeSnapshotsInput{
		SnapshotIDs: in.SnapshotIDs, OwnerIDs: in.OwnerIDs, RestorableByUserIDs: in.RestorableBy, Filters: in.Filters,
		DryRun: in.DryRun, Page: page(in.Paging)}))
}

type snapshotAttributeInput struct {
	SnapshotID string `ec2:"SnapshotId,required"`
	Attribute  string `ec2:"Attribute,required"`
	DryRun     bool   `ec2:"DryRun"`
}

type snapshotAttributeOutput struct {
	SnapshotID              string                            `xml:"snapshotId"`
	CreateVolumePermissions *query.List[launchPermissionItem] `xml:"createVolumePermission,omitempty"`
	ProductCodes            *query.List[productCodeItem]      `xml:"productCodes,omitempty"`
}

func (s *Server) describeSnapshotAttribute(ctx context.Context, who cloud.Caller, in *snapshotAttributeInput) (any, error) {
	return encoded(toSnapshotAttributeOutput)(s.svc.DescribeSnapshotAttribute(ctx, who, cloud.SnapshotAttributeInput{
		SnapshotID: in.SnapshotID, Attribute: in.Attribute, DryRun: in.DryRun}))
}

// toSnapshotAttributeOutput puts the one attribute asked for in its element.
func toSnapshotAttributeOutput(attr *cloud.SnapshotAttribute) *snapshotAttributeOutput {
	out := &snapshotAttributeOutput{SnapshotID: attr.SnapshotID}
	if attr.Attribute == "productCodes" {
		out.ProductCodes = &query.List[productCodeItem]{}
		return out
	}
	perms := listOf(attr.CreateVolumePermissions, func(p cloud.CreateVolumePermission) launchPermissionItem {
		return launchPermissionItem(p)
	})
	out.CreateVolumePermissions = &perms
	return out
}

type modifySnapshotAttributeInput struct {
	SnapshotID             string                         `ec2:"SnapshotId,required"`
	Attribute              string                         `ec2:"Attribute"`
	OperationType          string                         `ec2:"OperationType"`
	GroupNames             []string                       `ec2:"UserGroup,list"`
	UserIDs                []string                       `ec2:"UserId,list"`
	CreateVolumePermission *launchPermissionModifications `ec2:"CreateVolumePermission"`
	DryRun                 bool                           `ec2:"DryRun"`
}

func (s *Server) modifySnapshotAttribute(ctx context.Context, who cloud.Caller, in *modifySnapshotAttributeInput) (any, error) {
	mod := cloud.ModifySnapshotAttributeInput{SnapshotID: in.SnapshotID, Attribute: in.Attribute, OperationType: in.OperationType,
		GroupNames: in.GroupNames, UserIDs: in.UserIDs, DryRun: in.DryRun}
	if in.CreateVolumePermission != nil {
		mod.CreateVolumePermission = &cloud.CreateVolumePermissionChanges{Add: toLaunchPermissions(in.CreateVolumePermission.Add),
			Remove: toLaunchPermissions(in.CreateVolumePermission.Remove)}
	}
	return done(s.svc.ModifySnapshotAttribute(ctx, who, mod))
}

func (s *Server) resetSnapshotAttribute(ctx context.Context, who cloud.Caller, in *snapshotAttributeInput) (any, error) {
	return done(s.svc.ResetSnapshotAttribute(ctx, who, cloud.SnapshotAttributeInput{SnapshotID: in.SnapshotID,
		Attribute: in.Attribute, DryRun: in.DryRun}))
}

type copySnapshotInput struct {
	SourceSnapshotID            string             `ec2:"SourceSnapshotId,required"`
	SourceRegion                string             `ec2:"SourceRegion,required"`
	DestinationRegion           string             `ec2:"DestinationRegion"`
	Description                 string             `ec2:"Description"`
	Encrypted                   bool               `ec2:"Encrypted"`
	KmsKeyID                    string             `ec2:"KmsKeyId"`
	PresignedURL                string             `ec2:"PresignedUrl"`
	DestinationOutpostArn       string             `ec2:"DestinationOutpostArn"`
	DestinationAvailabilityZone string             `ec2:"DestinationAvailabilityZone"`
	CompletionDurationMinutes   *int32             `ec2:"CompletionDurationMinutes"`
	TagSpecifications           []tagSpecification `ec2:"TagSpecification,list"`
	DryRun                      bool               `ec2:"DryRun"`
}

type copySnapshotOutput struct {
	SnapshotID string               `xml:"snapshotId"`
	TagSet     *query.List[tagItem] `xml:"tagSet,omitempty"`
}

// copySnapshot: PresignedUrl serves copies between regions, and the cloud has one; it is read
// and not needed.
func (s *Server) copySnapshot(ctx context.Context, who cloud.Caller, in *copySnapshotInput) (any, error) {
	return encoded(func(snap *cloud.Snapshot) *copySnapshotOutput {
		return &copySnapshotOutput{SnapshotID: snap.SnapshotID, TagSet: tagList(snap.Tags)}
	})(s.svc.CopySnapshot(ctx, who, cloud.CopySnapshotInput{SourceSnapshotID: in.SourceSnapshotID, SourceRegion: in.SourceRegion,
		DestinationRegion: in.DestinationRegion, Description: in.Description, Encrypted: in.Encrypted, KmsKeyID: in.KmsKeyID,
		DestinationOutpostArn: in.DestinationOutpostArn, DestinationAvailabilityZone: in.DestinationAvailabilityZone,
		CompletionDurationMinutes: in.CompletionDurationMinutes, TagSpecifications: toTagSpecifications(in.TagSpecifications),
		DryRun: in.DryRun}))
}
