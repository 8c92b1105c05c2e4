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

// SnapshotState is the EC2 snapshot state.
// +kubebuilder:validation:Enum=pending;completed;error
type SnapshotState string

const (
	SnapshotPending   SnapshotState = "pending"
	SnapshotCompleted SnapshotState = "completed"
	SnapshotError     SnapshotState = "error"
)

// Snapshot condition reasons.
const (
	// ReasonVolumeNotFound: the snapshot's volume is not in its project.
	ReasonVolumeNotFound = "VolumeNotFound"
	// ReasonVolumeNotExported: the volume has no storage yet, so there is nothing to copy.
	ReasonVolumeNotExported = "VolumeNotExported"
	// (ReasonSourceNotFound: spec.sourceSnapshotId names no snapshot the project may copy.)
	// ReasonSourceNotCompleted: the snapshot to copy is not completed (pending or failed).
	ReasonSourceNotCompleted = "SourceNotCompleted"
	// ReasonCopying: the manager is copying the source snapshot's objects.
	ReasonCopying = "Copying"
	// ReasonCopyFailed: the source's objects could not be copied (the source went meanwhile).
	ReasonCopyFailed = "CopyFailed"
	// ReasonSnapshotFailed: the storage node could not copy the volume.
	ReasonSnapshotFailed = "SnapshotFailed"
	// ReasonWaitingForVolumes: the snapshot is deleted, and waits (at most ten minutes) until the
	// volumes being filled from it are made before its objects go. On an instance (DomainDefined
	// and GuestRunning, the node agent's): a new instance waits (bounded) for its launch volumes
	// to be exported before its domain is defined, so its guest boots with them.
	ReasonWaitingForVolumes = "WaitingForVolumes"
)

// CreateVolumePermission says who besides the owner may make volumes of a snapshot.
type CreateVolumePermission struct {
	// public lets every project make volumes of the snapshot (EC2 group "all").
	// +optional
	Public bool `json:"public,omitempty"`

	// projects may make volumes of the snapshot (EC2 user ids).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Projects []string `json:"projects,omitempty"`
}

// SnapshotSpec asks for a point-in-time copy of a volume, or a copy of another snapshot.
// +kubebuilder:validation:XValidation:rule="has(self.volumeId) != has(self.sourceSnapshotId)",message="a snapshot is of a volume (volumeId) or a copy of a snapshot (sourceSnapshotId), one of them"
// +kubebuilder:validation:XValidation:rule="has(self.volumeId) == has(oldSelf.volumeId) && has(self.sourceSnapshotId) == has(oldSelf.sourceSnapshotId)",message="volumeId and sourceSnapshotId are immutable"
// +kubebuilder:validation:XValidation:rule="!has(self.sourceImageId) || has(self.sourceSnapshotId)",message="sourceImageId is for a copy of a snapshot (sourceSnapshotId) the image maps"
// +kubebuilder:validation:XValidation:rule="has(self.sourceImageId) == has(oldSelf.sourceImageId)",message="sourceImageId is immutable"
type SnapshotSpec struct {
	// volumeId is the EC2 id of a volume in the same project.
	// +optional
	// +kubebuilder:validation:Pattern=`^vol-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="volumeId is immutable"
	VolumeID string `json:"volumeId,omitempty"`

	// sourceSnapshotId makes this snapshot a copy of a completed snapshot: one of the same
	// project, or of another project that gave this one createVolumePermission. The copy is
	// the project's own, and outlives the source.
	// +optional
	// +kubebuilder:validation:Pattern=`^snap-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="sourceSnapshotId is immutable"
	SourceSnapshotID string `json:"sourceSnapshotId,omitempty"`

	// sourceImageId, for a copy, names an image the project may launch that maps the source
	// snapshot: the source is then copied whether or not it is shared with the project, as an
	// image's launchers get its snapshots' volumes (CopyImage copies an image's snapshots so).
	// +optional
	// +kubebuilder:validation:Pattern=`^ami-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="sourceImageId is immutable"
	SourceImageID string `json:"sourceImageId,omitempty"`

	// description is the user's note.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Description string `json:"description,omitempty"`

	// createVolumePermission lists who besides the owning project may make volumes of the
	// snapshot; empty is private. A volume made of it is its own project's: taking the
	// permission away later leaves such volumes alone.
	// +optional
	CreateVolumePermission CreateVolumePermission `json:"createVolumePermission,omitempty"`
}

// SnapshotStatus is what PiNet observed of a snapshot.
type SnapshotStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// snapshotId is the EC2 id (snap- and 17 hex digits).
	// +optional
	// +kubebuilder:validation:Pattern=`^snap-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="snapshotId never changes"
	SnapshotID string `json:"snapshotId,omitempty"`

	// state is the EC2 snapshot state.
	// +optional
	State SnapshotState `json:"state,omitempty"`

	// volumeSizeGiB is the size of the volume when the snapshot started.
	// +optional
	// +kubebuilder:validation:Minimum=0
	VolumeSizeGiB int32 `json:"volumeSizeGiB,omitempty"`

	// node is the storage node that copies the volume.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node,omitempty"`

	// startTime is when the copy was asked for.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// progress is how much of the volume has been copied, in percent.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Progress int32 `json:"progress,omitempty"`

	// storedBytes is what the snapshot takes in the object store (chunks holding only zeros are
	// not stored).
	// +optional
	// +kubebuilder:validation:Minimum=0
	StoredBytes int64 `json:"storedBytes,omitempty"`

	// mappedBy are the images of the snapshot's project that map it (their block device
	// mappings), by EC2 id or, before an image has one, by name. While there are any the
	// snapshot is not deleted: EC2's DeleteSnapshot answers InvalidSnapshot.InUse, and the
	// admission policy pinet-snapshot-protection refuses kubectl's delete. Another project's
	// image never holds it.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	MappedBy []string `json:"mappedBy,omitempty"`

	// conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Snapshot is a point-in-time copy of a volume, kept as chunk objects in the S3 store's system
// bucket: private to its project, reached only through this object.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=snap,categories=pinet
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.snapshotId`
// +kubebuilder:printcolumn:name="Volume",type=string,JSONPath=`.spec.volumeId`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.sourceSnapshotId`,priority=1
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Progress",type=integer,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Mapped-By",type=string,JSONPath=`.status.mappedBy`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Snapshot struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec SnapshotSpec `json:"spec"`
	// +optional
	Status SnapshotStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// SnapshotList is a list of Snapshots.
type SnapshotList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Snapshot `json:"items"`
}

// GetConditions returns status.conditions.
func (s *Snapshot) GetConditions() []metav1.Condition { return s.Status.Conditions }

// SetConditions sets status.conditions.
func (s *Snapshot) SetConditions(c []metav1.Condition) { s.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&Snapshot{}, &SnapshotList{})
}
