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

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers/instance"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/testenv"
)

// An instance an EC2 call created and never admitted (the manager crashed mid-launch) is left to
// its creator for a while, then admitted by the instance controller like any other: it neither
// holds quota meanwhile nor waits forever.
func TestInstanceOfACrashedLaunchIsAdmittedLater(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	const project = "crashed-launch"
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: project},
		Spec: cloudv1.ProjectSpec{Quota: cloudv1.ProjectQuota{Instances: ptr.To[int32](1)}}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the project's namespace", func() error {
		return env.Client.Get(ctx, client.ObjectKey{Name: project}, &corev1.Namespace{})
	})
	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: project},
		Spec: cloudv1.ImageSpec{ImageLocation: "bucket/img.manifest.xml"}}
	if err := env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	launched := func(name string) *cloudv1.Instance {
		inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
			Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny"}}
		quota.MarkPending(inst) // as the EC2 API creates them, before it admits them
		if err := env.Client.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
		return inst
	}
	left := launched("left-behind")

	// The manager's own controller leaves it to its creator; a reconcile at a later time (the
	// creator gone for good) decides.
	clk := clocktesting.NewFakePassiveClock(left.CreationTimestamp.Add(10 * time.Second))
	recorder := events.NewFakeRecorder(64)
	r := &instance.Reconciler{Client: env.Client, APIReader: env.Client, Clock: clk, TerminatedRetention: time.Hour,
		Claims:   &claims.Claimer{Client: env.Client, Reader: env.Client, Namespace: testenv.SystemNamespace},
		Recorder: recorder}
	reconcileUntil := func(inst *cloudv1.Instance, what string, done func(*cloudv1.Instance, reconcile.Result) error) {
		t.Helper()
		testenv.Eventually(t, shortWait, what, func() error {
			res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(inst)})
			if err != nil {
				return err
			}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
				return err
			}
			return done(inst, res)
		})
	}
	reconcileUntil(left, "the creator's grace", func(inst *cloudv1.Instance, res reconcile.Result) error {
		if !conditions.IsTrue(inst, cloudv1.InstanceReferencesResolved) {
			return fmt.Errorf("references not resolved")
		}
		if c := conditions.Get(inst, cloudv1.InstanceQuotaAdmitted); c != nil {
			return fmt.Errorf("decided within the creator's grace: %v", c)
		}
		if res.RequeueAfter <= 0 || res.RequeueAfter > time.Minute {
			return fmt.Errorf("requeued after %s", res.RequeueAfter)
		}
		return nil
	})

	clk.SetTime(left.CreationTimestamp.Add(2 * time.Minute))
	reconcileUntil(left, "the abandoned instance admitted", func(inst *cloudv1.Instance, _ reconcile.Result) error {
		if !conditions.IsTrue(inst, cloudv1.InstanceQuotaAdmitted) {
			return fmt.Errorf("QuotaAdmitted %v", conditions.Get(inst, cloudv1.InstanceQuotaAdmitted))
		}
		return nil
	})

	// Admitted, it holds the project's one instance: the next abandoned one waits.
	next := launched("next")
	clk.SetTime(next.CreationTimestamp.Add(2 * time.Minute))
	reconcileUntil(next, "the next one held back", func(inst *cloudv1.Instance, _ reconcile.Result) error {
		c := conditions.Get(inst, cloudv1.InstanceQuotaAdmitted)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != cloudv1.ReasonQuotaExceeded {
			return fmt.Errorf("QuotaAdmitted %v", c)
		}
		return nil
	})

	// The first goes: the one held back is admitted, and told so after it was told why it waited.
	if err := env.Client.Delete(ctx, left); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the first instance gone", func() error {
		if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(left)}); err != nil {
			return err
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(left), &cloudv1.Instance{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	reconcileUntil(next, "the next one admitted", func(inst *cloudv1.Instance, _ reconcile.Result) error {
		if !conditions.IsTrue(inst, cloudv1.InstanceQuotaAdmitted) {
			return fmt.Errorf("QuotaAdmitted %v", conditions.Get(inst, cloudv1.InstanceQuotaAdmitted))
		}
		return nil
	})
	var reasons []string
	for len(recorder.Events) > 0 {
		e := <-recorder.Events
		for _, reason := range []string{cloudv1.ReasonQuotaExceeded, cloudv1.ReasonAdmitted} {
			// A reconcile whose write failed tells again; one told twice in a row counts once.
			if strings.Contains(e, " "+reason+" ") && (len(reasons) == 0 || reasons[len(reasons)-1] != reason) {
				reasons = append(reasons, reason)
			}
		}
	}
	if want := []string{cloudv1.ReasonQuotaExceeded, cloudv1.ReasonAdmitted}; !slices.Equal(reasons, want) {
		t.Fatalf("quota events %v, want %v", reasons, want)
	}
}
