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
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/fieldowners"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const longWait = 2 * time.Minute

// startScheduler runs the real scheduler in a manager until the test ends.
func startScheduler(t *testing.T) *Reconciler {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		// The manager's own caches keep field records only of applied objects.
		Cache: cache.Options{DefaultTransform: fieldowners.StripUnlessApplied()},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("pinet-scheduler")}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(env.Ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return r
}

// registeredNode makes a ready hypervisor in zone with room for many instances.
func registeredNode(t *testing.T, name, zone string) {
	t.Helper()
	ctx := context.Background()
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.HypervisorSpec{Zone: zone, MaxInstances: 200}}
	if err := env.Client.Create(ctx, hv); err != nil {
		t.Fatal(err)
	}
	hv.Status.Capacity = cloudv1.Resources{VCPUs: 256, MemoryMiB: 1 << 20}
	conditions.MarkTrue(hv, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", metav1.Now())
	if err := env.Client.Status().Update(ctx, hv); err != nil {
		t.Fatal(err)
	}
}

// pendingInstance makes an instance whose references resolved, ready to be placed in zone.
func pendingInstance(t *testing.T, ns, name, zone string) *cloudv1.Instance {
	t.Helper()
	inst, err := makePending(ns, name, zone)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func makePending(ns, name, zone string) (*cloudv1.Instance, error) {
	ctx := context.Background()
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       cloudv1.InstanceSpec{ImageID: "img", InstanceType: "sched.small", AvailabilityZone: zone},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		return nil, err
	}
	return inst, markResolved(inst)
}

// markResolved gives inst the instance controller's verdicts, which the scheduler waits for.
func markResolved(inst *cloudv1.Instance) error {
	ctx := context.Background()
	// The scheduler may have written its condition already: retry on its newer version.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		conditions.MarkTrue(inst, cloudv1.InstanceReferencesResolved, cloudv1.ReasonResolved, "", metav1.Now())
		conditions.MarkTrue(inst, cloudv1.InstanceQuotaAdmitted, cloudv1.ReasonAdmitted, "", metav1.Now())
		conditions.MarkTrue(inst, cloudv1.InstanceAddressAssigned, cloudv1.ReasonAddressAssigned, "", metav1.Now())
		return env.Client.Status().Update(ctx, inst)
	})
}

func setupNamespace(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	it := &cloudv1.InstanceType{ObjectMeta: metav1.ObjectMeta{Name: "sched.small"}, Spec: cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 256}}
	if err := client.IgnoreAlreadyExists(env.Client.Create(ctx, it)); err != nil {
		t.Fatal(err)
	}
}

// Every binding the scheduler made is forgotten once the cache shows it, and a deleted instance
// made again under its name is placed again.
func TestAssumptionsEndWithTheirBindings(t *testing.T) {
	r := startScheduler(t)
	ns := "sched-assume"
	setupNamespace(t, ns)
	registeredNode(t, "sched-node-1", "zone-assume")

	const n = 40
	for i := range n {
		pendingInstance(t, ns, fmt.Sprintf("vm-%02d", i), "zone-assume")
	}
	testenv.Eventually(t, longWait, "every instance to be bound", func() error {
		list := &cloudv1.InstanceList{}
		if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		bound := 0
		for i := range list.Items {
			if list.Items[i].Status.Hypervisor != "" {
				bound++
			}
		}
		if bound != n {
			return fmt.Errorf("%d of %d bound", bound, n)
		}
		return nil
	})
	testenv.Eventually(t, longWait, "no binding to stay assumed", func() error {
		if got := r.assumptions(); got != 0 {
			return fmt.Errorf("%d bindings still assumed", got)
		}
		return nil
	})

	// Deleted and made again under the same name: a new instance, placed afresh.
	old := &cloudv1.Instance{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "vm-00"}, old); err != nil {
		t.Fatal(err)
	}
	deleteBound(t, old)
	testenv.Eventually(t, longWait, "vm-00 to be gone", func() error {
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(old), &cloudv1.Instance{})
		if client.IgnoreNotFound(err) != nil {
			return err
		}
		if err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	again := pendingInstance(t, ns, "vm-00", "zone-assume")
	testenv.Eventually(t, longWait, "the new vm-00 to be bound", func() error {
		got := &cloudv1.Instance{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(again), got); err != nil {
			return err
		}
		if got.UID == old.UID || got.Status.Hypervisor == "" {
			return fmt.Errorf("uid %s, hypervisor %q", got.UID, got.Status.Hypervisor)
		}
		return nil
	})
}

// deleteBound deletes a bound instance and lets it go as its node's agent would once the domain
// is gone: the binding took the agent's finalizer for it.
func deleteBound(t *testing.T, inst *cloudv1.Instance) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Update(ctx, env.Client, inst, func(i *cloudv1.Instance) {
		controllerutil.RemoveFinalizer(i, cloudv1.DomainFinalizer)
	}); err != nil {
		t.Fatal(err)
	}
}

// nodeWithQuota makes a ready hypervisor in zone that takes at most max instances.
func nodeWithQuota(t *testing.T, name, zone string, most int32) {
	t.Helper()
	ctx := context.Background()
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.HypervisorSpec{Zone: zone, MaxInstances: most}}
	if err := env.Client.Create(ctx, hv); err != nil {
		t.Fatal(err)
	}
	hv.Status.Capacity = cloudv1.Resources{VCPUs: 256, MemoryMiB: 1 << 20}
	conditions.MarkTrue(hv, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", metav1.Now())
	if err := env.Client.Status().Update(ctx, hv); err != nil {
		t.Fatal(err)
	}
}

// placements counts the namespace's instances by hypervisor ("" for unbound) and returns the
// unbound ones' Scheduled conditions.
func placements(t *testing.T, ns string) (map[string]int, []*metav1.Condition, []cloudv1.Instance) {
	t.Helper()
	list := &cloudv1.InstanceList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var waiting []*metav1.Condition
	for i := range list.Items {
		counts[list.Items[i].Status.Hypervisor]++
		if list.Items[i].Status.Hypervisor == "" {
			waiting = append(waiting, conditions.Get(&list.Items[i], cloudv1.InstanceScheduled))
		}
	}
	return counts, waiting, list.Items
}

// Many instances arriving at once are placed in batches, several bindings written in parallel:
// no hypervisor ever takes more than its quota (bindings are never undone, so an overbooking
// would still show at the end), the rest say why they wait, and room freed by deleted instances
// goes to those still waiting.
func TestBatchesNeverExceedCapacity(t *testing.T) {
	r := startScheduler(t)
	ns := "sched-batch"
	setupNamespace(t, ns)
	quota := map[string]int{"sched-batch-1": 7, "sched-batch-2": 5}
	for name, most := range quota {
		nodeWithQuota(t, name, "zone-batch", int32(most))
	}

	const n = 30
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 6 {
				if _, err := makePending(ns, fmt.Sprintf("vm-%02d", i), "zone-batch"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	deleted := 0
	settled := func(wantBound int) {
		t.Helper()
		testenv.Eventually(t, longWait, fmt.Sprintf("%d instances bound and the rest refused", wantBound), func() error {
			counts, waiting, _ := placements(t, ns)
			if counts["sched-batch-1"]+counts["sched-batch-2"] != wantBound {
				return fmt.Errorf("placements %v", counts)
			}
			for _, c := range waiting {
				if c == nil || c.Reason != cloudv1.ReasonInsufficientCapacity {
					return fmt.Errorf("an unbound instance's Scheduled condition: %+v", c)
				}
			}
			return nil
		})
		counts, waiting, _ := placements(t, ns)
		for name, most := range quota {
			if counts[name] != most {
				t.Fatalf("%s holds %d instances, its quota is %d (all: %v)", name, counts[name], most, counts)
			}
		}
		if len(waiting) != n-wantBound-deleted {
			t.Fatalf("%d unbound, want %d", len(waiting), n-wantBound-deleted)
		}
	}
	settled(12)

	// Free three places on the first node: three of the waiting take them, no more.
	_, _, items := placements(t, ns)
	freed := 0
	for i := range items {
		if items[i].Status.Hypervisor == "sched-batch-1" && freed < 3 {
			deleteBound(t, &items[i])
			freed++
		}
	}
	deleted = freed
	settled(12)
	testenv.Eventually(t, longWait, "no binding to stay assumed", func() error {
		if got := r.assumptions(); got != 0 {
			return fmt.Errorf("%d bindings still assumed", got)
		}
		return nil
	})
}

// A binding assumed but never shown by an event (the event was lost) holds its instance only
// until the assumption expires, by the scheduler's clock; then the instance is placed again.
func TestExpiredAssumptionIsPlacedAgain(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(time.Now())
	r := &Reconciler{Client: env.Client, Clock: clk, AssumeTTL: time.Minute}
	ns := "sched-expire"
	setupNamespace(t, ns)
	registeredNode(t, "sched-expire-1", "zone-expire")
	inst := pendingInstance(t, ns, "lost", "zone-expire")
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	r.observe(inst, q)
	if q.Len() != 1 {
		t.Fatalf("a pending instance queued %d batches", q.Len())
	}
	r.ledger.Assume(inst.UID, capacity.Holding{Node: "sched-expire-1", InstanceType: "sched.small"}, clk.Now().Add(time.Minute))

	res, err := r.Reconcile(ctx, batchKey)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != time.Minute {
		t.Fatalf("requeue after %v, want the assumption's minute", res.RequeueAfter)
	}
	got := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Hypervisor != "" || conditions.Get(got, cloudv1.InstanceScheduled) != nil {
		t.Fatalf("an assumed instance was written: %q %+v", got.Status.Hypervisor, got.Status.Conditions)
	}

	clk.SetTime(clk.Now().Add(time.Minute))
	if _, err := r.Reconcile(ctx, batchKey); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Hypervisor != "sched-expire-1" || !conditions.IsTrue(got, cloudv1.InstanceScheduled) ||
		got.Labels[cloudv1.LabelHypervisor] != "sched-expire-1" {
		t.Fatalf("after the assumption expired: hypervisor %q, labels %v, conditions %+v",
			got.Status.Hypervisor, got.Labels, got.Status.Conditions)
	}
	// The binding holds the instance for its node's agent.
	if !slices.Equal(got.Finalizers, []string{cloudv1.DomainFinalizer}) {
		t.Fatalf("bound with finalizers %v, want the domain's", got.Finalizers)
	}
}

// The binding drops the API server's field records of an instance no one has server-side
// applied, and later writes do not bring them back; an applied instance (a GitOps tool's) keeps
// its applier's records, so a later apply can still remove what the manifest no longer has.
func TestBindingDropsFieldRecordsUnlessApplied(t *testing.T) {
	const ns = "sched-records"
	setupNamespace(t, ns)
	registeredNode(t, "sched-records-1", "records-a")
	startScheduler(t)
	ctx := context.Background()

	pendingInstance(t, ns, "made", "records-a")
	apply := []byte(`{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"Instance","metadata":{"name":"applied","namespace":"` + ns +
		`","labels":{"team":"a"}},"spec":{"imageId":"img","instanceType":"sched.small","availabilityZone":"records-a"}}`)
	applied := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "applied"}}
	if err := env.Client.Patch(ctx, applied, client.RawPatch(types.ApplyPatchType, apply), client.FieldOwner("gitops")); err != nil {
		t.Fatal(err)
	}
	if err := markResolved(applied); err != nil {
		t.Fatal(err)
	}

	bound := map[string]*cloudv1.Instance{}
	testenv.Eventually(t, longWait, "both instances to be bound", func() error {
		for _, name := range []string{"made", "applied"} {
			got := &cloudv1.Instance{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, got); err != nil {
				return err
			}
			if got.Labels[cloudv1.LabelHypervisor] == "" {
				return fmt.Errorf("%s is not bound", name)
			}
			bound[name] = got
		}
		return nil
	})
	if mf := bound["made"].ManagedFields; len(mf) != 0 {
		t.Errorf("the bound instance kept its field records: %+v", mf)
	}
	if !slices.ContainsFunc(bound["applied"].ManagedFields, func(e metav1.ManagedFieldsEntry) bool {
		return e.Manager == "gitops" && e.Operation == metav1.ManagedFieldsOperationApply
	}) {
		t.Errorf("the applied instance lost its applier's field records: %+v", bound["applied"].ManagedFields)
	}

	// A later status write (an agent's report) and main-resource write leave none. (The
	// binding's own status write may come after the label the wait saw: each write retries on
	// a fresh read.)
	made := bound["made"]
	write := func(change func(), status bool) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(made), made); err != nil {
				return err
			}
			change()
			if status {
				return env.Client.Status().Update(ctx, made)
			}
			return env.Client.Update(ctx, made)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write(func() {
		conditions.MarkTrue(made, cloudv1.InstanceDomainDefined, cloudv1.ReasonDomainDefined, "", metav1.Now())
	}, true)
	write(func() { made.Labels["touched"] = "yes" }, false)
	if len(made.ManagedFields) != 0 {
		t.Errorf("writes after the binding brought field records back: %+v", made.ManagedFields)
	}
	write(func() { made.Finalizers = nil }, false)
}
