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

// Package nodestore holds the node store controller: it gives every node (Hypervisor) its own
// object store user, whose key reaches only what the node uses (the object store's node grants),
// and keeps the Role that lets node agents read those users' credentials Secrets (the node
// authorizer narrows each node to its own). No node holds a key that reads another node's images
// or snapshots.
package nodestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/s3client"
)

// RoleName is the Role (in the system namespace) that lets node agents get their nodes' users'
// credentials Secrets; config/rbac binds it to the node agents.
const RoleName = "pinet-nodeagent-store-keys"

// resync is how often the Role is checked even when no node changed (someone edited it).
const resync = 10 * time.Minute

// Reconciler keeps every node's user and the Role. It has one key: the whole set is small (one
// user per node) and is written only when a node comes or goes.
type Reconciler struct {
	// Client reads Hypervisors and Users from the cache and writes.
	Client client.Client
	// APIReader reads the Role (the manager caches no RBAC objects).
	APIReader       client.Reader
	Recorder        events.EventRecorder
	SystemNamespace string
}

// key is the controller's one request.
var key = reconcile.Request{NamespacedName: types.NamespacedName{Name: "node-users"}}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=users,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors,verbs=get;list;watch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles,verbs=get;create;update,namespace=pinet-system

// Reconcile makes each node's user, removes those of nodes that are gone, and writes the Role.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	hvs := &cloudv1.HypervisorList{}
	if err := r.Client.List(ctx, hvs); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing hypervisors: %w", err)
	}
	users := &cloudv1.UserList{}
	if err := r.Client.List(ctx, users, client.HasLabels{cloudv1.LabelNodeUser}); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing the nodes' users: %w", err)
	}
	// A user is a node's when its name and label agree; the label alone (anyone's user an
	// administrator labelled) makes no user PiNet's to keep or remove.
	have := map[string]*cloudv1.User{}
	for i := range users.Items {
		if node := users.Items[i].Labels[cloudv1.LabelNodeUser]; users.Items[i].Name == s3client.NodeUser(node) {
			have[node] = &users.Items[i]
		}
	}
	var errs []error
	var secrets []string
	nodes := map[string]bool{}
	for i := range hvs.Items {
		hv := &hvs.Items[i]
		nodes[hv.Name] = true
		if u, ok := have[hv.Name]; ok {
			secrets = append(secrets, credentials.SecretName(u.Name))
			continue
		}
		made, err := r.makeUser(ctx, hv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if made {
			secrets = append(secrets, credentials.SecretName(s3client.NodeUser(hv.Name)))
		}
	}
	for node, u := range have {
		if nodes[node] {
			continue
		}
		if err := r.Client.Delete(ctx, u, client.Preconditions{UID: &u.UID}); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("removing user %s of gone node %s: %w", u.Name, node, err))
			continue
		}
		log.FromContext(ctx).Info("Removed the object store user of a gone node", "node", node, "user", u.Name)
	}
	if err := r.writeRole(ctx, secrets); err != nil {
		errs = append(errs, err)
	}
	return reconcile.Result{RequeueAfter: resync}, errors.Join(errs...)
}

// makeUser makes hv's user, reporting whether the node has it. A User of that name made by
// someone else is not adopted: its keys may be in other hands.
func (r *Reconciler) makeUser(ctx context.Context, hv *cloudv1.Hypervisor) (bool, error) {
	name := s3client.NodeUser(hv.Name)
	u := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{cloudv1.LabelNodeUser: hv.Name}}}
	err := r.Client.Create(ctx, u)
	switch {
	case err == nil:
		log.FromContext(ctx).Info("Made a node's object store user", "node", hv.Name, "user", name)
		return true, nil
	case apierrors.IsAlreadyExists(err):
		r.Recorder.Eventf(hv, nil, corev1.EventTypeWarning, "NodeUserTaken", "MakeNodeUser",
			"User %s exists and was not made by PiNet for this node: the node gets no object store key until it is deleted", name)
		return false, nil
	case apierrors.IsInvalid(err):
		r.Recorder.Eventf(hv, nil, corev1.EventTypeWarning, "NodeUserInvalid", "MakeNodeUser",
			"The node's name is too long for an object store user (%s): it can download no images", name)
		return false, nil
	}
	return false, fmt.Errorf("making user %s for node %s: %w", name, hv.Name, err)
}

// writeRole makes the Role name exactly secrets. With none it holds no rule: a rule with no
// resource names would grant every Secret.
func (r *Reconciler) writeRole(ctx context.Context, secrets []string) error {
	slices.Sort(secrets)
	var rules []rbacv1.PolicyRule
	if len(secrets) > 0 {
		rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: secrets}}
	}
	role := &rbacv1.Role{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.SystemNamespace, Name: RoleName}, role)
	if apierrors.IsNotFound(err) {
		role = &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: r.SystemNamespace, Name: RoleName,
			Labels: map[string]string{"app.kubernetes.io/part-of": "pinet", "app.kubernetes.io/managed-by": "pinet-manager"}}, Rules: rules}
		if err := r.Client.Create(ctx, role); err != nil {
			return fmt.Errorf("creating role %s: %w", RoleName, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading role %s: %w", RoleName, err)
	}
	if equality.Semantic.DeepEqual(role.Rules, rules) {
		return nil
	}
	role.Rules = rules
	if err := r.Client.Update(ctx, role); err != nil {
		return fmt.Errorf("updating role %s: %w", RoleName, err)
	}
	log.FromContext(ctx).Info("Node agents' store keys role updated", "secrets", len(secrets))
	return nil
}
