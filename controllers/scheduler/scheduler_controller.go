/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package scheduler binds pending Instances to Hypervisors with room for them. It owns an
// instance's placement (status.hypervisor, status.availabilityZone, the hypervisor label) and
// its Scheduled condition, and nothing else.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/refs"
)

// DefaultAssumeTTL bounds how long a binding is remembered when no event shows it: longer than
// any cache lag, short enough that a lost event cannot hold an instance for long.
const DefaultAssumeTTL = 2 * time.Minute

// Reconciler schedules Instances. It runs one reconcile at a time, and remembers the bindings it
// made until its cache shows them, so two instances are never placed against one stale view.
// Those assumptions are keyed by the instance's UID (a new instance of the same name is another
// instance), dropped by the event handler when the cache shows the binding or the instance is
// deleted, and expire after AssumeTTL in any case.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// AssumeTTL is how long an assumption lasts; 0 is DefaultAssumeTTL.
	AssumeTTL time.Duration
	// Metrics records the time from creation to binding; nil records nothing.
	Metrics *metrics.Controllers

	mu      sync.Mutex
	assumed map[types.UID]binding
}

type binding struct {
	node    string
	claim   capacity.Claim
	expires time.Time
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors;instancetypes,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile places one instance.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	inst := &cloudv1.Instance{}
	if err := r.Client.Get(ctx, req.NamespacedName, inst); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !needsScheduling(inst) {
		// Bound (the cache shows it), deleted or terminated: nothing to assume any more.
		r.forget(inst.UID)
		return reconcile.Result{}, nil
	}
	if left, ok := r.assumedFor(inst.UID); ok {
		// Bound a moment ago; the cache has not caught up yet. The update event ends the
		// assumption; if it never comes, the assumption expires and the instance is placed again.
		return reconcile.Result{RequeueAfter: left}, nil
	}

	helper, err := patch.NewHelper(inst, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := metav1.NewTime(r.Clock.Now())
	// A copy: the setters below change the condition in place.
	var wasScheduled *metav1.Condition
	if c := conditions.Get(inst, cloudv1.InstanceScheduled); c != nil {
		wasScheduled = c.DeepCopy()
	}
	var bound *binding
	defer func() {
		if err := helper.Patch(ctx, inst); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		if bound != nil {
			r.assume(inst.UID, *bound)
			r.Metrics.ObserveBound(inst.CreationTimestamp.Time, now.Time)
		}
		r.recordOutcome(inst, wasScheduled)
	}()

	if !conditions.IsTrue(inst, cloudv1.InstanceReferencesResolved) {
		conditions.MarkFalse(inst, cloudv1.InstanceScheduled, cloudv1.ReasonWaitingForReferences,
			"Waiting for the instance's references to resolve", now)
		return reconcile.Result{}, nil
	}
	if !conditions.IsTrue(inst, cloudv1.InstanceQuotaAdmitted) {
		conditions.MarkFalse(inst, cloudv1.InstanceScheduled, cloudv1.ReasonWaitingForQuota,
			"Waiting for the instance to be admitted under its project's quota", now)
		return reconcile.Result{}, nil
	}
	if !conditions.IsTrue(inst, cloudv1.InstanceAddressAssigned) {
		// The node agent defines the domain with the instance's MAC and address: it is bound
		// only once it has them, and an instance its subnet has no room for takes no capacity.
		conditions.MarkFalse(inst, cloudv1.InstanceScheduled, cloudv1.ReasonWaitingForAddress,
			"Waiting for the instance's private address", now)
		return reconcile.Result{}, nil
	}
	it, err := refs.InstanceType(ctx, r.Client, inst.Spec.InstanceType)
	if errors.Is(err, refs.ErrNotFound) {
		conditions.MarkFalse(inst, cloudv1.InstanceScheduled, cloudv1.ReasonInstanceTypeNotFound, err.Error(), now)
		return reconcile.Result{}, nil
	}
	if err != nil {
		return reconcile.Result{}, err
	}

	nodes, err := r.snapshot(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	want := request{claim: capacity.ClaimOf(it), zone: inst.Spec.AvailabilityZone}
	n, reason, msg := choose(nodes, want)
	if n == nil {
		conditions.MarkFalse(inst, cloudv1.InstanceScheduled, reason, msg, now)
		return reconcile.Result{}, nil
	}

	log.FromContext(ctx).Info("Binding instance", "hypervisor", n.name)
	if inst.Labels == nil {
		inst.Labels = map[string]string{}
	}
	inst.Labels[cloudv1.LabelHypervisor] = n.name
	inst.Status.Hypervisor = n.name
	inst.Status.AvailabilityZone = n.zone
	conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, fmt.Sprintf("Bound to hypervisor %s", n.name), now)
	bound = &binding{node: n.name, claim: want.claim}
	return reconcile.Result{}, nil
}

func (r *Reconciler) recordOutcome(inst *cloudv1.Instance, before *metav1.Condition) {
	after := conditions.Get(inst, cloudv1.InstanceScheduled)
	if r.Recorder == nil || after == nil || (before != nil && before.Status == after.Status && before.Reason == after.Reason) {
		return
	}
	switch after.Status {
	case metav1.ConditionTrue:
		r.Recorder.Eventf(inst, nil, "Normal", "Scheduled", "Schedule", "Bound to hypervisor %s", inst.Status.Hypervisor)
	default:
		if after.Reason != cloudv1.ReasonWaitingForReferences && after.Reason != cloudv1.ReasonWaitingForQuota &&
			after.Reason != cloudv1.ReasonWaitingForAddress {
			r.Recorder.Eventf(inst, nil, "Warning", "FailedScheduling", "Schedule", "%s", after.Message)
		}
	}
}

// snapshot builds the scheduler's view of every hypervisor: capacity, and the claims of the
// instances bound to it, including bindings the cache does not show yet.
func (r *Reconciler) snapshot(ctx context.Context) ([]*node, error) {
	hvs := &cloudv1.HypervisorList{}
	if err := r.Client.List(ctx, hvs); err != nil {
		return nil, fmt.Errorf("listing hypervisors: %w", err)
	}
	types := &cloudv1.InstanceTypeList{}
	if err := r.Client.List(ctx, types); err != nil {
		return nil, fmt.Errorf("listing instance types: %w", err)
	}
	insts := &cloudv1.InstanceList{}
	if err := r.Client.List(ctx, insts); err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}

	claims := make(map[string]capacity.Claim, len(types.Items))
	for i := range types.Items {
		claims[types.Items[i].Name] = capacity.ClaimOf(&types.Items[i])
	}
	byName := make(map[string]*node, len(hvs.Items))
	nodes := make([]*node, 0, len(hvs.Items))
	for i := range hvs.Items {
		hv := &hvs.Items[i]
		n := &node{
			name:           hv.Name,
			zone:           hv.Spec.Zone,
			ready:          conditions.IsTrue(hv, cloudv1.ReadyCondition),
			unschedulable:  hv.Spec.Unschedulable,
			classIsolation: hv.Labels[cloudv1.LabelClassIsolation] == "true",
			maxInstances:   hv.Spec.MaxInstances,
			milliCPU:       int64(hv.Status.Capacity.VCPUs) * 1000,
			memoryMiB:      hv.Status.Capacity.MemoryMiB,
		}
		byName[hv.Name] = n
		nodes = append(nodes, n)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Clock.Now()
	for i := range insts.Items {
		inst := &insts.Items[i]
		if a, ok := r.assumed[inst.UID]; ok && inst.Status.Hypervisor == "" && now.Before(a.expires) {
			if n := byName[a.node]; n != nil {
				n.add(a.claim)
			}
			continue
		}
		if !capacity.Holds(inst) {
			continue
		}
		claim, ok := claims[inst.Spec.InstanceType]
		if !ok {
			// Its type was deleted; it still runs, so count it by its last known size.
			claim = capacity.Claim{Class: cloudv1.InstanceClassStandard}
		}
		if n := byName[inst.Status.Hypervisor]; n != nil {
			n.add(claim)
		}
	}
	return nodes, nil
}

func (r *Reconciler) assume(uid types.UID, b binding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.assumed == nil {
		r.assumed = map[types.UID]binding{}
	}
	now := r.Clock.Now()
	b.expires = now.Add(r.assumeTTL())
	r.assumed[uid] = b
	// Drop what expired, so the map stays as small as the bindings in flight.
	for k, a := range r.assumed {
		if !now.Before(a.expires) {
			delete(r.assumed, k)
		}
	}
}

func (r *Reconciler) forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.assumed, uid)
}

// assumedFor reports whether the instance has a live assumption, and how long it has left.
func (r *Reconciler) assumedFor(uid types.UID) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.assumed[uid]
	if !ok {
		return 0, false
	}
	left := a.expires.Sub(r.Clock.Now())
	if left <= 0 {
		delete(r.assumed, uid)
		return 0, false
	}
	return left, true
}

func (r *Reconciler) assumeTTL() time.Duration {
	if r.AssumeTTL > 0 {
		return r.AssumeTTL
	}
	return DefaultAssumeTTL
}

// assumptions is how many bindings the scheduler remembers.
func (r *Reconciler) assumptions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.assumed)
}

// SetupWithManager registers the scheduler: it reconciles unscheduled instances, and retries them
// all when capacity may have appeared (a hypervisor changed, an instance released its claim).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("scheduler").
		For(&cloudv1.Instance{}, builder.WithPredicates(predicate.NewPredicateFuncs(needsScheduling))).
		Watches(&cloudv1.Instance{}, handler.Funcs{
			UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				cur := e.ObjectNew.(*cloudv1.Instance)
				if !needsScheduling(cur) {
					// The cache shows the binding (or the instance is going): stop assuming it.
					r.forget(cur.UID)
				}
				if capacity.Holds(e.ObjectOld.(*cloudv1.Instance)) && !capacity.Holds(cur) {
					r.enqueuePending(ctx, q)
				}
			},
			DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.forget(e.Object.GetUID())
				r.enqueuePending(ctx, q)
			},
		}).
		Watches(&cloudv1.Hypervisor{}, handler.Funcs{
			CreateFunc: func(ctx context.Context, _ event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueuePending(ctx, q)
			},
			UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if schedulingFactsChanged(e.ObjectOld.(*cloudv1.Hypervisor), e.ObjectNew.(*cloudv1.Hypervisor)) {
					r.enqueuePending(ctx, q)
				}
			},
		}).
		Watches(&cloudv1.InstanceType{}, handler.Funcs{
			CreateFunc: func(ctx context.Context, _ event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueuePending(ctx, q)
			},
			UpdateFunc: func(ctx context.Context, _ event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueuePending(ctx, q)
			},
		}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(r)
}

// needsScheduling is true for instances the scheduler still has to place.
func needsScheduling(o client.Object) bool {
	inst, ok := o.(*cloudv1.Instance)
	return ok && inst.Status.Hypervisor == "" && inst.DeletionTimestamp.IsZero() &&
		inst.EffectiveDesiredState() != cloudv1.DesiredTerminated
}

func (r *Reconciler) enqueuePending(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	list := &cloudv1.InstanceList{}
	if err := r.Client.List(ctx, list); err != nil {
		log.FromContext(ctx).Error(err, "Listing instances to retry scheduling")
		return
	}
	for i := range list.Items {
		if needsScheduling(&list.Items[i]) {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
}

// schedulingFactsChanged ignores heartbeats: only what placement reads matters.
func schedulingFactsChanged(old, cur *cloudv1.Hypervisor) bool {
	return !equality.Semantic.DeepEqual(old.Spec, cur.Spec) ||
		!reflect.DeepEqual(old.Labels, cur.Labels) ||
		old.Status.Capacity != cur.Status.Capacity ||
		conditions.IsTrue(old, cloudv1.ReadyCondition) != conditions.IsTrue(cur, cloudv1.ReadyCondition)
}
