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
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// snapshotOfPattern makes a completed snapshot of a new volume of sizeGiB in zone holding pattern
// at offset 1 MiB (written into its backing file on the storage node).
func snapshotOfPattern(t *testing.T, cl *ec2.Client, store interface{ BackingFile(string) string }, project, zone string, sizeGiB int32, pattern []byte) string {
	t.Helper()
	ctx := context.Background()
	vol := newVolume(t, cl, zone, sizeGiB)
	waitVolumeState(t, cl, vol, types.VolumeStateAvailable, "none")
	v := &cloudv1.Volume{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: project, Name: vol}, v); err != nil {
		t.Fatal(err)
	}
	writePattern(t, store.BackingFile(string(v.UID)), pattern)
	out, err := cl.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(waitSnapshot(t, cl, aws.ToString(out.SnapshotId)).SnapshotId)
}

// writePattern writes pattern into a file at 1 MiB.
func writePattern(t *testing.T, path string, pattern []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(pattern, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// launchVolumesOf waits until DescribeVolumes shows n volumes attached to the instance, all in
// use and attached, and returns them by device.
func launchVolumesOf(t *testing.T, cl *ec2.Client, inst string, n int) map[string]types.Volume {
	t.Helper()
	byDevice := map[string]types.Volume{}
	testenv.Eventually(t, longWait, fmt.Sprintf("%d volumes attached to %s", n, inst), func() error {
		out, err := cl.DescribeVolumes(context.Background(), &ec2.DescribeVolumesInput{
			Filters: []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{inst}}}})
		if err != nil {
			return err
		}
		clear(byDevice)
		for _, v := range out.Volumes {
			if v.State != types.VolumeStateInUse || len(v.Attachments) != 1 || v.Attachments[0].State != types.VolumeAttachmentStateAttached {
				return fmt.Errorf("%s: %s %s", aws.ToString(v.VolumeId), v.State, attachmentString(v))
			}
			byDevice[aws.ToString(v.Attachments[0].Device)] = v
		}
		if len(byDevice) != n {
			return fmt.Errorf("%d attached volumes", len(byDevice))
		}
		return nil
	})
	return byDevice
}

// TestLaunchVolumes launches an instance whose block device mappings ask for a new empty volume
// and for one from a snapshot: RunInstances checks them as CreateVolume would (a snapshot the
// project may use, its size, the quota) and makes nothing when it refuses; the instance
// controller makes both volumes in the instance's zone once it is placed, attached at their
// devices by the instance's node, the one from the snapshot holding its bytes; terminating the
// instance deletes the volume whose mapping said deleteOnTermination and leaves the other
// available. A member's kubectl Instance gets the same, and one naming another project's
// snapshot gets a volume that fails for it, reading nothing of it.
func TestLaunchVolumes(t *testing.T) {
	const project, zone = "launchvol", "launchvol-zone"
	c, creds, cl := tenant(t, project)
	store, compute := c.AddStorageNodes(t, project+"-store", project+"-node", zone)
	ami := c.RegisterRawImage(t, creds, project, "disk", []byte("0123456789"), false)
	ctx := context.Background()
	pattern := bytes.Repeat([]byte("launch-vol"), 512)
	snap := snapshotOfPattern(t, cl, store, project, zone, 2, pattern)
	otherStore, other, _ := tenantWithStorage(t, "launchvol-other")
	private := snapshotOfPattern(t, other, otherStore, "launchvol-other", "launchvol-other-zone", 1, []byte("private"))

	valid := func() *ec2.RunInstancesInput {
		return &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			InstanceType: "m1.tiny", Placement: &types.Placement{AvailabilityZone: aws.String(zone)},
			BlockDeviceMappings: []types.BlockDeviceMapping{
				{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(1), VolumeType: types.VolumeTypeGp3}},
				{DeviceName: aws.String("/dev/sdg"), Ebs: &types.EbsBlockDevice{SnapshotId: aws.String(snap), DeleteOnTermination: aws.Bool(false)}},
			},
			TagSpecifications: []types.TagSpecification{
				{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("db")}}},
				{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("backup"), Value: aws.String("nightly")}}},
			}}
	}
	expectRefusals(t, "RunInstances ", valid, cl.RunInstances, []refusal[ec2.RunInstancesInput]{
		{"without a size or a snapshot", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[0].Ebs.VolumeSize = nil }, "MissingParameter"},
		{"encrypted", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[0].Ebs.Encrypted = aws.Bool(true) }, "UnsupportedOperation"},
		{"an unknown type", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[0].Ebs.VolumeType = "fast" }, "InvalidParameterValue"},
		{"too large", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[0].Ebs.VolumeSize = aws.Int32(16385) }, "InvalidParameterValue"},
		{"smaller than the snapshot", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[1].Ebs.VolumeSize = aws.Int32(1) }, "InvalidParameterValue"},
		{"another project's snapshot", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[1].Ebs.SnapshotId = aws.String(private) }, "InvalidSnapshot.NotFound"},
		{"a malformed snapshot id", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[1].Ebs.SnapshotId = aws.String("snap-nope") }, "InvalidSnapshotID.Malformed"},
		{"the root device", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[0].DeviceName = aws.String("/dev/sda1") }, "InvalidParameterValue"},
		{"one disk twice", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[1].DeviceName = aws.String("/dev/xvdf") }, "InvalidParameterValue"},
		{"a device that is no disk", func(in *ec2.RunInstancesInput) { in.BlockDeviceMappings[0].DeviceName = aws.String("/dev/hda") }, "InvalidParameterValue"},
		{"the type's instance store", func(in *ec2.RunInstancesInput) {
			in.InstanceType, in.BlockDeviceMappings[0].DeviceName = "m1.small", aws.String("/dev/xvdc") // its swap
		}, "InvalidParameterValue"},
	})
	// Two volumes of a launch do not fit beside the snapshot's volume under a quota of two.
	setQuota(t, cl, project, cloudv1.ProjectQuota{Volumes: ptr.To[int32](2)})
	_, err := cl.RunInstances(ctx, valid())
	expectCode(t, err, "VolumeLimitExceeded")
	setQuota(t, cl, project, cloudv1.ProjectQuota{})
	expectCount(t, project, &cloudv1.InstanceList{}, 0)
	expectCount(t, project, &cloudv1.VolumeList{}, 1)

	run, err := cl.RunInstances(ctx, valid())
	if err != nil {
		t.Fatal(err)
	}
	inst := aws.ToString(run.Instances[0].InstanceId)
	waitState(t, cl, inst, types.InstanceStateNameRunning)
	vols := launchVolumesOf(t, cl, inst, 2)
	empty, restored := vols["/dev/sdf"], vols["/dev/sdg"]
	if aws.ToInt32(empty.Size) != 1 || aws.ToString(empty.SnapshotId) != "" || aws.ToString(empty.AvailabilityZone) != zone ||
		!aws.ToBool(empty.Attachments[0].DeleteOnTermination) {
		t.Errorf("the empty volume: %+v %+v", empty, empty.Attachments)
	}
	if aws.ToInt32(restored.Size) != 2 || aws.ToString(restored.SnapshotId) != snap || aws.ToString(restored.AvailabilityZone) != zone ||
		aws.ToBool(restored.Attachments[0].DeleteOnTermination) {
		t.Errorf("the volume from the snapshot: %+v %+v", restored, restored.Attachments)
	}
	if got := fileAt(t, backingFileOf(t, store, project, aws.ToString(restored.VolumeId)), 1<<20, len(pattern)); !bytes.Equal(got, pattern) {
		t.Error("the volume made from the snapshot does not hold its bytes")
	}
	// The guest booted with them: its node waited for them before it defined the domain, rather
	// than plug them into the running guest.
	for dev, v := range vols {
		expectNoEvent(t, project, aws.ToString(v.VolumeId), "Attached")
		if d := compute.Domains(t)[inst]; !strings.Contains(d.XML, aws.ToString(v.VolumeId)) {
			t.Errorf("the domain lacks the volume at %s:\n%s", dev, d.XML)
		}
	}
	// The launch's volume tags are the volumes', its instance tags the instance's.
	for dev, v := range vols {
		if len(v.Tags) != 1 || aws.ToString(v.Tags[0].Key) != "backup" || aws.ToString(v.Tags[0].Value) != "nightly" {
			t.Errorf("the tags of the volume at %s: %+v", dev, v.Tags)
		}
	}
	if tags := run.Instances[0].Tags; len(tags) != 1 || aws.ToString(tags[0].Key) != "Name" {
		t.Errorf("the instance's tags: %+v", tags)
	}
	at := func(v types.Volume) string { return v.Attachments[0].AttachTime.UTC().Format(time.RFC3339) }
	waitBlockDevices(t, cl, inst, fmt.Sprintf("/dev/sdf %s attached %s true\n/dev/sdg %s attached %s false",
		aws.ToString(empty.VolumeId), at(empty), aws.ToString(restored.VolumeId), at(restored)))
	obj := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: project, Name: inst}, obj); err != nil {
		t.Fatal(err)
	}
	if cond := conditions.Get(obj, cloudv1.InstanceLaunchVolumes); cond == nil || cond.Status != metav1.ConditionTrue ||
		!strings.Contains(cond.Message, aws.ToString(empty.VolumeId)+" at /dev/sdf") {
		t.Errorf("LaunchVolumes %+v", cond)
	}

	// ModifyInstanceAttribute turns each volume's DeleteOnTermination around; bad changes are
	// refused and change nothing.
	modify := func(mappings ...types.InstanceBlockDeviceMappingSpecification) *ec2.ModifyInstanceAttributeInput {
		return &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(inst), BlockDeviceMappings: mappings}
	}
	keep := func(dev string, deletes bool) types.InstanceBlockDeviceMappingSpecification {
		return types.InstanceBlockDeviceMappingSpecification{DeviceName: aws.String(dev), Ebs: &types.EbsInstanceBlockDeviceSpecification{DeleteOnTermination: aws.Bool(deletes)}}
	}
	for _, tc := range []struct {
		name string
		in   *ec2.ModifyInstanceAttributeInput
		code string
	}{
		{"a device with no volume", modify(keep("/dev/sdz", true)), "InvalidParameterValue"},
		{"another volume's id", modify(types.InstanceBlockDeviceMappingSpecification{DeviceName: aws.String("/dev/sdf"),
			Ebs: &types.EbsInstanceBlockDeviceSpecification{DeleteOnTermination: aws.Bool(false), VolumeId: restored.VolumeId}}), "InvalidParameterValue"},
		{"no DeleteOnTermination", modify(types.InstanceBlockDeviceMappingSpecification{DeviceName: aws.String("/dev/sdf"),
			Ebs: &types.EbsInstanceBlockDeviceSpecification{}}), "MissingParameter"},
		{"no device", modify(keep("/dev/sdf", false), types.InstanceBlockDeviceMappingSpecification{DeviceName: aws.String("/dev/sdg"), NoDevice: aws.String("")}), "UnsupportedOperation"},
		{"with another attribute", func() *ec2.ModifyInstanceAttributeInput {
			in := modify(keep("/dev/sdf", false))
			in.DisableApiStop = &types.AttributeBooleanValue{Value: aws.Bool(true)}
			return in
		}(), "InvalidParameterCombination"},
	} {
		_, err := cl.ModifyInstanceAttribute(ctx, tc.in)
		expectCode(t, err, tc.code)
	}
	_, err = other.ModifyInstanceAttribute(ctx, modify(keep("/dev/sdf", false)))
	expectCode(t, err, "InvalidInstanceID.NotFound")
	waitBlockDevices(t, cl, inst, fmt.Sprintf("/dev/sdf %s attached %s true\n/dev/sdg %s attached %s false",
		aws.ToString(empty.VolumeId), at(empty), aws.ToString(restored.VolumeId), at(restored)))
	if _, err := cl.ModifyInstanceAttribute(ctx, modify(keep("/dev/sdf", false), keep("/dev/sdg", true))); err != nil {
		t.Fatal(err)
	}
	waitBlockDevices(t, cl, inst, fmt.Sprintf("/dev/sdf %s attached %s false\n/dev/sdg %s attached %s true",
		aws.ToString(empty.VolumeId), at(empty), aws.ToString(restored.VolumeId), at(restored)))
	if v := describeVolume(t, cl, aws.ToString(restored.VolumeId)); !aws.ToBool(v.Attachments[0].DeleteOnTermination) {
		t.Errorf("DescribeVolumes of the volume that now goes with the instance: %+v", v.Attachments)
	}

	// Terminated: the volume that goes with it goes, the other stays, detached.
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{inst}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, inst, types.InstanceStateNameTerminated)
	testenv.Eventually(t, longWait, "the deleteOnTermination volume to go", func() error {
		_, err := cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(restored.VolumeId)}})
		if apiCode(err) != "InvalidVolume.NotFound" {
			return fmt.Errorf("DescribeVolumes answered %v", err)
		}
		return nil
	})
	waitVolumeState(t, cl, aws.ToString(empty.VolumeId), types.VolumeStateAvailable, "none")
	// Nor may a volume be attached where an instance has an instance-store disk.
	small, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: "m1.small", Placement: &types.Placement{AvailabilityZone: aws.String(zone)}})
	if err != nil {
		t.Fatal(err)
	}
	smallID := aws.ToString(small.Instances[0].InstanceId)
	waitState(t, cl, smallID, types.InstanceStateNameRunning)
	for _, dev := range []string{"/dev/sdb", "/dev/xvdc"} {
		_, err := cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: empty.VolumeId, InstanceId: aws.String(smallID), Device: aws.String(dev)})
		expectCode(t, err, "InvalidParameterValue")
	}
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{smallID}}); err != nil {
		t.Fatal(err)
	}

	// kubectl: a member's Instance gets its volume too; one naming another project's snapshot
	// gets a volume that fails as if the snapshot did not exist.
	kube, err := c.Env.ClientAs(cloudv1.UserPrefix+project+"-user", cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	gitops := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "gitops", Namespace: project},
		Spec: cloudv1.InstanceSpec{ImageID: ami, InstanceType: "m1.tiny", AvailabilityZone: zone,
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{
				{DeviceName: "/dev/vdc", EBS: &cloudv1.EBSBlockDevice{SnapshotID: snap}},
				{DeviceName: "/dev/vdd", EBS: &cloudv1.EBSBlockDevice{SnapshotID: private}},
			}}}
	if err := kube.Create(ctx, gitops); err != nil {
		t.Fatal(err)
	}
	var gitopsID string
	testenv.Eventually(t, longWait, "the kubectl instance's volumes", func() error {
		if err := kube.Get(ctx, client.ObjectKeyFromObject(gitops), gitops); err != nil {
			return err
		}
		if gitopsID = gitops.Status.InstanceID; gitopsID == "" {
			return errors.New("no id yet")
		}
		list := &cloudv1.VolumeList{}
		if err := kube.List(ctx, list, client.InNamespace(project), client.MatchingLabels{cloudv1.LabelLaunchInstance: gitopsID}); err != nil {
			return err
		}
		var got []string
		for _, v := range list.Items {
			ready := conditions.Get(&v, cloudv1.ReadyCondition)
			if ready == nil {
				return fmt.Errorf("%s has no Ready", v.Name)
			}
			got = append(got, fmt.Sprintf("%s %d %s %s", v.Spec.AttachTo.Device, v.Spec.SizeGiB, v.Status.State, ready.Reason))
			if v.Spec.AttachTo.Device == "/dev/vdd" && !strings.Contains(ready.Message, "does not exist or is not shared with project "+project) {
				return fmt.Errorf("vdd: %s", ready.Message)
			}
		}
		if got, want := strings.Join(sorted(got...), ", "), "/dev/vdc 2 in-use Ready, /dev/vdd 1 error SnapshotNotFound"; got != want {
			return fmt.Errorf("volumes %q, want %q", got, want)
		}
		return nil
	})
	// The mappings are the launch's: neither added nor changed afterwards; a mapping asks for
	// a size or a snapshot.
	err = testenv.Update(ctx, kube, gitops, func(i *cloudv1.Instance) {
		i.Spec.BlockDeviceMappings = i.Spec.BlockDeviceMappings[:1]
	})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "blockDeviceMappings are immutable") {
		t.Errorf("changing the mappings: %v", err)
	}
	bare := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: project},
		Spec: cloudv1.InstanceSpec{ImageID: ami, InstanceType: "m1.tiny", AvailabilityZone: zone}}
	if err := kube.Create(ctx, bare); err != nil {
		t.Fatal(err)
	}
	err = testenv.Update(ctx, kube, bare, func(i *cloudv1.Instance) {
		i.Spec.BlockDeviceMappings = []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/vdc", EBS: &cloudv1.EBSBlockDevice{VolumeSize: 1}}}
	})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "blockDeviceMappings are immutable") {
		t.Errorf("adding mappings: %v", err)
	}
	sizeless := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "sizeless", Namespace: project},
		Spec: cloudv1.InstanceSpec{ImageID: ami, BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/vdc", EBS: &cloudv1.EBSBlockDevice{}}}}}
	if err := kube.Create(ctx, sizeless); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "an ebs mapping needs volumeSize, snapshotId or both") {
		t.Errorf("a mapping without a size or snapshot: %v", err)
	}
}

// TestImageWithVolumes makes an image of an instance with two volumes attached, leaving one out
// (NoDevice): the image maps a snapshot of the other, is available once the snapshot is
// completed, and keeps the snapshot from being deleted. Its instances get a volume of the
// snapshot — larger where the launch says so, none where the launch maps the device to nothing.
// Another project the image is shared with launches it with the volume without the snapshot
// being shared (and no more: the snapshot stays hidden from it, and out of reach once the image
// is unshared); its copy of the image copies the snapshot into its own project and outlives the
// sharing; a kubectl Image naming another project's snapshot fails.
func TestImageWithVolumes(t *testing.T) {
	const project, zone = "imgvol", "imgvol-zone"
	store, cl, ami := tenantWithStorage(t, project)
	ctx := context.Background()
	_, _, other := tenant(t, "imgvol-other")

	run, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: "m1.tiny", Placement: &types.Placement{AvailabilityZone: aws.String(zone)},
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	src := aws.ToString(run.Instances[0].InstanceId)
	waitState(t, cl, src, types.InstanceStateNameRunning)
	left := newVolume(t, cl, zone, 1)
	waitVolumeState(t, cl, left, types.VolumeStateAvailable, "none")
	if _, err := cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(left), InstanceId: aws.String(src), Device: aws.String("/dev/sdg")}); err != nil {
		t.Fatal(err)
	}
	vols := launchVolumesOf(t, cl, src, 2)
	data := vols["/dev/sdf"]
	pattern := bytes.Repeat([]byte("image-vol "), 400)
	writePattern(t, backingFileOf(t, store, project, aws.ToString(data.VolumeId)), pattern)

	made, err := cl.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(src), Name: aws.String("with data"), NoReboot: aws.Bool(true),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdg"), NoDevice: aws.String("")}},
		TagSpecifications:   []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{{Key: aws.String("of"), Value: aws.String("image")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	image := aws.ToString(made.ImageId)
	img := waitImageState(t, cl, image, types.ImageStateAvailable)
	if len(img.BlockDeviceMappings) != 1 || aws.ToString(img.BlockDeviceMappings[0].DeviceName) != "/dev/sdf" || img.BlockDeviceMappings[0].Ebs == nil ||
		aws.ToInt32(img.BlockDeviceMappings[0].Ebs.VolumeSize) != 1 || !aws.ToBool(img.BlockDeviceMappings[0].Ebs.DeleteOnTermination) {
		t.Fatalf("the image's block device mappings: %+v", img.BlockDeviceMappings)
	}
	snap := aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId)
	snaps, err := cl.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
	if err != nil || len(snaps.Snapshots) != 1 || aws.ToString(snaps.Snapshots[0].VolumeId) != aws.ToString(data.VolumeId) ||
		snaps.Snapshots[0].State != types.SnapshotStateCompleted || !strings.HasPrefix(aws.ToString(snaps.Snapshots[0].Description), "Created by CreateImage("+src+")") ||
		len(snaps.Snapshots[0].Tags) != 1 {
		t.Fatalf("the image's snapshot: %+v (%v)", snaps, err)
	}
	expectCount(t, project, &cloudv1.SnapshotList{}, 1) // the volume left out has none
	attr, err := cl.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(image), Attribute: types.ImageAttributeNameBlockDeviceMapping})
	if err != nil || len(attr.BlockDeviceMappings) != 1 || aws.ToString(attr.BlockDeviceMappings[0].Ebs.SnapshotId) != snap {
		t.Errorf("the blockDeviceMapping attribute: %+v (%v)", attr, err)
	}
	_, err = cl.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	expectCode(t, err, "InvalidSnapshot.InUse")
	// Through kubectl too: the snapshot records the image holding it, and a member's delete is
	// refused with it.
	kube, err := theCloud(t).Env.ClientAs(cloudv1.UserPrefix+project+"-user", cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	snapObj := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: snap, Namespace: project}}
	mappedBy := func(want ...string) {
		t.Helper()
		testenv.Eventually(t, longWait, fmt.Sprintf("the snapshot to be mapped by %q", want), func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(snapObj), snapObj); err != nil {
				return err
			}
			if !slices.Equal(snapObj.Status.MappedBy, want) {
				return fmt.Errorf("mapped by %q", snapObj.Status.MappedBy)
			}
			return nil
		})
	}
	mappedBy(image)
	if err := kube.Delete(ctx, snapObj.DeepCopy()); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "is in use by image(s) "+image) {
		t.Fatalf("a member's kubectl delete of the mapped snapshot: %v", err)
	}
	// Copied, the image's snapshot is copied with it: the copy maps a completed snapshot of the
	// copier's own.
	copyOf := func(cl *ec2.Client, name string) string {
		t.Helper()
		out, err := cl.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: aws.String(image), SourceRegion: aws.String(testcloud.Region), Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		cp := waitImageState(t, cl, aws.ToString(out.ImageId), types.ImageStateAvailable)
		if len(cp.BlockDeviceMappings) != 1 || aws.ToString(cp.BlockDeviceMappings[0].DeviceName) != "/dev/sdf" || cp.BlockDeviceMappings[0].Ebs == nil ||
			aws.ToString(cp.BlockDeviceMappings[0].Ebs.SnapshotId) == snap || aws.ToInt32(cp.BlockDeviceMappings[0].Ebs.VolumeSize) != 1 {
			t.Fatalf("the mappings of %s's copy: %+v", name, cp.BlockDeviceMappings)
		}
		copied := aws.ToString(cp.BlockDeviceMappings[0].Ebs.SnapshotId)
		snaps, err := cl.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{copied}})
		if err != nil || len(snaps.Snapshots) != 1 || snaps.Snapshots[0].State != types.SnapshotStateCompleted ||
			aws.ToString(snaps.Snapshots[0].OwnerId) != aws.ToString(cp.OwnerId) ||
			!strings.HasPrefix(aws.ToString(snaps.Snapshots[0].Description), "Copied for CopyImage("+image+")") {
			t.Fatalf("the snapshot of %s's copy: %+v (%v)", name, snaps, err)
		}
		return aws.ToString(out.ImageId)
	}
	copyOf(cl, "copy")

	// Launched: the image's volume, one larger, none.
	launch := func(cl *ec2.Client, mappings ...types.BlockDeviceMapping) (string, error) {
		out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(image), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			InstanceType: "m1.tiny", Placement: &types.Placement{AvailabilityZone: aws.String(zone)}, BlockDeviceMappings: mappings})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Instances[0].InstanceId), nil
	}
	plain, err := launch(cl)
	if err != nil {
		t.Fatal(err)
	}
	larger, err := launch(cl, types.BlockDeviceMapping{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{SnapshotId: aws.String(snap), VolumeSize: aws.Int32(3)}})
	if err != nil {
		t.Fatal(err)
	}
	bare, err := launch(cl, types.BlockDeviceMapping{DeviceName: aws.String("/dev/sdf"), NoDevice: aws.String("")})
	if err != nil {
		t.Fatal(err)
	}
	for inst, size := range map[string]int32{plain: 1, larger: 3} {
		v := launchVolumesOf(t, cl, inst, 1)["/dev/sdf"]
		if aws.ToInt32(v.Size) != size || aws.ToString(v.SnapshotId) != snap || !aws.ToBool(v.Attachments[0].DeleteOnTermination) {
			t.Errorf("%s's volume: %+v", inst, v)
		}
		if got := fileAt(t, backingFileOf(t, store, project, aws.ToString(v.VolumeId)), 1<<20, len(pattern)); !bytes.Equal(got, pattern) {
			t.Errorf("%s's volume does not hold the snapshot's bytes", inst)
		}
	}
	waitState(t, cl, bare, types.InstanceStateNameRunning)
	// The storage node holds 10 GiB: the larger volume goes, with its instance.
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{larger}}); err != nil {
		t.Fatal(err)
	}
	bareObj := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: project, Name: bare}, bareObj); err != nil {
		t.Fatal(err)
	}
	if cond := conditions.Get(bareObj, cloudv1.InstanceLaunchVolumes); cond != nil {
		t.Errorf("the launch that dropped the image's volume: %+v", cond)
	}

	// Shared with another project, the image launches there with its volume, as on EC2, without
	// the snapshot being shared: the launch's own mapping of the device without a snapshot
	// keeps the image's, larger and kept at termination. The snapshot itself stays hidden from
	// that project: not described, deleted, made into a volume or copied.
	if _, err := cl.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(image),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String("imgvol-other")}}}}); err != nil {
		t.Fatal(err)
	}
	theirs, err := launch(other)
	if err != nil {
		t.Fatal(err)
	}
	resized, err := launch(other, types.BlockDeviceMapping{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(2), DeleteOnTermination: aws.Bool(false)}})
	if err != nil {
		t.Fatal(err)
	}
	for inst, size := range map[string]int32{theirs: 1, resized: 2} {
		v := launchVolumesOf(t, other, inst, 1)["/dev/sdf"]
		if aws.ToInt32(v.Size) != size || aws.ToString(v.SnapshotId) != snap || aws.ToBool(v.Attachments[0].DeleteOnTermination) != (inst == theirs) {
			t.Errorf("the other project's volume of %s: %+v", inst, v)
		}
		if got := fileAt(t, backingFileOf(t, store, "imgvol-other", aws.ToString(v.VolumeId)), 1<<20, len(pattern)); !bytes.Equal(got, pattern) {
			t.Errorf("the other project's volume of %s does not hold the snapshot's bytes", inst)
		}
	}
	expectSnapshotNotFound(t, other, snap, zone)
	_, err = other.CopySnapshot(ctx, &ec2.CopySnapshotInput{SourceSnapshotId: aws.String(snap), SourceRegion: aws.String(testcloud.Region)})
	expectCode(t, err, "InvalidSnapshot.NotFound")
	// Its copy of the image, snapshot and all, is its own, and outlives the sharing.
	theirCopy := copyOf(other, "their copy")
	// Unshared, the image and its snapshot are out of reach again: neither a launch nor a
	// kubectl Volume labelled as the earlier launch's gets the snapshot.
	if _, err := cl.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(image),
		LaunchPermission: &types.LaunchPermissionModifications{Remove: []types.LaunchPermission{{UserId: aws.String("imgvol-other")}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = launch(other)
	expectCode(t, err, "InvalidAMIID.NotFound")
	fromCopy, err := other.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(theirCopy), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: "m1.tiny", Placement: &types.Placement{AvailabilityZone: aws.String(zone)}})
	if err != nil {
		t.Fatal(err)
	}
	v := launchVolumesOf(t, other, aws.ToString(fromCopy.Instances[0].InstanceId), 1)["/dev/sdf"]
	if got := fileAt(t, backingFileOf(t, store, "imgvol-other", aws.ToString(v.VolumeId)), 1<<20, len(pattern)); !bytes.Equal(got, pattern) {
		t.Error("the volume of the other project's copy of the image does not hold the snapshot's bytes")
	}
	relabelled := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "relabelled", Namespace: "imgvol-other",
		Labels: map[string]string{cloudv1.LabelLaunchInstance: theirs}},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: zone, SnapshotID: snap}}
	if err := env.Client.Create(ctx, relabelled); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "a volume of the unshared image's snapshot to fail", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(relabelled), relabelled); err != nil {
			return err
		}
		if cond := conditions.Get(relabelled, cloudv1.ReadyCondition); cond == nil || cond.Reason != cloudv1.ReasonSnapshotNotFound || relabelled.Status.AoE != nil {
			return fmt.Errorf("%+v, placed %+v", cond, relabelled.Status.AoE)
		}
		return nil
	})

	// An image may map its own project's snapshots only.
	otherSnap := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "maps-theirs", Namespace: "imgvol-other"},
		Spec: cloudv1.ImageSpec{SourceImageID: ami, BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{
			{DeviceName: "/dev/sdf", EBS: cloudv1.EBSBlockDevice{SnapshotID: snap}}}}}
	if err := env.Client.Create(ctx, otherSnap); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "an image mapping another project's snapshot to fail", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(otherSnap), otherSnap); err != nil {
			return err
		}
		if cond := conditions.Get(otherSnap, cloudv1.ReadyCondition); otherSnap.Status.State != cloudv1.ImageStateFailed ||
			cond == nil || cond.Reason != cloudv1.ReasonSnapshotNotFound || otherSnap.Status.Stored != nil {
			return fmt.Errorf("state %q %+v", otherSnap.Status.State, cond)
		}
		return nil
	})

	// Deregistered, the image no longer holds its snapshot (the other project's image naming it
	// never did): a member deletes it with kubectl.
	if _, err := cl.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(image)}); err != nil {
		t.Fatal(err)
	}
	mappedBy()
	if err := kube.Delete(ctx, snapObj.DeepCopy()); err != nil {
		t.Fatalf("deleting the snapshot no image maps: %v", err)
	}
}
