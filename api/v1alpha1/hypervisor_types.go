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

// Hypervisor condition types and reasons.
const (
	// HypervisorAgentConnected is owned by the hypervisor controller: True while the node agent's
	// heartbeat is fresh.
	HypervisorAgentConnected = "AgentConnected"

	// ReasonHeartbeatFresh: the agent reported within the heartbeat timeout.
	ReasonHeartbeatFresh = "HeartbeatFresh"
	// ReasonHeartbeatStale: the agent has not reported within the heartbeat timeout.
	ReasonHeartbeatStale = "HeartbeatStale"
	// ReasonNeverReported: the agent has not reported yet.
	ReasonNeverReported = "NeverReported"
	// ReasonCordoned: the hypervisor takes no new instances.
	ReasonCordoned = "Cordoned"
)

// DomainType is the libvirt domain type a hypervisor runs guests with.
// +kubebuilder:validation:Enum=kvm;qemu;test
type DomainType string

const (
	// DomainTypeKVM runs guests with hardware virtualisation.
	DomainTypeKVM DomainType = "kvm"
	// DomainTypeQEMU runs guests under TCG software emulation.
	DomainTypeQEMU DomainType = "qemu"
	// DomainTypeTest is libvirt's test driver: simulated guests.
	DomainTypeTest DomainType = "test"
)

// Resources is an amount of compute.
type Resources struct {
	// vcpus is a number of CPUs.
	// +optional
	// +kubebuilder:validation:Minimum=0
	VCPUs int32 `json:"vcpus,omitempty"`
	// memoryMiB is an amount of memory in MiB.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MemoryMiB int64 `json:"memoryMiB,omitempty"`
	// diskGiB is an amount of local disk in GiB.
	// +optional
	// +kubebuilder:validation:Minimum=0
	DiskGiB int64 `json:"diskGiB,omitempty"`
}

// ConsoleEndpoint is a node agent's console server.
type ConsoleEndpoint struct {
	// url is the server's base URL (https).
	// +kubebuilder:validation:MaxLength=256
	URL string `json:"url"`
	// caBundle is the PEM certificate clients verify the server with.
	// +kubebuilder:validation:MaxLength=8192
	CABundle []byte `json:"caBundle"`
}

// StorageStatus is what a storage node offers volumes (written by its node agent).
type StorageStatus struct {
	// capacityGiB is how many GiB of volumes the node may hold (the sum of their sizes).
	// +kubebuilder:validation:Minimum=0
	CapacityGiB int64 `json:"capacityGiB"`
	// allocatedGiB is the sum of the sizes of the volumes placed on the node (labelled with it,
	// until they are gone), as the node agent last counted them: the same sum the volume
	// controller subtracts from capacityGiB when it places a volume (it counts afresh then).
	// +optional
	// +kubebuilder:validation:Minimum=0
	AllocatedGiB int64 `json:"allocatedGiB,omitempty"`
	// interface is the network interface the node serves AoE on.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	Interface string `json:"interface,omitempty"`
}

// HypervisorSpec is what the operator decides about a node. The node agent fills it in when it
// registers the node; the operator may change it afterwards.
type HypervisorSpec struct {
	// zone is the availability zone the node belongs to.
	// +optional
	// +kubebuilder:default=pinet-1a
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Zone string `json:"zone,omitempty"`

	// maxInstances is the most instances the node may host at once.
	// +optional
	// +kubebuilder:default=64
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4096
	MaxInstances int32 `json:"maxInstances,omitempty"`

	// unschedulable stops new instances from being placed on the node; running ones stay.
	// +optional
	Unschedulable bool `json:"unschedulable,omitempty"`
}

// HypervisorStatus is what the node agent and the hypervisor controller observed of a node.
type HypervisorStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// capacity is what the node offers guests (written by the node agent).
	// +optional
	Capacity Resources `json:"capacity,omitempty"`

	// allocated is the sum of the sizes of the instances bound to the node, before overcommit
	// (written by the hypervisor controller).
	// +optional
	Allocated Resources `json:"allocated,omitempty"`

	// instances is how many instances are bound to the node (written by the hypervisor controller).
	// +optional
	Instances int32 `json:"instances,omitempty"`

	// domainType is the libvirt domain type the agent launches guests with.
	// +optional
	DomainType DomainType `json:"domainType,omitempty"`

	// libvirtURI is the libvirt connection the agent drives.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	LibvirtURI string `json:"libvirtURI,omitempty"`

	// hostname is the node's host name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Hostname string `json:"hostname,omitempty"`

	// addresses are the node's addresses, as reported by its agent.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=64
	Addresses []string `json:"addresses,omitempty"`

	// underlayIP is the node's address on the network that carries tenant segments between
	// nodes (VXLAN mode): every other node replicates its segments' broadcast traffic to it.
	// Empty when the node has no tenant network.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IP address"
	UnderlayIP string `json:"underlayIP,omitempty"`

	// agentVersion is the version of the node agent.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	AgentVersion string `json:"agentVersion,omitempty"`

	// console is where the node agent serves instance consoles (authenticated: a Kubernetes
	// token or client certificate allowed to get instances/console).
	// +optional
	Console *ConsoleEndpoint `json:"console,omitempty"`

	// storage is the node's storage role: absent when the node stores no volumes.
	// +optional
	Storage *StorageStatus `json:"storage,omitempty"`

	// lastHeartbeatTime is when the agent last reported. The agent reports when something
	// changed, at most once a second, and at least once a minute.
	// +optional
	LastHeartbeatTime *metav1.Time `json:"lastHeartbeatTime,omitempty"`

	// conditions: Ready, AgentConnected.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Hypervisor is a compute node registered by its node agent.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=hv,categories=pinet
// +kubebuilder:printcolumn:name="Zone",type=string,JSONPath=`.spec.zone`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.status.domainType`
// +kubebuilder:printcolumn:name="Instances",type=integer,JSONPath=`.status.instances`
// +kubebuilder:printcolumn:name="vCPUs",type=integer,JSONPath=`.status.capacity.vcpus`
// +kubebuilder:printcolumn:name="Memory MiB",type=integer,JSONPath=`.status.capacity.memoryMiB`
// +kubebuilder:printcolumn:name="Storage GiB",type=integer,JSONPath=`.status.storage.capacityGiB`
// +kubebuilder:printcolumn:name="Allocated GiB",type=integer,JSONPath=`.status.storage.allocatedGiB`
// +kubebuilder:printcolumn:name="Heartbeat",type=date,JSONPath=`.status.lastHeartbeatTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Hypervisor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec HypervisorSpec `json:"spec,omitempty"`
	// +optional
	Status HypervisorStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// HypervisorList is a list of Hypervisors.
type HypervisorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Hypervisor `json:"items"`
}

// GetConditions returns status.conditions.
func (h *Hypervisor) GetConditions() []metav1.Condition { return h.Status.Conditions }

// SetConditions sets status.conditions.
func (h *Hypervisor) SetConditions(c []metav1.Condition) { h.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&Hypervisor{}, &HypervisorList{})
}
