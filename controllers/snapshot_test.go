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
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// snapshotReason waits until the snapshot's Ready condition has the reason, and returns it.
func snapshotReason(t *testing.T, s *cloudv1.Snapshot, reason string) *cloudv1.Snapshot {
	t.Helper()
	testenv.Eventually(t, shortWait, s.Name+" "+reason, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		if c := conditions.Get(s, cloudv1.ReadyCondition); c == nil || c.Reason != reason {
			return fmt.Errorf("ready %+v, status %+v", c, s.Status)
		}
		return nil
	})
	return s
}

// A snapshot gets its id and waits for its volume's storage, then goes to the node exporting
// the volume. A snapshot in another project naming the volume's id never sees it, and one named
// like another project's snapshot id gets an id of its own.
func TestSnapshotsFindTheirVolumeInTheirOwnProjectOnly(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	a, b := newNamespace(t), newNamespace(t)

	// A zone no storage node has: the volume controller leaves its placement to this test, which
	// plays the storage node's part.
	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: a},
		Spec: cloudv1.VolumeSpec{SizeGiB: 3, AvailabilityZone: "snap-test-nowhere"}}
	if err := env.Client.Create(ctx, vol); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), vol) })
	testenv.Eventually(t, shortWait, "a volume id", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(vol), vol); err != nil || vol.Status.VolumeID == "" {
			return fmt.Errorf("volume %+v %v", vol.Status, err)
		}
		return nil
	})

	own := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: a}, Spec: cloudv1.SnapshotSpec{VolumeID: vol.Status.VolumeID}}
	if err := env.Client.Create(ctx, own); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, own, cloudv1.ReasonVolumeNotExported)
	if !strings.HasPrefix(own.Status.SnapshotID, "snap-") || own.Status.State != cloudv1.SnapshotPending ||
		own.Status.VolumeSizeGiB != 3 || own.Status.StartTime == nil || own.Status.Node != "" {
		t.Fatalf("a snapshot waiting for storage: %+v", own.Status)
	}

	// Another project names a's volume and a's snapshot id: it gets neither.
	thief := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: own.Status.SnapshotID, Namespace: b},
		Spec: cloudv1.SnapshotSpec{VolumeID: vol.Status.VolumeID}}
	if err := env.Client.Create(ctx, thief); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, thief, cloudv1.ReasonVolumeNotFound)
	if thief.Status.State != cloudv1.SnapshotError || thief.Status.SnapshotID == own.Status.SnapshotID ||
		thief.Status.Node != "" || thief.Status.VolumeSizeGiB != 0 {
		t.Fatalf("another project's snapshot of the volume: %+v", thief.Status)
	}

	// The volume gets storage (as its storage node's agent reports it): the snapshot goes there.
	vol.Status.AoE = &cloudv1.AoEAddress{Shelf: 1, Slot: 2, Node: "store-1"}
	if err := env.Client.Status().Update(ctx, vol); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, own, cloudv1.ReasonPending)
	if own.Status.Node != "store-1" || own.Status.State != cloudv1.SnapshotPending {
		t.Fatalf("a snapshot of an exported volume: %+v", own.Status)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(thief), thief); err != nil || thief.Status.Node != "" {
		t.Fatalf("the other project's snapshot went to a node: %+v %v", thief.Status, err)
	}

	// Deleting a snapshot its node is still copying waits for the node; once it has stopped, the
	// snapshot and its id go.
	if err := env.Client.Delete(ctx, own); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(own), own); err != nil || own.DeletionTimestamp.IsZero() {
		t.Fatalf("a snapshot being copied went at once: %v", err)
	}
	own.Status.State = cloudv1.SnapshotError
	if err := env.Client.Status().Update(ctx, own); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the deleted snapshot to go", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(own), own); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	// Its id is free again: a snapshot named by it now gets it.
	again := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: thief.Name, Namespace: a}, Spec: cloudv1.SnapshotSpec{VolumeID: vol.Status.VolumeID}}
	if err := env.Client.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, again, cloudv1.ReasonPending)
	if again.Status.SnapshotID != thief.Name {
		t.Fatalf("the released id %s went to %s", thief.Name, again.Status.SnapshotID)
	}
}

// Bad specs are refused by the API server: nothing is stored.
func TestSnapshotSpecValidation(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	for _, vol := range []string{"", "vol-123", "snap-0123456789abcdef0"} {
		s := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Spec: cloudv1.SnapshotSpec{VolumeID: vol}}
		if err := env.Client.Create(ctx, s); !apierrors.IsInvalid(err) {
			t.Errorf("volume id %q: %v", vol, err)
		}
	}
	s := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "ok", Namespace: ns}, Spec: cloudv1.SnapshotSpec{VolumeID: "vol-0123456789abcdef0"}}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Spec.VolumeID = "vol-0123456789abcdef1"
	if err := env.Client.Update(ctx, s); !apierrors.IsInvalid(err) {
		t.Fatalf("changing the volume of a snapshot: %v", err)
	}
	s.Spec.VolumeID = "vol-0123456789abcdef0"
	// A snapshot is of a volume or a copy of a snapshot: not both, not neither, and not changed.
	for _, spec := range []cloudv1.SnapshotSpec{{}, {VolumeID: "vol-0123456789abcdef0", SourceSnapshotID: "snap-0123456789abcdef0"},
		{SourceSnapshotID: "vol-0123456789abcdef0"}} {
		bad := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Spec: spec}
		if err := env.Client.Create(ctx, bad); !apierrors.IsInvalid(err) {
			t.Errorf("spec %+v: %v", spec, err)
		}
	}
	changed := s.DeepCopy()
	changed.Spec.VolumeID, changed.Spec.SourceSnapshotID = "", "snap-0123456789abcdef0"
	if err := env.Client.Update(ctx, changed); !apierrors.IsInvalid(err) {
		t.Fatalf("turning a snapshot into a copy: %v", err)
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("p%d", i)
	}
	for _, projects := range [][]string{{"Not_A_Project"}, {strings.Repeat("p", 64)}, {"a", "a"}, many} {
		s.Spec.CreateVolumePermission.Projects = projects
		if err := env.Client.Update(ctx, s); !apierrors.IsInvalid(err) {
			t.Errorf("sharing with %d projects %.20q: %v", len(projects), projects, err)
		}
	}
	s.Spec.CreateVolumePermission.Projects = []string{"a-project"}
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatalf("sharing with a project: %v", err)
	}
	v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "v", Namespace: ns}, Spec: cloudv1.VolumeSpec{SizeGiB: 1}}
	if err := env.Client.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	v.Spec.SnapshotID = "snap-0123456789abcdef0"
	if err := env.Client.Update(ctx, v); !apierrors.IsInvalid(err) {
		t.Fatalf("giving an existing volume a snapshot: %v", err)
	}
}

// A deleted snapshot keeps its objects while a volume or a copy (here another project's, of the
// shared snapshot) is being made of it, saying so, and goes once they are made or gone.
func TestDeletedSnapshotWaitsForTheVolumesMadeOfIt(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	a, b := newNamespace(t), newNamespace(t)
	storageNode(t, "sw-node", "sw-a", 100)
	src := volumeIs(t, newVolume(t, a, "src", "sw-a", 1), cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	snap := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: a}, Spec: cloudv1.SnapshotSpec{VolumeID: src.Status.VolumeID,
		CreateVolumePermission: cloudv1.CreateVolumePermission{Projects: []string{b}}}}
	if err := env.Client.Create(ctx, snap); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, snap, cloudv1.ReasonPending)
	if err := updateStatus(snap, func(s *cloudv1.Snapshot) {
		s.Status.State, s.Status.Progress = cloudv1.SnapshotCompleted, 100
	}); err != nil {
		t.Fatal(err)
	}
	filling := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "filling", Namespace: b},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "sw-a", SnapshotID: snap.Status.SnapshotID}}
	if err := env.Client.Create(ctx, filling); err != nil {
		t.Fatal(err)
	}
	volumeIs(t, filling, cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)

	// A copy of it in b under way (this manager has no object store, so it stays pending; its
	// progress is set as a copy that had begun would have it).
	copying := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "copying", Namespace: b},
		Spec: cloudv1.SnapshotSpec{SourceSnapshotID: snap.Status.SnapshotID}}
	if err := env.Client.Create(ctx, copying); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the copy to be pending", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(copying), copying); err != nil {
			return err
		}
		if copying.Status.State != cloudv1.SnapshotPending {
			return fmt.Errorf("state %q", copying.Status.State)
		}
		return nil
	})
	if err := updateStatus(copying, func(s *cloudv1.Snapshot) { s.Status.Progress = 40 }); err != nil {
		t.Fatal(err)
	}

	if err := env.Client.Delete(ctx, snap); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the deleted snapshot to wait for the volume and the copy", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(snap), snap); err != nil {
			return err
		}
		if c := conditions.Get(snap, cloudv1.ReadyCondition); snap.DeletionTimestamp.IsZero() || c == nil ||
			c.Reason != cloudv1.ReasonWaitingForVolumes || !strings.Contains(c.Message, "the 2 volume(s) and copies") {
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})
	// The volume made (its storage node reports it exported), and the copy deleted: the snapshot
	// goes; the volume stays.
	reportExported(t, filling, metav1.ConditionTrue, cloudv1.ReasonExported)
	testenv.Eventually(t, shortWait, "the wait for the copy alone", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(snap), snap); err != nil {
			return err
		}
		if c := conditions.Get(snap, cloudv1.ReadyCondition); c == nil || !strings.Contains(c.Message, "the 1 volume(s) and copies") {
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})
	if err := env.Client.Delete(ctx, copying); err != nil {
		t.Fatal(err)
	}
	gone(t, snap)
	volumeIs(t, filling, cloudv1.VolumeStateAvailable, cloudv1.ReasonReady)
}

// A copy made with kubectl resolves its source with its own project's permission: another
// project's snapshot not shared with it is not found (and the copy ends in error, having copied
// nothing); a source not completed yet keeps it waiting; a failed source fails it.
func TestSnapshotCopiesResolveTheirSourceForTheirProject(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	a, b := newNamespace(t), newNamespace(t)
	storageNode(t, "sc-node", "sc-a", 100)
	src := volumeIs(t, newVolume(t, a, "src", "sc-a", 1), cloudv1.VolumeStateCreating, cloudv1.ReasonExporting)
	snap := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: a}, Spec: cloudv1.SnapshotSpec{VolumeID: src.Status.VolumeID}}
	if err := env.Client.Create(ctx, snap); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, snap, cloudv1.ReasonPending)
	copyOf := func(ns, name string) *cloudv1.Snapshot {
		c := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cloudv1.SnapshotSpec{SourceSnapshotID: snap.Status.SnapshotID}}
		if err := env.Client.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	waiting := snapshotReason(t, copyOf(a, "waiting"), cloudv1.ReasonSourceNotCompleted)
	if waiting.Status.State != cloudv1.SnapshotPending {
		t.Fatalf("a copy of a pending snapshot is %q", waiting.Status.State)
	}
	stolen := snapshotReason(t, copyOf(b, "stolen"), cloudv1.ReasonSourceNotFound)
	if msg := conditions.Get(stolen, cloudv1.ReadyCondition).Message; stolen.Status.State != cloudv1.SnapshotError ||
		!strings.Contains(msg, "does not exist or is not shared with project "+b) || stolen.Status.VolumeSizeGiB != 0 {
		t.Fatalf("another project's copy: %q, %q, %d GiB", stolen.Status.State, msg, stolen.Status.VolumeSizeGiB)
	}
	// Its project is told, in an event of the copy, what its condition says.
	testenv.Eventually(t, shortWait, "the copy's SourceNotFound event", func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace(b)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == cloudv1.ReasonSourceNotFound && e.Type == corev1.EventTypeWarning && e.Regarding.Name == "stolen" &&
				strings.Contains(e.Note, "is not shared with project "+b) {
				return nil
			}
		}
		return fmt.Errorf("%d events, none SourceNotFound", len(list.Items))
	})
	// The source fails: the waiting copy fails with it.
	if err := updateStatus(snap, func(s *cloudv1.Snapshot) { s.Status.State = cloudv1.SnapshotError }); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the copy of a failed snapshot to fail", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(waiting), waiting); err != nil {
			return err
		}
		if c := conditions.Get(waiting, cloudv1.ReadyCondition); waiting.Status.State != cloudv1.SnapshotError || c == nil || c.Reason != cloudv1.ReasonSourceNotCompleted {
			return fmt.Errorf("state %q, ready %+v", waiting.Status.State, c)
		}
		return nil
	})
}
