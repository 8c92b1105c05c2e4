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

// Instance condition types. Each has one writer.
const (
	// InstanceReferencesResolved is owned by the instance controller: True once the instance type,
	// image, kernel, ramdisk and key pair the spec names exist and may be used by the project.
	// The scheduler waits for it.
	InstanceReferencesResolved = "ReferencesResolved"
	// InstanceAddressAssigned is owned by the instance controller: True while the instance holds
	// a private address (status.privateIpAddress, macAddress and its project's network in
	// segmentId, subnet, gateway). The scheduler waits for it, so a node agent never sees a bound
	// instance without its network; False with InsufficientAddresses while its project's subnet is
	// full (EC2's InsufficientFreeAddressesInSubnet), WaitingForProjectNetwork while its project has
	// no subnet, Released once it is terminated.
	InstanceAddressAssigned = "AddressAssigned"
	// InstanceScheduled is owned by the scheduler: True once the instance is bound to a hypervisor.
	InstanceScheduled = "Scheduled"
	// InstanceResized is owned by the scheduler: False while a stopped instance's changed
	// spec.instanceType waits for room under its project's quota (QuotaExceeded) or on its
	// hypervisor (InsufficientInstanceCapacity), True (Resized) once it was given the type.
	InstanceResized = "Resized"
	// InstanceDomainDefined is owned by the node agent: True while a libvirt domain exists for the
	// instance.
	InstanceDomainDefined = "DomainDefined"
	// InstanceGuestRunning is owned by the node agent: True while the domain is running.
	InstanceGuestRunning = "GuestRunning"
	// InstanceLaunchVolumes is owned by the instance controller, on instances whose block device
	// mappings ask for volumes: set (Created) once it made them, after the instance was placed;
	// never again, so a launch volume deleted later is not made anew.
	InstanceLaunchVolumes = "LaunchVolumes"
	// Ready (ReadyCondition) is owned by the instance controller and summarises the others.
)

// ReasonNodeLost: the instance was removed without its node's cleanup, because the node is gone
// for good (its Hypervisor deleted, or not ready for the node-lost timeout).
const ReasonNodeLost = "NodeLost"

// Instance condition reasons.
const (
	ReasonInstanceTypeNotFound = "InstanceTypeNotFound"
	ReasonImageNotFound        = "ImageNotFound"
	ReasonImageNotAvailable    = "ImageNotAvailable"
	// ReasonImageUnusable: the image's bytes cannot back a root disk (they name another file,
	// or are in a format that can).
	ReasonImageUnusable         = "ImageUnusable"
	ReasonKeyPairNotFound       = "KeyPairNotFound"
	ReasonSecurityGroupNotFound = "SecurityGroupNotFound"
	ReasonInsufficientCapacity  = "InsufficientInstanceCapacity"
	ReasonNoHypervisors         = "NoHypervisors"
	ReasonScheduled             = "Scheduled"
	ReasonResolved              = "Resolved"
	ReasonWaitingForReferences  = "WaitingForReferences"
	ReasonWaitingForScheduling  = "WaitingForScheduling"
	// ReasonWaitingForResize: a stopped instance asked to start waits for its changed type to
	// be given (condition Resized).
	ReasonWaitingForResize      = "WaitingForResize"
	ReasonDomainDefined         = "DomainDefined"
	ReasonDomainMissing         = "DomainMissing"
	ReasonDefineFailed          = "DefineFailed"
	ReasonStartFailed           = "StartFailed"
	ReasonRunning               = "Running"
	ReasonStopped               = "Stopped"
	ReasonShutdownByGuest       = "ShutdownByGuest"
	ReasonLaunching             = "Launching"
	ReasonStopping              = "Stopping"
	ReasonTerminating           = "Terminating"
	ReasonTerminated            = "Terminated"
	ReasonAgentUnavailable      = "AgentUnavailable"
	ReasonUserRequestedStop     = "UserRequestedStop"
	ReasonUserRequestedShutdown = "UserRequestedShutdown"
	// ReasonVolumesCreated: the instance controller made the volumes of the instance's block
	// device mappings (LaunchVolumes).
	ReasonVolumesCreated = "Created"
)

// AddressAssigned reasons.
const (
	// ReasonAddressAssigned: the instance holds an address of its project's subnet.
	ReasonAddressAssigned = "Assigned"
	// ReasonInsufficientAddresses: every address of the project's subnet is held by another
	// instance; the instance waits (unscheduled) until one is released.
	ReasonInsufficientAddresses = "InsufficientAddresses"
	// ReasonWaitingForProjectNetwork: the instance's project has no segment and subnet (yet).
	ReasonWaitingForProjectNetwork = "WaitingForProjectNetwork"
	// ReasonAddressReleased: the instance is terminated and its address went back to the subnet.
	ReasonAddressReleased = "Released"
	// ReasonWaitingForAddress: the scheduler (and Ready) wait for AddressAssigned.
	ReasonWaitingForAddress = "WaitingForAddress"
)

// DesiredState is what the user asks of an instance.
// +kubebuilder:validation:Enum=Running;Stopped;Terminated
type DesiredState string

const (
	// DesiredRunning asks for a running guest.
	DesiredRunning DesiredState = "Running"
	// DesiredStopped asks for the guest to be shut down, keeping its disks.
	DesiredStopped DesiredState = "Stopped"
	// DesiredTerminated asks for the guest and its disks to be removed; the object stays visible as
	// terminated for a retention period, then is deleted.
	DesiredTerminated DesiredState = "Terminated"
)

// InstanceState is an EC2 instance state name.
// +kubebuilder:validation:Enum=pending;running;shutting-down;terminated;stopping;stopped
type InstanceState string

// EC2 instance states.
const (
	InstanceStatePending      InstanceState = "pending"
	InstanceStateRunning      InstanceState = "running"
	InstanceStateShuttingDown InstanceState = "shutting-down"
	InstanceStateTerminated   InstanceState = "terminated"
	InstanceStateStopping     InstanceState = "stopping"
	InstanceStateStopped      InstanceState = "stopped"
)

// Code is the EC2 numeric code of the state (the low byte of instanceState.code).
func (s InstanceState) Code() int32 {
	switch s {
	case InstanceStateRunning:
		return 16
	case InstanceStateShuttingDown:
		return 32
	case InstanceStateTerminated:
		return 48
	case InstanceStateStopping:
		return 64
	case InstanceStateStopped:
		return 80
	default:
		return 0
	}
}

// ShutdownBehavior is what happens when the guest powers itself off.
// +kubebuilder:validation:Enum=stop;terminate
type ShutdownBehavior string

const (
	ShutdownBehaviorStop      ShutdownBehavior = "stop"
	ShutdownBehaviorTerminate ShutdownBehavior = "terminate"
)

// EBSBlockDevice asks for a new volume made at launch: the instance controller makes it in the
// instance's project and zone once the instance is placed, attached to the instance at the
// mapping's device.
// +kubebuilder:validation:XValidation:rule="has(self.volumeSize) || has(self.snapshotId)",message="an ebs mapping needs volumeSize, snapshotId or both"
// +kubebuilder:validation:XValidation:rule="!has(self.iops) || (has(self.volumeType) && self.volumeType in ['gp3', 'io1', 'io2'])",message="iops is for gp3, io1 and io2 volumes"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || !(self.volumeType in ['io1', 'io2']) || has(self.iops)",message="io1 and io2 volumes need iops"
// +kubebuilder:validation:XValidation:rule="!has(self.throughput) || (has(self.volumeType) && self.volumeType == 'gp3')",message="throughput is for gp3 volumes"
type EBSBlockDevice struct {
	// volumeSize is the size of the volume in GiB; unset, the snapshot's volume size.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16384
	VolumeSize int32 `json:"volumeSize,omitempty"`

	// snapshotId fills the volume with a completed snapshot the instance's project may use (its
	// own, another project's that gave it createVolumePermission, or one the instance's image
	// maps), as a Volume's snapshotId. Unset on a device the image maps a volume at, the
	// image's snapshot.
	// +optional
	// +kubebuilder:validation:Pattern=`^snap-[0-9a-f]{17}$`
	SnapshotID string `json:"snapshotId,omitempty"`

	// deleteOnTermination removes the volume when the instance terminates, if it is still
	// attached to it then.
	// +optional
	// +kubebuilder:default=true
	DeleteOnTermination *bool `json:"deleteOnTermination,omitempty"`

	// volumeType, iops and throughput are the volume's, as a Volume's (gp2 when unset).
	// +optional
	VolumeType VolumeType `json:"volumeType,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=256000
	Iops int32 `json:"iops,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=125
	// +kubebuilder:validation:Maximum=1000
	Throughput int32 `json:"throughput,omitempty"`
}

// DeletesOnTermination tells whether the mapping's volume goes with its instance (the default).
func (e *EBSBlockDevice) DeletesOnTermination() bool {
	return e.DeleteOnTermination == nil || *e.DeleteOnTermination
}

// BlockDeviceMapping attaches a device to the instance at launch, or (noDevice) keeps the image's
// mapping of the device from it.
// +kubebuilder:validation:XValidation:rule="(has(self.virtualName) ? 1 : 0) + (has(self.ebs) ? 1 : 0) + (has(self.noDevice) && self.noDevice ? 1 : 0) == 1",message="exactly one of virtualName, ebs and noDevice must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.ebs) || !self.deviceName.matches('^/dev/(sd|vd|xvd)a[0-9]*$')",message="the root device is the instance's own disk: map volumes to other devices"
type BlockDeviceMapping struct {
	// deviceName is the device the guest sees, e.g. /dev/sdb or /dev/vdb.
	// +required
	// +kubebuilder:validation:Pattern=`^/dev/(sd|vd|xvd)[a-z]{1,2}[0-9]*$`
	// +kubebuilder:validation:MaxLength=32
	DeviceName string `json:"deviceName"`

	// virtualName maps an instance store: ephemeral0 or swap.
	// +optional
	// +kubebuilder:validation:Pattern=`^(ephemeral[0-9]|swap)$`
	VirtualName *string `json:"virtualName,omitempty"`

	// ebs creates a volume at launch.
	// +optional
	EBS *EBSBlockDevice `json:"ebs,omitempty"`

	// noDevice drops the image's mapping of the device: the instance gets no volume there.
	// +optional
	NoDevice bool `json:"noDevice,omitempty"`
}

// LaunchVolumes are the mappings of the volumes an instance of img gets at launch: the image's,
// each replaced by the instance's own mapping of the same device name (a noDevice one drops it),
// then the instance's others; img may be nil (the instance's alone). As on EC2, an own ebs
// mapping without a snapshotId of a device the image maps a volume at keeps the image's
// snapshot: it changes the volume's size or deleteOnTermination, not what it holds.
func LaunchVolumes(img *Image, inst *Instance) []BlockDeviceMapping {
	own := map[string]BlockDeviceMapping{}
	for _, m := range inst.Spec.BlockDeviceMappings {
		own[m.DeviceName] = m
	}
	imaged := map[string]string{}
	var out []BlockDeviceMapping
	if img != nil {
		for _, m := range img.Spec.BlockDeviceMappings {
			imaged[m.DeviceName] = m.EBS.SnapshotID
			if _, replaced := own[m.DeviceName]; !replaced {
				out = append(out, BlockDeviceMapping{DeviceName: m.DeviceName, EBS: m.EBS.DeepCopy()})
			}
		}
	}
	for _, m := range inst.Spec.BlockDeviceMappings {
		if m.EBS == nil {
			continue
		}
		if snap := imaged[m.DeviceName]; m.EBS.SnapshotID == "" && snap != "" {
			m.EBS = m.EBS.DeepCopy()
			m.EBS.SnapshotID = snap
		}
		out = append(out, m)
	}
	return out
}

// MetadataOptions are an instance's metadata service settings.
type MetadataOptions struct {
	// httpTokens is optional (requests with or without an IMDSv2 session token are answered)
	// or required (a request without one is refused with 401).
	// +optional
	// +kubebuilder:validation:Enum=optional;required
	// +kubebuilder:default=optional
	HTTPTokens string `json:"httpTokens,omitempty"`

	// httpEndpoint is enabled, or disabled: the service refuses every request of the instance
	// with 403. A config drive still holds the meta-data.
	// +optional
	// +kubebuilder:validation:Enum=enabled;disabled
	// +kubebuilder:default=enabled
	HTTPEndpoint string `json:"httpEndpoint,omitempty"`

	// httpPutResponseHopLimit is the IP time-to-live of the answers to token requests: 1
	// reaches the guest's own network stack only, more lets a token reach that many routed hops
	// further (containers behind a bridge in the guest).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +kubebuilder:default=1
	HTTPPutResponseHopLimit int32 `json:"httpPutResponseHopLimit,omitempty"`
}

// Metadata option values.
const (
	MetadataTokensOptional   = "optional"
	MetadataTokensRequired   = "required"
	MetadataEndpointEnabled  = "enabled"
	MetadataEndpointDisabled = "disabled"
)

// EffectiveMetadataOptions are the instance's metadata options with EC2's defaults filled in.
func (i *Instance) EffectiveMetadataOptions() MetadataOptions {
	o := MetadataOptions{HTTPTokens: MetadataTokensOptional, HTTPEndpoint: MetadataEndpointEnabled, HTTPPutResponseHopLimit: 1}
	if m := i.Spec.MetadataOptions; m != nil {
		if m.HTTPTokens != "" {
			o.HTTPTokens = m.HTTPTokens
		}
		if m.HTTPEndpoint != "" {
			o.HTTPEndpoint = m.HTTPEndpoint
		}
		if m.HTTPPutResponseHopLimit > 0 {
			o.HTTPPutResponseHopLimit = m.HTTPPutResponseHopLimit
		}
	}
	return o
}

// MaxInstanceSecurityGroups bounds spec.securityGroups (the CRD's MaxItems).
const MaxInstanceSecurityGroups = 16

// InstanceSpec is what the user asks for.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.availabilityZone) || (has(self.availabilityZone) && self.availabilityZone == oldSelf.availabilityZone)",message="availabilityZone is immutable"
// +kubebuilder:validation:XValidation:rule="oldSelf.desiredState != 'Terminated' || self.desiredState == 'Terminated'",message="a terminated instance cannot be started or stopped"
// +kubebuilder:validation:XValidation:rule="has(self.blockDeviceMappings) == has(oldSelf.blockDeviceMappings)",message="blockDeviceMappings are immutable"
// +kubebuilder:validation:XValidation:rule="has(self.configDrive) == has(oldSelf.configDrive) && (!has(self.configDrive) || self.configDrive == oldSelf.configDrive)",message="configDrive is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.disableApiTermination) || !oldSelf.disableApiTermination || self.desiredState != 'Terminated' || oldSelf.desiredState == 'Terminated'",message="the instance has termination protection: set disableApiTermination to false before terminating it"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.disableApiStop) || !oldSelf.disableApiStop || self.desiredState != 'Stopped' || oldSelf.desiredState == 'Stopped'",message="the instance has stop protection: set disableApiStop to false before stopping it"
type InstanceSpec struct {
	// imageId is the machine image to boot: an ami- id, or the name of an Image in the same
	// namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="imageId is immutable"
	ImageID string `json:"imageId"`

	// instanceType is the name of an InstanceType. It can change only while the instance is stopped.
	// +optional
	// +kubebuilder:default=m1.small
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	InstanceType string `json:"instanceType,omitempty"`

	// kernelId overrides the image's kernel: an aki- id, or the name of a kernel Image in the
	// same namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(aki-[0-9a-f]{8,17}|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="kernelId is immutable"
	KernelID string `json:"kernelId,omitempty"`

	// ramdiskId overrides the image's ramdisk: an ari- id, or the name of a ramdisk Image in the
	// same namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(ari-[0-9a-f]{8,17}|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="ramdiskId is immutable"
	RamdiskID string `json:"ramdiskId,omitempty"`

	// keyName is the key pair whose public key is offered to the guest.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="keyName is immutable"
	KeyName string `json:"keyName,omitempty"`

	// userData is handed to the guest through the metadata service (at most 16 KiB).
	// +optional
	// +kubebuilder:validation:MaxLength=21848
	UserData []byte `json:"userData,omitempty"`

	// configDrive asks for a read-only "config drive": a disk (serial pinet-meta) holding the
	// instance's meta-data and user data, for guests that cannot or should not depend on the
	// metadata service. Unset takes the image's configDrive (off when the image does not say).
	// A node without a network (so without a metadata service) gives every instance the disk.
	// +optional
	ConfigDrive *bool `json:"configDrive,omitempty"`

	// metadataOptions set how the instance's metadata service answers it (EC2's
	// InstanceMetadataOptions); they may change at any time. Unset is optional tokens, the
	// service enabled and a hop limit of 1.
	// +optional
	MetadataOptions *MetadataOptions `json:"metadataOptions,omitempty"`

	// securityGroups are the names or sg- ids of the groups the instance belongs to; empty means
	// the project's default group. They may change at any time: the nodes' packet filters follow.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=255
	SecurityGroups []string `json:"securityGroups,omitempty"`

	// availabilityZone pins the instance to a zone; empty lets the scheduler choose.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	AvailabilityZone string `json:"availabilityZone,omitempty"`

	// blockDeviceMappings adds instance-store and EBS devices at launch.
	// +optional
	// +listType=map
	// +listMapKey=deviceName
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="blockDeviceMappings are immutable"
	BlockDeviceMappings []BlockDeviceMapping `json:"blockDeviceMappings,omitempty"`

	// desiredState asks for the guest to run, stop (keeping its disks) or terminate.
	// +optional
	// +kubebuilder:default=Running
	DesiredState DesiredState `json:"desiredState,omitempty"`

	// shutdownBehavior is what a guest-initiated power-off means: stop (EC2's default) or terminate.
	// +optional
	// +kubebuilder:default=stop
	ShutdownBehavior ShutdownBehavior `json:"shutdownBehavior,omitempty"`

	// disableApiTermination is EC2's termination protection: while true, no front door
	// terminates the instance (TerminateInstances, the dashboard, desiredState Terminated,
	// deleting the Instance). It can change at any time. A guest that powers itself off with
	// shutdownBehavior terminate is still terminated, as in EC2, and deleting the project
	// deletes its instances regardless.
	// +optional
	DisableAPITermination bool `json:"disableApiTermination,omitempty"`

	// disableApiStop is EC2's stop protection: while true, neither StopInstances, the
	// dashboard nor desiredState Stopped stops the instance. A guest's own power-off still
	// stops it.
	// +optional
	DisableAPIStop bool `json:"disableApiStop,omitempty"`
}

// DomainStatus is what the node agent observed of the instance's libvirt domain.
type DomainStatus struct {
	// name is the libvirt domain name.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name,omitempty"`

	// state is the libvirt domain state (running, paused, shutoff, crashed, …).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	State string `json:"state,omitempty"`

	// vcpus and memoryMiB are what libvirt gave the domain.
	// +optional
	VCPUs int32 `json:"vcpus,omitempty"`
	// +optional
	MemoryMiB int64 `json:"memoryMiB,omitempty"`

	// startTime is when the domain was last started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// shutoffReason says why a shut-off domain stopped (shutdown, destroyed, crashed, …).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	ShutoffReason string `json:"shutoffReason,omitempty"`

	// rebootRequest is the reboot request (annotation cloud.pinet.io/reboot-requested-at) the
	// agent last carried out.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RebootRequest string `json:"rebootRequest,omitempty"`

	// startRequest is the start request (annotation cloud.pinet.io/start-requested-at) that was
	// current when the guest last powered itself off; only a different one starts it again.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	StartRequest string `json:"startRequest,omitempty"`
}

// GuestShutdown records that an instance's guest powered itself off while its spec said
// running. The spec is left as the user wrote it; the instance is stopped (or terminated, as its
// shutdown behavior says) until a start request or a spec change.
type GuestShutdown struct {
	// time is when the instance controller saw the power-off.
	// +required
	Time metav1.Time `json:"time"`

	// observedGeneration is the spec generation the power-off happened under.
	// +required
	ObservedGeneration int64 `json:"observedGeneration"`

	// state is what the instance became.
	// +required
	// +kubebuilder:validation:Enum=stopped;terminated
	State InstanceState `json:"state"`

	// startRequest is the start request (annotation cloud.pinet.io/start-requested-at) current
	// at the power-off; a different one starts a stopped instance again.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	StartRequest string `json:"startRequest,omitempty"`
}

// EffectiveDesiredState is the state the instance is to be in: its spec's, unless its guest
// powered itself off since, which made it stopped (while the spec says running) or terminated
// (for good, whatever the spec says later).
func (i *Instance) EffectiveDesiredState() DesiredState {
	gs := i.Status.GuestShutdown
	switch {
	case gs == nil:
		return i.Spec.DesiredState
	case gs.State == InstanceStateTerminated:
		return DesiredTerminated
	case i.Spec.DesiredState == DesiredRunning:
		return DesiredStopped
	}
	return i.Spec.DesiredState
}

// GivenInstanceType is the type the instance was given (status.instanceType), or its spec's
// for one not bound yet or bound before the type was recorded.
func (i *Instance) GivenInstanceType() string {
	if i.Status.InstanceType != "" {
		return i.Status.InstanceType
	}
	return i.Spec.InstanceType
}

// ResizeWaiting tells whether the instance's spec.instanceType differs from the type it was
// given: a resize the scheduler has not given yet.
func (i *Instance) ResizeWaiting() bool {
	return i.Status.InstanceType != "" && i.Status.InstanceType != i.Spec.InstanceType
}

// Terminating reports whether the instance is on its way out, terminated or deleted: its domain
// is to go, and it takes nothing new.
func (i *Instance) Terminating() bool {
	return !i.DeletionTimestamp.IsZero() || i.EffectiveDesiredState() == DesiredTerminated
}

// AnnotationRebootRequested asks the node agent to reboot the guest; its value (a timestamp)
// identifies the request.
const AnnotationRebootRequested = "cloud.pinet.io/reboot-requested-at"

// AnnotationStartRequested asks for an instance stopped by its guest's own power-off (its spec
// still says running) to start again; each new value (a timestamp) is a new request.
// StartInstances sets it.
const AnnotationStartRequested = "cloud.pinet.io/start-requested-at"

// InstanceBlockDevice is a volume attached to an instance.
type InstanceBlockDevice struct {
	// deviceName is the device the volume was attached as (/dev/sdf).
	// +required
	// +kubebuilder:validation:MaxLength=32
	DeviceName string `json:"deviceName"`
	// volumeId is the EC2 id of the volume.
	// +required
	// +kubebuilder:validation:MaxLength=32
	VolumeID string `json:"volumeId"`
	// status is the attachment's state.
	// +optional
	Status AttachmentState `json:"status,omitempty"`
	// attachTime is when the volume was attached.
	// +optional
	AttachTime *metav1.Time `json:"attachTime,omitempty"`
	// deleteOnTermination is true for a volume the instance's launch made with
	// deleteOnTermination set.
	// +optional
	DeleteOnTermination bool `json:"deleteOnTermination,omitempty"`
}

// InstanceStatus is what PiNet observed of an instance. Each field has one writer: the instance
// controller (ids, state, Ready), the scheduler (placement, Scheduled), the node agent (domain,
// DomainDefined, GuestRunning), the network controller (addresses).
type InstanceStatus struct {
	// observedGeneration is the generation the instance controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// instanceId is the EC2 id (i- and 17 hex digits), assigned once.
	// +optional
	// +kubebuilder:validation:Pattern=`^i-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="instanceId never changes"
	InstanceID string `json:"instanceId,omitempty"`

	// reservationId groups the instances launched together.
	// +optional
	// +kubebuilder:validation:Pattern=`^r-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="reservationId never changes"
	ReservationID string `json:"reservationId,omitempty"`

	// ownerId is the project (EC2 account) that owns the instance.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	OwnerID string `json:"ownerId,omitempty"`

	// state is the EC2 state name, derived from the conditions.
	// +optional
	State InstanceState `json:"state,omitempty"`

	// stateReason explains the last state change.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	StateReason string `json:"stateReason,omitempty"`

	// launchTime is when the instance was first started.
	// +optional
	LaunchTime *metav1.Time `json:"launchTime,omitempty"`

	// terminatedTime is when the instance reached terminated; it is deleted after the retention
	// period.
	// +optional
	TerminatedTime *metav1.Time `json:"terminatedTime,omitempty"`

	// guestShutdown is set while the instance is stopped or terminated because its guest powered
	// itself off; the instance controller writes it.
	// +optional
	GuestShutdown *GuestShutdown `json:"guestShutdown,omitempty"`

	// hypervisor is the node the scheduler bound the instance to.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Hypervisor string `json:"hypervisor,omitempty"`

	// instanceType is the type the instance was given: counted on its hypervisor and under its
	// project's quota, and the size its node agent makes the domain. The scheduler sets it with
	// the binding, and again once a stopped instance's changed spec.instanceType fits (condition
	// Resized); until then the instance does not start.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	InstanceType string `json:"instanceType,omitempty"`

	// availabilityZone is the zone of the hypervisor.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	AvailabilityZone string `json:"availabilityZone,omitempty"`

	// privateIpAddress is the instance's address in its project's subnet, held (claimed through
	// the API server) from admission until the instance is terminated.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IP address"
	PrivateIPAddress string `json:"privateIpAddress,omitempty"`

	// privateDnsName is the instance's private host name, ip-<a>-<b>-<c>-<d>.<region>.compute.internal.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PrivateDNSName string `json:"privateDnsName,omitempty"`

	// segmentId is the network segment (VXLAN VNI or VLAN id) of the instance's project, copied
	// here with subnet and gateway so the node agent needs no access to Projects.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16777215
	SegmentID int32 `json:"segmentId,omitempty"`

	// subnet is the instance's project's subnet (CIDR); privateIpAddress is in it.
	// +optional
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="must be an IPv4 CIDR"
	Subnet string `json:"subnet,omitempty"`

	// gateway is the subnet's gateway, its first host address; the node answers on it.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="must be an IPv4 address"
	Gateway string `json:"gateway,omitempty"`

	// publicIpAddress is the elastic IP associated with the instance.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	PublicIPAddress string `json:"publicIpAddress,omitempty"`

	// macAddress is the MAC of the instance's network interface: locally administered (02:),
	// derived from the segment and privateIpAddress, so unique within the segment.
	// +optional
	// +kubebuilder:validation:MaxLength=17
	// +kubebuilder:validation:Pattern=`^([0-9a-f]{2}:){5}[0-9a-f]{2}$`
	MACAddress string `json:"macAddress,omitempty"`

	// domain is what the node agent observed in libvirt.
	// +optional
	Domain *DomainStatus `json:"domain,omitempty"`

	// blockDevices are the volumes attached to the instance, as its node agent sees them (EC2's
	// block device mappings of DescribeInstances).
	// +optional
	// +listType=map
	// +listMapKey=deviceName
	// +kubebuilder:validation:MaxItems=64
	BlockDevices []InstanceBlockDevice `json:"blockDevices,omitempty"`

	// conditions: Ready, ReferencesResolved, QuotaAdmitted, AddressAssigned, Scheduled,
	// DomainDefined, GuestRunning.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Instance is a virtual machine.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=inst,categories=pinet
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.instanceId`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.instanceType`
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.imageId`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.hypervisor`
// +kubebuilder:printcolumn:name="Private IP",type=string,JSONPath=`.status.privateIpAddress`
// +kubebuilder:printcolumn:name="Public IP",type=string,JSONPath=`.status.publicIpAddress`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.spec.instanceType) || self.spec.instanceType == oldSelf.spec.instanceType || (has(oldSelf.status) && has(oldSelf.status.state) && oldSelf.status.state == 'stopped')",message="spec.instanceType can change only while the instance is stopped"
type Instance struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec InstanceSpec `json:"spec"`
	// +optional
	Status InstanceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// InstanceList is a list of Instances.
type InstanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Instance `json:"items"`
}

// GetConditions returns status.conditions.
func (i *Instance) GetConditions() []metav1.Condition { return i.Status.Conditions }

// SetConditions sets status.conditions.
func (i *Instance) SetConditions(c []metav1.Condition) { i.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&Instance{}, &InstanceList{})
}
