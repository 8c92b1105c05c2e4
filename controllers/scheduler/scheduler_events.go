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

package scheduler

import (
	"context"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// SetupWithManager registers the scheduler. Instance events keep the pending set and the ledger
// current and ask for a batch when there is something to place, or room may have appeared for
// what waits; hypervisor and instance type changes ask for one when something waits. No event
// costs more than the instance it carries.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.room = make(chan event.GenericEvent, 1)
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("scheduler").
		Watches(&cloudv1.Instance{}, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q queue) {
				r.observe(e.Object.(*cloudv1.Instance), q)
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q queue) {
				r.observe(e.ObjectNew.(*cloudv1.Instance), q)
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q queue) { r.forget(e.Object.GetUID(), q) },
			GenericFunc: func(_ context.Context, e event.GenericEvent, q queue) {
				r.observe(e.Object.(*cloudv1.Instance), q)
			},
		}).
		Watches(&cloudv1.Hypervisor{}, handler.Funcs{
			CreateFunc: func(_ context.Context, _ event.CreateEvent, q queue) { r.retryPending(q) },
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q queue) {
				if schedulingFactsChanged(e.ObjectOld.(*cloudv1.Hypervisor), e.ObjectNew.(*cloudv1.Hypervisor)) {
					r.retryPending(q)
				}
			},
		}).
		Watches(&cloudv1.InstanceType{}, handler.Funcs{
			CreateFunc: func(_ context.Context, _ event.CreateEvent, q queue) { r.retryPending(q) },
			UpdateFunc: func(_ context.Context, _ event.UpdateEvent, q queue) { r.retryPending(q) },
			DeleteFunc: func(_ context.Context, _ event.DeleteEvent, q queue) { r.retryPending(q) },
		}).
		WatchesRawSource(source.Channel(r.room, handler.Funcs{
			GenericFunc: func(_ context.Context, _ event.GenericEvent, q queue) { r.retryPending(q) },
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1, RateLimiter: batchRateLimiter()}).
		Complete(r)
}

// batchRateLimiter paces batches that failed: exponential from 5 ms, never more than
// maxErrorBackoff.
func batchRateLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxErrorBackoff)
}

// observe takes one instance's new state into the ledger and the pending set.
func (r *Reconciler) observe(inst *cloudv1.Instance, q queue) {
	// Room may have appeared where the instance no longer holds its claim, or no longer assumes
	// one.
	freed := false
	for _, node := range r.ledger.Observe(inst) {
		if node != inst.Status.Hypervisor || !capacity.Holds(inst) {
			freed = true
		}
	}
	if readyToSchedule(inst) {
		r.mu.Lock()
		if r.pending == nil {
			r.pending = map[types.UID]waitingInstance{}
		}
		r.pending[inst.UID] = waitingInstance{
			key: client.ObjectKeyFromObject(inst), created: inst.CreationTimestamp.Time,
			instanceType: inst.Spec.InstanceType, zone: inst.Spec.AvailabilityZone,
		}
		r.mu.Unlock()
		q.Add(batchKey)
		return
	}
	r.dropPending(inst.UID)
	if r.noteResize(inst) {
		q.Add(batchKey)
	}
	if freed {
		r.retryPending(q)
	}
}

// forget drops a deleted instance; what it held or was assumed to take is room for the others.
func (r *Reconciler) forget(uid types.UID, q queue) {
	r.ledger.Forget(uid)
	r.dropPending(uid)
	r.retryPending(q)
}

func (r *Reconciler) dropPending(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, uid)
	delete(r.resizes, uid)
}

// retryPending asks for a batch if anything waits for a place.
func (r *Reconciler) retryPending(q queue) {
	r.mu.Lock()
	waiting := len(r.pending) > 0 || len(r.resizes) > 0
	r.mu.Unlock()
	if waiting {
		q.Add(batchKey)
	}
}

// needsScheduling is true for instances the scheduler still has to place.
func needsScheduling(o client.Object) bool {
	inst, ok := o.(*cloudv1.Instance)
	return ok && inst.Status.Hypervisor == "" && inst.DeletionTimestamp.IsZero() &&
		inst.EffectiveDesiredState() != cloudv1.DesiredTerminated
}

// readyToSchedule is true for an unplaced instance the instance controller has cleared: its
// references resolved, its quota admitted, its private address assigned (the node agent defines
// the domain with its MAC and address, and an instance its subnet has no room for takes no
// capacity). Until then the scheduler leaves it alone: the instance's Ready condition says what
// it waits for.
func readyToSchedule(inst *cloudv1.Instance) bool {
	return needsScheduling(inst) &&
		conditions.IsTrue(inst, cloudv1.InstanceReferencesResolved) &&
		conditions.IsTrue(inst, cloudv1.InstanceQuotaAdmitted) &&
		conditions.IsTrue(inst, cloudv1.InstanceAddressAssigned)
}

// schedulingFactsChanged ignores heartbeats: only what placement reads matters.
func schedulingFactsChanged(old, cur *cloudv1.Hypervisor) bool {
	return !equality.Semantic.DeepEqual(old.Spec, cur.Spec) ||
		!reflect.DeepEqual(old.Labels, cur.Labels) ||
		old.Status.Capacity != cur.Status.Capacity ||
		conditions.IsTrue(old, cloudv1.ReadyCondition) != conditions.IsTrue(cur, cloudv1.ReadyCondition)
}
