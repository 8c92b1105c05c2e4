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

package instance

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/nodelost"
)

// DefaultNodeLostTimeout is how long a node may stay not ready before the domains of instances
// being removed from it are given up. A node that comes back within it cleans up its own
// domains; one that comes back later finds them orphaned and sweeps them.
const DefaultNodeLostTimeout = 24 * time.Hour

// releaseLostDomain gives up the domain of an instance being removed from a node that is gone
// for good: it removes the node agent's domain finalizer, with an event saying why, so the
// removal completes. It returns when to look again while the node may still come back. The
// finalizer of an instance whose binding never reached its status goes at once.
func (r *Reconciler) releaseLostDomain(ctx context.Context, s *scope) (reconcile.Result, error) {
	inst := s.instance
	if !controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer) {
		return reconcile.Result{}, nil
	}
	if inst.Status.Hypervisor == "" {
		// A binding whose label and finalizer were written but not its status: agents act only
		// on instances whose status names their node, so no domain exists. The finalizer's
		// removal is sent under this read's resourceVersion: a binding's status written since
		// refuses it.
		log.FromContext(ctx).Info("Letting go of the domain finalizer of an instance never bound in status")
		controllerutil.RemoveFinalizer(inst, cloudv1.DomainFinalizer)
		return reconcile.Result{}, nil
	}
	lost, why, wait, err := nodelost.Check(ctx, r.Client, inst.Status.Hypervisor, s.now.Time, r.nodeLostTimeout())
	if err != nil {
		return reconcile.Result{}, err
	}
	if !lost {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	log.FromContext(ctx).Info("Giving up the domain of an instance whose node is gone", "reason", why)
	controllerutil.RemoveFinalizer(inst, cloudv1.DomainFinalizer)
	if r.Recorder != nil {
		r.Recorder.Eventf(inst, nil, "Warning", cloudv1.ReasonNodeLost, "Terminate",
			"The domain was given up without the node's cleanup: %s", why)
	}
	return reconcile.Result{}, nil
}

func (r *Reconciler) nodeLostTimeout() time.Duration {
	if r.NodeLostTimeout > 0 {
		return r.NodeLostTimeout
	}
	return DefaultNodeLostTimeout
}

// instancesOnLostNode enqueues the instances being removed from a hypervisor that changed
// (deleted, or its readiness changed).
func (r *Reconciler) instancesOnLostNode(ctx context.Context, o client.Object) []reconcile.Request {
	list := &cloudv1.InstanceList{}
	// Read only, so the cache's own objects: a copy of every instance per event would grow
	// with the fleet.
	if err := r.Client.List(ctx, list, client.MatchingFields{index.InstanceHypervisor: o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing instances on a hypervisor")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		inst := &list.Items[i]
		if inst.Terminating() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(inst)})
		}
	}
	return reqs
}

// hypervisorReadinessChanged passes a Hypervisor's deletion and changes of its Ready condition,
// not its heartbeats.
func hypervisorReadinessChanged() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			before := meta.FindStatusCondition(e.ObjectOld.(*cloudv1.Hypervisor).Status.Conditions, cloudv1.ReadyCondition)
			after := meta.FindStatusCondition(e.ObjectNew.(*cloudv1.Hypervisor).Status.Conditions, cloudv1.ReadyCondition)
			return !e.ObjectNew.GetDeletionTimestamp().IsZero() || (before == nil) != (after == nil) ||
				(before != nil && after != nil && before.Status != after.Status)
		},
	}
}
