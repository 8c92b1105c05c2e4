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

package cloud_test

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/internal/quota"
)

// testSnapshotQuota takes alice's project to its snapshot quota: CreateSnapshot past it answers
// SnapshotLimitExceeded and leaves no Snapshot behind; deleting one makes room again.
func testSnapshotQuota(t *testing.T, s *cloud.Service, volumeID string) {
	t.Helper()
	ctx := context.Background()
	objects := func() []cloudv1.Snapshot {
		t.Helper()
		list := &cloudv1.SnapshotList{}
		if err := env.Client.List(ctx, list, client.InNamespace("svc-a")); err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	held := len(objects())
	setQuota(t, "svc-a", func(q *cloudv1.ProjectQuota) { q.Snapshots = ptr.To(int32(held + 1)) })

	completed := func(id string) {
		t.Helper()
		until(t, id+" to complete", func() error {
			got, err := describeSnapshot(t, s, alice, id)
			if err != nil || got.State != "completed" {
				return fmt.Errorf("%+v %v", got, err)
			}
			return nil
		})
	}
	last, err := s.CreateSnapshot(ctx, alice, cloud.CreateSnapshotInput{VolumeID: volumeID, Description: "the last that fits"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err = s.CreateSnapshot(ctx, alice, cloud.CreateSnapshotInput{VolumeID: volumeID, Description: "one too many"})
		expectCode(t, err, cloud.CodeSnapshotLimit)
	}
	// A refused call withdraws the object it made; once its finalizer is lifted it is gone.
	var after []cloudv1.Snapshot
	until(t, "the refused calls' snapshots gone", func() error {
		if after = objects(); len(after) != held+1 {
			return fmt.Errorf("%d snapshot objects", len(after))
		}
		return nil
	})
	if len(after) != held+1 {
		t.Fatalf("%d snapshot objects after refusals, want %d: %+v", len(after), held+1, after)
	}
	for _, o := range after {
		if quota.IsMarkedPending(&o) || o.Spec.Description == "one too many" {
			t.Fatalf("a refused snapshot was left behind: %+v", o)
		}
	}

	completed(last.SnapshotID)
	if err := s.DeleteSnapshot(ctx, alice, cloud.SnapshotIDInput{SnapshotID: last.SnapshotID}); err != nil {
		t.Fatal(err)
	}
	var again *cloud.Snapshot
	until(t, "room for a snapshot again", func() error {
		again, err = s.CreateSnapshot(ctx, alice, cloud.CreateSnapshotInput{VolumeID: volumeID})
		return err
	})
	completed(again.SnapshotID)
	if err := s.DeleteSnapshot(ctx, alice, cloud.SnapshotIDInput{SnapshotID: again.SnapshotID}); err != nil {
		t.Fatal(err)
	}
}
