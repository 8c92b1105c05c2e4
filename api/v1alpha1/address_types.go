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

// Address condition types and reasons.
const (
	// AddressAllocated is owned by the address controller: True once an IP is claimed.
	AddressAllocated = "Allocated"
	// AddressAssociated is owned by the address controller: True while NAT to the instance is wanted
	// and the instance exists.
	AddressAssociated = "Associated"

	ReasonPoolExhausted    = "PoolExhausted"
	ReasonPoolNotFound     = "PoolNotFound"
	ReasonInstanceNotFound = "InstanceNotFound"
	// ReasonInstanceHasAddress: the instance the address names is held by another address that
	// names it too; this one waits until it is free.
	ReasonInstanceHasAddress = "InstanceHasAddress"
)

// AddressSpec is an elastic IP.
type AddressSpec struct {
	// pool is the AddressPool to draw from; empty means the default pool.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="pool is immutable"
	Pool string `json:"pool,omitempty"`

	// instanceId associates the address with an instance; removing it disassociates.
	// +optional
	// +kubebuilder:validation:Pattern=`^i-[0-9a-f]{17}$`
	InstanceID string `json:"instanceId,omitempty"`
}

// AddressStatus is what the address controller observed.
type AddressStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// allocationId is the EC2 id (eipalloc- and 17 hex digits).
	// +optional
	// +kubebuilder:validation:Pattern=`^eipalloc-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="allocationId never changes"
	AllocationID string `json:"allocationId,omitempty"`

	// publicIp is the claimed address; it never changes once set.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="publicIp never changes"
	PublicIP string `json:"publicIp,omitempty"`

	// pool is the pool the address came from.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Pool string `json:"pool,omitempty"`

	// associationId is the EC2 association id (eipassoc-) while associated.
	// +optional
	// +kubebuilder:validation:MaxLength=27
	AssociationID string `json:"associationId,omitempty"`

	// instanceId is the instance the address is associated with.
	// +optional
	// +kubebuilder:validation:MaxLength=19
	InstanceID string `json:"instanceId,omitempty"`

	// privateIpAddress is the associated instance's private address.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	PrivateIPAddress string `json:"privateIpAddress,omitempty"`

	// conditions: Ready, Allocated, Associated.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Address is an elastic IP allocated to a project.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=eip,categories=pinet
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.allocationId`
// +kubebuilder:printcolumn:name="Public IP",type=string,JSONPath=`.status.publicIp`
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.status.instanceId`
// +kubebuilder:printcolumn:name="Private IP",type=string,JSONPath=`.status.privateIpAddress`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Address struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec AddressSpec `json:"spec,omitempty"`
	// +optional
	Status AddressStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AddressList is a list of Addresses.
type AddressList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Address `json:"items"`
}

// GetConditions returns status.conditions.
func (a *Address) GetConditions() []metav1.Condition { return a.Status.Conditions }

// SetConditions sets status.conditions.
func (a *Address) SetConditions(c []metav1.Condition) { a.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&Address{}, &AddressList{})
}
