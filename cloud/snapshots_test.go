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
	"slices"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// snapshotTestZone is the zone of the snapshot tests' real storage node.
const snapshotTestZone = "svc-snap-zone"

// availableVolume creates a volume of alice's on the storage node of snapshotTestZone and waits
// until it is exported.
func availableVolume(t *testing.T, s *cloud.Service, in cloud.CreateVolumeInput) cloud.Volume {
	t.Helper()
	in.AvailabilityZone = snapshotTestZone
	var v *cloud.Volume
	until(t, "a volume in "+snapshotTestZone, func() error {
		var err error
		v, err = s.CreateVolume(context.Background(), alice, in)
		if err != nil && codeOf(err) != cloud.CodeZoneNotFound {
			t.Fatalf("creating a volume: %v", err)
		}
		return err
	})
	var got cloud.Volume
	until(t, v.VolumeID+" to be available", func() error {
		vols, _, err := s.DescribeVolumes(context.Background(), alice, cloud.DescribeVolumesInput{VolumeIDs: []string{v.VolumeID}})
		if err != nil {
			return err
		}
		if got = vols[0]; got.State != "available" {
			return fmt.Errorf("state %s", got.State)
		}
		return nil
	})
	return got
}

func describeSnapshot(t *testing.T, s *cloud.Service, c cloud.Caller, id string) (cloud.Snapshot, error) {
	t.Helper()
	snaps, _, err := s.DescribeSnapshots(context.Background(), c, cloud.DescribeSnapshotsInput{SnapshotIDs: []string{id}})
	if err != nil {
		return cloud.Snapshot{}, err
	}
	return snaps[0], nil
}

// TestSnapshotsOfAProject snapshots a volume on a real storage node and makes a volume of the
// snapshot, all as alice; bob and a stranger reach none of it.
func TestSnapshotsOfAProject(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	svcCloud.AddStorageNode(t, "svc-snap-store", snapshotTestZone, 10)
	vol := availableVolume(t, s, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](3)})

	_, err := s.CreateSnapshot(ctx, alice, cloud.CreateSnapshotInput{VolumeID: vol.VolumeID, DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	_, err = s.CreateSnapshot(ctx, stranger, cloud.CreateSnapshotInput{VolumeID: vol.VolumeID})
	expectCode(t, err, cloud.CodeUnauthorized)
	_, err = s.CreateSnapshot(ctx, bob, cloud.CreateSnapshotInput{VolumeID: vol.VolumeID})
	expectCode(t, err, cloud.CodeVolumeNotFound)
	_, err = s.CreateSnapshot(ctx, alice, cloud.CreateSnapshotInput{VolumeID: vol.VolumeID, Description: strings.Repeat("x", 256)})
	expectCode(t, err, cloud.CodeInvalidParameter)
	_, err = s.CreateSnapshot(ctx, alice, cloud.CreateSnapshotInput{VolumeID: vol.VolumeID,
		TagSpecifications: []cloud.TagSpecification{{ResourceType: "snapshot", Tags: []cloud.Tag{{Key: "aws:x"}}}}})
	expectCode(t, err, cloud.CodeInvalidParameter)
	if snaps, _, err := s.DescribeSnapshots(ctx, alice, cloud.DescribeSnapshotsInput{}); err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots after refused calls: %+v (%v)", snaps, err)
	}

	snap, err := s.CreateSnapshot(ctx, alice, cloud.CreateSnapshotInput{VolumeID: vol.VolumeID, Description: "before the upgrade",
		TagSpecifications: tagSpecs("snapshot", "app", "db")})
	if err != nil {
		t.Fatal(err)
	}
	if snap.State != "pending" || snap.VolumeID != vol.VolumeID || snap.VolumeSizeGiB != 3 || snap.OwnerID != "svc-a" ||
		snap.Description != "before the upgrade" || snap.Tags["app"] != "db" || snap.StartTime.IsZero() {
		t.Fatalf("created %+v", snap)
	}
	until(t, snap.SnapshotID+" to complete", func() error {
		got, err := describeSnapshot(t, s, alice, snap.SnapshotID)
		if err != nil {
			return err
		}
		if got.State != "completed" || got.Progress != "100%" {
			return fmt.Errorf("%s %s %s", got.State, got.Progress, got.StateMessage)
		}
		return nil
	})

	// Bob: alice's snapshot is not found wherever he names it, and not among his.
	_, err = describeSnapshot(t, s, bob, snap.SnapshotID)
	expectCode(t, err, cloud.CodeSnapshotNotFound)
	expectCode(t, s.DeleteSnapshot(ctx, bob, cloud.SnapshotIDInput{SnapshotID: snap.SnapshotID}), cloud.CodeSnapshotNotFound)
	_, err = s.CreateVolume(ctx, bob, cloud.CreateVolumeInput{SnapshotID: snap.SnapshotID, AvailabilityZone: snapshotTestZone})
	expectCode(t, err, cloud.CodeSnapshotNotFound)
	for _, owners := range [][]string{nil, {"svc-a"}, {"self"}} {
		if snaps, _, err := s.DescribeSnapshots(ctx, bob, cloud.DescribeSnapshotsInput{OwnerIDs: owners}); err != nil || len(snaps) != 0 {
			t.Fatalf("bob sees %+v with owners %v (%v)", snaps, owners, err)
		}
	}
	_, _, err = s.DescribeSnapshots(ctx, stranger, cloud.DescribeSnapshotsInput{})
	expectCode(t, err, cloud.CodeUnauthorized)

	// Alice filters, and makes a volume of it: the snapshot's size unless larger.
	for _, f := range []query.Filter{{Name: "volume-id", Values: []string{vol.VolumeID}}, {Name: "status", Values: []string{"completed"}},
		{Name: "tag:app", Values: []string{"db"}}, {Name: "description", Values: []string{"*upgrade"}}, {Name: "volume-size", Values: []string{"3"}}} {
		snaps, _, err := s.DescribeSnapshots(ctx, alice, cloud.DescribeSnapshotsInput{Filters: []query.Filter{f}, OwnerIDs: []string{"self"}})
		if err != nil || len(snaps) != 1 || snaps[0].SnapshotID != snap.SnapshotID {
			t.Fatalf("filter %s: %+v (%v)", f.Name, snaps, err)
		}
	}
	_, err = s.CreateVolume(ctx, alice, cloud.CreateVolumeInput{SnapshotID: snap.SnapshotID, SizeGiB: ptr.To[int32](2), AvailabilityZone: snapshotTestZone})
	expectCode(t, err, cloud.CodeInvalidParameter)
	_, err = s.CreateVolume(ctx, alice, cloud.CreateVolumeInput{SnapshotID: "snap-1", AvailabilityZone: snapshotTestZone})
	expectCode(t, err, cloud.CodeSnapshotMalformed)
	restored := availableVolume(t, s, cloud.CreateVolumeInput{SnapshotID: snap.SnapshotID})
	if restored.SizeGiB != 3 || restored.SnapshotID != snap.SnapshotID {
		t.Fatalf("restored %+v", restored)
	}
	if got := volumeObject(t, "svc-a", restored.VolumeID).Spec.SnapshotID; got != snap.SnapshotID {
		t.Fatalf("spec.snapshotId %q", got)
	}
	bigger := availableVolume(t, s, cloud.CreateVolumeInput{SnapshotID: snap.SnapshotID, SizeGiB: ptr.To[int32](4)})
	if bigger.SizeGiB != 4 {
		t.Fatalf("bigger %+v", bigger)
	}

	// Tags by the snapshot's id, as for any taggable kind: alice's land, bob's are NotFound and
	// change nothing.
	if err := s.CreateTags(ctx, alice, cloud.CreateTagsInput{ResourceIDs: []string{snap.SnapshotID}, Tags: []cloud.Tag{{Key: "tier", Value: "gold"}}}); err != nil {
		t.Fatal(err)
	}
	expectCode(t, s.CreateTags(ctx, bob, cloud.CreateTagsInput{ResourceIDs: []string{snap.SnapshotID}, Tags: []cloud.Tag{{Key: "tier", Value: "bob"}}}),
		cloud.CodeSnapshotNotFound)
	expectCode(t, s.DeleteTags(ctx, bob, cloud.DeleteTagsInput{ResourceIDs: []string{snap.SnapshotID}}), cloud.CodeSnapshotNotFound)
	tags, _, err := s.DescribeTags(ctx, alice, cloud.DescribeTagsInput{Filters: []query.Filter{{Name: "resource-type", Values: []string{"snapshot"}}}})
	if err != nil || fmt.Sprint(tags) != fmt.Sprintf("[{%[1]s snapshot app db} {%[1]s snapshot tier gold}]", snap.SnapshotID) {
		t.Fatalf("alice's snapshot tags: %+v (%v)", tags, err)
	}
	if tags, _, err := s.DescribeTags(ctx, bob, cloud.DescribeTagsInput{}); err != nil || len(tags) != 0 {
		t.Fatalf("bob's tags: %+v (%v)", tags, err)
	}
	if err := s.DeleteTags(ctx, alice, cloud.DeleteTagsInput{ResourceIDs: []string{snap.SnapshotID}, Tags: []cloud.TagToDelete{{Key: "tier"}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := describeSnapshot(t, s, alice, snap.SnapshotID); err != nil || fmt.Sprint(got.Tags) != "map[app:db]" {
		t.Fatalf("tags after DeleteTags: %+v (%v)", got.Tags, err)
	}

	testSnapshotQuota(t, s, vol.VolumeID)

	// Deleted, it is gone.
	expectCode(t, s.DeleteSnapshot(ctx, alice, cloud.SnapshotIDInput{SnapshotID: snap.SnapshotID, DryRun: true}), cloud.CodeDryRun)
	if err := s.DeleteSnapshot(ctx, alice, cloud.SnapshotIDInput{SnapshotID: snap.SnapshotID}); err != nil {
		t.Fatal(err)
	}
	snaps, _, err := s.DescribeSnapshots(ctx, alice, cloud.DescribeSnapshotsInput{})
	if err != nil || slices.ContainsFunc(snaps, func(x cloud.Snapshot) bool { return x.SnapshotID == snap.SnapshotID }) {
		t.Fatalf("after delete: %+v (%v)", snaps, err)
	}
	expectCode(t, s.DeleteSnapshot(ctx, alice, cloud.SnapshotIDInput{SnapshotID: snap.SnapshotID}), cloud.CodeSnapshotNotFound)
	for _, id := range []string{vol.VolumeID, restored.VolumeID, bigger.VolumeID} {
		if err := s.DeleteVolume(ctx, alice, cloud.VolumeIDInput{VolumeID: id}); err != nil {
			t.Fatal(err)
		}
	}
}
