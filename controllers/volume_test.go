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
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/testenv"
)

// storageNode registers a Ready storage node (as its agent and the hypervisor controller would
// make it) and removes it when the test ends.
func storageNode(t *testing.T, name, zone string, capacityGiB int64) *cloudv1.Hypervisor {
	t.Helper()
	ctx := context.Background()
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.HypervisorSpec{Zone: zone}}
	if err := env.Client.Create(ctx, hv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), hv) })
	now := metav1.Now()
	if err := updateStatus(hv, func(hv *cloudv1.Hypervisor) {
		hv.Status.Storage = &cloudv1.StorageStatus{CapacityGiB: capacityGiB, Interface: "aoe0"}
		hv.Status.LastHeartbeatTime = &now
		hv.Status.Capacity = cloudv1.Resources{VCPUs: 1, MemoryMiB: 1024}
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, name+" Ready", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(hv), hv); err != nil {
			return err
		}
		if !conditions.IsTrue(hv, cloudv1.ReadyCondition) {
			return fmt.Errorf("conditions %+v", hv.Status.Conditions)
		}
		return nil
	})
	return hv
}

func newVolume(t *testing.T, ns, name, zone string, size int32) *cloudv1.Volume {
	t.Helper()
	v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cloudv1.VolumeSpec{SizeGiB: size, AvailabilityZone: zone}}
	if err := env.Client.Create(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v
}

// volumeIs waits until the volume's state and Ready reason are as given, and returns it.
func volumeIs(t *testing.T, v *cloudv1.Volume, state cloudv1.VolumeState, reason string) *cloudv1.Volume {
	t.Helper()
	testenv.Eventually(t, shortWait, fmt.Sprintf("%s %s/%s", v.Name, state, reason), func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(v), v); err != nil {
			return err
		}
		if c := conditions.Get(v, cloudv1.ReadyCondition); v.Status.State != state || c == nil || c.Reason != reason {
			return fmt.Errorf("state %q ready %+v aoe %+v", v.Status.State, c, v.Status.AoE)
		}
		return nil
	})
	return v
}

// reportExported sets the storage agent's condition, as the agent would.
func reportExported(t *testing.T, v *cloudv1.Volume, status metav1.ConditionStatus, reason string) {
	t.Helper()
	if err := updateStatus(v, func(v *cloudv1.Volume) {
		meta.SetStatusCondition(&v.Status.Conditions, metav1.Condition{Type: cloudv1.VolumeExported, Status: status, Reason: reason, Message: "test"})
	}); err != nil {
		t.Fatal(err)
	}
}

func gone(t *testing.T, o client.Object) {
	t.Helper()
	testenv.Eventually(t, shortWait, o.GetName()+" gone", func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v), finalizers %v", err, o.GetFinalizers())
		}
		return nil
	})
}

// Volumes go to a Ready storage node of their zone with room, the one with the most free GiB;
// without one they wait (NoStorageNode). States follow the agents' reports; a deleted volume
// waits for its attachment to go and for its node to remove the export, then frees its address
// and its GiB, which a waiting volume then takes.
func TestVolumePlacementAndStates(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	ns := newNamespace(t)
	storageNode(t, "vp-big", "vp-a", 10)
	storageNode(t, "vp-small", "vp-a", 5)
	storageNode(t, "vp-other", "vp-b", 4)

	big := volumeIs(t, newVolume(t, ns, "big", "vp-a", 8), cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	small := volumeIs(t, newVolume(t, ns, "small", "vp-a", 5), cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	other := volumeIs(t, newVolume(t, ns, "other", "vp-b", 4), cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	for v, node := range map[*cloudv1.Volume]string{big: "vp-big", small: "vp-small", other: "vp-other"} {
		if v.Status.AoE == nil || v.Status.AoE.Node != node || v.Labels[cloudv1.LabelStorageNode] != node ||
			v.Status.AvailabilityZone == "" || !contains(v.Finalizers, cloudv1.VolumeFinalizer) {
			t.Fatalf("%s: aoe %+v labels %v zone %q finalizers %v, want node %s", v.Name, v.Status.AoE, v.Labels, v.Status.AvailabilityZone, v.Finalizers, node)
		}
	}
	// Zone vp-a has 2 GiB left, zone vp-c no node at all.
	waiting := volumeIs(t, newVolume(t, ns, "waiting", "vp-a", 3), cloudv1.VolumeStateCreating, cloudv1.ReasonNoStorageNode)
	nowhere := volumeIs(t, newVolume(t, ns, "nowhere", "vp-c", 1), cloudv1.VolumeStateCreating, cloudv1.ReasonNoStorageNode)
	if waiting.Status.AoE != nil || nowhere.Status.AoE != nil || waiting.Labels[cloudv1.LabelStorageNode] != "" {
		t.Fatalf("an unplaced volume has storage: %+v %+v", waiting.Status.AoE, nowhere.Status.AoE)
	}

	// The agents report: exported → available; attached → in-use.
	reportExported(t, big, metav1.ConditionTrue, cloudv1.ReasonExported)
	volumeIs(t, big, cloudv1.VolumeStateAvailable, cloudv1.ReasonReady)
	if err := updateStatus(big, func(v *cloudv1.Volume) {
		v.Status.Attachment = &cloudv1.VolumeAttachment{InstanceID: "i-0123456789abcdef0", Device: "/dev/vdb", State: cloudv1.AttachmentAttached}
	}); err != nil {
		t.Fatal(err)
	}
	volumeIs(t, big, cloudv1.VolumeStateInUse, cloudv1.ReasonReady)
	reportExported(t, other, metav1.ConditionFalse, cloudv1.ReasonExportFailed)
	volumeIs(t, other, cloudv1.VolumeStateError, cloudv1.ReasonExportFailed)

	// Deleted while attached: it waits for the detach, then for its node's cleanup.
	addr := fmt.Sprintf("aoe-%d-%d", big.Status.AoE.Shelf, big.Status.AoE.Slot)
	if err := env.Client.Delete(ctx, big); err != nil {
		t.Fatal(err)
	}
	volumeIs(t, big, cloudv1.VolumeStateDeleting, cloudv1.ReasonWaitingForDetach)
	if err := updateStatus(big, func(v *cloudv1.Volume) {
		v.Status.Attachment.State = cloudv1.AttachmentDetached
	}); err != nil {
		t.Fatal(err)
	}
	volumeIs(t, big, cloudv1.VolumeStateDeleting, cloudv1.ReasonDeleting)
	claim := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: addr}, claim); err != nil {
		t.Fatalf("the address claim went before the export: %v", err)
	}
	reportExported(t, big, metav1.ConditionFalse, cloudv1.ReasonUnexported)
	bigUID := string(big.UID)
	gone(t, big)
	// The address is released (and may be taken at once by the waiting volume).
	testenv.Eventually(t, shortWait, "the address released", func() error {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: addr}, claim)
		if apierrors.IsNotFound(err) || (err == nil && claim.Labels[ipam.LabelHolder] != bigUID) {
			return nil
		}
		return fmt.Errorf("claim %s: %v %v", addr, claim.Labels, err)
	})
	// Its 8 GiB are free: the waiting volume takes them.
	waiting = volumeIs(t, waiting, cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	if waiting.Status.AoE == nil || waiting.Status.AoE.Node != "vp-big" {
		t.Fatalf("the waiting volume went to %+v", waiting.Status.AoE)
	}

	// A volume whose storage node is gone is released without its cleanup.
	if err := env.Client.Delete(ctx, other); err != nil {
		t.Fatal(err)
	}
	volumeIs(t, other, cloudv1.VolumeStateDeleting, cloudv1.ReasonDeleting)
	if err := env.Client.Delete(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "vp-other"}}); err != nil {
		t.Fatal(err)
	}
	gone(t, other)
}

// A volume in one project naming another project's snapshot finds it only once that project
// shares it (with it, or with everyone); a snapshot that is not completed or is larger than the
// volume keeps the volume from being made.
func TestVolumeFromSnapshotIsResolvedForItsOwnProject(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	a, b, c := newNamespace(t), newNamespace(t), newNamespace(t)
	storageNode(t, "vs-node", "vs-a", 100)
	src := volumeIs(t, newVolume(t, a, "src", "vs-a", 2), cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	snap := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: a}, Spec: cloudv1.SnapshotSpec{VolumeID: src.Status.VolumeID}}
	if err := env.Client.Create(ctx, snap); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, snap, cloudv1.ReasonPending)
	if snap.Labels[cloudv1.LabelStorageNode] != "vs-node" {
		t.Fatalf("snapshot labels %v", snap.Labels)
	}
	fromSnap := func(ns, name string, size int32) *cloudv1.Volume {
		v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: cloudv1.VolumeSpec{SizeGiB: size, AvailabilityZone: "vs-a", SnapshotID: snap.Status.SnapshotID}}
		if err := env.Client.Create(ctx, v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	early := volumeIs(t, fromSnap(a, "early", 2), cloudv1.VolumeStateCreating, cloudv1.ReasonSnapshotNotCompleted)

	// The node completes the copy (as its agent would).
	if err := updateStatus(snap, func(s *cloudv1.Snapshot) {
		s.Status.State, s.Status.Progress = cloudv1.SnapshotCompleted, 100
	}); err != nil {
		t.Fatal(err)
	}
	if early = volumeIs(t, early, cloudv1.VolumeStateCreating, cloudv1.ReasonExporting); early.Status.SnapshotOwner != a {
		t.Fatalf("the volume of its own project's snapshot reads from %q", early.Status.SnapshotOwner)
	}
	tooSmall := volumeIs(t, fromSnap(a, "too-small", 1), cloudv1.VolumeStateError, cloudv1.ReasonSizeTooSmall)
	// A kubectl user of project b names a's snapshot: it is not found, and nothing is made.
	manifest := fmt.Sprintf(`apiVersion: cloud.pinet.io/v1alpha1
kind: Volume
metadata: {name: stolen, namespace: %s}
spec: {sizeGiB: 2, availabilityZone: vs-a, snapshotId: %s}
`, b, snap.Status.SnapshotID)
	if _, err := kubectl(t, env.Config, manifest, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	stolen := volumeIs(t, &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "stolen", Namespace: b}},
		cloudv1.VolumeStateError, cloudv1.ReasonSnapshotNotFound)
	if cond := conditions.Get(stolen, cloudv1.ReadyCondition); !strings.Contains(cond.Message, "does not exist or is not shared with project "+b) {
		t.Fatalf("the refusal says %q", cond.Message)
	}

	// Shared with b (its owner edits the Snapshot, as kubectl would): b's volume is made, read
	// from a's part of the bucket; c's is still refused, until a makes the snapshot public.
	share := func(perm cloudv1.CreateVolumePermission) {
		t.Helper()
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(snap), snap); err != nil {
			t.Fatal(err)
		}
		before := snap.DeepCopy()
		snap.Spec.CreateVolumePermission = perm
		if err := env.Client.Patch(ctx, snap, client.MergeFrom(before)); err != nil {
			t.Fatal(err)
		}
	}
	share(cloudv1.CreateVolumePermission{Projects: []string{b}})
	shared := volumeIs(t, stolen, cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	if shared.Status.SnapshotOwner != a || shared.Status.AoE == nil {
		t.Fatalf("b's volume of the shared snapshot: owner %q, placed %+v", shared.Status.SnapshotOwner, shared.Status.AoE)
	}
	fromC := volumeIs(t, fromSnap(c, "c-vol", 2), cloudv1.VolumeStateError, cloudv1.ReasonSnapshotNotFound)
	share(cloudv1.CreateVolumePermission{Public: true})
	if fromC = volumeIs(t, fromC, cloudv1.VolumeStateCreating, cloudv1.ReasonExporting); fromC.Status.SnapshotOwner != a {
		t.Fatalf("c's volume of the public snapshot reads from %q", fromC.Status.SnapshotOwner)
	}
	// Private again: the volumes made stay made; a new one of b is refused.
	share(cloudv1.CreateVolumePermission{})
	late := volumeIs(t, fromSnap(b, "late", 2), cloudv1.VolumeStateError, cloudv1.ReasonSnapshotNotFound)
	volumeIs(t, shared, cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)

	// A copy its node failed: the snapshot says so, and a volume from it is not made.
	failed := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "failed", Namespace: a}, Spec: cloudv1.SnapshotSpec{VolumeID: src.Status.VolumeID}}
	if err := env.Client.Create(ctx, failed); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, failed, cloudv1.ReasonPending)
	if err := updateStatus(failed, func(s *cloudv1.Snapshot) { s.Status.State = cloudv1.SnapshotError }); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, failed, cloudv1.ReasonSnapshotFailed)
	fromFailed := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "from-failed", Namespace: a},
		Spec: cloudv1.VolumeSpec{SizeGiB: 2, AvailabilityZone: "vs-a", SnapshotID: failed.Status.SnapshotID}}
	if err := env.Client.Create(ctx, fromFailed); err != nil {
		t.Fatal(err)
	}
	volumeIs(t, fromFailed, cloudv1.VolumeStateError, cloudv1.ReasonSnapshotNotCompleted)
	for _, v := range []*cloudv1.Volume{tooSmall, late, fromFailed} {
		if v.Status.AoE != nil || v.Labels[cloudv1.LabelStorageNode] != "" {
			t.Fatalf("%s was placed: %+v", v.Name, v.Status.AoE)
		}
	}
	// Refused volumes go at once: they hold nothing.
	for _, v := range []*cloudv1.Volume{tooSmall, late, fromFailed} {
		if err := env.Client.Delete(ctx, v); err != nil {
			t.Fatal(err)
		}
		gone(t, v)
	}
}

// A hundred volumes made at once get a hundred distinct AoE addresses, each held by one claim.
func TestConcurrentVolumesGetDistinctAddresses(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	ns := newNamespace(t)
	storageNode(t, "vc-node", "vc-a", 1000)
	const n = 100
	vols := make([]*cloudv1.Volume, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range vols {
		vols[i] = &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("v%03d", i), Namespace: ns},
			Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "vc-a"}}
		wg.Go(func() { errs[i] = env.Client.Create(ctx, vols[i]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]string{}
	testenv.Eventually(t, 3*longWait, "every volume placed", func() error {
		list := &cloudv1.VolumeList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		clear(seen)
		for _, v := range list.Items {
			if v.Status.AoE == nil {
				return fmt.Errorf("%s not placed yet", v.Name)
			}
			a := fmt.Sprintf("%d.%d", v.Status.AoE.Shelf, v.Status.AoE.Slot)
			if other, dup := seen[a]; dup {
				t.Fatalf("%s given to %s and %s", a, other, v.Name)
			}
			seen[a] = v.Name
		}
		if len(seen) != n {
			return fmt.Errorf("%d of %d placed", len(seen), n)
		}
		return nil
	})
	for a := range seen {
		addr, err := ipam.ParseAoEAddress(a)
		if err != nil || addr.Shelf < 1 || addr.Shelf > 100 {
			t.Fatalf("address %s outside the default shelves: %v", a, err)
		}
	}
	// With their node gone, they all go and free their addresses.
	if err := env.Client.Delete(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "vc-node"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.DeleteAllOf(ctx, &cloudv1.Volume{}, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "every volume gone", func() error {
		list := &cloudv1.VolumeList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil || len(list.Items) > 0 {
			return fmt.Errorf("%d left (%v)", len(list.Items), err)
		}
		return nil
	})
}

// updateStatus rewrites an object's status as an agent would, again on conflicts.
func updateStatus[T client.Object](obj T, mutate func(T)) error {
	ctx := context.Background()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return env.Client.Status().Update(ctx, obj)
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A volume asked to attach to an instance bound to a node carries that node's attach label; once
// the instance is terminated the label stays while the attach agent still reports the
// attachment, and goes when it reports it detached.
func TestVolumeAttachNodeLabel(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	ns := newNamespace(t)
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: ns, Labels: map[string]string{cloudv1.LabelHypervisor: "va-node"}},
		Spec:       cloudv1.InstanceSpec{ImageID: "ami-00000000000000000", InstanceType: "m1.tiny"},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "an instance id", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil || inst.Status.InstanceID == "" {
			return fmt.Errorf("no id yet (%v)", err)
		}
		return nil
	})
	v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns}, Spec: cloudv1.VolumeSpec{SizeGiB: 1,
		AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: inst.Status.InstanceID, Device: "/dev/vdb"}}}
	if err := env.Client.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	label := func(want string) {
		t.Helper()
		testenv.Eventually(t, shortWait, "attach label "+want, func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
				return err
			}
			if got := v.Labels[cloudv1.LabelAttachNode]; got != want {
				return fmt.Errorf("label %q", got)
			}
			return nil
		})
	}
	label("va-node")
	// Another project's volume naming the instance's id gets no label.
	thief := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "thief", Namespace: newNamespace(t)}, Spec: cloudv1.VolumeSpec{SizeGiB: 1,
		AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: inst.Status.InstanceID, Device: "/dev/vdb"}}}
	if err := env.Client.Create(ctx, thief); err != nil {
		t.Fatal(err)
	}
	volumeIs(t, thief, cloudv1.VolumeStateCreating, cloudv1.ReasonNoStorageNode)
	if thief.Labels[cloudv1.LabelAttachNode] != "" {
		t.Fatalf("another project's volume is labelled for the instance's node: %v", thief.Labels)
	}

	if err := updateStatus(v, func(v *cloudv1.Volume) {
		v.Status.Attachment = &cloudv1.VolumeAttachment{InstanceID: inst.Status.InstanceID, Device: "/dev/vdb", State: cloudv1.AttachmentAttached}
	}); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Update(ctx, env.Client, inst, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredTerminated }); err != nil {
		t.Fatal(err)
	}
	label("va-node") // still attached: the agent must see it to detach
	if err := updateStatus(v, func(v *cloudv1.Volume) { v.Status.Attachment.State = cloudv1.AttachmentDetached }); err != nil {
		t.Fatal(err)
	}
	label("")
}

// With every AoE address of the configured shelves taken, a volume waits (AddressesExhausted)
// and holds nothing; it gets the first address freed.
func TestVolumeWaitsForAnAoEAddress(t *testing.T) {
	startManagerWith(t, controllers.Options{AoEShelves: ipam.AoEShelves{First: 65000, Last: 65000}})
	ctx := context.Background()
	ns := newNamespace(t)
	storageNode(t, "vx-node", "vx-a", 10)
	// Another allocator (a manager of the past, say) holds every address of the shelf.
	al := &ipam.Allocator{Client: env.Client, Reader: env.Client, Namespace: testenv.SystemNamespace}
	shelf := ipam.AoEShelves{First: 65000, Last: 65000}
	// Volumes other tests left waiting may take some of the shelf too: hold whatever is left.
	var freed cloudv1.AoEAddress
	for i := 0; i < 255; i++ {
		a, err := al.AllocateAoE(ctx, shelf, fmt.Sprintf("vx-holder-%d", i))
		if errors.Is(err, ipam.ErrExhausted) && i > 0 {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			freed = cloudv1.AoEAddress{Shelf: a.Shelf, Slot: a.Slot}
		}
	}
	t.Cleanup(func() {
		for i := 0; i < 255; i++ {
			_ = al.Release(context.Background(), ipam.AoELabel, fmt.Sprintf("vx-holder-%d", i))
		}
	})
	v := volumeIs(t, newVolume(t, ns, "late", "vx-a", 1), cloudv1.VolumeStateCreating, cloudv1.ReasonAddressesExhausted)
	if v.Status.AoE != nil || v.Labels[cloudv1.LabelStorageNode] != "" {
		t.Fatalf("a volume without an address was placed: %+v %v", v.Status.AoE, v.Labels)
	}
	if held, err := al.Held(ctx, ipam.AoELabel, string(v.UID)); err != nil || len(held) != 0 {
		t.Fatalf("the volume holds %v (%v)", held, err)
	}
	if err := al.Release(ctx, ipam.AoELabel, "vx-holder-0"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "the freed address taken", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
			return err
		}
		if a := v.Status.AoE; a == nil || a.Shelf != freed.Shelf || a.Slot != freed.Slot {
			return fmt.Errorf("aoe %+v, want %d.%d", a, freed.Shelf, freed.Slot)
		}
		return nil
	})
}
