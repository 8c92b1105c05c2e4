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

package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
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
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Client: mgr.GetClient()}
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
	ctx := context.Background()
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       cloudv1.InstanceSpec{ImageID: "img", InstanceType: "sched.small", AvailabilityZone: zone},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	// The scheduler may have written its condition already: retry on its newer version.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		// The instance controller's verdicts, which the scheduler waits for.
		conditions.MarkTrue(inst, cloudv1.InstanceReferencesResolved, cloudv1.ReasonResolved, "", metav1.Now())
		conditions.MarkTrue(inst, cloudv1.InstanceQuotaAdmitted, cloudv1.ReasonAdmitted, "", metav1.Now())
		conditions.MarkTrue(inst, cloudv1.InstanceAddressAssigned, cloudv1.ReasonAddressAssigned, "", metav1.Now())
		return env.Client.Status().Update(ctx, inst)
	}); err != nil {
		t.Fatal(err)
	}
	return inst
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
	if err := env.Client.Delete(context.Background(), old); err != nil {
		t.Fatal(err)
	}
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

// An assumption no event ends expires after AssumeTTL, by the scheduler's clock.
func TestAssumptionsExpire(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := &Reconciler{Clock: clk, AssumeTTL: time.Minute}
	r.assume(types.UID("a"), binding{node: "n1", claim: capacity.Claim{MilliCPU: 1000}})
	if left, ok := r.assumedFor("a"); !ok || left != time.Minute {
		t.Fatalf("fresh assumption: %v %v", left, ok)
	}
	clk.SetTime(clk.Now().Add(59 * time.Second))
	if _, ok := r.assumedFor("a"); !ok {
		t.Fatal("the assumption ended before its time")
	}
	clk.SetTime(clk.Now().Add(time.Second))
	if _, ok := r.assumedFor("a"); ok {
		t.Fatal("the assumption outlived its TTL")
	}
	if got := r.assumptions(); got != 0 {
		t.Fatalf("%d assumptions kept after expiry", got)
	}
	// Assuming again sweeps out whatever else expired.
	r.assume("b", binding{node: "n1"})
	clk.SetTime(clk.Now().Add(2 * time.Minute))
	r.assume("c", binding{node: "n1"})
	if got := r.assumptions(); got != 1 {
		t.Fatalf("%d assumptions, want only the live one", got)
	}
}
