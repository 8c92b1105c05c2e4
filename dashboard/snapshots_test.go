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

package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"pinet.io/pinet/internal/testenv"
)

// TestSnapshotsThroughTheDashboard takes a snapshot of a volume on a real storage node, makes a
// volume of it and deletes it, from the snapshots page, checking each step through EC2; a bad
// form is refused in words, and another project's user neither sees nor touches the snapshot.
func TestSnapshotsThroughTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-snaps")
	other := newProject(t, c, "dash-snaps-other")
	c.AddStorageNode(t, "dash-snaps-store", "dash-snaps-zone", 4)
	ctx := context.Background()
	vol, err := p.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1), AvailabilityZone: aws.String("dash-snaps-zone")})
	if err != nil {
		t.Fatal(err)
	}
	volID := aws.ToString(vol.VolumeId)
	testenv.Eventually(t, longWait, volID+" to be available", func() error {
		out, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volID}})
		if err != nil {
			return err
		}
		if s := out.Volumes[0].State; s != types.VolumeStateAvailable {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})

	b := newBrowser(t, c)
	b.signIn(p.creds)
	page := b.get("/snapshots")
	if page.status != http.StatusOK || !strings.Contains(page.body, "No snapshots yet") || !strings.Contains(page.body, volID) {
		t.Fatalf("snapshots page: %d, offers %s: %v", page.status, volID, strings.Contains(page.body, volID))
	}
	csrf := field(t, csrfField, page.body)
	bad := b.post("/snapshots/create", url.Values{"csrf": {csrf}, "volume": {"vol-0123456789abcdef0"}})
	if bad.status < 400 || !strings.Contains(field(t, flashError, bad.body), "InvalidVolume.NotFound") {
		t.Fatalf("a snapshot of no volume: %d %q", bad.status, field(t, flashError, bad.body))
	}
	if r := b.post("/snapshots/create", url.Values{"csrf": {csrf}, "volume": {volID}, "description": {"before the upgrade"}}); r.status != http.StatusSeeOther ||
		r.location != "/snapshots?done=snapshot-create" {
		t.Fatalf("create: %d %q %s", r.status, r.location, field(t, flashError, r.body))
	}
	snaps, err := p.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil || len(snaps.Snapshots) != 1 || aws.ToString(snaps.Snapshots[0].Description) != "before the upgrade" ||
		aws.ToString(snaps.Snapshots[0].VolumeId) != volID {
		t.Fatalf("EC2 shows %+v (%v), want one snapshot of %s", snaps, err, volID)
	}
	snapID := aws.ToString(snaps.Snapshots[0].SnapshotId)
	testenv.Eventually(t, longWait, snapID+" to complete", func() error {
		page := b.get("/snapshots")
		if !strings.Contains(page.body, snapID) || !strings.Contains(page.body, `action="/snapshots/restore"`) {
			return fmt.Errorf("the page does not offer to restore %s yet", snapID)
		}
		return nil
	})

	// Another project: not listed, not deleted, not restored.
	ob := newBrowser(t, c)
	ob.signIn(other.creds)
	if a := ob.get("/snapshots"); a.status != http.StatusOK || strings.Contains(a.body, snapID) {
		t.Fatalf("another project's page: %d, lists %s: %v", a.status, snapID, strings.Contains(a.body, snapID))
	}
	for _, path := range []string{"/snapshots/delete", "/snapshots/restore"} {
		a := ob.post(path, url.Values{"csrf": {ob.csrf()}, "id": {snapID}, "zone": {"dash-snaps-zone"}})
		if a.status < 400 || !strings.Contains(field(t, flashError, a.body), "InvalidSnapshot.NotFound") {
			t.Fatalf("another project's %s: %d %q", path, a.status, field(t, flashError, a.body))
		}
	}
	if out, err := other.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err != nil || len(out.Volumes) != 0 {
		t.Fatalf("another project's restore made %+v (%v)", out, err)
	}

	// Restored into a new volume (the form posted twice makes one).
	page = b.get("/snapshots")
	restore := url.Values{"csrf": {csrf}, "id": {snapID}, "zone": {"dash-snaps-zone"}, "client_token": {field(t, clientToken, page.body)}}
	for range 2 {
		if r := b.post("/snapshots/restore", restore); r.status != http.StatusSeeOther || r.location != "/volumes?done=volume-create" {
			t.Fatalf("restore: %d %q %s", r.status, r.location, field(t, flashError, r.body))
		}
	}
	restored, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("snapshot-id"), Values: []string{snapID}}}})
	if err != nil || len(restored.Volumes) != 1 || aws.ToInt32(restored.Volumes[0].Size) != 1 {
		t.Fatalf("volumes from %s: %+v %v", snapID, restored, err)
	}

	restoredID := aws.ToString(restored.Volumes[0].VolumeId)
	testenv.Eventually(t, longWait, restoredID+" to be available", func() error {
		out, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{restoredID}})
		if err != nil {
			return err
		}
		if s := out.Volumes[0].State; s != types.VolumeStateAvailable {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})

	// Shared with the other project from the page: listed on its page, and restored there by the
	// storage node reading the owner's part of the bucket; the other project cannot change whom
	// it is shared with.
	share := func(br *browser, v url.Values) answer {
		v.Set("csrf", br.csrf())
		v.Set("id", snapID)
		return br.post("/snapshots/share", v)
	}
	if r := share(b, url.Values{"project": {"  "}}); r.status != http.StatusBadRequest || !strings.Contains(field(t, flashError, r.body), "Name the project") {
		t.Fatalf("sharing with no project: %d %q", r.status, field(t, flashError, r.body))
	}
	if r := share(b, url.Values{"project": {"Not_A_Project"}}); r.status < 400 || !strings.Contains(field(t, flashError, r.body), "InvalidUserID.Malformed") {
		t.Fatalf("sharing with a malformed project: %d %q", r.status, field(t, flashError, r.body))
	}
	if r := share(b, url.Values{"project": {other.name}}); r.status != http.StatusSeeOther || r.location != "/snapshots?done=snapshot-share" {
		t.Fatalf("share: %d %q %s", r.status, r.location, field(t, flashError, r.body))
	}
	if page := b.get("/snapshots"); !strings.Contains(page.body, "Stop sharing with "+other.name) {
		t.Fatalf("the owner's page does not show the sharing with %s", other.name)
	}
	otherPage := ob.get("/snapshots")
	if !strings.Contains(otherPage.body, `id="other-snapshots"`) || !strings.Contains(otherPage.body, snapID) {
		t.Fatalf("the other project's page does not list the shared %s", snapID)
	}
	for _, v := range []url.Values{{"public": {"true"}}, {"project": {other.name}, "op": {"remove"}}} {
		if r := share(ob, v); r.status < 400 || !strings.Contains(field(t, flashError, r.body), "AuthFailure") {
			t.Fatalf("the other project changing the sharing (%v): %d %q", v, r.status, field(t, flashError, r.body))
		}
	}
	if r := ob.post("/snapshots/delete", url.Values{"csrf": {ob.csrf()}, "id": {snapID}}); r.status < 400 ||
		!strings.Contains(field(t, flashError, r.body), "InvalidSnapshot.NotFound") {
		t.Fatalf("the other project deleting the shared snapshot: %d %q", r.status, field(t, flashError, r.body))
	}
	theirs := url.Values{"csrf": {ob.csrf()}, "id": {snapID}, "zone": {"dash-snaps-zone"}, "client_token": {field(t, clientToken, otherPage.body)}}
	if r := ob.post("/snapshots/restore", theirs); r.status != http.StatusSeeOther {
		t.Fatalf("the other project's restore: %d %s", r.status, field(t, flashError, r.body))
	}
	var theirID string
	testenv.Eventually(t, longWait, "the other project's volume from "+snapID+" to be available", func() error {
		out, err := other.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
		if err != nil {
			return err
		}
		if len(out.Volumes) != 1 || aws.ToString(out.Volumes[0].SnapshotId) != snapID {
			return fmt.Errorf("volumes %+v", out.Volumes)
		}
		if theirID = aws.ToString(out.Volumes[0].VolumeId); out.Volumes[0].State != types.VolumeStateAvailable {
			return fmt.Errorf("state %s", out.Volumes[0].State)
		}
		return nil
	})
	// The other project copies it from its page: its own, completed copy.
	if r := ob.post("/snapshots/copy", url.Values{"csrf": {ob.csrf()}, "id": {snapID}, "description": {"kept"}}); r.status != http.StatusSeeOther ||
		r.location != "/snapshots?done=snapshot-copy" {
		t.Fatalf("copy: %d %q %s", r.status, r.location, field(t, flashError, r.body))
	}
	var copyID string
	testenv.Eventually(t, longWait, "the other project's copy of "+snapID+" to complete", func() error {
		out, err := other.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
		if err != nil {
			return err
		}
		if len(out.Snapshots) != 1 || out.Snapshots[0].State != types.SnapshotStateCompleted || aws.ToString(out.Snapshots[0].Description) != "kept" {
			return fmt.Errorf("own snapshots %+v", out.Snapshots)
		}
		copyID = aws.ToString(out.Snapshots[0].SnapshotId)
		return nil
	})
	defer func() {
		if _, err := other.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(copyID)}); err != nil {
			t.Logf("deleting %s: %v", copyID, err)
		}
	}()
	// Unshared: gone from the other project's page and refused to it; its volume stays.
	if r := share(b, url.Values{"project": {other.name}, "op": {"remove"}}); r.status != http.StatusSeeOther || r.location != "/snapshots?done=snapshot-unshare" {
		t.Fatalf("unshare: %d %q %s", r.status, r.location, field(t, flashError, r.body))
	}
	if page := ob.get("/snapshots"); strings.Contains(page.body, snapID) || !strings.Contains(page.body, copyID) {
		t.Fatalf("the other project's page after the unsharing: lists %s %v, its copy %s %v", snapID,
			strings.Contains(page.body, snapID), copyID, strings.Contains(page.body, copyID))
	}
	if r := ob.post("/snapshots/copy", url.Values{"csrf": {ob.csrf()}, "id": {snapID}}); r.status < 400 ||
		!strings.Contains(field(t, flashError, r.body), "InvalidSnapshot.NotFound") {
		t.Fatalf("copying the unshared snapshot: %d %q", r.status, field(t, flashError, r.body))
	}
	theirs.Set("client_token", "another-restore")
	if r := ob.post("/snapshots/restore", theirs); r.status < 400 || !strings.Contains(field(t, flashError, r.body), "InvalidSnapshot.NotFound") {
		t.Fatalf("restoring the unshared snapshot: %d %q", r.status, field(t, flashError, r.body))
	}
	if out, err := other.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err != nil || len(out.Volumes) != 1 ||
		out.Volumes[0].State != types.VolumeStateAvailable {
		t.Fatalf("the other project's volume after the unsharing: %+v (%v)", out, err)
	}
	defer func() {
		if _, err := other.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(theirID)}); err != nil {
			t.Logf("deleting %s: %v", theirID, err)
		}
	}()

	if r := b.post("/snapshots/delete", url.Values{"csrf": {csrf}, "id": {snapID}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, field(t, flashError, r.body))
	}
	testenv.Eventually(t, longWait, snapID+" to go", func() error {
		out, err := p.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
		if err != nil {
			return err
		}
		if len(out.Snapshots) != 0 {
			return fmt.Errorf("%d snapshots left", len(out.Snapshots))
		}
		return nil
	})
	for _, v := range []string{volID, restoredID} {
		if _, err := p.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(v)}); err != nil {
			t.Logf("deleting %s: %v", v, err)
		}
	}
}
