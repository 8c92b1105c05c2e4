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

package nodeuse

import (
	"context"

	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/nodeuse"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// SetupWithManager registers the controller. An instance event costs no more than the instance
// it carries: a node is looked at at once only when an instance arrives on it whose objects
// lack its label (the scheduler gives them before binding, so a launch normally asks nothing),
// and TakeDelay after an instance leaves it. A change of what a key pair, image or security
// group resolves to (made, deleted, renamed, its rules or launch permissions changed) has every
// node looked at.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	used := handler.Funcs{
		CreateFunc: func(ctx context.Context, _ event.CreateEvent, q queue) { r.everyNode(ctx, q) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			if resolvesDifferently(e.ObjectOld, e.ObjectNew) {
				r.everyNode(ctx, q)
			}
		},
		DeleteFunc: func(ctx context.Context, _ event.DeleteEvent, q queue) { r.everyNode(ctx, q) },
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodeuse").
		Watches(&cloudv1.Instance{}, handler.Funcs{
			CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) {
				r.arrived(ctx, e.Object.(*cloudv1.Instance), q)
			},
			UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
				old, cur := e.ObjectOld.(*cloudv1.Instance), e.ObjectNew.(*cloudv1.Instance)
				from, to := nodeuse.OnNode(old), nodeuse.OnNode(cur)
				refsChanged := old.Generation != cur.Generation
				if to != "" && (to != from || refsChanged) {
					r.arrived(ctx, cur, q)
				}
				if from != "" && (from != to || refsChanged) {
					q.AddAfter(nodeKey(from), r.takeDelay())
				}
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q queue) {
				if node := e.Object.(*cloudv1.Instance).Status.Hypervisor; node != "" {
					q.AddAfter(nodeKey(node), r.takeDelay())
				}
			},
		}).
		Watches(&cloudv1.KeyPair{}, used).
		Watches(&cloudv1.Image{}, used).
		Watches(&cloudv1.SecurityGroup{}, used).
		Watches(&cloudv1.Hypervisor{}, handler.Funcs{
			// Every node once at the start (labels of instances bound before this controller ran),
			// and a node that goes loses what it was given.
			CreateFunc: func(_ context.Context, e event.CreateEvent, q queue) { q.Add(nodeKey(e.Object.GetName())) },
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q queue) { q.Add(nodeKey(e.Object.GetName())) },
		}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(r)
}

// arrived asks for the instance's node at once if something the instance uses lacks its label.
func (r *Reconciler) arrived(ctx context.Context, inst *cloudv1.Instance, q queue) {
	node := nodeuse.OnNode(inst)
	if node == "" {
		return
	}
	res := &nodeuse.Resolver{Reader: r.Client}
	objs, err := res.Uses(ctx, inst)
	if err != nil {
		log.FromContext(ctx).Error(err, "Resolving what an instance uses", "instance", client.ObjectKeyFromObject(inst))
		q.Add(nodeKey(node))
		return
	}
	for _, o := range objs {
		if !nodeuse.Has(o, node) {
			q.Add(nodeKey(node))
			return
		}
	}
}

// everyNode asks for every node.
func (r *Reconciler) everyNode(ctx context.Context, q queue) {
	list := &cloudv1.HypervisorList{}
	if err := r.Client.List(ctx, list); err != nil {
		log.FromContext(ctx).Error(err, "Listing nodes")
		return
	}
	for i := range list.Items {
		q.Add(nodeKey(list.Items[i].Name))
	}
}

// resolvesDifferently reports whether an update can change what references resolve to: the
// spec (names, rules, launch permissions), the id a reference may name, or a deletion begun.
// The node use labels' own writes and status reports (a group's members) change none of it.
func resolvesDifferently(old, cur client.Object) bool {
	if old.GetGeneration() != cur.GetGeneration() || old.GetDeletionTimestamp().IsZero() != cur.GetDeletionTimestamp().IsZero() {
		return true
	}
	switch o := old.(type) {
	case *cloudv1.Image:
		return o.Status.ImageID != cur.(*cloudv1.Image).Status.ImageID
	case *cloudv1.SecurityGroup:
		return o.Status.GroupID != cur.(*cloudv1.SecurityGroup).Status.GroupID
	}
	return false
}
