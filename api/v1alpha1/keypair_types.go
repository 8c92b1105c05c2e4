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

// KeyPair reasons.
const (
	ReasonInvalidPublicKey = "InvalidPublicKey"
	ReasonDuplicateKeyName = "DuplicateKeyName"
)

// KeyType is the algorithm of a key pair.
// +kubebuilder:validation:Enum=rsa;ed25519
type KeyType string

const (
	KeyTypeRSA     KeyType = "rsa"
	KeyTypeED25519 KeyType = "ed25519"
)

// KeyPairSpec is an SSH public key offered to instances launched with it.
type KeyPairSpec struct {
	// keyName is the EC2 key name instances refer to; empty means the object's name.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="keyName is immutable"
	KeyName string `json:"keyName,omitempty"`

	// publicKey is the key in OpenSSH authorized_keys format.
	// +required
	// +kubebuilder:validation:MinLength=16
	// +kubebuilder:validation:MaxLength=16384
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="publicKey is immutable"
	PublicKey string `json:"publicKey"`
}

// KeyPairStatus is what the key pair controller computed.
type KeyPairStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// keyPairId is the EC2 id (key- and 17 hex digits).
	// +optional
	// +kubebuilder:validation:Pattern=`^key-[0-9a-f]{17}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="keyPairId never changes"
	KeyPairID string `json:"keyPairId,omitempty"`

	// keyType is the algorithm of the key.
	// +optional
	KeyType KeyType `json:"keyType,omitempty"`

	// fingerprint is the EC2 fingerprint of the key.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Fingerprint string `json:"fingerprint,omitempty"`

	// conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// KeyPair is an SSH key pair's public half.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kp,categories=pinet
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.keyPairId`
// +kubebuilder:printcolumn:name="Key Name",type=string,JSONPath=`.spec.keyName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.status.keyType`
// +kubebuilder:printcolumn:name="Fingerprint",type=string,JSONPath=`.status.fingerprint`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KeyPair struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec KeyPairSpec `json:"spec"`
	// +optional
	Status KeyPairStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// KeyPairList is a list of KeyPairs.
type KeyPairList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KeyPair `json:"items"`
}

// GetConditions returns status.conditions.
func (k *KeyPair) GetConditions() []metav1.Condition { return k.Status.Conditions }

// SetConditions sets status.conditions.
func (k *KeyPair) SetConditions(c []metav1.Condition) { k.Status.Conditions = c }

// EffectiveKeyName is the EC2 key name: spec.keyName, or the object name.
func (k *KeyPair) EffectiveKeyName() string {
	if k.Spec.KeyName != "" {
		return k.Spec.KeyName
	}
	return k.Name
}

func init() {
	SchemeBuilder.Register(&KeyPair{}, &KeyPairList{})
}
