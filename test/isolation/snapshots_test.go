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

package isolation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apitypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

const storageZone = "iso-store-zone"

// snapshotsCrossProject: A snapshots a volume holding its bytes on a real storage node; B names
// A's volume and snapshot through the EC2 API and with kubectl as its member identity. B gets
// NotFound or a refusal with a reason and an id of its own, and cannot share A's snapshot with
// itself; once A shares it, B's volume of it holds A's bytes, and B still cannot change or
// delete it; A's snapshot stays completed and what is made from it still holds A's bytes.
func (w *world) snapshotsCrossProject(t *testing.T) {
	ctx := context.Background()
	store := w.cloud.AddStorageNode(t, "iso-store", storageZone, 10)
	ea, eb := w.cloud.EC2(w.a), w.cloud.EC2(w.b)

	vol, err := ea.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1), AvailabilityZone: aws.String(storageZone)})
	if err != nil {
		t.Fatal(err)
	}
	volID := aws.ToString(vol.VolumeId)
	waitVolume(t, ea, volID, types.VolumeStateAvailable)
	pattern := bytes.Repeat([]byte("A's volume "), 1000)
	writeAt(t, backingFile(t, store, projectA, volID), pattern, 1<<20)
	snap, err := ea.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(volID)})
	if err != nil {
		t.Fatal(err)
	}
	snapID := aws.ToString(snap.SnapshotId)
	waitSnapshot(t, ea, snapID, types.SnapshotStateCompleted)

	// The EC2 door: every call naming A's volume or snapshot is NotFound, and makes nothing.
	_, err = eb.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(volID)})
	expectCode(t, err, "InvalidVolume.NotFound")
	_, err = eb.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	_, err = eb.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snapID)})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	_, err = eb.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(storageZone), SnapshotId: aws.String(snapID)})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	if out, err := eb.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{}); err != nil || len(out.Snapshots) != 0 {
		t.Fatalf("B's snapshots after refused calls: %v %+v", err, out)
	}
	if out, err := eb.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err != nil || len(out.Volumes) != 0 {
		t.Fatalf("B's volumes after refused calls: %v %+v", err, out)
	}

	// The kubectl door: a Snapshot named by A's snapshot id, of A's volume, gets its own id and
	// finds no volume; a Volume made from A's snapshot finds no snapshot and gets no storage.
	// B's snapshot is public, so that A would see it were it shown under the id it was named by.
	thief := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: snapID, Namespace: projectB},
		Spec: cloudv1.SnapshotSpec{VolumeID: volID, CreateVolumePermission: cloudv1.CreateVolumePermission{Public: true}}}
	restore := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "from-a", Namespace: projectB},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: storageZone, SnapshotID: snapID}}
	for _, o := range []client.Object{thief, restore} {
		if err := w.bKube.Create(ctx, o); err != nil {
			t.Fatalf("creating %T: %v", o, err)
		}
	}
	testenv.Eventually(t, shortWait, "B's snapshot and volume to be refused", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(thief), thief); err != nil {
			return err
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(restore), restore); err != nil {
			return err
		}
		if c := conditions.Get(thief, cloudv1.ReadyCondition); c == nil || c.Reason != cloudv1.ReasonVolumeNotFound {
			return fmt.Errorf("snapshot condition %+v", c)
		}
		if c := conditions.Get(restore, cloudv1.ReadyCondition); c == nil || c.Reason != cloudv1.ReasonSnapshotNotFound {
			return fmt.Errorf("volume condition %+v", c)
		}
		return nil
	})
	if thief.Status.SnapshotID == snapID || thief.Status.Node != "" || thief.Status.VolumeSizeGiB != 0 {
		t.Fatalf("B's snapshot of A's volume: %+v", thief.Status)
	}
	if restore.Status.AoE != nil {
		t.Fatalf("B's volume from A's snapshot got storage: %+v", restore.Status)
	}
	// A's id still names A's snapshot only: B's public one shows under its own id.
	if out, err := ea.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}}); err != nil ||
		len(out.Snapshots) != 1 || aws.ToString(out.Snapshots[0].OwnerId) != projectA {
		t.Fatalf("A describing its snapshot id: %+v (%v)", out, err)
	}

	// A launch of B's asking for a volume of A's snapshot: the EC2 API refuses it and makes
	// nothing; B's kubectl Instance gets its volume, which fails as if the snapshot did not exist
	// and is given no storage, and goes with the instance.
	var before cloudv1.InstanceList
	if err := env.Client.List(ctx, &before, client.InNamespace(projectB)); err != nil {
		t.Fatal(err)
	}
	_, err = eb.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(w.bImageID(t, "bob-boot")), InstanceType: "m1.tiny",
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), BlockDeviceMappings: []types.BlockDeviceMapping{
			{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{SnapshotId: aws.String(snapID)}}}})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	var after cloudv1.InstanceList
	if err := env.Client.List(ctx, &after, client.InNamespace(projectB)); err != nil || len(after.Items) != len(before.Items) {
		t.Fatalf("B's instances after the refused launch: %d, before %d (%v)", len(after.Items), len(before.Items), err)
	}
	launched := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "launch-from-a", Namespace: projectB},
		Spec: cloudv1.InstanceSpec{ImageID: "bob-boot", InstanceType: "m1.tiny", BlockDeviceMappings: []cloudv1.BlockDeviceMapping{
			{DeviceName: "/dev/vdc", EBS: &cloudv1.EBSBlockDevice{SnapshotID: snapID}}}}}
	if err := w.bKube.Create(ctx, launched); err != nil {
		t.Fatal(err)
	}
	launchVolumes := func() ([]cloudv1.Volume, error) {
		list := &cloudv1.VolumeList{}
		err := env.Client.List(ctx, list, client.InNamespace(projectB), client.MatchingLabels{cloudv1.LabelLaunchInstance: launched.Status.InstanceID})
		return list.Items, err
	}
	testenv.Eventually(t, longWait, "the volume of B's launch to be refused", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(launched), launched); err != nil {
			return err
		}
		if launched.Status.InstanceID == "" {
			return errors.New("no id yet")
		}
		vols, err := launchVolumes()
		if err != nil || len(vols) != 1 {
			return fmt.Errorf("%d volumes (%v)", len(vols), err)
		}
		if c := conditions.Get(&vols[0], cloudv1.ReadyCondition); c == nil || c.Reason != cloudv1.ReasonSnapshotNotFound ||
			vols[0].Status.State != cloudv1.VolumeStateError || vols[0].Status.AoE != nil || vols[0].Status.SnapshotOwner != "" {
			return fmt.Errorf("volume %+v", vols[0].Status)
		}
		return nil
	})
	if err := w.bKube.Delete(ctx, launched); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the volume of B's launch to go with it", func() error {
		if vols, err := launchVolumes(); err != nil || len(vols) != 0 {
			return fmt.Errorf("%d volumes left (%v)", len(vols), err)
		}
		return nil
	})

	// A's public image that maps A's private snapshot: B launches it and gets its volume, made
	// of A's snapshot (EC2's rule: an image gives its launchers what it maps), while the snapshot
	// stays hidden from B's other calls. B's own Image may not map A's snapshot, and once A's image
	// is private again a volume B labels as that launch's is refused.
	withVolume := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "a-with-volume", Namespace: projectA},
		Spec: cloudv1.ImageSpec{SourceImageID: w.amiA, LaunchPermission: cloudv1.LaunchPermission{Public: true},
			BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: cloudv1.EBSBlockDevice{SnapshotID: snapID}}}}}
	if err := env.Client.Create(ctx, withVolume); err != nil {
		t.Fatal(err)
	}
	w.waitImage(t, withVolume, cloudv1.ImageStateAvailable)
	run, err := eb.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(withVolume.Status.ImageID), InstanceType: "m1.tiny",
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	bLaunch := aws.ToString(run.Instances[0].InstanceId)
	testenv.Eventually(t, longWait, "the volume of B's launch of A's image to resolve A's snapshot", func() error {
		list := &cloudv1.VolumeList{}
		if err := env.Client.List(ctx, list, client.InNamespace(projectB), client.MatchingLabels{cloudv1.LabelLaunchInstance: bLaunch}); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].Spec.SnapshotID != snapID || list.Items[0].Status.SnapshotOwner != projectA {
			return fmt.Errorf("%d volumes %+v", len(list.Items), list.Items)
		}
		return nil
	})
	_, err = eb.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	_, err = eb.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(storageZone), SnapshotId: aws.String(snapID)})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	private := client.RawPatch(apitypes.MergePatchType, []byte(`{"spec":{"launchPermission":{"public":false}}}`))
	if err := env.Client.Patch(ctx, withVolume, private); err != nil {
		t.Fatal(err)
	}
	relabelled := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "relabelled", Namespace: projectB,
		Labels: map[string]string{cloudv1.LabelLaunchInstance: bLaunch}},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: storageZone, SnapshotID: snapID}}
	if err := w.bKube.Create(ctx, relabelled); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "B's volume labelled as the launch of A's private image to be refused", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(relabelled), relabelled); err != nil {
			return err
		}
		if c := conditions.Get(relabelled, cloudv1.ReadyCondition); c == nil || c.Reason != cloudv1.ReasonSnapshotNotFound ||
			relabelled.Status.AoE != nil || relabelled.Status.SnapshotOwner != "" {
			return fmt.Errorf("condition %+v, status %+v", c, relabelled.Status)
		}
		return nil
	})
	// Nor does B copy A's snapshot through that image now, through A's public image that does
	// not map it, or through an image of its own: each copy fails as if the snapshot did not
	// exist, holding nothing.
	unmapped := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "a-public-plain", Namespace: projectA},
		Spec: cloudv1.ImageSpec{SourceImageID: w.amiA, LaunchPermission: cloudv1.LaunchPermission{Public: true}}}
	if err := env.Client.Create(ctx, unmapped); err != nil {
		t.Fatal(err)
	}
	w.waitImage(t, unmapped, cloudv1.ImageStateAvailable)
	copies := []client.Object{}
	for name, through := range map[string]string{"through-private": withVolume.Status.ImageID, "through-unmapped": unmapped.Status.ImageID,
		"through-own": w.bImageID(t, "bob-boot")} {
		cp := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: projectB},
			Spec: cloudv1.SnapshotSpec{SourceSnapshotID: snapID, SourceImageID: through}}
		if err := w.bKube.Create(ctx, cp); err != nil {
			t.Fatal(err)
		}
		snapshotState(t, cp, cloudv1.SnapshotError, cloudv1.ReasonSourceNotFound)
		if cp.Status.StoredBytes != 0 || cp.Status.VolumeSizeGiB != 0 {
			t.Fatalf("B's copy of A's snapshot %s: %+v", name, cp.Status)
		}
		copies = append(copies, cp)
	}
	if err := env.Client.Delete(ctx, unmapped); err != nil {
		t.Fatal(err)
	}
	for _, o := range append(copies, relabelled, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: bLaunch, Namespace: projectB}}) {
		if err := w.bKube.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	mapsA := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "maps-a", Namespace: projectB},
		Spec: cloudv1.ImageSpec{SourceImageID: w.bImageID(t, "bob-boot"),
			BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: cloudv1.EBSBlockDevice{SnapshotID: snapID}}}}}
	if err := w.bKube.Create(ctx, mapsA); err != nil {
		t.Fatal(err)
	}
	w.waitImageFailed(t, mapsA, cloudv1.ReasonSnapshotNotFound)
	if mapsA.Status.Stored != nil {
		t.Fatalf("B's image mapping A's snapshot was stored: %+v", mapsA.Status)
	}
	if err := env.Client.Delete(ctx, withVolume); err != nil {
		t.Fatal(err)
	}
	// B's image naming A's snapshot never holds it: with A's image gone, nothing does, and A's
	// own delete (below) is not refused.
	testenv.Eventually(t, longWait, "A's snapshot to be mapped by no image", func() error {
		snapObj := &cloudv1.Snapshot{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: projectA, Name: snapID}, snapObj); err != nil {
			return err
		}
		if len(snapObj.Status.MappedBy) != 0 {
			return fmt.Errorf("mapped by %q", snapObj.Status.MappedBy)
		}
		return nil
	})

	// Sharing is the owner's: B may not share A's snapshot with itself through either door.
	_, err = eb.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snapID),
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{UserId: aws.String(projectB)}}}})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	share := client.RawPatch(apitypes.MergePatchType, []byte(`{"spec":{"createVolumePermission":{"projects":["`+projectB+`"]}}}`))
	if err := w.bKube.Patch(ctx, &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: snapID, Namespace: projectA}}, share); !apierrors.IsForbidden(err) {
		t.Fatalf("B sharing A's snapshot with itself through kubectl: %v", err)
	}

	// B's copy of A's snapshot through kubectl: not found, nothing copied.
	stolenCopy := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "copy-of-a", Namespace: projectB},
		Spec: cloudv1.SnapshotSpec{SourceSnapshotID: snapID}}
	if err := w.bKube.Create(ctx, stolenCopy); err != nil {
		t.Fatal(err)
	}
	snapshotState(t, stolenCopy, cloudv1.SnapshotError, cloudv1.ReasonSourceNotFound)
	if stolenCopy.Status.StoredBytes != 0 || stolenCopy.Status.VolumeSizeGiB != 0 {
		t.Fatalf("B's copy of A's snapshot: %+v", stolenCopy.Status)
	}

	// Shared by A, B's volume of it through kubectl is made (on B's behalf, read from A's part
	// of the bucket) and holds A's bytes; B still may not change or delete A's snapshot.
	if _, err := ea.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snapID),
		CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: []types.CreateVolumePermission{{UserId: aws.String(projectB)}}}}); err != nil {
		t.Fatal(err)
	}
	shared := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "shared-by-a", Namespace: projectB},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: storageZone, SnapshotID: snapID}}
	if err := w.bKube.Create(ctx, shared); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "B's volume of the shared snapshot to be available", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(shared), shared); err != nil {
			return err
		}
		if shared.Status.State != cloudv1.VolumeStateAvailable {
			return fmt.Errorf("state %q", shared.Status.State)
		}
		return nil
	})
	if got := readAt(t, store.BackingFile(string(shared.UID)), 1<<20, len(pattern)); !bytes.Equal(got, pattern) {
		t.Fatal("B's volume of the shared snapshot does not hold A's bytes")
	}
	// Shared, B's kubectl copy of it is made: B's own, completed.
	sharedCopy := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "copy-shared", Namespace: projectB},
		Spec: cloudv1.SnapshotSpec{SourceSnapshotID: snapID}}
	if err := w.bKube.Create(ctx, sharedCopy); err != nil {
		t.Fatal(err)
	}
	snapshotState(t, sharedCopy, cloudv1.SnapshotCompleted, cloudv1.ReasonReady)
	waitSnapshot(t, eb, sharedCopy.Status.SnapshotID, types.SnapshotStateCompleted)
	_, err = eb.ResetSnapshotAttribute(ctx, &ec2.ResetSnapshotAttributeInput{SnapshotId: aws.String(snapID),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	expectCode(t, err, "AuthFailure")
	_, err = eb.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snapID)})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	if err := w.bKube.Delete(ctx, &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: snapID, Namespace: projectA}}); !apierrors.IsForbidden(err) {
		t.Fatalf("B deleting A's shared snapshot through kubectl: %v", err)
	}
	if _, err := ea.ResetSnapshotAttribute(ctx, &ec2.ResetSnapshotAttributeInput{SnapshotId: aws.String(snapID),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{thief, restore, shared, stolenCopy, sharedCopy} {
		if err := w.bKube.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	// A's snapshot is still A's, completed, and a volume made from it holds A's bytes.
	waitSnapshot(t, ea, snapID, types.SnapshotStateCompleted)
	copyVol, err := ea.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(storageZone), SnapshotId: aws.String(snapID)})
	if err != nil {
		t.Fatal(err)
	}
	copyID := aws.ToString(copyVol.VolumeId)
	waitVolume(t, ea, copyID, types.VolumeStateAvailable)
	if got := readAt(t, backingFile(t, store, projectA, copyID), 1<<20, len(pattern)); !bytes.Equal(got, pattern) {
		t.Fatal("the volume made from A's snapshot does not hold A's bytes")
	}
	for _, id := range []string{copyID, volID} {
		if _, err := ea.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ea.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snapID)}); err != nil {
		t.Fatal(err)
	}
}

// snapshotState waits until the Snapshot is in state with its Ready condition's reason.
func snapshotState(t *testing.T, s *cloudv1.Snapshot, state cloudv1.SnapshotState, reason string) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s/%s to be %s (%s)", s.Namespace, s.Name, state, reason), func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		if c := conditions.Get(s, cloudv1.ReadyCondition); s.Status.State != state || c == nil || c.Reason != reason {
			return fmt.Errorf("state %q, ready %+v", s.Status.State, c)
		}
		return nil
	})
}

func waitVolume(t *testing.T, cl *ec2.Client, id string, want types.VolumeState) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to be %s", id, want), func() error {
		out, err := cl.DescribeVolumes(context.Background(), &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
		if err != nil {
			return err
		}
		if got := out.Volumes[0].State; got != want {
			return fmt.Errorf("state %s", got)
		}
		return nil
	})
}

func waitSnapshot(t *testing.T, cl *ec2.Client, id string, want types.SnapshotState) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to be %s", id, want), func() error {
		out, err := cl.DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
		if err != nil {
			return err
		}
		if len(out.Snapshots) != 1 {
			return errors.New("not listed")
		}
		if got := out.Snapshots[0].State; got != want {
			return fmt.Errorf("state %s", got)
		}
		return nil
	})
}

// backingFile is the file on the storage node that holds the project's volume id.
func backingFile(t *testing.T, store interface{ BackingFile(string) string }, project, volID string) string {
	t.Helper()
	v := &cloudv1.Volume{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: project, Name: volID}, v); err != nil {
		t.Fatal(err)
	}
	return store.BackingFile(string(v.UID))
}

func writeAt(t *testing.T, path string, data []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readAt(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	return buf
}
