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

// DefaultSecurityGroupName is the group every project gets and instances join when none is named.
const DefaultSecurityGroupName = "default"

// SecurityGroupFinalizer is held by the security group controller while the group is in use: an
// instance that is not terminated names it, or another group's rule admits it. Through any door
// (kubectl, GitOps, EC2, a namespace's deletion), a group in use is deleted only once unused.
const SecurityGroupFinalizer = "cloud.pinet.io/security-group"

// ReasonInUse: a group being deleted is still used by instances or by other groups' rules; it
// goes once they are gone.
const ReasonInUse = "InUse"

// IPProtocol is the protocol of a rule; "-1" means all.
// +kubebuilder:validation:Enum=tcp;udp;icmp;"-1"
type IPProtocol string

const (
	ProtocolTCP  IPProtocol = "tcp"
	ProtocolUDP  IPProtocol = "udp"
	ProtocolICMP IPProtocol = "icmp"
	ProtocolAll  IPProtocol = "-1"
)

// IngressRule admits traffic to members of the group.
// +kubebuilder:validation:XValidation:rule="self.protocol == '-1' || (has(self.fromPort) && has(self.toPort))",message="fromPort and toPort are required unless protocol is -1"
// +kubebuilder:validation:XValidation:rule="self.protocol != 'tcp' && self.protocol != 'udp' || !has(self.fromPort) || !has(self.toPort) || self.fromPort <= self.toPort",message="fromPort must not exceed toPort"
// +kubebuilder:validation:XValidation:rule="size(self.cidrIps) > 0 || size(self.sourceGroups) > 0",message="a rule needs at least one cidrIp or sourceGroup"
type IngressRule struct {
	// protocol is tcp, udp, icmp or -1 (all).
	// +required
	Protocol IPProtocol `json:"protocol"`

	// fromPort is the first port (tcp/udp) or the ICMP type (-1 for all).
	// +optional
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:Maximum=65535
	FromPort *int32 `json:"fromPort,omitempty"`

	// toPort is the last port (tcp/udp) or the ICMP code (-1 for all).
	// +optional
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:Maximum=65535
	ToPort *int32 `json:"toPort,omitempty"`

	// cidrIps are the source ranges admitted.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=18
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR"
	CIDRIPs []string `json:"cidrIps,omitempty"`

	// sourceGroups are groups (names or sg- ids in the same project) whose members are admitted.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=255
	SourceGroups []string `json:"sourceGroups,omitempty"`
}

// SecurityGroupSpec is a set of ingress rules.
type SecurityGroupSpec struct {
	// groupName is the EC2 group name; empty means the object's name.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="groupName is immutable"
	GroupName string `json:"groupName,omitempty"`

	// description is free text.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Description string `json:"description,omitempty"`

	// ingress rules; everything else inbound is denied.
	// +optional
	// +kubebuilder:validation:MaxItems=100
	Ingress []IngressRule `json:"ingress,omitempty"`
}

// SecurityGroupStatus is what the security group controller observed.
type SecurityGroupStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// groupId is the EC2 id (sg- and 17 hex digits).
	// +optional
	// +kubebuilder:validation:Pattern=`^sg-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="groupId never changes"
	GroupID string `json:"groupId,omitempty"`

	// ownerId is the owning project.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	OwnerID string `json:"ownerId,omitempty"`

	// memberIPs are the private addresses of the project's instances in the group, sorted; rules
	// naming the group as a source admit them (written by the security group controller). A
	// project's subnet is at most a /18 (16,381 instances), so every member fits.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16384
	// +kubebuilder:validation:items:MaxLength=45
	MemberIPs []string `json:"memberIPs,omitempty"`

	// conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SecurityGroup is a named set of ingress rules applied to instances.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sg,categories=pinet
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.groupId`
// +kubebuilder:printcolumn:name="Group Name",type=string,JSONPath=`.spec.groupName`
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SecurityGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec SecurityGroupSpec `json:"spec,omitempty"`
	// +optional
	Status SecurityGroupStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// SecurityGroupList is a list of SecurityGroups.
type SecurityGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecurityGroup `json:"items"`
}

// GetConditions returns status.conditions.
func (s *SecurityGroup) GetConditions() []metav1.Condition { return s.Status.Conditions }

// SetConditions sets status.conditions.
func (s *SecurityGroup) SetConditions(c []metav1.Condition) { s.Status.Conditions = c }

// EffectiveGroupName is the EC2 group name: spec.groupName, or the object name.
func (s *SecurityGroup) EffectiveGroupName() string {
	if s.Spec.GroupName != "" {
		return s.Spec.GroupName
	}
	return s.Name
}

func init() {
	SchemeBuilder.Register(&SecurityGroup{}, &SecurityGroupList{})
}
