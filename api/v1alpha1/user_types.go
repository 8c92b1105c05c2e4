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

// User condition types.
const (
	// UserCredentialsIssued is True once the user's access key and certificate exist.
	UserCredentialsIssued = "CredentialsIssued"
	// UserRBACBound is True once the user's role bindings exist in every member project.
	UserRBACBound = "RBACBound"

	ReasonIssued          = "Issued"
	ReasonBound           = "Bound"
	ReasonProjectNotFound = "ProjectNotFound"
)

// Kubernetes identities of PiNet users, used in role bindings and access reviews.
const (
	// UserPrefix prefixes a user's name: the user alice is pinet:user:alice.
	UserPrefix = "pinet:user:"
	// ProjectGroupPrefix prefixes a project's name: members of research are in pinet:project:research.
	ProjectGroupPrefix = "pinet:project:"
	// AdminsGroup holds the admin users.
	AdminsGroup = "pinet:admins"
	// MemberRole is the ClusterRole bound in a project's namespace for its members.
	MemberRole = "pinet-member"
	// AdminRole is the ClusterRole bound cluster-wide for admins.
	AdminRole = "pinet-admin"
)

// AccessKeyState is the state of an access key.
// +kubebuilder:validation:Enum=Active;Retired
type AccessKeyState string

const (
	AccessKeyActive  AccessKeyState = "Active"
	AccessKeyRetired AccessKeyState = "Retired"
)

// UserSpec is a person who uses the cloud.
type UserSpec struct {
	// projects the user is a member of.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	Projects []string `json:"projects,omitempty"`

	// admin users may act on every project.
	// +optional
	Admin bool `json:"admin,omitempty"`

	// keyRotation: raising it issues a new access key and retires the current one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="keyRotation cannot go down"
	KeyRotation int32 `json:"keyRotation,omitempty"`
}

// AccessKey is an EC2 access key id issued to a user; its secret lives in a Secret.
type AccessKey struct {
	// accessKeyId is the public half.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Z0-9]{20}$`
	AccessKeyID string `json:"accessKeyId"`
	// state is Active or Retired; retired keys are refused.
	// +required
	State AccessKeyState `json:"state"`
	// created is when the key was issued.
	// +optional
	Created *metav1.Time `json:"created,omitempty"`
}

// CertificateInfo describes the user's x509 certificate.
type CertificateInfo struct {
	// serialNumber of the certificate, hex.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SerialNumber string `json:"serialNumber,omitempty"`
	// notAfter is when it expires.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`
}

// UserStatus is what the user controller issued.
type UserStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// accessKeys issued to the user, newest last.
	// +optional
	// +listType=map
	// +listMapKey=accessKeyId
	// +kubebuilder:validation:MaxItems=16
	AccessKeys []AccessKey `json:"accessKeys,omitempty"`

	// keyRotation is the spec.keyRotation the keys were issued for.
	// +optional
	KeyRotation int32 `json:"keyRotation,omitempty"`

	// credentialsSecret is the Secret in the system namespace holding the keys and certificate.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	CredentialsSecret string `json:"credentialsSecret,omitempty"`

	// certificate is the user's x509 certificate.
	// +optional
	Certificate *CertificateInfo `json:"certificate,omitempty"`

	// conditions: Ready, CredentialsIssued, RBACBound.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// User is a person with EC2 credentials and project memberships.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=pinet
// +kubebuilder:printcolumn:name="Admin",type=boolean,JSONPath=`.spec.admin`
// +kubebuilder:printcolumn:name="Projects",type=string,JSONPath=`.spec.projects`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$')",message="user names are at most 63 lower-case letters, digits, '-' and '.'"
type User struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec UserSpec `json:"spec,omitempty"`
	// +optional
	Status UserStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// UserList is a list of Users.
type UserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []User `json:"items"`
}

// GetConditions returns status.conditions.
func (u *User) GetConditions() []metav1.Condition { return u.Status.Conditions }

// SetConditions sets status.conditions.
func (u *User) SetConditions(c []metav1.Condition) { u.Status.Conditions = c }

func init() {
	SchemeBuilder.Register(&User{}, &UserList{})
}
