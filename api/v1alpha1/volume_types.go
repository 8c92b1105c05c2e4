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

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Volume condition types.
const (
	// VolumeExported is owned by the storage agent: True while the volume is exported over AoE.
	VolumeExported = "Exported"
	// VolumeAttached is owned by the node agent of the attached instance.
	VolumeAttached = "Attached"
	// VolumeResized is owned by the volume controller: False while a grown spec.sizeGiB waits
	// for room (reason QuotaExceeded or NoStorageNode), True once the volume was given it.
	VolumeResized = "Resized"
)

// ReasonResized: the volume was given its grown size.
const ReasonResized = "Resized"

// Reasons of the Attached condition, written by the node agent of the attached instance.
const (
	// ReasonVolumeAttached: the volume is plugged into the instance's domain.
	ReasonVolumeAttached = "Attached"
	// ReasonVolumeDetached: the volume was unplugged and its path to the storage node closed.
	ReasonVolumeDetached = "Detached"
	// ReasonDetachPending: the guest has not released the device yet.
	ReasonDetachPending = "DetachPending"
	// ReasonTargetUnreachable: the volume's AoE target did not answer on the storage network.
	ReasonTargetUnreachable = "TargetUnreachable"
	// ReasonDeviceInUse: the instance already has a device of that name.
	ReasonDeviceInUse = "DeviceInUse"
	// ReasonInstanceNotRunning: the instance is not running on the node, so nothing is plugged.
	ReasonInstanceNotRunning = "InstanceNotRunning"
	// ReasonNotExported: the storage node does not export the volume (yet).
	ReasonNotExported = "NotExported"
	// ReasonAttachFailed: libvirt refused to plug the device.
	ReasonAttachFailed = "AttachFailed"
	// ReasonVolumeChainsUnavailable: the node's volume chain host (nodeagent volume-chains),
	// which serves attached volumes to the guests, does not answer.
	ReasonVolumeChainsUnavailable = "VolumeChainsUnavailable"
)

// Volume condition reasons.
const (
	// ReasonNoStorageNode: no Ready storage node in the zone has room for the volume.
	ReasonNoStorageNode = "NoStorageNode"
	// ReasonAddressesExhausted: every AoE address (shelf.slot) is taken.
	ReasonAddressesExhausted = "AddressesExhausted"
	// ReasonSnapshotNotFound: spec.snapshotId names no snapshot the volume's project may use (its
	// own, or another project's that gave it createVolumePermission).
	ReasonSnapshotNotFound = "SnapshotNotFound"
	// ReasonSnapshotNotCompleted: the snapshot is not completed (pending or failed).
	ReasonSnapshotNotCompleted = "SnapshotNotCompleted"
	// ReasonSizeTooSmall: sizeGiB is smaller than the snapshot's volume.
	ReasonSizeTooSmall = "SizeTooSmall"
	// ReasonExporting: the volume is placed; its storage node has not exported it yet.
	ReasonExporting = "Exporting"
	// ReasonExported: the storage node serves the volume over AoE.
	ReasonExported = "Exported"
	// ReasonExportFailed: the storage node could not make or serve the volume.
	ReasonExportFailed = "ExportFailed"
	// ReasonUnexported: the storage node stopped serving the deleted volume and removed its
	// backing file (the storage agent sets Exported=False with it).
	ReasonUnexported = "Unexported"
	// ReasonWaitingForDetach: the volume is deleted but still attached; it goes once detached.
	ReasonWaitingForDetach = "WaitingForDetach"
)

// VolumeFinalizer is held by the volume controller until the volume's export, backing file and
// AoE address are gone.
const VolumeFinalizer = "cloud.pinet.io/volume"

// VolumeState is the EC2 volume state.
// +kubebuilder:validation:Enum=creating;available;in-use;deleting;deleted;error
type VolumeState string

const (
	VolumeStateCreating  VolumeState = "creating"
	VolumeStateAvailable VolumeState = "available"
	VolumeStateInUse     VolumeState = "in-use"
	VolumeStateDeleting  VolumeState = "deleting"
	VolumeStateDeleted   VolumeState = "deleted"
	VolumeStateError     VolumeState = "error"
)

// AttachmentState is the EC2 attachment state.
// +kubebuilder:validation:Enum=attaching;attached;detaching;detached
type AttachmentState string

const (
	AttachmentAttaching AttachmentState = "attaching"
	AttachmentAttached  AttachmentState = "attached"
	AttachmentDetaching AttachmentState = "detaching"
	AttachmentDetached  AttachmentState = "detached"
)

// VolumeAttachTarget asks for the volume to be attached to an instance.
type VolumeAttachTarget struct {
	// instanceId is the EC2 id of the instance.
	// +required
	// +kubebuilder:validation:Pattern=`^i-[0-9a-f]{17}$`
	InstanceID string `json:"instanceId"`

	// device is the device name the guest should see.
	// +required
	// +kubebuilder:validation:Pattern=`^/dev/(sd|vd|xvd)[a-z]{1,2}[0-9]*$`
	// +kubebuilder:validation:MaxLength=32
	Device string `json:"device"`
}

// VolumeSpec is a block volume.
// +kubebuilder:validation:XValidation:rule="has(self.snapshotId) == has(oldSelf.snapshotId)",message="snapshotId is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.volumeType) == has(oldSelf.volumeType) && has(self.iops) == has(oldSelf.iops) && has(self.throughput) == has(oldSelf.throughput)",message="volumeType, iops and throughput are immutable"
// +kubebuilder:validation:XValidation:rule="!has(self.iops) || (has(self.volumeType) && self.volumeType in ['gp3', 'io1', 'io2'])",message="iops is for gp3, io1 and io2 volumes"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || !(self.volumeType in ['io1', 'io2']) || has(self.iops)",message="io1 and io2 volumes need iops"
// +kubebuilder:validation:XValidation:rule="!has(self.throughput) || (has(self.volumeType) && self.volumeType == 'gp3')",message="throughput is for gp3 volumes"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || self.volumeType != 'gp3' || !has(self.iops) || (self.iops >= 3000 && self.iops <= 16000 && (self.iops == 3000 || self.iops <= 500 * self.sizeGiB))",message="a gp3 volume has 3000 to 16000 iops, beyond 3000 at most 500 per GiB"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || self.volumeType != 'gp3' || !has(self.throughput) || (self.throughput >= 125 && self.throughput <= 1000 && self.throughput * 4 <= (has(self.iops) ? self.iops : 3000))",message="a gp3 volume has 125 to 1000 MiB/s of throughput, at most a quarter of its iops"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || self.volumeType != 'io1' || (self.iops >= 100 && self.iops <= 64000 && self.iops <= 50 * self.sizeGiB)",message="an io1 volume has 100 to 64000 iops, at most 50 per GiB"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || self.volumeType != 'io2' || (self.iops >= 100 && self.iops <= 256000 && self.iops <= 1000 * self.sizeGiB)",message="an io2 volume has 100 to 256000 iops, at most 1000 per GiB"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || !(self.volumeType in ['io1', 'io2']) || self.sizeGiB >= 4",message="io1 and io2 volumes hold at least 4 GiB"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || !(self.volumeType in ['st1', 'sc1']) || self.sizeGiB >= 125",message="st1 and sc1 volumes hold at least 125 GiB"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || self.volumeType != 'standard' || self.sizeGiB <= 1024",message="standard volumes hold at most 1024 GiB"
type VolumeSpec struct {
	// sizeGiB is the size of the volume; it can grow, never shrink.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16384
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="sizeGiB cannot shrink"
	SizeGiB int32 `json:"sizeGiB"`

	// availabilityZone is where the volume lives; empty lets the controller choose.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="availabilityZone is immutable"
	AvailabilityZone string `json:"availabilityZone,omitempty"`

	// snapshotId fills the new volume with a completed snapshot of the same project, or of another
	// project that gave this one createVolumePermission; sizeGiB must be at least the snapshot's
	// volume size.
	// +optional
	// +kubebuilder:validation:Pattern=`^snap-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="snapshotId is immutable"
	SnapshotID string `json:"snapshotId,omitempty"`

	// attachTo attaches the volume to an instance; removing it detaches the volume.
	// +optional
	AttachTo *VolumeAttachTarget `json:"attachTo,omitempty"`

	// volumeType is EC2's volume type, gp2 when unset (EC2's default). Every type is stored
	// alike; what differs is the I/O the guest is given, which the compute node's QEMU holds the
	// volume's disk to (IOLimits: gp2 3 IOPS per GiB with bursts to 3000, gp3 and io1/io2 their
	// iops, st1/sc1 a throughput per TiB, standard unlimited).
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="volumeType is immutable"
	VolumeType VolumeType `json:"volumeType,omitempty"`

	// iops are the I/O operations per second of a gp3 (3000 when unset), io1 or io2 volume.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=256000
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="iops is immutable"
	Iops int32 `json:"iops,omitempty"`

	// throughput is the MiB/s of a gp3 volume (125 when unset).
	// +optional
	// +kubebuilder:validation:Minimum=125
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="throughput is immutable"
	Throughput int32 `json:"throughput,omitempty"`
}

// VolumeType is EC2's volume type.
// +kubebuilder:validation:Enum=standard;gp2;gp3;io1;io2;st1;sc1
type VolumeType string

const (
	VolumeTypeStandard VolumeType = "standard"
	VolumeTypeGP2      VolumeType = "gp2"
	VolumeTypeGP3      VolumeType = "gp3"
	VolumeTypeIO1      VolumeType = "io1"
	VolumeTypeIO2      VolumeType = "io2"
	VolumeTypeST1      VolumeType = "st1"
	VolumeTypeSC1      VolumeType = "sc1"
)

// AoEAddress is where a volume is exported.
type AoEAddress struct {
	// shelf is the AoE major address.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65534
	Shelf int32 `json:"shelf"`
	// slot is the AoE minor address.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=254
	Slot int32 `json:"slot"`
	// node is the storage node exporting the volume.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node,omitempty"`
}

// VolumeAttachment is the observed attachment.
type VolumeAttachment struct {
	// +optional
	InstanceID string `json:"instanceId,omitempty"`
	// +optional
	Device string `json:"device,omitempty"`
	// +optional
	State AttachmentState `json:"state,omitempty"`
	// +optional
	AttachTime *metav1.Time `json:"attachTime,omitempty"`
}

// VolumeStatus is what PiNet observed of a volume.
type VolumeStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// volumeId is the EC2 id (vol- and 17 hex digits).
	// +optional
	// +kubebuilder:validation:Pattern=`^vol-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="volumeId never changes"
	VolumeID string `json:"volumeId,omitempty"`

	// state is the EC2 volume state.
	// +optional
	State VolumeState `json:"state,omitempty"`

	// availabilityZone is the zone the volume was placed in.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	AvailabilityZone string `json:"availabilityZone,omitempty"`

	// snapshotOwner is the project holding spec.snapshotId, as the volume controller found it:
	// the storage node fills the volume from that project's part of the snapshot bucket. The
	// object store checks the permission again for each read, so this names where to read, not
	// what may be read.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	SnapshotOwner string `json:"snapshotOwner,omitempty"`

	// aoe is where the volume is exported.
	// +optional
	AoE *AoEAddress `json:"aoe,omitempty"`

	// attachment is the observed attachment.
	// +optional
	Attachment *VolumeAttachment `json:"attachment,omitempty"`

	// sizeGiB is the size the volume was given: admitted under its project's quota and, once
	// placed, with room on its storage node. The storage node makes the volume this size; a
	// spec.sizeGiB grown past it waits (condition Resized) until there is room.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=16384
	SizeGiB int32 `json:"sizeGiB,omitempty"`

	// modification is the volume's latest change of size (EC2's VolumeModification): begun
	// when the volume controller sees spec.sizeGiB past the size the volume was given, ended
	// when the volume is given it.
	// +optional
	Modification *VolumeModification `json:"modification,omitempty"`

	// conditions: Ready, Exported, Attached, Resized.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// VolumeModification is one change of a volume's size.
type VolumeModification struct {
	// originalSizeGiB is the size the volume had; targetSizeGiB the size asked for.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16384
	OriginalSizeGiB int32 `json:"originalSizeGiB"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16384
	TargetSizeGiB int32 `json:"targetSizeGiB"`

	// startTime is when the controller saw the change asked for; endTime when the volume was
	// given the size (unset while the change waits, condition Resized=False saying why).
	StartTime metav1.Time `json:"startTime"`
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`
}

// Volume is a block volume exported over ATA over Ethernet.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vol,categories=pinet
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.volumeId`
// +kubebuilder:printcolumn:name="Size GiB",type=integer,JSONPath=`.spec.sizeGiB`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Zone",type=string,JSONPath=`.status.availabilityZone`
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.status.attachment.instanceId`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.aoe.node`
// +kubebuilder:printcolumn:name="Shelf",type=integer,JSONPath=`.status.aoe.shelf`,priority=1
// +kubebuilder:printcolumn:name="Slot",type=integer,JSONPath=`.status.aoe.slot`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Volume struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec VolumeSpec `json:"spec"`
	// +optional
	Status VolumeStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// VolumeList is a list of Volumes.
type VolumeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Volume `json:"items"`
}

// GetConditions returns status.conditions.
// DeletesWith tells whether the volume goes when the instance with the id terminates: it was made
// for that instance's block device mapping (LabelLaunchInstance), which said deleteOnTermination.
func (v *Volume) DeletesWith(instanceID string) bool {
	return instanceID != "" && v.Labels[LabelLaunchInstance] == instanceID && v.Annotations[AnnotationDeleteOnTermination] == "true"
}

func (v *Volume) GetConditions() []metav1.Condition { return v.Status.Conditions }

// GivenSizeGiB is the size the volume has: status.sizeGiB, or spec.sizeGiB for a volume not yet
// admitted (or given its size before status recorded it).
func (v *Volume) GivenSizeGiB() int32 {
	if v.Status.SizeGiB > 0 {
		return v.Status.SizeGiB
	}
	return v.Spec.SizeGiB
}

// SetConditions sets status.conditions.
func (v *Volume) SetConditions(c []metav1.Condition) { v.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&Volume{}, &VolumeList{})
}
