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

// Project condition types and reasons.
const (
	// ProjectNamespaceReady is True once the project's namespace, RBAC and default group exist.
	ProjectNamespaceReady = "NamespaceReady"

	ReasonNamespaceOwnedElsewhere = "NamespaceOwnedElsewhere"
	ReasonHasResources            = "HasResources"

	// ProjectNetworkAllocated is True once the project holds a segment id and a subnet
	// (status.segmentId, status.subnet). Its instances get no address before.
	ProjectNetworkAllocated = "NetworkAllocated"

	// ReasonNetworkAllocated: the project holds its segment and subnet.
	ReasonNetworkAllocated = "Allocated"
	// ReasonSegmentsExhausted: every segment id of the configured range is held by a project.
	ReasonSegmentsExhausted = "SegmentsExhausted"
	// ReasonSubnetsExhausted: every subnet of the configured supernet is held by a project.
	ReasonSubnetsExhausted = "SubnetsExhausted"
)

// Default project quotas, as a new project gets them: EC2's five elastic IPs, and for the rest
// the original cloud's defaults (10 instances, 20 cores, 50 GiB of RAM, 10 volumes, 1000 GiB),
// and 20 snapshots and 20 images (the original cloud bounded neither).
const (
	DefaultQuotaInstances = 10
	DefaultQuotaVCPUs     = 20
	DefaultQuotaMemoryMiB = 51200
	DefaultQuotaVolumes   = 10
	DefaultQuotaVolumeGiB = 1000
	DefaultQuotaAddresses = 5
	// DefaultQuotaSnapshots allows two snapshots of each of the default quota's volumes.
	DefaultQuotaSnapshots = 20
	// DefaultQuotaImages allows a few bundles of kernel, ramdisk and machine image, and images
	// of a few instances: each is a stored copy of a disk.
	DefaultQuotaImages = 20
)

// InstanceQuotaAdmitted is an Instance condition owned by the instance controller: True once the
// instance is admitted under its project's quota (instances, vCPUs, memory). The scheduler does
// not place an instance before.
const InstanceQuotaAdmitted = "QuotaAdmitted"

// Quota condition reasons.
const (
	// ReasonQuotaExceeded means the object waits until its project's quota has room for it.
	ReasonQuotaExceeded = "QuotaExceeded"
	// ReasonAdmitted means the object fits its project's quota.
	ReasonAdmitted = "Admitted"
	// ReasonWaitingForQuota means the object has not been admitted under its quota yet.
	ReasonWaitingForQuota = "WaitingForQuota"
)

// ProjectQuota bounds what a project may use. A missing field takes its default; 0 means no
// limit. What a project holds beyond a lowered limit stays; only new objects wait or are refused.
type ProjectQuota struct {
	// instances bounds the instances that are not terminated (stopped ones count).
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	Instances *int32 `json:"instances,omitempty"`
	// vcpus bounds the vCPUs of those instances, by their instance types.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=0
	VCPUs *int32 `json:"vcpus,omitempty"`
	// memoryMiB bounds the memory of those instances, by their instance types.
	// +optional
	// +kubebuilder:default=51200
	// +kubebuilder:validation:Minimum=0
	MemoryMiB *int64 `json:"memoryMiB,omitempty"`
	// volumes bounds the number of volumes.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	Volumes *int32 `json:"volumes,omitempty"`
	// volumeGiB bounds the total size of the volumes.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=0
	VolumeGiB *int64 `json:"volumeGiB,omitempty"`
	// snapshots bounds the number of snapshots (of any state, until deleted).
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=0
	Snapshots *int32 `json:"snapshots,omitempty"`
	// images bounds the number of images, machine, kernel and ramdisk, registered or made of
	// an instance (of any state, until deregistered).
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=0
	Images *int32 `json:"images,omitempty"`
	// addresses bounds the elastic IPs.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	Addresses *int32 `json:"addresses,omitempty"`
}

// ProjectSpec is a tenant.
type ProjectSpec struct {
	// description is free text.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Description string `json:"description,omitempty"`

	// manager is the user who manages the project.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Manager string `json:"manager,omitempty"`

	// quota bounds the project's resources; an admin raises or lowers it.
	// +optional
	// +kubebuilder:default={}
	Quota ProjectQuota `json:"quota,omitempty"`
}

// ProjectStatus is what the project controller set up.
type ProjectStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// namespace holds the project's cloud objects.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// segmentId is the project's network segment (VXLAN VNI or VLAN id), claimed from the
	// manager's --segment-range together with subnet; both are held until the project is deleted.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16777215
	SegmentID int32 `json:"segmentId,omitempty"`

	// subnet is the project's private IPv4 subnet, carved from the manager's --tenant-supernet.
	// +optional
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="must be an IPv4 CIDR"
	Subnet string `json:"subnet,omitempty"`

	// conditions: Ready, NamespaceReady, NetworkAllocated.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Project is a tenant (an EC2 account). Its name is its account id and its namespace's name.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=proj,categories=pinet
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="Segment",type=integer,JSONPath=`.status.segmentId`
// +kubebuilder:printcolumn:name="Subnet",type=string,JSONPath=`.status.subnet`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')",message="project names are DNS labels (they name the project's namespace)"
type Project struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	// +kubebuilder:default={}
	Spec ProjectSpec `json:"spec,omitempty"`
	// +optional
	Status ProjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ProjectList is a list of Projects.
type ProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Project `json:"items"`
}

// GetConditions returns status.conditions.
func (p *Project) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions sets status.conditions.
func (p *Project) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&Project{}, &ProjectList{})
}
