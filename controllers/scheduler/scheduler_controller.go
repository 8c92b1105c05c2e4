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

// Package scheduler binds pending Instances to Hypervisors with room for them, and gives a
// bound instance a changed type once its hypervisor and its project's quota have room for it. It
// owns an instance's placement (status.hypervisor, status.availabilityZone, the hypervisor
// label), the type it was given (status.instanceType) and its Scheduled and Resized conditions,
// and adds the node agent's domain finalizer with the binding; before it, it gives the node what
// the instance uses (internal/nodeuse); nothing else.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/fieldowners"
	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/internal/nodeuse"
	"pinet.io/pinet/internal/patch"
)

// DefaultAssumeTTL bounds how long a binding is remembered when no event shows it: longer than
// any cache lag, short enough that a lost event cannot hold an instance for long.
const DefaultAssumeTTL = 2 * time.Minute

// DefaultWorkers is how many bindings of a batch are written at once.
const DefaultWorkers = 16

// Safety net for instances a batch could not place: events (instances going or bound elsewhere,
// hypervisors growing, assumptions ending) bring them back as soon as room appears; should one
// ever be missed, a batch with refusals is followed by another after firstRetry, doubling up to
// lastRetry while batches keep placing nothing.
const (
	firstRetry = 2 * time.Second
	lastRetry  = time.Minute
)

// maxErrorBackoff bounds the wait before a batch that failed (a binding not written) runs again.
// The queue holds one key for every pending instance, so its backoff must not grow to the
// workqueue's default of many minutes for everyone because one write keeps failing.
const maxErrorBackoff = 30 * time.Second

// batchKey is the one request the scheduler's queue holds: "place what is pending". Events
// arriving while a batch runs make the queue run another after it.
var batchKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "pending-instances"}}

// Reconciler schedules Instances in batches. Its event handlers keep two things up to date,
// instance by instance: the set of instances waiting for a place, and a capacity.Ledger of what
// the bound instances hold on each hypervisor. A batch places every pending instance against
// that view, counting each placement before the next, and writes the bindings in parallel. A
// written binding is assumed in the ledger until the cache shows it (or the instance goes), so
// the next batch never places against a stale view; an assumption no event ends expires after
// AssumeTTL.
type Reconciler struct {
	Client client.Client
	// APIReader reads the API server itself, for the quota ledgers resizes are admitted
	// through; nil is the manager's.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// AssumeTTL is how long an assumption lasts; 0 is DefaultAssumeTTL.
	AssumeTTL time.Duration
	// Workers bounds the bindings written at once; 0 is DefaultWorkers.
	Workers int
	// Metrics records the time from creation to binding; nil records nothing.
	Metrics *metrics.Controllers
	// NodeUse gives a node what an instance uses before the instance is bound there; nil gives
	// nothing (the node agent then reads only what the node use controller gives).
	NodeUse *nodeuse.Labeller

	ledger capacity.Ledger
	// room asks for a batch when room appears outside an instance's event (an assumption
	// dropped by a batch); nil when Reconcile is called without a manager.
	room chan event.GenericEvent
	// refusals counts the batches in a row that left instances without a place and placed
	// none; it sets the safety net's delay. Only Reconcile (one at a time) touches it.
	refusals int

	mu sync.Mutex
	// pending are the instances ready for a place (references resolved, quota admitted, address
	// assigned) and not bound, by UID.
	pending map[types.UID]waitingInstance
	// resizes are the bound instances whose spec.instanceType is not the type they were given,
	// by UID.
	resizes map[types.UID]resizeWait
}

type waitingInstance struct {
	key          client.ObjectKey
	created      time.Time
	instanceType string
	zone         string
}

// placement is what a batch decided for one instance.
type placement struct {
	waitingInstance
	uid  types.UID
	node *node // nil: no place
	// reason and msg explain why there is no place.
	reason, msg string
	claim       capacity.Claim
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances/status;instances/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors;instancetypes,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=projects,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile places every pending instance it can in one batch.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	now := r.Clock.Now()
	nodes, claims, err := r.view(ctx, now)
	if err != nil {
		return reconcile.Result{}, err
	}
	var retry time.Duration
	// Resizes first: their instances hold their places already.
	byName := make(map[string]*node, len(nodes))
	for _, n := range nodes {
		byName[n.name] = n
	}
	refused, given := false, false
	for _, z := range r.resizesInOrder() {
		if left, ok := r.ledger.Assumed(z.uid, now); ok {
			retry = shortest(retry, left)
			continue
		}
		z, err := r.resize(ctx, byName, claims, z, now)
		if err == nil && !z.skip {
			err = r.recordResize(ctx, z)
		}
		if err != nil {
			return reconcile.Result{}, err
		}
		refused, given = refused || (!z.given && !z.skip), given || z.given
	}
	var plan []placement
	for _, p := range r.pendingInOrder() {
		if left, ok := r.ledger.Assumed(p.uid, now); ok {
			// Bound a moment ago; the cache has not caught up yet. The update event ends the
			// assumption; if it never comes, it expires and the instance is placed again.
			retry = shortest(retry, left)
			continue
		}
		plan = append(plan, r.place(nodes, claims, p, now))
	}
	if len(plan) > 0 {
		log.FromContext(ctx).V(1).Info("Placing a batch", "instances", len(plan), "hypervisors", len(nodes))
	}
	err = r.write(ctx, plan)
	for _, p := range plan {
		refused, given = refused || p.node == nil, given || p.node != nil
	}
	return reconcile.Result{RequeueAfter: shortest(retry, r.retryRefused(refused, given, now))}, err
}

// retryRefused returns when to try again the instances a batch found no place (or no room for
// their resize) for, 0 when it refused none. The room they wait for comes with events; an
// assumption's expiry has none, so the batch runs again when the first one expires, and at the
// safety net's backoff in any case.
func (r *Reconciler) retryRefused(refused, placed bool, now time.Time) time.Duration {
	if !refused || placed {
		r.refusals = 0
	}
	if !refused {
		return 0
	}
	retry := min(firstRetry<<min(r.refusals, 16), lastRetry)
	r.refusals++
	if left, ok := r.ledger.NextExpiry(now); ok {
		retry = shortest(retry, left)
	}
	return retry
}

// roomAppeared asks for another batch: a batch gave back room it had assumed.
func (r *Reconciler) roomAppeared() {
	select {
	case r.room <- event.GenericEvent{Object: &cloudv1.Instance{}}:
	default: // a batch is asked for already (or no manager runs this reconciler)
	}
}

// place decides one instance's node against nodes, and counts it there (and in the ledger's
// assumptions) at once, so the rest of the batch sees it.
func (r *Reconciler) place(nodes []*node, claims map[string]capacity.Claim, p placement, now time.Time) placement {
	claim, ok := claims[p.instanceType]
	if !ok {
		p.reason, p.msg = cloudv1.ReasonInstanceTypeNotFound, fmt.Sprintf("instance type %q not found", p.instanceType)
		return p
	}
	p.claim = claim
	n, reason, msg := choose(nodes, request{claim: claim, zone: p.zone})
	if n == nil {
		p.reason, p.msg = reason, msg
		return p
	}
	n.add(claim)
	p.node = n
	r.ledger.Assume(p.uid, capacity.Holding{Node: n.name, InstanceType: p.instanceType}, now.Add(r.assumeTTL()))
	return p
}

// pendingInOrder returns the pending instances, oldest first.
func (r *Reconciler) pendingInOrder() []placement {
	r.mu.Lock()
	list := make([]waitingInstance, 0, len(r.pending))
	uids := make([]types.UID, 0, len(r.pending))
	for uid, p := range r.pending {
		list = append(list, p)
		uids = append(uids, uid)
	}
	r.mu.Unlock()
	idx := make([]int, len(list))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		pa, pb := list[idx[a]], list[idx[b]]
		if !pa.created.Equal(pb.created) {
			return pa.created.Before(pb.created)
		}
		return pa.key.String() < pb.key.String()
	})
	out := make([]placement, 0, len(list))
	for _, i := range idx {
		out = append(out, placement{waitingInstance: list[i], uid: uids[i]})
	}
	return out
}

// view builds the scheduler's picture of every hypervisor from the cached Hypervisors and the
// ledger's tallies, and the claim of every instance type.
func (r *Reconciler) view(ctx context.Context, now time.Time) ([]*node, map[string]capacity.Claim, error) {
	hvs := &cloudv1.HypervisorList{}
	if err := r.Client.List(ctx, hvs); err != nil {
		return nil, nil, fmt.Errorf("listing hypervisors: %w", err)
	}
	types := &cloudv1.InstanceTypeList{}
	if err := r.Client.List(ctx, types); err != nil {
		return nil, nil, fmt.Errorf("listing instance types: %w", err)
	}
	claims := make(map[string]capacity.Claim, len(types.Items))
	for i := range types.Items {
		claims[types.Items[i].Name] = capacity.ClaimOf(&types.Items[i])
	}
	tallies := r.ledger.Tallies(now)
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
		for typeName, count := range tallies[hv.Name].ByType {
			claim, ok := claims[typeName]
			if !ok {
				// Its type was deleted; it still runs, so count it by its last known size.
				claim = capacity.Claim{Class: cloudv1.InstanceClassStandard}
			}
			for range count {
				n.add(claim)
			}
		}
		nodes = append(nodes, n)
	}
	return nodes, claims, nil
}

// shortest is the shorter of two delays, 0 meaning none.
func shortest(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

func (r *Reconciler) assumeTTL() time.Duration {
	if r.AssumeTTL > 0 {
		return r.AssumeTTL
	}
	return DefaultAssumeTTL
}

// assumptions is how many bindings the scheduler remembers.
func (r *Reconciler) assumptions() int { return r.ledger.Assumptions() }

// write records a batch's decisions, Workers at a time. A binding that could not be written is
// no longer assumed.
func (r *Reconciler) write(ctx context.Context, plan []placement) error {
	workers := r.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	work := make(chan placement)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range min(workers, len(plan)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if err := r.record(ctx, p); err != nil {
					if p.node != nil {
						// The failed batch runs again, after the queue's backoff.
						r.ledger.Unassume(p.uid)
					}
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range plan {
		work <- p
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// record writes one decision: the binding, or why there is none.
func (r *Reconciler) record(ctx context.Context, p placement) error {
	inst := &cloudv1.Instance{}
	if err := r.Client.Get(ctx, p.key, inst); err != nil {
		if apierrors.IsNotFound(err) {
			r.giveBack(p)
		}
		return client.IgnoreNotFound(err)
	}
	if inst.UID != p.uid || !readyToSchedule(inst) {
		// Gone, made again, or bound meanwhile: the events bring it back if need be.
		r.giveBack(p)
		return nil
	}
	helper, err := patch.NewHelper(inst, r.Client)
	if err != nil {
		return err
	}
	now := metav1.NewTime(r.Clock.Now())
	before := conditions.Get(inst, cloudv1.InstanceScheduled) // a copy: the setters change the list
	if p.node == nil {
		conditions.MarkFalse(inst, cloudv1.InstanceScheduled, p.reason, p.msg, now)
	} else {
		log.FromContext(ctx).Info("Binding instance", "instance", p.key, "hypervisor", p.node.name)
		if err := r.giveUses(ctx, inst, p.node.name); err != nil {
			return err
		}
		if inst.Labels == nil {
			inst.Labels = map[string]string{}
		}
		inst.Labels[cloudv1.LabelHypervisor] = p.node.name
		// The node's agent holds the instance while its domain may exist; taken here, with the
		// label, the agent's own write of it is spared, and no instance is ever bound without
		// it: a terminate that comes before the agent acts waits for the agent (or for the node
		// to be found lost) instead of racing the domain it may be creating.
		controllerutil.AddFinalizer(inst, cloudv1.DomainFinalizer)
		// The binding is a launched instance's first write to its main resource after its
		// create: the API server's field records go with it, and the dozen writes of the
		// instance's life after it cost the API server half as much.
		fieldowners.DropUnlessApplied(inst)
		inst.Status.Hypervisor = p.node.name
		inst.Status.InstanceType = p.instanceType
		inst.Status.AvailabilityZone = p.node.zone
		conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, fmt.Sprintf("Bound to hypervisor %s", p.node.name), now)
	}
	if err := helper.Patch(ctx, inst); err != nil {
		return err
	}
	if p.node != nil {
		r.Metrics.ObserveBound(inst.CreationTimestamp.Time, now.Time)
	}
	r.recordOutcome(inst, before)
	return nil
}

// giveUses labels what inst uses (key pair, images, security groups) for node before the
// binding is written: the node's agent reads only what carries its label, and finds it there as
// soon as it sees the instance.
func (r *Reconciler) giveUses(ctx context.Context, inst *cloudv1.Instance, node string) error {
	if r.NodeUse == nil {
		return nil
	}
	objs, err := (&nodeuse.Resolver{Reader: r.Client}).Uses(ctx, inst)
	if err != nil {
		return fmt.Errorf("resolving what %s uses: %w", inst.Name, err)
	}
	return r.NodeUse.GiveBeforeBinding(ctx, node, objs...)
}

// giveBack drops the assumption of a placement that will not be written (its instance went
// during the batch) and asks for another batch for what the room can take. The instance's
// delete event may have come before the assumption was made, so it cannot be left to end it.
func (r *Reconciler) giveBack(p placement) {
	if p.node != nil && r.ledger.Unassume(p.uid) {
		r.roomAppeared()
	}
}

// recordOutcome tells a refusal that changed (FailedScheduling), and a binding that ends one. A
// first binding is no event: the Scheduled condition (its message the node, its time the
// binding's) and status.hypervisor say it for as long as the instance lives, and an event per
// launched instance would be one more write for each.
func (r *Reconciler) recordOutcome(inst *cloudv1.Instance, before *metav1.Condition) {
	after := conditions.Get(inst, cloudv1.InstanceScheduled)
	if r.Recorder == nil || after == nil || (before != nil && before.Status == after.Status && before.Reason == after.Reason) {
		return
	}
	if after.Status == metav1.ConditionTrue {
		if before != nil && before.Status == metav1.ConditionFalse {
			r.Recorder.Eventf(inst, nil, "Normal", "Scheduled", "Schedule", "Bound to hypervisor %s", inst.Status.Hypervisor)
		}
		return
	}
	r.Recorder.Eventf(inst, nil, "Warning", "FailedScheduling", "Schedule", "%s", after.Message)
}
