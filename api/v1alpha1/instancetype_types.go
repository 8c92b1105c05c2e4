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

// InstanceClass groups instance types that may share a hypervisor.
// +kubebuilder:validation:Enum=Tiny;Standard
type InstanceClass string

const (
	// InstanceClassTiny is for small, heavily overcommitted instances (m1.tiny).
	InstanceClassTiny InstanceClass = "Tiny"
	// InstanceClassStandard is for every regular size.
	InstanceClassStandard InstanceClass = "Standard"
)

// InstanceTypeSpec is the size of an instance.
type InstanceTypeSpec struct {
	// vcpus is the number of virtual CPUs the guest sees.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	VCPUs int32 `json:"vcpus"`

	// memoryMiB is the guest's memory in MiB.
	// +required
	// +kubebuilder:validation:Minimum=64
	// +kubebuilder:validation:Maximum=4194304
	MemoryMiB int32 `json:"memoryMiB"`

	// rootDiskGiB is the size the root disk is grown to.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16384
	RootDiskGiB int32 `json:"rootDiskGiB,omitempty"`

	// ephemeralDiskGiB is the size of the ephemeral disk (0 for none).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=16384
	EphemeralDiskGiB int32 `json:"ephemeralDiskGiB,omitempty"`

	// swapMiB is the size of the swap disk (0 for none).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1048576
	SwapMiB int32 `json:"swapMiB,omitempty"`

	// class decides which instances may share a hypervisor labelled for class isolation.
	// +optional
	// +kubebuilder:default=Standard
	Class InstanceClass `json:"class,omitempty"`

	// cpuOvercommit is how many guest vCPUs of this type share one physical CPU.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	CPUOvercommit int32 `json:"cpuOvercommit,omitempty"`

	// memoryOvercommit is how many MiB of guest memory of this type share one MiB of host memory.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4
	MemoryOvercommit int32 `json:"memoryOvercommit,omitempty"`
}

// InstanceTypeStatus is what the controller observed of an instance type.
type InstanceTypeStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// InstanceType is a size instances are launched with (m1.tiny … m1.xlarge). Its name is the EC2
// instance type name.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=itype,categories=pinet
// +kubebuilder:printcolumn:name="vCPUs",type=integer,JSONPath=`.spec.vcpus`
// +kubebuilder:printcolumn:name="Memory MiB",type=integer,JSONPath=`.spec.memoryMiB`
// +kubebuilder:printcolumn:name="Root GiB",type=integer,JSONPath=`.spec.rootDiskGiB`
// +kubebuilder:printcolumn:name="Ephemeral GiB",type=integer,JSONPath=`.spec.ephemeralDiskGiB`
// +kubebuilder:printcolumn:name="Class",type=string,JSONPath=`.spec.class`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="instance type names are at most 63 characters"
type InstanceType struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec InstanceTypeSpec `json:"spec"`
	// +optional
	Status InstanceTypeStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// InstanceTypeList is a list of InstanceTypes.
type InstanceTypeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InstanceType `json:"items"`
}

// GetConditions returns status.conditions.
func (t *InstanceType) GetConditions() []metav1.Condition { return t.Status.Conditions }

// InstanceStoreDisks names the instance-store disks an instance of the type has after its root
// disk, in the order its node defines them and so the guest disks they take (vdb, vdc): its
// ephemeral disk (ephemeral0), then its swap. No volume may be attached at their device letters.
func (t *InstanceType) InstanceStoreDisks() []string {
	var out []string
	if t.Spec.EphemeralDiskGiB > 0 {
		out = append(out, "ephemeral0")
	}
	if t.Spec.SwapMiB > 0 {
		out = append(out, "swap")
	}
	return out
}

// SetConditions sets status.conditions.
func (t *InstanceType) SetConditions(c []metav1.Condition) { t.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&InstanceType{}, &InstanceTypeList{})
}
