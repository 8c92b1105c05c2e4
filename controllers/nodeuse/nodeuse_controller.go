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

// Package nodeuse holds the node use controller: it keeps, node by node, the node use label on
// exactly the key pairs, images and security groups the node's instances use, so that a node
// agent (whose caches select the label, and whom the node authorizer refuses anything without
// it) reads what its guests need and nothing of the rest of the cloud.
package nodeuse

import (
	"context"
	"errors"
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/nodeuse"
)

// TakeDelay is how long after an instance leaves a node (moved, terminated, deleted) the node's
// labels are looked at again: a terminate of a fleet costs each node one pass, not one per
// instance.
const TakeDelay = 10 * time.Second

// Reconciler keeps one node's use labels; its key is the node's name (cluster-scoped).
type Reconciler struct {
	Client   client.Client
	Labeller *nodeuse.Labeller
	// TakeDelay overrides the package's TakeDelay (tests).
	TakeDelay time.Duration
}

// usedKinds are the kinds a node is given, as lists to find what carries a node's label.
func usedKinds() []client.ObjectList {
	return []client.ObjectList{&cloudv1.KeyPairList{}, &cloudv1.ImageList{}, &cloudv1.SecurityGroupList{}}
}

// Reconcile gives the node what its instances use and takes what they no longer use.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := req.Name
	if node == "" {
		return reconcile.Result{}, nil
	}
	want, err := r.used(ctx, node)
	if err != nil {
		return reconcile.Result{}, err
	}
	var give []client.Object
	for _, o := range want {
		if !nodeuse.Has(o, node) {
			give = append(give, o)
		}
	}
	if len(give) > 0 {
		log.FromContext(ctx).Info("Giving a node what its instances use", "node", node, "objects", len(give))
	}
	if err := r.Labeller.Give(ctx, node, give...); err != nil {
		return reconcile.Result{}, err
	}
	var after time.Duration
	var errs []error
	for _, list := range usedKinds() {
		if err := r.Client.List(ctx, list, client.MatchingLabels{cloudv1.NodeUseLabel(node): cloudv1.NodeUseLabelValue}); err != nil {
			return reconcile.Result{}, fmt.Errorf("listing what node %s was given: %w", node, err)
		}
		items, err := apimeta.ExtractList(list)
		if err != nil {
			return reconcile.Result{}, err
		}
		for _, item := range items {
			o := item.(client.Object)
			if _, ok := want[nodeuse.KeyOf(o)]; ok {
				continue
			}
			wait, err := r.Labeller.Take(ctx, node, o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if wait > 0 && (after == 0 || wait < after) {
				after = wait
			}
		}
	}
	return reconcile.Result{RequeueAfter: after}, errors.Join(errs...)
}

// used resolves what every instance on the node uses, each distinct reference once.
func (r *Reconciler) used(ctx context.Context, node string) (map[nodeuse.Key]client.Object, error) {
	insts := &cloudv1.InstanceList{}
	// Read-only: the list's items are the cache's own objects.
	if err := r.Client.List(ctx, insts, client.MatchingFields{index.InstanceHypervisor: node}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing node %s's instances: %w", node, err)
	}
	res := &nodeuse.Resolver{Reader: r.Client}
	want := map[nodeuse.Key]client.Object{}
	for i := range insts.Items {
		inst := &insts.Items[i]
		if nodeuse.OnNode(inst) != node {
			continue
		}
		objs, err := res.Uses(ctx, inst)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			want[nodeuse.KeyOf(o)] = o
		}
	}
	return want, nil
}

func (r *Reconciler) takeDelay() time.Duration {
	if r.TakeDelay > 0 {
		return r.TakeDelay
	}
	return TakeDelay
}

// nodeKey is the request for node's labels.
func nodeKey(node string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Name: node}}
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=keypairs;images;securitygroups,verbs=get;list;watch;patch
