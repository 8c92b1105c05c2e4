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

package hypervisor

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// cachedClient is a manager's cached client with PiNet's field indexes, as the reconciler has.
func cachedClient(t *testing.T) client.Client {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(env.Ctx)
	if err := index.Register(ctx, mgr.GetFieldIndexer()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return mgr.GetClient()
}

// agent plays a node agent whose clock is off by skew: it writes heartbeats of its own time.
type agent struct {
	t    *testing.T
	name string
	skew time.Duration
}

func (a agent) heartbeat(at time.Time) {
	a.t.Helper()
	ctx := context.Background()
	hv := &cloudv1.Hypervisor{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: a.name}, hv); err != nil {
		a.t.Fatal(err)
	}
	hb := metav1.NewTime(at.Add(a.skew))
	hv.Status.LastHeartbeatTime = &hb
	hv.Status.Capacity = cloudv1.Resources{VCPUs: 4, MemoryMiB: 8192}
	if err := env.Client.Status().Update(ctx, hv); err != nil {
		a.t.Fatal(err)
	}
}

// judge runs one reconcile once the cache shows the heartbeat the agent last wrote, and
// returns whether the node is ready.
func judge(t *testing.T, r *Reconciler, name string) bool {
	t.Helper()
	ctx := context.Background()
	want := &cloudv1.Hypervisor{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, want); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the cache to show the heartbeat", func() error {
		got := &cloudv1.Hypervisor{}
		if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, got); err != nil {
			return err
		}
		if !got.Status.LastHeartbeatTime.Equal(want.Status.LastHeartbeatTime) {
			return fmt.Errorf("heartbeat %v, want %v", got.Status.LastHeartbeatTime, want.Status.LastHeartbeatTime)
		}
		return nil
	})
	if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKey{Name: name}}); err != nil {
		t.Fatal(err)
	}
	got := &cloudv1.Hypervisor{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, got); err != nil {
		t.Fatal(err)
	}
	return conditions.IsTrue(got, cloudv1.ReadyCondition)
}

// Liveness is judged on the manager's clock: an agent an hour ahead or behind is ready while it
// reports, and not ready once it falls silent for the timeout.
func TestLivenessIgnoresTheAgentsClock(t *testing.T) {
	c := cachedClient(t)
	for _, skew := range []time.Duration{time.Hour, -time.Hour, 0} {
		t.Run(fmt.Sprint(skew), func(t *testing.T) {
			name := fmt.Sprintf("skew-%d", int(skew.Minutes())+100)
			if err := env.Client.Create(context.Background(), &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
				t.Fatal(err)
			}
			clk := clocktesting.NewFakePassiveClock(time.Now())
			r := &Reconciler{Client: c, Clock: clk, HeartbeatTimeout: 150 * time.Second}
			a := agent{t: t, name: name, skew: skew}

			a.heartbeat(clk.Now())
			if !judge(t, r, name) {
				t.Fatal("not ready right after a heartbeat")
			}
			// Reports every minute keep it ready, well past the timeout in all.
			for range 4 {
				clk.SetTime(clk.Now().Add(time.Minute))
				a.heartbeat(clk.Now())
				if !judge(t, r, name) {
					t.Fatalf("not ready at %s while the agent reports", clk.Now())
				}
			}
			// Silent, but not yet for the timeout.
			clk.SetTime(clk.Now().Add(140 * time.Second))
			if !judge(t, r, name) {
				t.Fatal("not ready before the timeout ran out")
			}
			// Silent past the timeout.
			clk.SetTime(clk.Now().Add(20 * time.Second))
			if judge(t, r, name) {
				t.Fatal("still ready after the agent fell silent")
			}
			// Back again.
			a.heartbeat(clk.Now())
			if !judge(t, r, name) {
				t.Fatal("not ready once the agent reported again")
			}
		})
	}
}

// boundInstance makes an instance of type itype bound to node, as the scheduler would.
func boundInstance(t *testing.T, ns, name, itype, node string) *cloudv1.Instance {
	t.Helper()
	ctx := context.Background()
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       cloudv1.InstanceSpec{ImageID: "img", InstanceType: itype},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	inst.Status.Hypervisor = node
	if err := env.Client.Status().Update(ctx, inst); err != nil {
		t.Fatal(err)
	}
	return inst
}

// The allocations follow the instances bound to the node, by their types, as instances come,
// change type, go, and come again under an old name.
func TestAllocationsFollowInstances(t *testing.T) {
	ctx := context.Background()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(env.Ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, it := range []*cloudv1.InstanceType{
		{ObjectMeta: metav1.ObjectMeta{Name: "alloc.small"}, Spec: cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 512, RootDiskGiB: 1}},
		{ObjectMeta: metav1.ObjectMeta{Name: "alloc.large"}, Spec: cloudv1.InstanceTypeSpec{VCPUs: 4, MemoryMiB: 4096, RootDiskGiB: 10}},
	} {
		if err := env.Client.Create(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "alloc"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "alloc-1"},
		Spec: cloudv1.HypervisorSpec{Zone: "z", MaxInstances: 10}}); err != nil {
		t.Fatal(err)
	}
	expect := func(what string, count, vcpus int32, mem, disk int64) {
		t.Helper()
		testenv.Eventually(t, time.Minute, what, func() error {
			hv := &cloudv1.Hypervisor{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: "alloc-1"}, hv); err != nil {
				return err
			}
			want := cloudv1.Resources{VCPUs: vcpus, MemoryMiB: mem, DiskGiB: disk}
			if hv.Status.Instances != count || hv.Status.Allocated != want {
				return fmt.Errorf("%d instances holding %+v, want %d holding %+v", hv.Status.Instances, hv.Status.Allocated, count, want)
			}
			return nil
		})
	}

	a := boundInstance(t, "alloc", "a", "alloc.small", "alloc-1")
	b := boundInstance(t, "alloc", "b", "alloc.large", "alloc-1")
	boundInstance(t, "alloc", "c", "alloc.small", "")
	boundInstance(t, "alloc", "elsewhere", "alloc.large", "alloc-2")
	expect("two instances counted", 2, 5, 4608, 11)

	// A terminated instance whose domain is gone holds nothing.
	b.Spec.DesiredState = cloudv1.DesiredTerminated
	if err := env.Client.Update(ctx, b); err != nil {
		t.Fatal(err)
	}
	expect("the terminated one released", 1, 1, 512, 1)

	// Deleted and made again under the same name with another type: counted as the new one.
	if err := env.Client.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	expect("the deleted one released", 0, 0, 0, 0)
	boundInstance(t, "alloc", "a", "alloc.large", "alloc-1")
	expect("the new a counted", 1, 4, 4096, 10)
}
