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

// Condition types shared by several kinds.
const (
	// ReadyCondition summarises an object: True when it is usable for what it is for.
	ReadyCondition = "Ready"
	// StalledCondition is True when an object failed in a way no retry and no other object can
	// mend: only a new spec (often a new object, as the failed fields are immutable) can. kstatus,
	// and so Flux and kpt, report such an object Failed rather than InProgress.
	StalledCondition = "Stalled"
)

// Reasons shared by several kinds.
const (
	// ReasonInternalError means a controller hit an unexpected error; details are in its logs.
	ReasonInternalError = "InternalError"
	// ReasonReady means every check passed.
	ReasonReady = "Ready"
	// ReasonPending means the controller has not finished yet.
	ReasonPending = "Pending"
	// ReasonDeleting means the object is being deleted.
	ReasonDeleting = "Deleting"
)

// DefaultSystemNamespace is where PiNet keeps its own secrets (the cloud CA, users' credentials)
// unless told otherwise.
const DefaultSystemNamespace = "pinet-system"

// Labels and annotations PiNet puts on objects.
const (
	// LabelHypervisor names the Hypervisor an Instance is bound to; the scheduler writes it so that
	// node agents can watch only their own instances.
	LabelHypervisor = "cloud.pinet.io/hypervisor"
	// LabelProject marks a namespace as the home of a Project.
	LabelProject = "cloud.pinet.io/project"
	// LabelReservationID groups the Instances made by one RunInstances call.
	LabelReservationID = "cloud.pinet.io/reservation-id"
	// LabelClassIsolation on a Hypervisor ("true") keeps tiny-class and standard-class instances
	// from sharing it: the node hosts one class at a time.
	LabelClassIsolation = "cloud.pinet.io/class-isolation"
	// LabelStorageNode names the storage node that holds a Volume (the volume controller writes
	// it when it places the volume) or copies a Snapshot (the snapshot controller writes it), so
	// that node agents watch only their own volumes and snapshots.
	LabelStorageNode = "cloud.pinet.io/storage-node"
	// LabelNodeUser names the node whose own object store user a User is (the manager makes one
	// for every Hypervisor and removes it with the node).
	LabelNodeUser = "cloud.pinet.io/node-user"
	// LabelAttachNode names the node of the instance a Volume is attached to (the volume
	// controller writes it while spec.attachTo names an instance bound to a node).
	LabelAttachNode = "cloud.pinet.io/attach-node"
	// LabelLaunchInstance names, on a Volume the instance controller made for an instance's
	// block device mapping, the instance's id; ModifyInstanceAttribute's DeleteOnTermination of
	// an attached volume sets it too, naming the instance the volume is attached to.
	LabelLaunchInstance = "cloud.pinet.io/launch-instance"
	// AnnotationDeleteOnTermination ("true" or "false"), on such a Volume, is the mapping's
	// deleteOnTermination (or ModifyInstanceAttribute's): the instance controller deletes the
	// volume when the instance terminates if it is still attached to it then.
	AnnotationDeleteOnTermination = "cloud.pinet.io/delete-on-termination"
	// AnnotationLaunchVolumeTags, on an Instance, holds the tags (as the tags annotation holds
	// them) the instance controller gives the volumes its block device mappings ask for: EC2's
	// TagSpecifications of ResourceType volume in RunInstances.
	AnnotationLaunchVolumeTags = "cloud.pinet.io/launch-volume-tags"
	// LabelCaptureNode names the node copying the root disk of the instance an Image is made
	// from (the image controller writes it while the copy is under way), so that the node's
	// agent watches only the images it makes.
	LabelCaptureNode = "cloud.pinet.io/capture-node"
	// NodeUseLabelPrefix starts the label (NodeUseLabel) the manager puts on the KeyPairs,
	// SecurityGroups and Images a node's instances use, one per node, so that each node agent
	// watches only those; the node authorizer lets a node read no others.
	NodeUseLabelPrefix = "node.cloud.pinet.io/"
	// NodeUseLabelValue is the value of a NodeUseLabel.
	NodeUseLabelValue = "true"
	// AnnotationClientToken records the ClientToken an object was created with.
	AnnotationClientToken = "cloud.pinet.io/client-token"
	// AnnotationRegisteredBy names the PiNet user who registered an Image: the EC2 API writes it,
	// and admission (pinet-image-registrar) writes it on every other create from the creator's
	// Kubernetes user name (empty when that is not a PiNet user) and keeps it from changing. The
	// image controller reads the image's location as that user, and tries the user's certificate
	// first when checking a bundle's signature.
	AnnotationRegisteredBy = "cloud.pinet.io/registered-by"
	// AnnotationGeneratedFingerprint carries the fingerprint of a KeyPair EC2 generated
	// (CreateKeyPair): it is computed from the private key, which is kept nowhere, so the EC2 API
	// records it at creation and the key pair controller reports it.
	AnnotationGeneratedFingerprint = "cloud.pinet.io/generated-fingerprint"
	// AnnotationRequestID is the id of the last EC2 API call that created or changed an object
	// (the RequestId the caller got back), so a call can be tied to the objects it wrote and to
	// the controllers' logs of them.
	AnnotationRequestID = "cloud.pinet.io/request-id"
	// LabelUser names the User an object (credentials Secret, role binding) belongs to.
	LabelUser = "cloud.pinet.io/user"
	// LabelManagedBy marks the Kubernetes objects PiNet's controllers create; the manager caches
	// only those Secrets and role bindings.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByPiNet is the value of LabelManagedBy on those objects.
	ManagedByPiNet = "pinet"
)

// NodeUseLabel is the label that gives a KeyPair, SecurityGroup or Image to node (whose name, a
// label value wherever it is used, is a valid label name too).
func NodeUseLabel(node string) string { return NodeUseLabelPrefix + node }

// HeaderActAsProject, on a request to PiNet's object store, lets PiNet's own components (admin
// principals) read what a project names with that project's rights and no more: the image
// controller fetches a registered image's location so, and a project cannot make it read another
// project's private bucket. The store then judges the request as the project itself.
const HeaderActAsProject = "X-Pinet-Act-As-Project"

// HeaderActAsUser, beside HeaderActAsProject, narrows the request further to one user of that
// project: the store judges it as the user in the project (bucket policies and ACLs naming the
// user apply), never with the rights of PiNet's own system users.
const HeaderActAsUser = "X-Pinet-Act-As-User"

// Finalizers.
const (
	// UserFinalizer is held until a user's credentials and role bindings are removed.
	UserFinalizer = "cloud.pinet.io/user"
	// ProjectFinalizer is held until a project's namespace can be removed: no instances or volumes
	// remain in it.
	ProjectFinalizer = "cloud.pinet.io/project"
	// InstanceFinalizer is held by the instance controller until the instance's resources
	// (addresses, volumes, domain) are released.
	InstanceFinalizer = "cloud.pinet.io/instance"
	// DomainFinalizer is held for the node agent while a libvirt domain may exist for the
	// instance: the scheduler adds it with the binding, the agent removes it once the domain is
	// gone (or the instance controller, when the node is lost or the binding never reached
	// status).
	DomainFinalizer = "cloud.pinet.io/domain"
)

// ConditionsAccessor is implemented by every PiNet kind so that shared code (the patch helper,
// condition setters) can reach status.conditions.
// +kubebuilder:object:generate=false
type ConditionsAccessor interface {
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}
