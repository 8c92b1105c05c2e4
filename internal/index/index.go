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

// Package index registers the cache field indexes PiNet's controllers, node agent and EC2 shim
// look objects up by: EC2 ids, placements and names.
package index

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/quota"
)

// Field index names.
const (
	// InstanceID indexes Instances by status.instanceId.
	InstanceID = "status.instanceId"
	// InstancePublicIP indexes Instances by the elastic IP they show (status.publicIpAddress).
	InstancePublicIP = "status.publicIpAddress"
	// InstanceHypervisor indexes Instances by status.hypervisor.
	InstanceHypervisor = "status.hypervisor"
	// InstanceReservation indexes Instances by status.reservationId.
	InstanceReservation = "status.reservationId"
	// InstanceWaiting indexes the Instances that wait for something another instance gives
	// back: WaitingForAddress, WaitingForQuota. A release then finds the few that wait without
	// reading every instance of the project, which made a termination cost O(fleet).
	InstanceWaiting = "waitingFor"
	// ImageID indexes Images by status.imageId.
	ImageID = "status.imageId"
	// ImageSharedWith indexes Images by the projects their launch permission names, and
	// SharedWithAll when they are public: a project lists what it may launch without reading
	// every project's images.
	ImageSharedWith = "imageSharedWith"
	// SnapshotSharedWith indexes Snapshots so by their create volume permission.
	SnapshotSharedWith = "snapshotSharedWith"
	// ImageInstance indexes Images by spec.instanceId: the images being made of an instance.
	ImageInstance = "spec.instanceId"
	// ImageSnapshot indexes Images by the snapshots their block device mappings name: the
	// images that hold a snapshot from being deleted.
	ImageSnapshot = "spec.blockDeviceMappings.ebs.snapshotId"
	// KeyName indexes KeyPairs by their effective EC2 key name.
	KeyName = "keyName"
	// GroupID indexes SecurityGroups by status.groupId.
	GroupID = "status.groupId"
	// GroupName indexes SecurityGroups by their effective EC2 group name.
	GroupName = "groupName"
	// VolumeID indexes Volumes by status.volumeId.
	VolumeID = "status.volumeId"
	// VolumeAttachTo indexes Volumes by spec.attachTo.instanceId: an instance terminating finds
	// the volumes that may go with it without reading its project's others.
	VolumeAttachTo = "spec.attachTo.instanceId"
	// VolumeSnapshot indexes Volumes by spec.snapshotId: a snapshot finds the volumes made of it
	// in every project it is shared with.
	VolumeSnapshot = "spec.snapshotId"
	// SnapshotID indexes Snapshots by status.snapshotId.
	SnapshotID = "status.snapshotId"
	// SnapshotSource indexes Snapshots by spec.sourceSnapshotId: the copies of a snapshot.
	SnapshotSource = "spec.sourceSnapshotId"
	// SnapshotVolume indexes Snapshots by spec.volumeId.
	SnapshotVolume = "spec.volumeId"
	// AllocationID indexes Addresses by status.allocationId.
	AllocationID = "status.allocationId"
	// AccessKeyID indexes Users by each of their access key ids.
	AccessKeyID = "status.accessKeys.accessKeyId"
)

// SharedWithAll is the value of ImageSharedWith and SnapshotSharedWith for what is public: no
// project is named so (project names are DNS labels).
const SharedWithAll = "*"

// sharedWith are the values of a permission's entry in ImageSharedWith or SnapshotSharedWith.
func sharedWith(public bool, projects []string) []string {
	out := slices.Clone(projects)
	if public {
		out = append(out, SharedWithAll)
	}
	return out
}

// Values of InstanceWaiting.
const (
	WaitingForAddress = "address"
	WaitingForQuota   = "quota"
)

// instanceWaits says what an instance waits for: an address (refused one, not released at its
// termination) and quota (refused, and still counting against it once admitted).
func instanceWaits(inst *cloudv1.Instance) []string {
	var out []string
	if c := conditions.Get(inst, cloudv1.InstanceAddressAssigned); c != nil && c.Status == metav1.ConditionFalse && c.Reason != cloudv1.ReasonAddressReleased {
		out = append(out, WaitingForAddress)
	}
	if conditions.IsFalse(inst, cloudv1.InstanceQuotaAdmitted) && quota.HoldsInstanceQuota(inst) {
		out = append(out, WaitingForQuota)
	}
	return out
}

func one(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

type indexDef struct {
	obj   client.Object
	field string
	fn    client.IndexerFunc
}

// Register adds PiNet's field indexes named by fields to an indexer (a manager's or a cache's);
// with no fields, every index. Indexing a kind starts an informer for it, and each index is an
// entry per object, so a node agent names only the indexes it reads. An unknown name is refused
// before anything is registered.
func Register(ctx context.Context, fi client.FieldIndexer, fields ...string) error {
	indexes := []indexDef{
		{&cloudv1.Instance{}, InstanceID, func(o client.Object) []string { return one(o.(*cloudv1.Instance).Status.InstanceID) }},
		{&cloudv1.Instance{}, InstancePublicIP, func(o client.Object) []string { return one(o.(*cloudv1.Instance).Status.PublicIPAddress) }},
		{&cloudv1.Instance{}, InstanceHypervisor, func(o client.Object) []string { return one(o.(*cloudv1.Instance).Status.Hypervisor) }},
		{&cloudv1.Instance{}, InstanceReservation, func(o client.Object) []string { return one(o.(*cloudv1.Instance).Status.ReservationID) }},
		{&cloudv1.Instance{}, InstanceWaiting, func(o client.Object) []string { return instanceWaits(o.(*cloudv1.Instance)) }},
		{&cloudv1.Image{}, ImageID, func(o client.Object) []string { return one(o.(*cloudv1.Image).Status.ImageID) }},
		{&cloudv1.Image{}, ImageSharedWith, func(o client.Object) []string {
			lp := o.(*cloudv1.Image).Spec.LaunchPermission
			return sharedWith(lp.Public, lp.Projects)
		}},
		{&cloudv1.Snapshot{}, SnapshotSharedWith, func(o client.Object) []string {
			p := o.(*cloudv1.Snapshot).Spec.CreateVolumePermission
			return sharedWith(p.Public, p.Projects)
		}},
		{&cloudv1.Image{}, ImageInstance, func(o client.Object) []string { return one(o.(*cloudv1.Image).Spec.InstanceID) }},
		{&cloudv1.Image{}, ImageSnapshot, func(o client.Object) []string {
			var out []string
			for _, m := range o.(*cloudv1.Image).Spec.BlockDeviceMappings {
				out = append(out, m.EBS.SnapshotID)
			}
			return out
		}},
		{&cloudv1.KeyPair{}, KeyName, func(o client.Object) []string { return one(o.(*cloudv1.KeyPair).EffectiveKeyName()) }},
		{&cloudv1.SecurityGroup{}, GroupID, func(o client.Object) []string { return one(o.(*cloudv1.SecurityGroup).Status.GroupID) }},
		{&cloudv1.SecurityGroup{}, GroupName, func(o client.Object) []string { return one(o.(*cloudv1.SecurityGroup).EffectiveGroupName()) }},
		{&cloudv1.Volume{}, VolumeID, func(o client.Object) []string { return one(o.(*cloudv1.Volume).Status.VolumeID) }},
		{&cloudv1.Volume{}, VolumeSnapshot, func(o client.Object) []string { return one(o.(*cloudv1.Volume).Spec.SnapshotID) }},
		{&cloudv1.Volume{}, VolumeAttachTo, func(o client.Object) []string {
			if at := o.(*cloudv1.Volume).Spec.AttachTo; at != nil {
				return one(at.InstanceID)
			}
			return nil
		}},
		{&cloudv1.Snapshot{}, SnapshotID, func(o client.Object) []string { return one(o.(*cloudv1.Snapshot).Status.SnapshotID) }},
		{&cloudv1.Snapshot{}, SnapshotSource, func(o client.Object) []string { return one(o.(*cloudv1.Snapshot).Spec.SourceSnapshotID) }},
		{&cloudv1.Snapshot{}, SnapshotVolume, func(o client.Object) []string { return one(o.(*cloudv1.Snapshot).Spec.VolumeID) }},
		{&cloudv1.Address{}, AllocationID, func(o client.Object) []string { return one(o.(*cloudv1.Address).Status.AllocationID) }},
		{&cloudv1.User{}, AccessKeyID, func(o client.Object) []string {
			var keys []string
			for _, k := range o.(*cloudv1.User).Status.AccessKeys {
				keys = append(keys, k.AccessKeyID)
			}
			return keys
		}},
	}
	for _, f := range fields {
		if !slices.ContainsFunc(indexes, func(ix indexDef) bool { return ix.field == f }) {
			return fmt.Errorf("no field index named %q", f)
		}
	}
	for _, ix := range indexes {
		if len(fields) > 0 && !slices.Contains(fields, ix.field) {
			continue
		}
		if err := fi.IndexField(ctx, ix.obj, ix.field, ix.fn); err != nil {
			return fmt.Errorf("indexing %T by %s: %w", ix.obj, ix.field, err)
		}
	}
	return nil
}
