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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers/quotapending"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/testenv"
)

// quotaProject creates a project with the quota and waits for its namespace; with no manager
// running (reconcilers called directly), it makes the namespace itself.
func quotaProject(t *testing.T, name string, q cloudv1.ProjectQuota, manager bool) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.ProjectSpec{Quota: q}}); err != nil {
		t.Fatal(err)
	}
	if !manager {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, shortWait, "the project's namespace", func() error {
		return env.Client.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})
	})
}

// leftPending creates obj marked quota-pending, as an EC2 call does before it admits it, and
// never decides: the call's manager crashed. The test's end deletes it, so that no later test's
// manager places it.
func leftPending(t *testing.T, obj client.Object) {
	t.Helper()
	quota.MarkPending(obj)
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, obj) })
}

// deleteAndWait deletes obj and waits until it is gone.
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		t.Error(err)
		return
	}
	testenv.Eventually(t, longWait, obj.GetName()+" gone", func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v), finalizers %v", err, obj.GetFinalizers())
	})
}

// Addresses, volumes and images an EC2 call created and never decided on are left to their
// creator for a while, then admitted (the mark goes, they count) or, over the quota, withdrawn.
func TestPendingAddressesAndVolumesOfACrashedCallAreDecided(t *testing.T) {
	ctx := context.Background()
	const project = "crashed-alloc"
	quotaProject(t, project, cloudv1.ProjectQuota{Addresses: ptr.To[int32](2), Volumes: ptr.To[int32](1), Images: ptr.To[int32](1)}, false)
	first := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: "eipalloc-0000000000000000a", Namespace: project}}
	second := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: "eipalloc-0000000000000000b", Namespace: project}}
	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "vol-0000000000000000a", Namespace: project},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1}}
	kubectlMade := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: "kubectl-made", Namespace: project}}
	image := func(name string) *cloudv1.Image {
		return &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
			Spec: cloudv1.ImageSpec{ImageLocation: "bucket/" + name + ".manifest.xml"}}
	}
	firstImage, secondImage := image("ami-0000000000000000a"), image("ami-0000000000000000b")
	leftPending(t, first)
	leftPending(t, second)
	leftPending(t, vol)
	leftPending(t, firstImage)
	leftPending(t, secondImage)
	if err := env.Client.Create(ctx, kubectlMade); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, kubectlMade) })
	// Admitted by the address controller (which this test does not run) and given an IP.
	kubectlMade.Status.PublicIP = "198.51.100.7"
	if err := env.Client.Status().Update(ctx, kubectlMade); err != nil {
		t.Fatal(err)
	}

	clk := clocktesting.NewFakePassiveClock(first.CreationTimestamp.Add(10 * time.Second))
	reconciler := func(k quotapending.Kind) *quotapending.Reconciler {
		return &quotapending.Reconciler{Kind: k, Client: env.Client, APIReader: env.Client, Clock: clk}
	}
	addrs, vols, imgs := reconciler(quotapending.Addresses), reconciler(quotapending.Volumes), reconciler(quotapending.Images)
	reconcile1 := func(r *quotapending.Reconciler, obj client.Object) reconcile.Result {
		t.Helper()
		res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
		if err != nil {
			t.Fatalf("reconciling %s: %v", obj.GetName(), err)
		}
		return res
	}

	// Within the creator's grace nothing is decided; the reconcile comes back when it ends.
	res := reconcile1(addrs, first)
	if res.RequeueAfter <= 0 || res.RequeueAfter > quotapending.CreatorGrace {
		t.Errorf("within the grace, requeued after %s", res.RequeueAfter)
	}
	mustGet(t, first)
	if !quota.IsMarkedPending(first) {
		t.Fatal("decided within the creator's grace")
	}

	// Past it, the first address fits beside the one made with kubectl (which counts: it holds
	// an IP) and is admitted; the second does not and is withdrawn.
	clk.SetTime(second.CreationTimestamp.Add(2 * quotapending.CreatorGrace))
	reconcile1(addrs, first)
	mustGet(t, first)
	if quota.IsMarkedPending(first) {
		t.Error("the admitted address keeps its quota-pending mark")
	}
	reconcile1(addrs, second)
	err := env.Client.Get(ctx, client.ObjectKeyFromObject(second), second)
	if !apierrors.IsNotFound(err) && second.DeletionTimestamp.IsZero() {
		t.Errorf("the address over the quota stays: %v", err)
	}
	// The volume fits its own gate.
	reconcile1(vols, vol)
	mustGet(t, vol)
	if quota.IsMarkedPending(vol) {
		t.Error("the admitted volume keeps its quota-pending mark")
	}
	// Of the images, the first fits and the second is withdrawn.
	reconcile1(imgs, firstImage)
	mustGet(t, firstImage)
	if quota.IsMarkedPending(firstImage) {
		t.Error("the admitted image keeps its quota-pending mark")
	}
	reconcile1(imgs, secondImage)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secondImage), secondImage); !apierrors.IsNotFound(err) && secondImage.DeletionTimestamp.IsZero() {
		t.Errorf("the image over the quota stays: %v", err)
	}
	// An address made with kubectl (never marked) is not the sweeper's: it stays as it is.
	reconcile1(addrs, kubectlMade)
	mustGet(t, kubectlMade)
	if !kubectlMade.DeletionTimestamp.IsZero() {
		t.Error("the sweeper deleted an address made with kubectl")
	}
	// A volume that is gone is nothing to decide.
	gone := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "vol-0000000000000000f", Namespace: project}}
	reconcile1(vols, gone)
}

// The manager sweeps by itself: a pending volume that fits its project's quota is admitted
// once its creator's grace is over.
func TestManagerSweepsPendingVolumes(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	const project = "crashed-volume"
	quotaProject(t, project, cloudv1.ProjectQuota{Volumes: ptr.To[int32](2), VolumeGiB: ptr.To[int64](10)}, true)
	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "vol-0000000000000000c", Namespace: project},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1}}
	leftPending(t, vol)
	testenv.Eventually(t, quotapending.CreatorGrace+longWait, "the pending volume admitted", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(vol), vol); err != nil {
			return err
		}
		if quota.IsMarkedPending(vol) {
			return fmt.Errorf("still marked quota-pending")
		}
		return nil
	})
}

func mustGet(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
}
