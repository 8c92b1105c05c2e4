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

package patch

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func newInstance(t *testing.T, name string) *cloudv1.Instance {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "patch-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name},
		Spec:       cloudv1.InstanceSpec{ImageID: "ami-0123456789abcdef0"},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	return inst
}

func now() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

// Two writers that each own some condition types keep each other's conditions, even when the
// second writes from a stale read.
func TestConditionsFromTwoWritersMerge(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "two-writers")

	stale := inst.DeepCopy()
	h1, err := NewHelper(inst, env.Client)
	if err != nil {
		t.Fatal(err)
	}
	conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "on hv1", now())
	inst.Status.Hypervisor = "hv1"
	if err := h1.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}

	h2, err := NewHelper(stale, env.Client)
	if err != nil {
		t.Fatal(err)
	}
	conditions.MarkTrue(stale, cloudv1.InstanceDomainDefined, cloudv1.ReasonDomainDefined, "", now())
	stale.Status.Domain = &cloudv1.DomainStatus{Name: "i-1", State: "running"}
	if err := h2.Patch(ctx, stale); err != nil {
		t.Fatal(err)
	}

	got := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if !conditions.IsTrue(got, cloudv1.InstanceScheduled) || !conditions.IsTrue(got, cloudv1.InstanceDomainDefined) {
		t.Fatalf("conditions lost: %+v", got.Status.Conditions)
	}
	if got.Status.Hypervisor != "hv1" || got.Status.Domain == nil || got.Status.Domain.Name != "i-1" {
		t.Fatalf("status fields lost: %+v", got.Status)
	}
}

// A locked status write holds only for the object as it was read: after another write (a spec
// change here) it is refused and changes nothing; from a fresh read it goes through, conditions
// included.
func TestLockedStatusIsRefusedAfterAChange(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "locked-status")
	h0, _ := NewHelper(inst, env.Client)
	conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "on hv1", now())
	if err := h0.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}
	stale := inst.DeepCopy()
	inst.Spec.DesiredState = cloudv1.DesiredTerminated
	if err := env.Client.Update(ctx, inst); err != nil {
		t.Fatal(err)
	}

	write := func(from *cloudv1.Instance) error {
		h, _ := NewHelper(from, env.Client)
		h.LockStatus()
		from.Status.State = cloudv1.InstanceStateRunning
		conditions.MarkTrue(from, cloudv1.InstanceGuestRunning, cloudv1.ReasonRunning, "", now())
		return h.Patch(ctx, from)
	}
	if err := write(stale); !apierrors.IsConflict(err) {
		t.Fatalf("a locked status write from before the change answered %v, want a conflict", err)
	}
	got := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.State != "" || conditions.Get(got, cloudv1.InstanceGuestRunning) != nil {
		t.Fatalf("the refused write changed the status: %+v", got.Status)
	}
	if err := write(got); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.State != cloudv1.InstanceStateRunning || !conditions.IsTrue(got, cloudv1.InstanceGuestRunning) ||
		!conditions.IsTrue(got, cloudv1.InstanceScheduled) {
		t.Fatalf("the locked write from a fresh read left %+v", got.Status)
	}
}

// A finalizer added from a stale read is refused rather than erasing another writer's finalizer.
func TestFinalizerChangesAreLocked(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "finalizers")
	stale := inst.DeepCopy()

	h1, _ := NewHelper(inst, env.Client)
	controllerutil.AddFinalizer(inst, cloudv1.InstanceFinalizer)
	if err := h1.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}
	h2, _ := NewHelper(stale, env.Client)
	controllerutil.AddFinalizer(stale, cloudv1.DomainFinalizer)
	if err := h2.Patch(ctx, stale); err == nil {
		t.Fatal("stale finalizer patch succeeded; it would have dropped the first finalizer")
	}
	got := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if !controllerutil.ContainsFinalizer(got, cloudv1.InstanceFinalizer) {
		t.Fatalf("finalizer lost: %v", got.Finalizers)
	}
}

// Dropping the field records from a stale read is refused rather than erasing a server-side
// apply made since (the records are one list the patch replaces); from a fresh read it goes
// through, and later writes keep the object without them.
func TestDroppingFieldRecordsIsLocked(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "field-records")
	stale := inst.DeepCopy()

	apply := []byte(`{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"Instance","metadata":{"name":"field-records","namespace":"` +
		inst.Namespace + `","labels":{"team":"a"}}}`)
	if err := env.Client.Patch(ctx, inst, client.RawPatch(types.ApplyPatchType, apply), client.FieldOwner("gitops")); err != nil {
		t.Fatal(err)
	}
	h, _ := NewHelper(stale, env.Client)
	stale.ManagedFields = []metav1.ManagedFieldsEntry{{}}
	if err := h.Patch(ctx, stale); err == nil {
		t.Fatal("dropping the field records from a stale read succeeded; it would have dropped the apply's")
	}
	got := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got.ManagedFields, func(e metav1.ManagedFieldsEntry) bool { return e.Manager == "gitops" }) {
		t.Fatalf("the apply's field records were lost: %+v", got.ManagedFields)
	}

	h, _ = NewHelper(got, env.Client)
	got.ManagedFields = []metav1.ManagedFieldsEntry{{}}
	got.Labels["tier"] = "web"
	if err := h.Patch(ctx, got); err != nil {
		t.Fatal(err)
	}
	h, _ = NewHelper(got, env.Client)
	conditions.MarkTrue(got, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "", now())
	got.Labels["zone"] = "b"
	if err := h.Patch(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if len(got.ManagedFields) != 0 || got.Labels["tier"] != "web" || got.Labels["zone"] != "b" || !conditions.IsTrue(got, cloudv1.InstanceScheduled) {
		t.Fatalf("after dropping the records and two more writes: records %+v, labels %v, conditions %+v", got.ManagedFields, got.Labels, got.Status.Conditions)
	}
}

// Nothing changed means nothing is sent: the resourceVersion stays.
func TestNoChangeNoWrite(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "no-change")
	rv := inst.ResourceVersion
	h, _ := NewHelper(inst, env.Client)
	if err := h.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if inst.ResourceVersion != rv {
		t.Fatalf("resourceVersion moved from %s to %s with nothing to patch", rv, inst.ResourceVersion)
	}
}

// Removing a condition this writer owns removes it on the server.
func TestRemoveCondition(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "remove")
	h, _ := NewHelper(inst, env.Client)
	conditions.MarkFalse(inst, cloudv1.ReadyCondition, cloudv1.ReasonLaunching, "", now())
	conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "", now())
	if err := h.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}
	h, _ = NewHelper(inst, env.Client)
	conditions.Delete(inst, cloudv1.InstanceScheduled)
	if err := h.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}
	got := &cloudv1.Instance{}
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got)
	if conditions.Get(got, cloudv1.InstanceScheduled) != nil || conditions.Get(got, cloudv1.ReadyCondition) == nil {
		t.Fatalf("conditions after removal: %+v", got.Status.Conditions)
	}
}

// Condition changes go without a resourceVersion while the server's list is where the writer saw
// it: a writer whose read is stale by another writer's conditions and fields is not refused, and
// neither erases the other's.
func TestConditionsWithoutConflicts(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "unlocked")
	h, _ := NewHelper(inst, env.Client)
	conditions.MarkFalse(inst, cloudv1.ReadyCondition, cloudv1.ReasonLaunching, "", now())
	if err := h.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}
	stale := inst.DeepCopy()

	// The first writer moves on: the stale copy's resourceVersion is old now.
	h, _ = NewHelper(inst, env.Client)
	conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "", now())
	inst.Status.Hypervisor = "hv1"
	if err := h.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}
	rv := inst.ResourceVersion

	h2, _ := NewHelper(stale, env.Client)
	conditions.MarkTrue(stale, cloudv1.ReadyCondition, cloudv1.ReasonRunning, "", now())
	conditions.MarkTrue(stale, cloudv1.InstanceDomainDefined, cloudv1.ReasonDomainDefined, "", now())
	stale.Status.Domain = &cloudv1.DomainStatus{Name: "i-1", State: "running", VCPUs: 0}
	stale.Status.State = cloudv1.InstanceStateRunning
	if err := h2.Patch(ctx, stale); err != nil {
		t.Fatal(err)
	}
	got := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion == rv {
		t.Fatal("the second write did not happen")
	}
	if !conditions.IsTrue(got, cloudv1.InstanceScheduled) || !conditions.IsTrue(got, cloudv1.InstanceDomainDefined) ||
		!conditions.IsTrue(got, cloudv1.ReadyCondition) || len(got.Status.Conditions) != 3 {
		t.Fatalf("conditions: %+v", got.Status.Conditions)
	}
	if got.Status.Hypervisor != "hv1" || got.Status.Domain == nil || got.Status.Domain.Name != "i-1" ||
		got.Status.State != cloudv1.InstanceStateRunning {
		t.Fatalf("status fields: %+v", got.Status)
	}

	// A list that moved under the writer (a condition it saw at one index is gone) is merged
	// under the lock instead: nothing is lost, nothing doubled.
	h, _ = NewHelper(got, env.Client)
	conditions.Delete(got, cloudv1.InstanceScheduled)
	if err := h.Patch(ctx, got); err != nil {
		t.Fatal(err)
	}
	h2, _ = NewHelper(stale, env.Client)
	conditions.MarkFalse(stale, cloudv1.InstanceDomainDefined, cloudv1.ReasonDomainMissing, "gone", now())
	stale.Status.Domain = nil
	if err := h2.Patch(ctx, stale); err != nil {
		t.Fatal(err)
	}
	final := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), final); err != nil {
		t.Fatal(err)
	}
	c := conditions.Get(final, cloudv1.InstanceDomainDefined)
	if c == nil || c.Reason != cloudv1.ReasonDomainMissing || conditions.Get(final, cloudv1.InstanceScheduled) != nil ||
		len(final.Status.Conditions) != 2 || final.Status.Domain != nil {
		t.Fatalf("after the list moved: %+v, domain %+v", final.Status.Conditions, final.Status.Domain)
	}
}

// An object deleted before its status is written is done with: no error.
func TestGoneObjectIsNoError(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "gone")
	h, _ := NewHelper(inst, env.Client)
	if err := env.Client.Delete(ctx, inst.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	conditions.MarkFalse(inst, cloudv1.ReadyCondition, cloudv1.ReasonTerminated, "", now())
	inst.Labels = map[string]string{"x": "y"}
	if err := h.Patch(ctx, inst); err != nil {
		t.Fatalf("patching a deleted object: %v", err)
	}
}

// AddFinalizer goes through writes of other fields since the read, and is refused when the
// finalizers themselves changed: no writer's finalizer is dropped.
func TestAddFinalizerIsGuardedByTheList(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(t, "add-finalizer")
	stale := inst.DeepCopy()
	h, _ := NewHelper(inst, env.Client)
	conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "", now())
	if err := h.Patch(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if err := AddFinalizer(ctx, env.Client, stale, cloudv1.InstanceFinalizer); err != nil {
		t.Fatalf("a status write in between refused the finalizer: %v", err)
	}
	if err := AddFinalizer(ctx, env.Client, inst, cloudv1.DomainFinalizer); err == nil {
		t.Fatal("a finalizer added from a read that missed another finalizer went through")
	}
	got := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Finalizers, []string{cloudv1.InstanceFinalizer}) || !conditions.IsTrue(got, cloudv1.InstanceScheduled) {
		t.Fatalf("finalizers %v, conditions %+v", got.Finalizers, got.Status.Conditions)
	}
	if err := AddFinalizer(ctx, env.Client, got, cloudv1.DomainFinalizer); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Finalizers, []string{cloudv1.InstanceFinalizer, cloudv1.DomainFinalizer}) {
		t.Fatalf("finalizers %v", got.Finalizers)
	}
}
