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

package hypervisor

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
