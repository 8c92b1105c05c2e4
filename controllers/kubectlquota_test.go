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
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers/volume"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// Addresses and volumes made with kubectl take an IP of a pool, or room on a storage node, that
// every project draws on: past the project's quota they wait without one, as instances made with
// kubectl wait unscheduled, and take it when the project has room again. (AllocateAddress and
// CreateVolume refuse such requests outright.)
func TestKubectlAddressesAndVolumesWaitForTheQuota(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	const project = "kubectl-quota"
	quotaProject(t, project, cloudv1.ProjectQuota{Addresses: ptr.To[int32](2), Volumes: ptr.To[int32](5), VolumeGiB: ptr.To[int64](4)}, true)
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: "kq-pool"},
		Spec: cloudv1.AddressPoolSpec{CIDRs: []string{"203.0.113.16/28"}}}
	if err := env.Client.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pool) })
	storageNode(t, "kq-store", "kq-zone", 100)

	var addrs []*cloudv1.Address
	for i := range 4 {
		a := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("kq-eip-%d", i), Namespace: project},
			Spec: cloudv1.AddressSpec{Pool: pool.Name}}
		if err := env.Client.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, a)
	}
	addressesAre := func(allocated, refused int) {
		t.Helper()
		testenv.Eventually(t, longWait, fmt.Sprintf("%d addresses allocated, %d over the quota", allocated, refused), func() error {
			got, over := 0, 0
			for _, a := range addrs {
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(a), a); client.IgnoreNotFound(err) != nil {
					return err
				}
				if !a.DeletionTimestamp.IsZero() {
					continue
				}
				c := conditions.Get(a, cloudv1.AddressAllocated)
				switch {
				case a.Status.PublicIP != "":
					got++
				case c != nil && c.Reason == cloudv1.ReasonQuotaExceeded:
					over++
				}
			}
			if got != allocated || over != refused {
				return fmt.Errorf("%d allocated, %d over the quota", got, over)
			}
			return nil
		})
	}
	addressesAre(2, 2)

	// 4 GiB: a 3 GiB volume is placed, then a 2 GiB one waits over the quota.
	first := newVolume(t, project, "kq-first", "kq-zone", 3)
	volumeIs(t, first, cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	second := volumeIs(t, newVolume(t, project, "kq-second", "kq-zone", 2), cloudv1.VolumeStateCreating, cloudv1.ReasonQuotaExceeded)
	if second.Status.AoE != nil || second.Labels[cloudv1.LabelStorageNode] != "" {
		t.Fatalf("a volume over the quota was placed: %+v", second.Status.AoE)
	}

	// Room again: an address goes, the quota grows.
	deleteAndWait(t, addrs[0])
	addressesAre(2, 1)
	setVolumeGiB(t, project, 5)
	volumeIs(t, second, cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	for _, a := range addrs[1:] {
		deleteAndWait(t, a)
	}
	// The volumes go once their storage node does (this test runs no agent to unexport them).
	for _, v := range []*cloudv1.Volume{first, second} {
		if err := env.Client.Delete(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
}

// A volume's spec.sizeGiB may grow (with kubectl; the EC2 API has no ModifyVolume): the volume
// is given the new size only once its project's quota and its storage node have room for it, and
// keeps its size, with Resized=False and the reason, until they do.
func TestVolumeGrowthWaitsForRoom(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	const project = "volume-growth"
	quotaProject(t, project, cloudv1.ProjectQuota{VolumeGiB: ptr.To[int64](6)}, true)
	storageNode(t, "vg-store", "vg-zone", 8)

	v := volumeIs(t, newVolume(t, project, "vg", "vg-zone", 2), cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	grow := func(to int32) {
		t.Helper()
		if err := testenv.Update(ctx, env.Client, v, func(v *cloudv1.Volume) { v.Spec.SizeGiB = to }); err != nil {
			t.Fatal(err)
		}
	}
	sizeIs := func(given int32, resized metav1.ConditionStatus, reason string) {
		t.Helper()
		testenv.Eventually(t, longWait, fmt.Sprintf("given %d GiB, Resized %s/%s", given, resized, reason), func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
				return err
			}
			c := conditions.Get(v, cloudv1.VolumeResized)
			if v.Status.SizeGiB != given || (reason == "" && c != nil) || (reason != "" && (c == nil || c.Status != resized || c.Reason != reason)) {
				return fmt.Errorf("given %d GiB, Resized %+v", v.Status.SizeGiB, c)
			}
			return nil
		})
	}
	// Each change is recorded (EC2's volume modification): begun, and ended once given.
	modified := func(from, to int32, ended bool) {
		t.Helper()
		m := v.Status.Modification
		if m == nil || m.OriginalSizeGiB != from || m.TargetSizeGiB != to || m.StartTime.IsZero() || (m.EndTime != nil) != ended {
			t.Fatalf("modification %+v, want %d to %d GiB, ended %v", m, from, to, ended)
		}
	}
	sizeIs(2, "", "")
	if v.Status.Modification != nil {
		t.Fatalf("a new volume has modification %+v", v.Status.Modification)
	}
	grow(5)
	sizeIs(5, metav1.ConditionTrue, cloudv1.ReasonResized)
	modified(2, 5, true)
	grow(7) // past the project's 6 GiB
	sizeIs(5, metav1.ConditionFalse, cloudv1.ReasonQuotaExceeded)
	modified(5, 7, false)
	setVolumeGiB(t, project, 20)
	sizeIs(7, metav1.ConditionTrue, cloudv1.ReasonResized)
	modified(5, 7, true)
	grow(9) // past the storage node's 8 GiB
	sizeIs(7, metav1.ConditionFalse, cloudv1.ReasonNoStorageNode)
	modified(7, 9, false)
	if err := env.Client.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
}

// setVolumeGiB sets the project's volumeGiB quota, as an admin would.
func setVolumeGiB(t *testing.T, project string, gib int64) {
	t.Helper()
	p := &cloudv1.Project{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: project}, p); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Update(context.Background(), env.Client, p, func(p *cloudv1.Project) { p.Spec.Quota.VolumeGiB = ptr.To(gib) }); err != nil {
		t.Fatal(err)
	}
}

// staleVolume is a cache that has not caught up: Get of the volume answers an older copy.
type staleVolume struct {
	client.Client
	old *cloudv1.Volume
}

func (s staleVolume) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if v, ok := obj.(*cloudv1.Volume); ok && key == client.ObjectKeyFromObject(s.old) {
		s.old.DeepCopyInto(v)
		return nil
	}
	return s.Client.Get(ctx, key, obj, opts...)
}

// A reconcile of a cached copy older than the controller's giving of a growth (the cache lags
// behind the controller's own write) leaves the change's record alone: recorded anew from the
// stale copy, the record of a completed change lost its end and showed modifying for ever.
func TestStaleCopyKeepsTheGrowthsRecord(t *testing.T) {
	stop := startManager(t)
	ctx := context.Background()
	const project = "volume-stale"
	quotaProject(t, project, cloudv1.ProjectQuota{VolumeGiB: ptr.To[int64](50)}, true)
	storageNode(t, "vs-store", "vs-zone", 20)
	v := volumeIs(t, newVolume(t, project, "vs", "vs-zone", 2), cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	given := func(size int32) {
		t.Helper()
		testenv.Eventually(t, longWait, fmt.Sprintf("given %d GiB", size), func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
				return err
			}
			if v.Status.SizeGiB != size {
				return fmt.Errorf("given %d GiB", v.Status.SizeGiB)
			}
			return nil
		})
	}
	given(2)
	// The copy a lagging cache would hold: grown, not yet given.
	stop()
	if err := testenv.Update(ctx, env.Client, v, func(v *cloudv1.Volume) { v.Spec.SizeGiB = 3 }); err != nil {
		t.Fatal(err)
	}
	old := v.DeepCopy()
	stop = startManager(t)
	given(3)
	stop()
	if m := v.Status.Modification; m == nil || m.EndTime == nil {
		t.Fatalf("the growth was given with modification %+v", m)
	}
	ended := *v.Status.Modification

	r := &volume.Reconciler{Client: staleVolume{Client: env.Client, old: old}, APIReader: env.Client, Clock: clock.RealClock{}}
	if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(v)}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
		t.Fatal(err)
	}
	if m := v.Status.Modification; m == nil || !reflect.DeepEqual(*m, ended) || v.Status.SizeGiB != 3 {
		t.Fatalf("after a reconcile of a stale copy: given %d GiB, modification %+v (was %+v)", v.Status.SizeGiB, m, ended)
	}
}
