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

// Package hypervisor holds the Hypervisor reconciler: it judges the node agent's heartbeat, sums
// what the instances bound to the node claim, and sets Ready. The agent owns capacity and the
// heartbeat; this controller owns allocated, instances and the conditions.
package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/patch"
)

// DefaultHeartbeatTimeout is how long a node may stay silent before it is not ready. Agents
// report at least once a minute.
const DefaultHeartbeatTimeout = 150 * time.Second

// Reconciler reconciles Hypervisors.
//
// A node's liveness is judged on the manager's clock alone, as Kubernetes' node lifecycle
// controller does: the agent's heartbeat timestamp is only a token that changes with every
// report; when the manager sees it change is what counts. An agent whose clock is skewed is
// judged like any other.
type Reconciler struct {
	Client           client.Client
	Recorder         events.EventRecorder
	Clock            clock.PassiveClock
	HeartbeatTimeout time.Duration

	mu sync.Mutex
	// renewals is, per Hypervisor UID, the last heartbeat seen and when (manager's clock).
	renewals map[types.UID]renewal

	// ledger is what the instances on each node hold, kept from instance events.
	ledger capacity.Ledger
}

type renewal struct {
	heartbeat time.Time
	seenAt    time.Time
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances;instancetypes,verbs=get;list;watch

// Reconcile updates one hypervisor's status.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	hv := &cloudv1.Hypervisor{}
	if err := r.Client.Get(ctx, req.NamespacedName, hv); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(hv, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	wasReady := conditions.IsTrue(hv, cloudv1.ReadyCondition)
	defer func() {
		if err := helper.Patch(ctx, hv); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		if isReady := conditions.IsTrue(hv, cloudv1.ReadyCondition); isReady != wasReady && r.Recorder != nil {
			if isReady {
				r.Recorder.Eventf(hv, nil, "Normal", "NodeReady", "Heartbeat", "Hypervisor is ready")
			} else {
				r.Recorder.Eventf(hv, nil, "Warning", "NodeNotReady", "Heartbeat", "%s",
					conditions.Get(hv, cloudv1.ReadyCondition).Message)
			}
		}
	}()

	if err := r.sumAllocations(ctx, hv); err != nil {
		return reconcile.Result{}, err
	}
	now := r.Clock.Now()
	if !hv.DeletionTimestamp.IsZero() {
		r.forget(hv.UID)
	}
	requeue := r.judgeHeartbeat(hv, now)
	r.setReady(hv, metav1.NewTime(now))
	hv.Status.ObservedGeneration = hv.Generation
	return reconcile.Result{RequeueAfter: requeue}, nil
}

// sumAllocations sums what the ledger says the node's instances hold, type by type.
func (r *Reconciler) sumAllocations(ctx context.Context, hv *cloudv1.Hypervisor) error {
	tally := r.ledger.Tally(hv.Name)
	types := &cloudv1.InstanceTypeList{}
	if err := r.Client.List(ctx, types); err != nil {
		return fmt.Errorf("listing instance types: %w", err)
	}
	byName := make(map[string]*cloudv1.InstanceType, len(types.Items))
	for i := range types.Items {
		byName[types.Items[i].Name] = &types.Items[i]
	}
	var used cloudv1.Resources
	for name, count := range tally.ByType {
		if it := byName[name]; it != nil {
			used.VCPUs += it.Spec.VCPUs * count
			used.MemoryMiB += int64(it.Spec.MemoryMiB) * int64(count)
			used.DiskGiB += int64(it.Spec.RootDiskGiB+it.Spec.EphemeralDiskGiB) * int64(count)
		}
	}
	hv.Status.Allocated = used
	hv.Status.Instances = tally.Count
	return nil
}

// judgeHeartbeat sets AgentConnected and returns when to look again: the moment a fresh
// heartbeat would turn stale.
func (r *Reconciler) judgeHeartbeat(hv *cloudv1.Hypervisor, now time.Time) time.Duration {
	t := metav1.NewTime(now)
	hb := hv.Status.LastHeartbeatTime
	if hb == nil {
		conditions.MarkFalse(hv, cloudv1.HypervisorAgentConnected, cloudv1.ReasonNeverReported,
			"The node agent has not reported yet", t)
		return 0
	}
	seen := r.observe(hv.UID, hb.Time, now)
	age := now.Sub(seen)
	if age > r.HeartbeatTimeout {
		conditions.MarkFalse(hv, cloudv1.HypervisorAgentConnected, cloudv1.ReasonHeartbeatStale,
			fmt.Sprintf("No heartbeat from the node agent for %s (since %s by the manager's clock)",
				age.Truncate(time.Second), seen.UTC().Format(time.RFC3339)), t)
		return 0
	}
	conditions.MarkTrue(hv, cloudv1.HypervisorAgentConnected, cloudv1.ReasonHeartbeatFresh, "", t)
	return r.HeartbeatTimeout - age + time.Second
}

// observe records the heartbeat the agent wrote and returns when (on the manager's clock) it
// was first seen with that value. A heartbeat seen for the first time — a new node, or a
// restarted manager — counts as seen now, which gives an agent a full timeout to report again.
func (r *Reconciler) observe(uid types.UID, heartbeat, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.renewals == nil {
		r.renewals = map[types.UID]renewal{}
	}
	prev, ok := r.renewals[uid]
	if ok && prev.heartbeat.Equal(heartbeat) {
		return prev.seenAt
	}
	r.renewals[uid] = renewal{heartbeat: heartbeat, seenAt: now}
	return now
}

func (r *Reconciler) forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.renewals, uid)
}

func (r *Reconciler) setReady(hv *cloudv1.Hypervisor, now metav1.Time) {
	if c := conditions.Get(hv, cloudv1.HypervisorAgentConnected); c.Status != metav1.ConditionTrue {
		conditions.MarkFalse(hv, cloudv1.ReadyCondition, c.Reason, c.Message, now)
		return
	}
	if hv.Status.Capacity.VCPUs == 0 || hv.Status.Capacity.MemoryMiB == 0 {
		conditions.MarkFalse(hv, cloudv1.ReadyCondition, cloudv1.ReasonNeverReported, "The node agent has not reported capacity", now)
		return
	}
	conditions.MarkTrue(hv, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", now)
}

// SetupWithManager registers the reconciler. Instance events update the ledger and re-sum only
// the hypervisors whose tally changed; an instance type change re-sums them all (a handful).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.HeartbeatTimeout == 0 {
		r.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.Hypervisor{}).
		Watches(&cloudv1.Instance{}, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q queue) {
				enqueueNodes(q, r.ledger.Observe(e.Object.(*cloudv1.Instance)))
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q queue) {
				enqueueNodes(q, r.ledger.Observe(e.ObjectNew.(*cloudv1.Instance)))
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q queue) {
				enqueueNodes(q, r.ledger.Forget(e.Object.GetUID()))
			},
			GenericFunc: func(_ context.Context, e event.GenericEvent, q queue) {
				enqueueNodes(q, r.ledger.Observe(e.Object.(*cloudv1.Instance)))
			},
		}).
		Watches(&cloudv1.InstanceType{}, handler.EnqueueRequestsFromMapFunc(r.allHypervisors)).
		Named("hypervisor").
		Complete(r)
}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// allocationDelay gathers the instance changes of a node into one status write: a node taking a
// batch of instances is re-summed once, not once per instance. Nothing places by these sums
// (the scheduler keeps its own ledger); they are for operators.
const allocationDelay = time.Second

func enqueueNodes(q queue, nodes []string) {
	for _, n := range nodes {
		q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: n}}, allocationDelay)
	}
}

func (r *Reconciler) allHypervisors(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &cloudv1.HypervisorList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}})
	}
	return reqs
}
