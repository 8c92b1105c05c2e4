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
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// These tests call Reconcile by hand with the API server's own client and a fake clock, so the
// order of a batch and of the events around it is the test's to choose; the manager-run tests
// below and in scheduler_test.go cover the same paths with the real informers.

func newQueue(t *testing.T) queue {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	t.Cleanup(q.ShutDown)
	return q
}

func reread(t *testing.T, inst *cloudv1.Instance) *cloudv1.Instance {
	t.Helper()
	got := &cloudv1.Instance{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	return got
}

func mustBeRefused(t *testing.T, inst *cloudv1.Instance, why string) {
	t.Helper()
	got := reread(t, inst)
	c := conditions.Get(got, cloudv1.InstanceScheduled)
	if got.Status.Hypervisor != "" || c == nil || c.Reason != cloudv1.ReasonInsufficientCapacity || !strings.Contains(c.Message, why) {
		t.Fatalf("%s: hypervisor %q, Scheduled %+v; want it refused for %q", inst.Name, got.Status.Hypervisor, c, why)
	}
}

func mustBeBound(t *testing.T, inst *cloudv1.Instance, node string) {
	t.Helper()
	got := reread(t, inst)
	if got.Status.Hypervisor != node || !conditions.IsTrue(got, cloudv1.InstanceScheduled) {
		t.Fatalf("%s: hypervisor %q, conditions %+v; want it bound to %s", inst.Name, got.Status.Hypervisor, got.Status.Conditions, node)
	}
}

// An instance deleted between the batch's snapshot and its write leaves no assumption behind,
// and the batch asks for another for the room it gives back. (Its delete event ends an
// assumption made before the event; one made after it — the event handled between the batch's
// snapshot and its decisions, which a test cannot force from outside — only the batch can end.)
func TestInstanceGoneMidBatchGivesItsRoomBack(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(time.Now())
	r := &Reconciler{Client: env.Client, Clock: clk, room: make(chan event.GenericEvent, 1)}
	ns := "sched-gone"
	setupNamespace(t, ns)
	nodeWithQuota(t, "sched-gone-1", "zone-gone", 1)
	gone := pendingInstance(t, ns, "a-gone", "zone-gone")
	waits := pendingInstance(t, ns, "b-waits", "zone-gone")
	q := newQueue(t)
	r.observe(gone, q)
	r.observe(waits, q)
	if err := env.Client.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}

	if _, err := r.Reconcile(ctx, batchKey); err != nil {
		t.Fatal(err)
	}
	// The batch gave the deleted instance the one place, and so refused the other.
	mustBeRefused(t, waits, "1 at their instance quota")
	if got := r.assumptions(); got != 0 {
		t.Fatalf("%d bindings assumed after the batch: the deleted instance holds its room", got)
	}
	if len(r.room) != 1 {
		t.Fatal("the batch gave room back and asked for no batch")
	}
	r.forget(gone.UID, q)
	if _, err := r.Reconcile(ctx, batchKey); err != nil {
		t.Fatal(err)
	}
	mustBeBound(t, waits, "sched-gone-1")
}

// An instance terminated after a batch assumed its binding, before the cache showed it, gives
// the room back through its event: a batch is asked for at once, and the instance refused for
// want of that room takes it.
func TestAssumedInstanceTerminatedGivesItsRoomBack(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(time.Now())
	r := &Reconciler{Client: env.Client, Clock: clk}
	ns := "sched-term"
	setupNamespace(t, ns)
	nodeWithQuota(t, "sched-term-1", "zone-term", 1)
	first := pendingInstance(t, ns, "a-first", "zone-term")
	waits := pendingInstance(t, ns, "b-waits", "zone-term")
	q := newQueue(t)
	r.observe(first, q)
	r.observe(waits, q)
	// A batch bound the first a moment ago; the cache does not show it yet.
	r.ledger.Assume(first.UID, capacity.Holding{Node: "sched-term-1", InstanceType: "sched.small"}, clk.Now().Add(time.Hour))
	if _, err := r.Reconcile(ctx, batchKey); err != nil {
		t.Fatal(err)
	}
	mustBeRefused(t, waits, "1 at their instance quota")

	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := reread(t, first)
		cur.Spec.DesiredState = cloudv1.DesiredTerminated
		return env.Client.Update(ctx, cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	events := newQueue(t)
	r.observe(reread(t, first), events)
	if events.Len() != 1 {
		t.Fatalf("the assumed instance's termination asked for %d batches, want 1", events.Len())
	}
	if got := r.assumptions(); got != 0 {
		t.Fatalf("%d bindings assumed after the termination", got)
	}
	if _, err := r.Reconcile(ctx, batchKey); err != nil {
		t.Fatal(err)
	}
	mustBeBound(t, waits, "sched-term-1")
}

// An assumption no event ends (its event lost) frees its room when it expires, with no event at
// all: a batch that refused an instance runs again by then.
func TestRefusedRetriedWhenAnAssumptionExpires(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(time.Now())
	r := &Reconciler{Client: env.Client, Clock: clk, AssumeTTL: time.Hour}
	ns := "sched-lost"
	setupNamespace(t, ns)
	nodeWithQuota(t, "sched-lost-1", "zone-lost", 1)
	waits := pendingInstance(t, ns, "waits", "zone-lost")
	r.ledger.Assume("lost-binding", capacity.Holding{Node: "sched-lost-1", InstanceType: "sched.small"}, clk.Now().Add(10*time.Second))
	r.observe(waits, newQueue(t))

	res, err := r.Reconcile(ctx, batchKey)
	if err != nil {
		t.Fatal(err)
	}
	mustBeRefused(t, waits, "1 at their instance quota")
	if res.RequeueAfter <= 0 || res.RequeueAfter > 10*time.Second {
		t.Fatalf("a batch with a refusal comes back after %v; the room comes back in 10s", res.RequeueAfter)
	}
	clk.SetTime(clk.Now().Add(10 * time.Second))
	if _, err := r.Reconcile(ctx, batchKey); err != nil {
		t.Fatal(err)
	}
	mustBeBound(t, waits, "sched-lost-1")
}

// Batches that keep refusing come back later and later, up to lastRetry; one that places
// anything starts over.
func TestRefusalRetryBacksOff(t *testing.T) {
	r := &Reconciler{}
	var last time.Duration
	for i := range 12 {
		d := r.retryRefused(true, false, time.Now())
		if d <= 0 || d > lastRetry || d < last {
			t.Fatalf("batch %d: retry after %v (before: %v)", i, d, last)
		}
		last = d
	}
	if last != lastRetry {
		t.Fatalf("after 12 refusing batches: %v, want %v", last, lastRetry)
	}
	if d := r.retryRefused(false, true, time.Now()); d != 0 {
		t.Fatalf("a batch with nothing refused retries after %v", d)
	}
	if d := r.retryRefused(true, false, time.Now()); d != firstRetry {
		t.Fatalf("after a batch placed everything: %v, want %v", d, firstRetry)
	}
}

// A failing batch (a binding that cannot be written) is retried with backoff, but never later
// than maxErrorBackoff: the one queue key stands for every pending instance.
func TestFailedBatchBackoffIsBounded(t *testing.T) {
	rl := batchRateLimiter()
	var d time.Duration
	for range 40 {
		d = rl.When(batchKey)
	}
	if d != maxErrorBackoff {
		t.Fatalf("after 40 failures the batch waits %v, want %v", d, maxErrorBackoff)
	}
}

// With the manager: fill the nodes, see the rest refused with the reason, then free room in
// each way that makes some — a bound instance terminated, a node's quota raised, a node's
// capacity grown — and the waiting instances take it, no more than there is.
func TestRefusedInstancesTakeRoomWhenItAppears(t *testing.T) {
	startScheduler(t)
	ctx := context.Background()
	ns := "sched-room"
	setupNamespace(t, ns)
	nodeWithQuota(t, "sched-room-1", "zone-room", 2)
	for i := range 5 {
		pendingInstance(t, ns, fmt.Sprintf("vm-%d", i), "zone-room")
	}
	settled := func(what string, wantBound int) []cloudv1.Instance {
		t.Helper()
		var items []cloudv1.Instance
		testenv.Eventually(t, longWait, what, func() error {
			counts, waiting, all := placements(t, ns)
			items = all
			if counts["sched-room-1"] != wantBound {
				return fmt.Errorf("placements %v", counts)
			}
			for _, c := range waiting {
				if c == nil || c.Reason != cloudv1.ReasonInsufficientCapacity || c.Message == "" {
					return fmt.Errorf("an unbound instance's Scheduled condition: %+v", c)
				}
			}
			return nil
		})
		return items
	}
	items := settled("two bound, three refused", 2)

	// A bound instance terminated, its domain gone (the finalizer the binding took for the
	// agent let go, as the agent does; no agent here), holds nothing.
	for i := range items {
		if items[i].Status.Hypervisor != "" {
			if err := testenv.Update(ctx, env.Client, &items[i], func(cur *cloudv1.Instance) {
				cur.Spec.DesiredState = cloudv1.DesiredTerminated
				controllerutil.RemoveFinalizer(cur, cloudv1.DomainFinalizer)
			}); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	settled("the terminated instance's place taken", 3)

	// The node's quota raised by one.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		hv := &cloudv1.Hypervisor{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "sched-room-1"}, hv); err != nil {
			return err
		}
		hv.Spec.MaxInstances = 3
		return env.Client.Update(ctx, hv)
	})
	if err != nil {
		t.Fatal(err)
	}
	settled("the raised quota's place taken", 4)
}
