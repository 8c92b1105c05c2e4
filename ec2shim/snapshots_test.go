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

package ec2shim_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

func snapshotIDsOf(snaps []types.Snapshot) []string {
	return idsOf(snaps, func(s types.Snapshot) *string { return s.SnapshotId })
}

// waitSnapshot waits until the snapshot is completed and returns it.
func waitSnapshot(t *testing.T, cl *ec2.Client, id string) types.Snapshot {
	t.Helper()
	var snap types.Snapshot
	testenv.Eventually(t, longWait, id+" to complete", func() error {
		out, err := cl.DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
		if err != nil {
			return err
		}
		snap = out.Snapshots[0]
		if snap.State != types.SnapshotStateCompleted {
			return fmt.Errorf("%s %s %s", snap.State, aws.ToString(snap.Progress), aws.ToString(snap.StateMessage))
		}
		return nil
	})
	return snap
}

// backingFileOf is the backing file of a volume of the project on the storage node.
func backingFileOf(t *testing.T, store *testcloud.Node, project, volID string) string {
	t.Helper()
	v := &cloudv1.Volume{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: project, Name: volID}, v); err != nil {
		t.Fatal(err)
	}
	return store.BackingFile(string(v.UID))
}

// TestSnapshotToNewVolume snapshots a volume holding a pattern (written into its backing file
// on the real storage node), makes a new volume from the snapshot through EC2 and finds the same
// bytes in the new volume's backing file; then deletes the snapshot.
func TestSnapshotToNewVolume(t *testing.T) {
	store, cl, _ := tenantWithStorage(t, "snapflow")
	ctx := context.Background()
	vol := newVolume(t, cl, "snapflow-zone", 2)
	waitVolumeState(t, cl, vol, types.VolumeStateAvailable, "none")
	pattern := bytes.Repeat([]byte("pinet-snap"), 6554)
	f, err := os.OpenFile(backingFileOf(t, store, "snapflow", vol), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{1 << 20, 1<<30 + 12345} {
		if _, err := f.WriteAt(pattern, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	before := time.Now().Add(-time.Minute)
	created, err := cl.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), Description: aws.String("nightly"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
			Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("backup")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	snap := aws.ToString(created.SnapshotId)
	if !ids.Valid(ids.Snapshot, snap) || aws.ToString(created.VolumeId) != vol || created.State != types.SnapshotStatePending ||
		aws.ToInt32(created.VolumeSize) != 2 || aws.ToString(created.Description) != "nightly" || aws.ToString(created.OwnerId) != "snapflow" ||
		len(created.Tags) != 1 || created.StartTime == nil || created.StartTime.Before(before) || aws.ToBool(created.Encrypted) {
		t.Fatalf("created %+v", created)
	}
	done := waitSnapshot(t, cl, snap)
	if aws.ToString(done.Progress) != "100%" || aws.ToInt32(done.VolumeSize) != 2 || aws.ToString(done.VolumeId) != vol {
		t.Fatalf("completed: progress %q, size %d, volume %q", aws.ToString(done.Progress), aws.ToInt32(done.VolumeSize), aws.ToString(done.VolumeId))
	}

	other := newVolume(t, cl, "snapflow-zone", 1)
	expectFilters(t, []filterCase{
		{"snapshot-id", snap, []string{snap}},
		{"volume-id", vol, []string{snap}},
		{"volume-id", other, nil},
		{"status", "completed", []string{snap}},
		{"status", "pending", nil},
		{"progress", "100%", []string{snap}},
		{"description", "night*", []string{snap}},
		{"owner-id", "snapflow", []string{snap}},
		{"volume-size", "2", []string{snap}},
		{"tag:Name", "backup", []string{snap}},
		{"tag-key", "Name", []string{snap}},
		{"tag:Name", "other", nil},
	}, func(f []types.Filter) (*ec2.DescribeSnapshotsOutput, error) {
		return cl.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{Filters: f})
	}, func(out *ec2.DescribeSnapshotsOutput) []string { return snapshotIDsOf(out.Snapshots) })
	for owner, want := range map[string][]string{"self": {snap}, "snapflow": {snap}, "someone-else": nil} {
		out, err := cl.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{owner}})
		if err != nil || fmt.Sprint(snapshotIDsOf(out.Snapshots)) != fmt.Sprint(want) {
			t.Fatalf("owner %s: %v (%v)", owner, snapshotIDsOf(out.Snapshots), err)
		}
	}

	// A new volume from the snapshot: its size by default, never smaller.
	_, err = cl.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("snapflow-zone"), SnapshotId: aws.String(snap), Size: aws.Int32(1)})
	expectCode(t, err, "InvalidParameterValue")
	restored, err := cl.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("snapflow-zone"), SnapshotId: aws.String(snap)})
	if err != nil {
		t.Fatal(err)
	}
	copyID := aws.ToString(restored.VolumeId)
	if aws.ToInt32(restored.Size) != 2 || aws.ToString(restored.SnapshotId) != snap {
		t.Fatalf("restored %+v", restored)
	}
	waitVolumeState(t, cl, copyID, types.VolumeStateAvailable, "none")
	out, err := cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("snapshot-id"), Values: []string{snap}}}})
	if err != nil || fmt.Sprint(volumeIDsOf(out.Volumes)) != fmt.Sprint([]string{copyID}) {
		t.Fatalf("volumes from %s: %v (%v)", snap, volumeIDsOf(out.Volumes), err)
	}
	copyFile := backingFileOf(t, store, "snapflow", copyID)
	for _, off := range []int64{1 << 20, 1<<30 + 12345} {
		if got := fileAt(t, copyFile, off, len(pattern)); !bytes.Equal(got, pattern) {
			t.Fatalf("the new volume does not hold the pattern at %d", off)
		}
	}
	if got := fileAt(t, copyFile, 0, 4096); !bytes.Equal(got, make([]byte, 4096)) {
		t.Fatal("the new volume is not zero where the old one was")
	}

	// Deleted: gone, and nothing more can be made of it.
	if _, err := cl.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)}); err != nil {
		t.Fatal(err)
	}
	expectSnapshotNotFound(t, cl, snap, "snapflow-zone")
	waitCount(t, longWait, "snapflow", &cloudv1.SnapshotList{}, 0, "the Snapshot object to go")
}

// expectSnapshotNotFound checks that the client finds no snapshot id to describe, delete or make
// a volume of in zone.
func expectSnapshotNotFound(t *testing.T, cl *ec2.Client, id, zone string) {
	t.Helper()
	ctx := context.Background()
	_, err := cl.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	_, err = cl.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	_, err = cl.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), SnapshotId: aws.String(id)})
	expectCode(t, err, "InvalidSnapshot.NotFound")
}

func fileAt(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotsRefuseBadInputAndOtherProjects checks the refusals of the snapshot actions, that
// another project's snapshots and volumes are not found, and that nothing was half-made.
func TestSnapshotsRefuseBadInputAndOtherProjects(t *testing.T) {
	c, creds, a := tenant(t, "snapbad")
	c.AddStorageNodes(t, "snapbad-store", "snapbad-node", "snapbad-zone")
	_, _, b := tenant(t, "snapbad-b")
	ctx := context.Background()
	vol := newVolume(t, a, "snapbad-zone", 1)
	waitVolumeState(t, a, vol, types.VolumeStateAvailable, "none")
	creating := ids.New(ids.Volume)
	if err := env.Client.Create(ctx, &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: creating, Namespace: "snapbad"},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "nowhere-zone"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the volume made by manifest", func() error {
		_, err := a.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{creating}})
		return err
	})

	expectRefusals(t, "create ", func() *ec2.CreateSnapshotInput {
		return &ec2.CreateSnapshotInput{VolumeId: aws.String(vol)}
	}, a.CreateSnapshot, []refusal[ec2.CreateSnapshotInput]{
		{"malformed volume", func(in *ec2.CreateSnapshotInput) { in.VolumeId = aws.String("vol-1") }, "InvalidVolumeID.Malformed"},
		{"unknown volume", func(in *ec2.CreateSnapshotInput) { in.VolumeId = aws.String("vol-0123456789abcdef0") }, "InvalidVolume.NotFound"},
		{"volume without storage", func(in *ec2.CreateSnapshotInput) { in.VolumeId = aws.String(creating) }, "IncorrectState"},
		{"long description", func(in *ec2.CreateSnapshotInput) { in.Description = aws.String(strings.Repeat("d", 256)) }, "InvalidParameterValue"},
		{"tags for volumes", func(in *ec2.CreateSnapshotInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("k")}}}}
		}, "InvalidParameterValue"},
		{"dry run", func(in *ec2.CreateSnapshotInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
	})
	if got := signedQuery(t, c, creds, "CreateSnapshot", url.Values{}); got != "MissingParameter" {
		t.Fatalf("no VolumeId: %q", got)
	}
	if got := signedQuery(t, c, creds, "DeleteSnapshot", url.Values{}); got != "MissingParameter" {
		t.Fatalf("no SnapshotId: %q", got)
	}
	// Another project's volume is not found.
	_, err := b.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol)})
	expectCode(t, err, "InvalidVolume.NotFound")

	snap, err := a.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(snap.SnapshotId)
	for _, tc := range []struct {
		name string
		in   *ec2.DescribeSnapshotsInput
		code string
	}{
		{"malformed id", &ec2.DescribeSnapshotsInput{SnapshotIds: []string{"snap-1"}}, "InvalidSnapshotID.Malformed"},
		{"unknown id", &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id, "snap-0123456789abcdef0"}}, "InvalidSnapshot.NotFound"},
		{"unknown filter", &ec2.DescribeSnapshotsInput{Filters: []types.Filter{{Name: aws.String("kms-key-id"), Values: []string{"1"}}}}, "InvalidParameterValue"},
		{"ids and paging", &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}, MaxResults: aws.Int32(5)}, "InvalidParameterValue"},
		{"small page", &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(4)}, "InvalidParameterValue"},
		{"bad owner", &ec2.DescribeSnapshotsInput{OwnerIds: []string{"No Such Owner"}}, "InvalidUserID.Malformed"},
		{"dry run", &ec2.DescribeSnapshotsInput{DryRun: aws.Bool(true)}, "DryRunOperation"},
	} {
		t.Run("describe "+tc.name, func(t *testing.T) {
			_, err := a.DescribeSnapshots(ctx, tc.in)
			expectCode(t, err, tc.code)
		})
	}
	_, err = a.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String("snap-x")})
	expectCode(t, err, "InvalidSnapshotID.Malformed")
	_, err = a.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id), DryRun: aws.Bool(true)})
	expectCode(t, err, "DryRunOperation")

	// The other project sees none of it.
	expectSnapshotNotFound(t, b, id, "snapbad-zone")
	for _, owner := range []string{"", "snapbad"} {
		in := &ec2.DescribeSnapshotsInput{}
		if owner != "" {
			in.OwnerIds = []string{owner}
		}
		out, err := b.DescribeSnapshots(ctx, in)
		if err != nil || len(out.Snapshots) != 0 {
			t.Fatalf("b sees %v with owner %q (%v)", snapshotIDsOf(out.Snapshots), owner, err)
		}
	}

	// Past the project's snapshot quota: SnapshotLimitExceeded, and no snapshot is made.
	setQuota(t, a, "snapbad", cloudv1.ProjectQuota{Snapshots: ptr.To[int32](1)})
	_, err = a.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), Description: aws.String("over")})
	expectCode(t, err, "SnapshotLimitExceeded")
	setQuota(t, a, "snapbad", cloudv1.ProjectQuota{Snapshots: ptr.To[int32](0), Addresses: ptr.To[int32](999)})

	// Nothing was half-made: one snapshot in a, none in b; and it pages.
	out, err := a.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{})
	if err != nil || fmt.Sprint(snapshotIDsOf(out.Snapshots)) != fmt.Sprint([]string{id}) {
		t.Fatalf("a's snapshots after refused calls: %v (%v)", snapshotIDsOf(out.Snapshots), err)
	}
	for i := 0; i < 6; i++ {
		if _, err := a.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), Description: aws.String(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkPages(ctx, ec2.NewDescribeSnapshotsPaginator(a, &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(5)}),
		func(o *ec2.DescribeSnapshotsOutput) []string { return snapshotIDsOf(o.Snapshots) }, 7, 2); err != nil {
		t.Fatal(err)
	}
}
