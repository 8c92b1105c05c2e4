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

// Image reasons.
const (
	ReasonImagePending    = "Pending"
	ReasonImageAvailable  = "Available"
	ReasonFetchFailed     = "FetchFailed"
	ReasonBadManifest     = "BadManifest"
	ReasonBadSignature    = "BadSignature"
	ReasonDigestMismatch  = "DigestMismatch"
	ReasonMissingPart     = "MissingPart"
	ReasonNotForThisCloud = "NotEncryptedToThisCloud"
	ReasonKernelNotFound  = "KernelNotFound"
	ReasonRamdiskNotFound = "RamdiskNotFound"
	ReasonSourceNotFound  = "SourceNotFound"
	// ReasonSourceAccessDenied: the image's project may not read its location.
	ReasonSourceAccessDenied = "SourceAccessDenied"
	ReasonUnsupportedImage   = "UnsupportedImage"
	// ReasonWaitingForInstance: the instance an image is made from is not on a node yet, or is
	// changing state; the capture begins once it is running or stopped.
	ReasonWaitingForInstance = "WaitingForInstance"
	// ReasonCapturing: the instance's node is copying its root disk into the object store.
	ReasonCapturing = "Capturing"
	// ReasonCaptureFailed: the instance's node could not copy its root disk.
	ReasonCaptureFailed = "CaptureFailed"
)

// ImageType is the EC2 image type; it decides the id prefix (ami-, aki-, ari-).
// +kubebuilder:validation:Enum=machine;kernel;ramdisk
type ImageType string

const (
	ImageTypeMachine ImageType = "machine"
	ImageTypeKernel  ImageType = "kernel"
	ImageTypeRamdisk ImageType = "ramdisk"
)

// ImageFormat is how the image is stored at its location.
// +kubebuilder:validation:Enum=Bundle;Raw
type ImageFormat string

const (
	// ImageFormatBundle is an EC2 bundle: the location is its manifest.xml.
	ImageFormatBundle ImageFormat = "Bundle"
	// ImageFormatRaw is a plain image object (operators only).
	ImageFormatRaw ImageFormat = "Raw"
)

// ImageState is the EC2 image state.
// +kubebuilder:validation:Enum=pending;available;failed
type ImageState string

const (
	ImageStatePending   ImageState = "pending"
	ImageStateAvailable ImageState = "available"
	ImageStateFailed    ImageState = "failed"
)

// LaunchPermission says who besides the owner may launch an image.
type LaunchPermission struct {
	// public lets every project launch the image (EC2 group "all").
	// +optional
	Public bool `json:"public,omitempty"`

	// projects may launch the image (EC2 user ids).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=63
	Projects []string `json:"projects,omitempty"`
}

// ImageSpec describes a registered image, one made from an instance, or a copy of an image.
// +kubebuilder:validation:XValidation:rule="self.type == 'machine' || (!has(self.kernelId) && !has(self.ramdiskId))",message="only machine images reference a kernel or ramdisk"
// +kubebuilder:validation:XValidation:rule="(has(self.imageLocation) ? 1 : 0) + (has(self.instanceId) ? 1 : 0) + (has(self.sourceImageId) ? 1 : 0) == 1",message="an image is registered from imageLocation, made from instanceId or copied from sourceImageId, one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.instanceId) || self.type == 'machine'",message="an image made from an instance is a machine image"
// +kubebuilder:validation:XValidation:rule="has(self.imageLocation) == has(oldSelf.imageLocation) && has(self.instanceId) == has(oldSelf.instanceId) && has(self.sourceImageId) == has(oldSelf.sourceImageId)",message="an image's source never changes"
// +kubebuilder:validation:XValidation:rule="(has(self.noReboot) && self.noReboot) == (has(oldSelf.noReboot) && oldSelf.noReboot)",message="noReboot is immutable"
// +kubebuilder:validation:XValidation:rule="!has(self.blockDeviceMappings) || self.type == 'machine'",message="only machine images have block device mappings"
// +kubebuilder:validation:XValidation:rule="has(self.blockDeviceMappings) == has(oldSelf.blockDeviceMappings)",message="blockDeviceMappings are immutable"
type ImageSpec struct {
	// imageLocation is bucket/key of the bundle manifest (format Bundle) or of the plain image
	// (format Raw) in the object store.
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="imageLocation is immutable"
	ImageLocation string `json:"imageLocation,omitempty"`

	// instanceId makes the image from an instance of the same namespace (EC2's CreateImage): its
	// node copies the instance's root disk, as it is then, into the object store. The i- id the
	// instance's controller claimed.
	// +optional
	// +kubebuilder:validation:Pattern=`^i-[0-9a-f]{8,17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="instanceId is immutable"
	InstanceID string `json:"instanceId,omitempty"`

	// sourceImageId makes the image a copy of another image (EC2's CopyImage): one the image's
	// project may launch (its own, public, or shared with it) and of the same type. The copy
	// is the project's own and stays when the source is deregistered or unshared; its kernel,
	// ramdisk and other attributes are this spec's (the EC2 API fills them in from the source).
	// +optional
	// +kubebuilder:validation:Pattern=`^a[mkr]i-[0-9a-f]{8,17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="sourceImageId is immutable"
	SourceImageID string `json:"sourceImageId,omitempty"`

	// noReboot copies a running instance's disk while its guest runs (paused for the copy), as
	// EC2's NoReboot: the file systems are as a crash would leave them. Otherwise the guest is
	// shut down for the copy and started again.
	// +optional
	NoReboot bool `json:"noReboot,omitempty"`

	// format is how the image is stored at imageLocation.
	// +optional
	// +kubebuilder:default=Bundle
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="format is immutable"
	Format ImageFormat `json:"format,omitempty"`

	// type is machine, kernel or ramdisk.
	// +optional
	// +kubebuilder:default=machine
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="type is immutable"
	Type ImageType `json:"type,omitempty"`

	// name is the EC2 image name.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name,omitempty"`

	// description is free text.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Description string `json:"description,omitempty"`

	// architecture of the image.
	// +optional
	// +kubebuilder:default=x86_64
	// +kubebuilder:validation:Enum=x86_64;i386;arm64
	Architecture string `json:"architecture,omitempty"`

	// kernelId is the default kernel for a machine image booted directly: an aki- id, or the name
	// of a kernel Image in the same namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(aki-[0-9a-f]{8,17}|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`
	KernelID string `json:"kernelId,omitempty"`

	// ramdiskId is the default ramdisk: an ari- id, or the name of a ramdisk Image in the same
	// namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(ari-[0-9a-f]{8,17}|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`
	RamdiskID string `json:"ramdiskId,omitempty"`

	// rootDeviceName is the device the root disk appears as.
	// +optional
	// +kubebuilder:default=/dev/sda1
	// +kubebuilder:validation:MaxLength=32
	RootDeviceName string `json:"rootDeviceName,omitempty"`

	// launchPermission lists who besides the owning project may launch the image; empty is private.
	// Those it lists get, at launch, volumes of the snapshots the image maps, whether or not
	// the snapshots are shared with them.
	// +optional
	LaunchPermission LaunchPermission `json:"launchPermission,omitempty"`

	// deregistrationProtection is EC2's: while set, no front door deregisters (deletes) the
	// image. Turned off (unset) from EnabledWithCooldown, the image stays protected for the
	// cloud's cooldown (status.deregistrationProtectedUntil).
	// +optional
	DeregistrationProtection DeregistrationProtection `json:"deregistrationProtection,omitempty"`

	// configDrive is the default of spec.configDrive for instances of this machine image: whether
	// they get the read-only meta-data disk (serial pinet-meta). Off when unset. The EC2 API has
	// no parameter for it, so RunInstances always leaves it to the image.
	// +optional
	ConfigDrive *bool `json:"configDrive,omitempty"`

	// blockDeviceMappings are the volumes every instance of this machine image gets at launch,
	// each made from a snapshot of the image's own project (EC2's EBS mappings of an AMI):
	// CreateImage records the instance's attached volumes here. An instance's own mapping of a
	// device replaces the image's (noDevice drops it; one without a snapshotId keeps the image's
	// snapshot). The image is available once every snapshot is completed. Whoever may launch the
	// image gets these volumes without the snapshots being shared with them.
	// +optional
	// +listType=map
	// +listMapKey=deviceName
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="blockDeviceMappings are immutable"
	BlockDeviceMappings []ImageBlockDeviceMapping `json:"blockDeviceMappings,omitempty"`
}

// ImageBlockDeviceMapping is a volume an instance of the image gets at launch.
// +kubebuilder:validation:XValidation:rule="has(self.ebs.snapshotId)",message="an image's volume is made from a snapshot: ebs.snapshotId is required"
// +kubebuilder:validation:XValidation:rule="!self.deviceName.matches('^/dev/(sd|vd|xvd)a[0-9]*$')",message="the root device is the instance's own disk: map volumes to other devices"
type ImageBlockDeviceMapping struct {
	// deviceName is the device the volume is attached at, e.g. /dev/sdf.
	// +required
	// +kubebuilder:validation:Pattern=`^/dev/(sd|vd|xvd)[a-z]{1,2}[0-9]*$`
	// +kubebuilder:validation:MaxLength=32
	DeviceName string `json:"deviceName"`

	// ebs is the volume: a snapshot of the image's project, its size (the snapshot's when
	// unset) and whether it goes with the instance.
	// +required
	EBS EBSBlockDevice `json:"ebs"`
}

// DeregistrationProtection is EC2's deregistration protection of an image.
// +kubebuilder:validation:Enum=Enabled;EnabledWithCooldown
type DeregistrationProtection string

const (
	// DeregistrationProtected keeps the image from being deregistered (deleted) until turned off.
	DeregistrationProtected DeregistrationProtection = "Enabled"
	// DeregistrationProtectedWithCooldown also keeps it protected for a cooldown (24 h) after it
	// is turned off.
	DeregistrationProtectedWithCooldown DeregistrationProtection = "EnabledWithCooldown"
)

// StoredImage is where the plain, verified image is kept for nodes to download.
type StoredImage struct {
	// bucket and key of the plain image in the object store.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Bucket string `json:"bucket,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Key string `json:"key,omitempty"`
	// md5 is the hex MD5 of the plain image; nodes verify downloads against it.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{32}$`
	MD5 string `json:"md5,omitempty"`
	// sizeBytes is the size of the plain image.
	// +optional
	SizeBytes int64 `json:"sizeBytes,omitempty"`
}

// ImageCapture is the copy of an instance's root disk its node makes for an image.
type ImageCapture struct {
	// node is the instance's node, which copies the disk.
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node"`
	// instanceUID is the UID of the instance copied.
	// +kubebuilder:validation:MaxLength=64
	InstanceUID string `json:"instanceUID"`
	// bucket and prefix of the copy's parts and the node's result record.
	// +kubebuilder:validation:MaxLength=63
	Bucket string `json:"bucket"`
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix"`
}

// ImageStatus is what the image controller observed.
type ImageStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// imageId is the EC2 id (ami-, aki- or ari- and 17 hex digits), assigned once.
	// +optional
	// +kubebuilder:validation:Pattern=`^a[mkr]i-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="imageId never changes"
	ImageID string `json:"imageId,omitempty"`

	// ownerId is the project that registered the image.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	OwnerID string `json:"ownerId,omitempty"`

	// state is the EC2 image state.
	// +optional
	State ImageState `json:"state,omitempty"`

	// stateReason says why the image failed.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	StateReason string `json:"stateReason,omitempty"`

	// stored is the verified plain image.
	// +optional
	Stored *StoredImage `json:"stored,omitempty"`

	// deregistrationProtection is the protection the image controller last saw in spec: until
	// it has seen the protection turned off (and set its cooldown), the image is still protected.
	// +optional
	DeregistrationProtection DeregistrationProtection `json:"deregistrationProtection,omitempty"`

	// deregistrationProtectedUntil is when the cooldown of a protection turned off from
	// EnabledWithCooldown ends; the controller removes it then.
	// +optional
	DeregistrationProtectedUntil *metav1.Time `json:"deregistrationProtectedUntil,omitempty"`

	// capture is where an image made from an instance is being copied: the node the instance is
	// on, which alone may write under the prefix, until the image is available or failed.
	// +optional
	Capture *ImageCapture `json:"capture,omitempty"`

	// conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Image is a registered machine, kernel or ramdisk image.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ami,categories=pinet
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.imageId`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Public",type=boolean,JSONPath=`.spec.launchPermission.public`
// +kubebuilder:printcolumn:name="Location",type=string,JSONPath=`.spec.imageLocation`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Image struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ImageSpec `json:"spec"`
	// +optional
	Status ImageStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ImageList is a list of Images.
type ImageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Image `json:"items"`
}

// EffectiveType is the image's type, machine when unset (the CRD's default, for objects read
// without it).
func (i *Image) EffectiveType() ImageType {
	if i.Spec.Type == "" {
		return ImageTypeMachine
	}
	return i.Spec.Type
}

// DeregistrationProtected tells whether the image may not be deregistered: protection is on, or
// was turned off but its cooldown has not ended, or the image controller has not yet seen it
// turned off.
func (i *Image) DeregistrationProtected() bool {
	return i.Spec.DeregistrationProtection != "" || i.Status.DeregistrationProtection != "" ||
		i.Status.DeregistrationProtectedUntil != nil
}

// GetConditions returns status.conditions.
func (i *Image) GetConditions() []metav1.Condition { return i.Status.Conditions }

// SetConditions sets status.conditions.
func (i *Image) SetConditions(c []metav1.Condition) { i.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&Image{}, &ImageList{})
}
