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
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// createVolumePermissions reads whom the owner's snapshot is shared with: "all" and user ids.
func createVolumePermissions(t *testing.T, cl *ec2.Client, snap string) string {
	t.Helper()
	out, err := cl.DescribeSnapshotAttribute(context.Background(), &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(snap),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range out.CreateVolumePermissions {
		got = append(got, string(p.Group)+aws.ToString(p.UserId))
	}
	return strings.Join(got, ",")
}

// TestSnapshotSharing shares a snapshot of a volume holding a pattern with another project,
// which makes a volume of it on another real storage node (read from the owner's part of the
// snapshot bucket with that node's own key) and finds the pattern; a third project sees nothing
// until the snapshot is public; neither may change, delete or tag it; bad changes are refused
// and change nothing; unsharing leaves the volumes made.
func TestSnapshotSharing(t *testing.T) {
	cl, creds, a := tenant(t, "snapshare")
	store, _ := cl.AddStorageNodes(t, "snapshare-store", "snapshare-node", "snapshare-zone")
	// b's volumes live on another storage node, which holds none of a's snapshots: it reads the
	// shared one only by the permission.
	theirStore := cl.AddStorageNode(t, "snapshare-store-b", "snapshare-zone-b", 10)
	_, _, b := tenant(t, "snapshare-b")
	_, _, c := tenant(t, "snapshare-c")
	ctx := context.Background()
	zone := "snapshare-zone"
	vol := newVolume(t, a, zone, 1)
	waitVolumeState(t, a, vol, types.VolumeStateAvailable, "none")
	pattern := bytes.Repeat([]byte("shared-snap"), 5000)
	f, err := os.OpenFile(backingFileOf(t, store, "snapshare", vol), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(pattern, 3<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	created, err := a.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), Description: aws.String("golden"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
			Tags: []types.Tag{{Key: aws.String("owner-note"), Value: aws.String("private")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	snap := aws.ToString(created.SnapshotId)
	waitSnapshot(t, a, snap)
	if got := createVolumePermissions(t, a, snap); got != "" {
		t.Fatalf("a new snapshot is shared with %q", got)
	}

	// Private: the others find nothing of it, through any call.
	private := func(cl *ec2.Client, who string) {
		t.Helper()
		expectSnapshotNotFound(t, cl, snap, zone)
		out, err := cl.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{})
		if err != nil || slices.Contains(snapshotIDsOf(out.Snapshots), snap) {
			t.Fatalf("%s lists %v (%v)", who, snapshotIDsOf(out.Snapshots), err)
		}
		_, err = cl.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(snap),
			Attribute: types.SnapshotAttributeNameCreateVolumePermission})
		expectCode(t, err, "InvalidSnapshot.NotFound")
		_, err = cl.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap),
			CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{Group: types.PermissionGroupAll}}}})
		expectCode(t, err, "InvalidSnapshot.NotFound")
	}
	private(b, "b")
	private(c, "c")

	// Bad changes: refused, and nothing changed.
	expectRefusals(t, "modify ", func() *ec2.ModifySnapshotAttributeInput {
		return &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap), CreateVolumePermission: &types.CreateVolumePermissionModifications{
			Add: []types.CreateVolumePermission{{UserId: aws.String("snapshare-b")}}}}
	}, a.ModifySnapshotAttribute, []refusal[ec2.ModifySnapshotAttributeInput]{
		{"malformed id", func(in *ec2.ModifySnapshotAttributeInput) { in.SnapshotId = aws.String("snap-1") }, "InvalidSnapshotID.Malformed"},
		{"unknown id", func(in *ec2.ModifySnapshotAttributeInput) { in.SnapshotId = aws.String("snap-0123456789abcdef0") }, "InvalidSnapshot.NotFound"},
		{"group not all", func(in *ec2.ModifySnapshotAttributeInput) {
			in.CreateVolumePermission.Add = []types.CreateVolumePermission{{Group: "everyone"}}
		}, "InvalidParameterValue"},
		{"malformed user", func(in *ec2.ModifySnapshotAttributeInput) {
			in.CreateVolumePermission.Add = []types.CreateVolumePermission{{UserId: aws.String("Not A Project")}}
		}, "InvalidUserID.Malformed"},
		{"malformed user removed", func(in *ec2.ModifySnapshotAttributeInput) {
			in.CreateVolumePermission.Remove = []types.CreateVolumePermission{{UserId: aws.String(strings.Repeat("p", 64))}}
		}, "InvalidUserID.Malformed"},
		{"group and user in one", func(in *ec2.ModifySnapshotAttributeInput) {
			in.CreateVolumePermission.Add = []types.CreateVolumePermission{{Group: types.PermissionGroupAll, UserId: aws.String("snapshare-b")}}
		}, "InvalidParameterCombination"},
		{"empty entry", func(in *ec2.ModifySnapshotAttributeInput) {
			in.CreateVolumePermission.Add = []types.CreateVolumePermission{{}}
		}, "MissingParameter"},
		{"nothing to change", func(in *ec2.ModifySnapshotAttributeInput) {
			in.CreateVolumePermission = &types.CreateVolumePermissionModifications{}
		}, "MissingParameter"},
		{"both forms", func(in *ec2.ModifySnapshotAttributeInput) { in.OperationType = types.OperationTypeAdd }, "InvalidParameterCombination"},
		{"older form without operation", func(in *ec2.ModifySnapshotAttributeInput) {
			in.CreateVolumePermission, in.UserIds = nil, []string{"snapshare-b"}
		}, "MissingParameter"},
		{"older form with a bad operation", func(in *ec2.ModifySnapshotAttributeInput) {
			in.CreateVolumePermission, in.UserIds, in.OperationType = nil, []string{"snapshare-b"}, "replace"
		}, "InvalidParameterValue"},
		{"product codes", func(in *ec2.ModifySnapshotAttributeInput) { in.Attribute = types.SnapshotAttributeNameProductCodes }, "UnsupportedOperation"},
		{"unknown attribute", func(in *ec2.ModifySnapshotAttributeInput) { in.Attribute = "volumeSize" }, "InvalidParameterValue"},
		{"dry run", func(in *ec2.ModifySnapshotAttributeInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
	})
	_, err = a.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(snap), Attribute: "volumeSize"})
	expectCode(t, err, "InvalidParameterValue")
	for _, action := range []string{"DescribeSnapshotAttribute", "ResetSnapshotAttribute"} {
		if got := signedQuery(t, cl, creds, action, url.Values{"SnapshotId": {snap}}); got != "MissingParameter" {
			t.Fatalf("%s without an attribute: %q", action, got)
		}
	}
	_, err = a.ResetSnapshotAttribute(ctx, &ec2.ResetSnapshotAttributeInput{SnapshotId: aws.String(snap), Attribute: types.SnapshotAttributeNameProductCodes})
	expectCode(t, err, "InvalidParameterValue")
	if codes, err := a.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(snap),
		Attribute: types.SnapshotAttributeNameProductCodes}); err != nil || len(codes.ProductCodes) != 0 {
		t.Fatalf("product codes %+v (%v)", codes, err)
	}
	if got := createVolumePermissions(t, a, snap); got != "" {
		t.Fatalf("refused changes shared the snapshot with %q", got)
	}
	private(b, "b")

	// Shared with b: b sees it (without the owner's tags), makes a volume of it that holds the
	// pattern; c still sees nothing. b may not change, delete or tag it.
	if _, err := a.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap),
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{
			{UserId: aws.String("snapshare-b")}, {UserId: aws.String("snapshare")}}}}); err != nil {
		t.Fatal(err)
	}
	// The owner's own project is implicit and never listed.
	if got := createVolumePermissions(t, a, snap); got != "snapshare-b" {
		t.Fatalf("shared with %q, want snapshare-b", got)
	}
	seen := func(cl *ec2.Client, in *ec2.DescribeSnapshotsInput) []string {
		t.Helper()
		out, err := cl.DescribeSnapshots(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return snapshotIDsOf(out.Snapshots)
	}
	for _, tc := range []struct {
		in   *ec2.DescribeSnapshotsInput
		want bool
	}{
		{&ec2.DescribeSnapshotsInput{}, true},
		{&ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}}, true},
		{&ec2.DescribeSnapshotsInput{RestorableByUserIds: []string{"self"}}, true},
		{&ec2.DescribeSnapshotsInput{RestorableByUserIds: []string{"snapshare-b"}}, true},
		{&ec2.DescribeSnapshotsInput{RestorableByUserIds: []string{"all"}}, false},
		{&ec2.DescribeSnapshotsInput{OwnerIds: []string{"snapshare"}}, true},
		{&ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}, false},
		{&ec2.DescribeSnapshotsInput{Filters: []types.Filter{{Name: aws.String("owner-id"), Values: []string{"snapshare"}}}}, true},
		{&ec2.DescribeSnapshotsInput{Filters: []types.Filter{{Name: aws.String("tag-key"), Values: []string{"owner-note"}}}}, false},
	} {
		if got := fmt.Sprint(seen(b, tc.in)) == fmt.Sprint([]string{snap}); got != tc.want {
			t.Errorf("b with %+v sees the snapshot: %v, want %v", tc.in, got, tc.want)
		}
	}
	// Whom it is shared with besides b is the owner's to know.
	if got := seen(c, &ec2.DescribeSnapshotsInput{RestorableByUserIds: []string{"snapshare-b"}}); len(got) != 0 {
		t.Fatalf("c asking what b may restore sees %v", got)
	}
	out, err := b.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
	if err != nil || len(out.Snapshots) != 1 || aws.ToString(out.Snapshots[0].OwnerId) != "snapshare" ||
		len(out.Snapshots[0].Tags) != 0 || aws.ToString(out.Snapshots[0].Description) != "golden" {
		t.Fatalf("b sees %+v (%v)", out, err)
	}
	private(c, "c")
	_, err = b.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(snap),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	expectCode(t, err, "AuthFailure")
	_, err = b.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap),
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{UserId: aws.String("snapshare-c")}}}})
	expectCode(t, err, "AuthFailure")
	_, err = b.ResetSnapshotAttribute(ctx, &ec2.ResetSnapshotAttributeInput{SnapshotId: aws.String(snap),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	expectCode(t, err, "AuthFailure")
	_, err = b.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	_, err = b.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{snap}, Tags: []types.Tag{{Key: aws.String("mine"), Value: aws.String("now")}}})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	if got := createVolumePermissions(t, a, snap); got != "snapshare-b" {
		t.Fatalf("b's refused changes left the sharing %q", got)
	}

	made, err := b.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("snapshare-zone-b"), SnapshotId: aws.String(snap)})
	if err != nil {
		t.Fatal(err)
	}
	theirs := aws.ToString(made.VolumeId)
	if aws.ToInt32(made.Size) != 1 || aws.ToString(made.SnapshotId) != snap {
		t.Fatalf("b's volume %+v", made)
	}
	waitVolumeState(t, b, theirs, types.VolumeStateAvailable, "none")
	if got := fileAt(t, backingFileOf(t, theirStore, "snapshare-b", theirs), 3<<20, len(pattern)); !bytes.Equal(got, pattern) {
		t.Fatal("b's volume does not hold the pattern of a's snapshot")
	}

	// b copies it into its own project (refusals first: nothing is made by them).
	expectRefusals(t, "copy ", func() *ec2.CopySnapshotInput {
		return &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String("pinet")}
	}, b.CopySnapshot, []refusal[ec2.CopySnapshotInput]{
		{"other region", func(in *ec2.CopySnapshotInput) { in.SourceRegion = aws.String("us-east-1") }, "InvalidParameterValue"},
		{"encrypted", func(in *ec2.CopySnapshotInput) { in.Encrypted = aws.Bool(true) }, "UnsupportedOperation"},
		{"time-based", func(in *ec2.CopySnapshotInput) { in.CompletionDurationMinutes = aws.Int32(15) }, "UnsupportedOperation"},
		{"long description", func(in *ec2.CopySnapshotInput) { in.Description = aws.String(strings.Repeat("d", 256)) }, "InvalidParameterValue"},
		{"malformed source", func(in *ec2.CopySnapshotInput) { in.SourceSnapshotId = aws.String("snap-1") }, "InvalidSnapshotID.Malformed"},
		{"unknown source", func(in *ec2.CopySnapshotInput) { in.SourceSnapshotId = aws.String("snap-0123456789abcdef0") }, "InvalidSnapshot.NotFound"},
		{"tags for volumes", func(in *ec2.CopySnapshotInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("k")}}}}
		}, "InvalidParameterValue"},
		{"dry run", func(in *ec2.CopySnapshotInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
	})
	_, err = c.CopySnapshot(ctx, &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String("pinet")})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	if got := seen(b, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}); len(got) != 0 {
		t.Fatalf("refused copies made %v", got)
	}
	copied, err := b.CopySnapshot(ctx, &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String("pinet"),
		Description: aws.String("b's own"), TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot,
			Tags: []types.Tag{{Key: aws.String("from"), Value: aws.String("a")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	copyID := aws.ToString(copied.SnapshotId)
	if copyID == snap || len(copied.Tags) != 1 {
		t.Fatalf("copy %+v", copied)
	}
	done := waitSnapshot(t, b, copyID)
	if aws.ToString(done.OwnerId) != "snapshare-b" || aws.ToString(done.VolumeId) != "vol-ffffffff" || aws.ToInt32(done.VolumeSize) != 1 ||
		aws.ToString(done.Description) != "b's own" {
		t.Fatalf("b's copy: %+v", done)
	}
	if got := createVolumePermissions(t, b, copyID); got != "" {
		t.Fatalf("the copy is shared with %q", got)
	}
	// a does not see b's copy.
	_, err = a.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{copyID}})
	expectCode(t, err, "InvalidSnapshot.NotFound")

	// Public, in the older form of the call: c sees it too; the group "all" is listed.
	if _, err := a.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission, OperationType: types.OperationTypeAdd,
		GroupNames: []string{"all"}}); err != nil {
		t.Fatal(err)
	}
	if got := createVolumePermissions(t, a, snap); got != "all,snapshare-b" {
		t.Fatalf("shared with %q, want all,snapshare-b", got)
	}
	for in, want := range map[*ec2.DescribeSnapshotsInput]int{
		{}: 1, {RestorableByUserIds: []string{"all"}}: 1, {RestorableByUserIds: []string{"self"}}: 0, {OwnerIds: []string{"self"}}: 0,
	} {
		if got := seen(c, in); len(got) != want {
			t.Errorf("c with %+v sees %v, want %d", in, got, want)
		}
	}

	// Private again: both lose it; b's volume stays.
	if _, err := a.ResetSnapshotAttribute(ctx, &ec2.ResetSnapshotAttributeInput{SnapshotId: aws.String(snap),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission}); err != nil {
		t.Fatal(err)
	}
	if got := createVolumePermissions(t, a, snap); got != "" {
		t.Fatalf("reset left %q", got)
	}
	private(b, "b")
	private(c, "c")
	waitVolumeState(t, b, theirs, types.VolumeStateAvailable, "none")
	if _, err := b.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(theirs)}); err != nil {
		t.Fatal(err)
	}

	// a deletes the original: b's copy is b's, and a volume of it holds a's pattern.
	if _, err := a.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)}); err != nil {
		t.Fatal(err)
	}
	waitCount(t, longWait, "snapshare", &cloudv1.SnapshotList{}, 0, "a's Snapshot to go")
	fromCopy, err := b.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("snapshare-zone-b"), SnapshotId: aws.String(copyID)})
	if err != nil {
		t.Fatal(err)
	}
	waitVolumeState(t, b, aws.ToString(fromCopy.VolumeId), types.VolumeStateAvailable, "none")
	if got := fileAt(t, backingFileOf(t, theirStore, "snapshare-b", aws.ToString(fromCopy.VolumeId)), 3<<20, len(pattern)); !bytes.Equal(got, pattern) {
		t.Fatal("the volume of b's copy does not hold the pattern")
	}
	if _, err := b.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: fromCopy.VolumeId}); err != nil {
		t.Fatal(err)
	}
}
