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

// Package nodeauthz is the API server's authorization webhook for node agents' reads: a node
// agent reads the Instances bound to its node, the Volumes stored on or attached at its node,
// the Snapshots its node copies and the KeyPairs, Images and SecurityGroups its instances use
// (the manager labels them for the node, internal/nodeuse), and no others. RBAC cannot say that
// (it grants a resource, not the objects carrying a label) and admission never sees reads, so
// the API server asks this authorizer, before RBAC, about every get, list and watch of those
// kinds by a node agent. It only takes away: a list or watch without a label selector naming the
// node (the API server passes the parsed selector), or a get of an object that, as the manager's
// cache holds it, does not carry the node's label, is denied; what is left is RBAC's to grant (no
// opinion), as is every other request: writes are narrowed by admission (pinet-node-restriction).
// Secrets likewise: RBAC lets node agents get every node's object store key by name (the
// manager's Role pinet-nodeagent-store-keys), and a node is refused every one but its own, and any
// list or watch of Secrets.
package nodeauthz

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/s3client"
)

// NodeAgentsGroup is the group of the node agents' own identities (users pinet:node:<node>).
const NodeAgentsGroup = "pinet:nodeagents"

// nodeUserPrefix starts the user name of a node agent's own identity.
const nodeUserPrefix = "pinet:node:"

// podNodeExtra is the user extra a pod-bound service account token names its pod's node in.
const podNodeExtra = "authentication.kubernetes.io/node-name"

// Decision is the authorizer's answer.
type Decision int

const (
	// NoOpinion leaves the request to the next authorizer (RBAC): the authorizer never grants.
	NoOpinion Decision = iota
	// Deny refuses it, whatever later authorizers would say.
	Deny
)

func (d Decision) String() string {
	if d == Deny {
		return "deny"
	}
	return "no opinion"
}

// Authorizer decides node agents' reads of the kinds that carry their node in a label.
type Authorizer struct {
	// Reader holds every object of the narrowed kinds (the manager's cache).
	Reader client.Reader
	// SystemNamespace is the namespace of the node agents' service account
	// (system:serviceaccount:<ns>:pinet-nodeagent, the DaemonSet's identity).
	SystemNamespace string
}

// nodeLabel is a label that gives an object to a node.
type nodeLabel struct{ key, value string }

// narrowedKind is how a node is given the objects of one narrowed resource.
type narrowedKind struct {
	// labels are the labels that give an object to node: any one of them does.
	labels func(node string) []nodeLabel
	// object makes an empty object of the kind, to read one into.
	object func() client.Object
	// given says, in a refusal, what an object of another node's is not ("... node n").
	given string
}

// narrowedKinds are the resources node agents read only their node's of, by resource name.
var narrowedKinds = map[string]narrowedKind{
	"instances": {
		labels: func(node string) []nodeLabel { return []nodeLabel{{cloudv1.LabelHypervisor, node}} },
		object: func() client.Object { return &cloudv1.Instance{} }, given: "on node",
	},
	"volumes": {
		labels: func(node string) []nodeLabel {
			return []nodeLabel{{cloudv1.LabelStorageNode, node}, {cloudv1.LabelAttachNode, node}}
		},
		object: func() client.Object { return &cloudv1.Volume{} }, given: "on node",
	},
	// A snapshot is the storage node's that copies it (the snapshot controller labels it so).
	"snapshots": {
		labels: func(node string) []nodeLabel { return []nodeLabel{{cloudv1.LabelStorageNode, node}} },
		object: func() client.Object { return &cloudv1.Snapshot{} }, given: "on node",
	},
	// What the node's instances use (the manager's node use labels, internal/nodeuse).
	"keypairs": usedKind(func() client.Object { return &cloudv1.KeyPair{} }),
	// An image is also the node's while the node copies the root disk of the instance it is
	// made of (the image controller labels it so).
	"images": {
		labels: func(node string) []nodeLabel {
			return []nodeLabel{{cloudv1.NodeUseLabel(node), cloudv1.NodeUseLabelValue}, {cloudv1.LabelCaptureNode, node}}
		},
		object: func() client.Object { return &cloudv1.Image{} }, given: "used or copied by node",
	},
	"securitygroups": usedKind(func() client.Object { return &cloudv1.SecurityGroup{} }),
}

func usedKind(object func() client.Object) narrowedKind {
	return narrowedKind{
		labels: func(node string) []nodeLabel {
			return []nodeLabel{{cloudv1.NodeUseLabel(node), cloudv1.NodeUseLabelValue}}
		},
		object: object, given: "used by an instance on node",
	}
}

// nodeAgent reports whether the requester is a node agent, and the node it acts for ("" when
// its credentials name none: a service account token not bound to a pod on a node).
func (a *Authorizer) nodeAgent(user string, groups []string, extra map[string]authorizationv1.ExtraValue) (bool, string) {
	if slices.Contains(groups, NodeAgentsGroup) {
		if node, ok := strings.CutPrefix(user, nodeUserPrefix); ok {
			return true, node
		}
		return true, ""
	}
	if user == "system:serviceaccount:"+a.SystemNamespace+":pinet-nodeagent" {
		if v := extra[podNodeExtra]; len(v) == 1 {
			return true, v[0]
		}
		return true, ""
	}
	return false, ""
}

// Decide answers one SubjectAccessReview, with the reason the requester is told on a denial.
func (a *Authorizer) Decide(ctx context.Context, spec authorizationv1.SubjectAccessReviewSpec) (Decision, string, error) {
	ra := spec.ResourceAttributes
	if ra != nil && ra.Group == "" && ra.Resource == "secrets" {
		d, reason := a.decideSecret(spec, ra)
		return d, reason, nil
	}
	if ra == nil || ra.Group != cloudv1.GroupVersion.Group {
		return NoOpinion, "", nil
	}
	kind, narrowed := narrowedKinds[ra.Resource]
	if !narrowed || (ra.Subresource != "" && ra.Subresource != "status") {
		return NoOpinion, "", nil
	}
	isNode, node := a.nodeAgent(spec.User, spec.Groups, spec.Extra)
	if !isNode {
		return NoOpinion, "", nil
	}
	keys := kind.labels(node)
	switch ra.Verb {
	case "list", "watch":
		if node == "" {
			return Deny, "a node agent's credentials name no node", nil
		}
		if selectsNode(ra.LabelSelector, keys) {
			return NoOpinion, "", nil
		}
		return Deny, fmt.Sprintf("node %s may %s %s only with the label selector %s", node, ra.Verb, ra.Resource,
			selectorHint(keys)), nil
	case "get":
		if node == "" {
			return Deny, "a node agent's credentials name no node", nil
		}
		ok, err := a.heldBy(ctx, ra, kind.object(), keys)
		if err != nil {
			return Deny, "", err
		}
		if ok {
			return NoOpinion, "", nil
		}
		return Deny, fmt.Sprintf("%s %s/%s is not %s %s", strings.TrimSuffix(ra.Resource, "s"),
			ra.Namespace, ra.Name, kind.given, node), nil
	}
	// Writes: admission (pinet-node-restriction) narrows them to the node's own objects.
	return NoOpinion, "", nil
}

// nodeKeyPrefix starts the name of every node's object store key Secret.
var nodeKeyPrefix = credentials.SecretName(s3client.NodeUserPrefix)

// decideSecret lets a node agent get, of the nodes' object store keys, only its own node's, and
// list or watch no Secret at all, saying why on a denial. Other Secrets by name are RBAC's to
// decide (it grants none).
func (a *Authorizer) decideSecret(spec authorizationv1.SubjectAccessReviewSpec, ra *authorizationv1.ResourceAttributes) (Decision, string) {
	isNode, node := a.nodeAgent(spec.User, spec.Groups, spec.Extra)
	switch {
	case !isNode:
		return NoOpinion, ""
	case ra.Verb == "list" || ra.Verb == "watch":
		return Deny, "node agents read Secrets only by name"
	case ra.Verb != "get" || !strings.HasPrefix(ra.Name, nodeKeyPrefix):
		return NoOpinion, ""
	case node != "" && ra.Namespace == a.SystemNamespace && ra.Name == credentials.SecretName(s3client.NodeUser(node)):
		return NoOpinion, ""
	}
	return Deny, fmt.Sprintf("secret %s/%s is not this node's object store key", ra.Namespace, ra.Name)
}

// selectsNode reports whether a list's label selector keeps it to objects carrying one of the
// node's labels: a requirement key=value (the API server passes = and == as In with one value).
// Other requirements beside it only narrow the list further.
func selectsNode(sel *authorizationv1.LabelSelectorAttributes, keys []nodeLabel) bool {
	if sel == nil {
		return false
	}
	for _, r := range sel.Requirements {
		if r.Operator == metav1.LabelSelectorOpIn && len(r.Values) == 1 &&
			slices.Contains(keys, nodeLabel{r.Key, r.Values[0]}) {
			return true
		}
	}
	return false
}

func selectorHint(keys []nodeLabel) string {
	hints := make([]string, len(keys))
	for i, k := range keys {
		hints[i] = k.key + "=" + k.value
	}
	return strings.Join(hints, " or ")
}

// heldBy reports whether the named object (read into obj) carries one of the node's labels. An object that does
// not exist is no node's: the agent is told it may not read it, not that it is gone.
func (a *Authorizer) heldBy(ctx context.Context, ra *authorizationv1.ResourceAttributes, obj client.Object, keys []nodeLabel) (bool, error) {
	if ra.Name == "" {
		return false, nil
	}
	err := a.Reader.Get(ctx, client.ObjectKey{Namespace: ra.Namespace, Name: ra.Name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s %s/%s: %w", ra.Resource, ra.Namespace, ra.Name, err)
	}
	l := obj.GetLabels()
	for _, k := range keys {
		if v, ok := l[k.key]; ok && v == k.value {
			return true, nil
		}
	}
	return false, nil
}
