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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// A snapshot made with kubectl past its project's snapshot quota waits with Ready=False
// (QuotaExceeded) and is given nothing: no id, no node, no copy. Room made by deleting a
// snapshot or by raising the quota lets it in.
func TestSnapshotQuotaOfKubectlSnapshots(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	project := "snapquota"
	quotaProject(t, project, cloudv1.ProjectQuota{Snapshots: ptr.To[int32](1)}, true)

	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: project},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "snapquota-nowhere"}}
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
	snap := func(name string) *cloudv1.Snapshot {
		s := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
			Spec: cloudv1.SnapshotSpec{VolumeID: vol.Status.VolumeID}}
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), s) })
		return s
	}
	refusedMadeNothing := func(s *cloudv1.Snapshot) {
		t.Helper()
		snapshotReason(t, s, cloudv1.ReasonQuotaExceeded)
		if s.Status.SnapshotID != "" || s.Status.State != "" || s.Status.Node != "" || s.Labels[cloudv1.LabelStorageNode] != "" {
			t.Fatalf("a snapshot over the quota was started: %+v labels %v", s.Status, s.Labels)
		}
	}

	first := snapshotReason(t, snap("first"), cloudv1.ReasonVolumeNotExported)
	second := snap("second")
	refusedMadeNothing(second)

	// Deleting the first makes room: the second starts.
	if err := env.Client.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the first snapshot to go", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(first), first); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	snapshotReason(t, second, cloudv1.ReasonVolumeNotExported)
	if second.Status.SnapshotID == "" || second.Status.State != cloudv1.SnapshotPending {
		t.Fatalf("the admitted snapshot: %+v", second.Status)
	}

	// A third waits until the project's quota is raised.
	third := snap("third")
	refusedMadeNothing(third)
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: project}}
	if err := testenv.Update(ctx, env.Client, p, func(p *cloudv1.Project) { p.Spec.Quota.Snapshots = ptr.To[int32](2) }); err != nil {
		t.Fatal(err)
	}
	snapshotReason(t, third, cloudv1.ReasonVolumeNotExported)
}
