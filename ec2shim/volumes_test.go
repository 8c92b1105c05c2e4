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
	"context"
	"errors"
	"fmt"
	"io/fs"
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

func describeVolume(t *testing.T, cl *ec2.Client, id string) types.Volume {
	t.Helper()
	return only(t, "volume "+id, cl.DescribeVolumes, &ec2.DescribeVolumesInput{VolumeIds: []string{id}},
		func(out *ec2.DescribeVolumesOutput) []types.Volume { return out.Volumes })
}

func volumeIDsOf(vols []types.Volume) []string {
	return idsOf(vols, func(v types.Volume) *string { return v.VolumeId })
}

func attachmentString(v types.Volume) string {
	if len(v.Attachments) == 0 {
		return "none"
	}
	a := v.Attachments[0]
	return fmt.Sprintf("%s %s %s", aws.ToString(a.InstanceId), aws.ToString(a.Device), a.State)
}

func newVolume(t *testing.T, cl *ec2.Client, zone string, size int32) string {
	t.Helper()
	out, err := cl.CreateVolume(context.Background(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(size)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VolumeId)
}

// launchIn starts one instance in the zone and returns its id.
func launchIn(t *testing.T, cl *ec2.Client, ami, zone string) string {
	t.Helper()
	out, err := cl.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: "m1.tiny", Placement: &types.Placement{AvailabilityZone: aws.String(zone)}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Instances[0].InstanceId)
}

// tenantWithStorage is tenantWithNode whose zone also has a storage node on the compute node's
// storage network: volumes are really exported and attached there.
func tenantWithStorage(t *testing.T, project string) (*testcloud.Node, *ec2.Client, string) {
	t.Helper()
	c, creds, cl := tenant(t, project)
	store, _ := c.AddStorageNodes(t, project+"-store", project+"-node", project+"-zone")
	return store, cl, c.RegisterRawImage(t, creds, project, "disk", []byte("0123456789"), false)
}

// waitVolumeState waits until DescribeVolumes shows the volume in state with the attachment
// want ("none", or instance, device and state) and returns it.
func waitVolumeState(t *testing.T, cl *ec2.Client, id string, state types.VolumeState, want string) types.Volume {
	t.Helper()
	var v types.Volume
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to be %s (%s)", id, state, want), func() error {
		v = describeVolume(t, cl, id)
		if v.State != state || attachmentString(v) != want {
			return fmt.Errorf("%s %s", v.State, attachmentString(v))
		}
		return nil
	})
	return v
}

// waitBlockDevices waits until DescribeInstances, and DescribeInstanceAttribute's
// blockDeviceMapping, show the instance's block device mappings as want: "device volume status
// attach-time delete-on-termination", one a line.
func waitBlockDevices(t *testing.T, cl *ec2.Client, inst, want string) {
	t.Helper()
	ctx := context.Background()
	testenv.Eventually(t, longWait, "the block devices of "+inst, func() error {
		out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{inst}})
		if err != nil {
			return err
		}
		attr, err := cl.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(inst),
			Attribute: types.InstanceAttributeNameBlockDeviceMapping})
		if err != nil {
			return err
		}
		for what, devices := range map[string][]types.InstanceBlockDeviceMapping{
			"DescribeInstances": out.Reservations[0].Instances[0].BlockDeviceMappings, "the attribute": attr.BlockDeviceMappings} {
			var lines []string
			for _, bd := range devices {
				if bd.Ebs == nil {
					return fmt.Errorf("%s: %s has no ebs", what, aws.ToString(bd.DeviceName))
				}
				at := "none"
				if bd.Ebs.AttachTime != nil {
					at = bd.Ebs.AttachTime.UTC().Format(time.RFC3339)
				}
				lines = append(lines, fmt.Sprintf("%s %s %s %s %v", aws.ToString(bd.DeviceName), aws.ToString(bd.Ebs.VolumeId),
					bd.Ebs.Status, at, aws.ToBool(bd.Ebs.DeleteOnTermination)))
			}
			if got := strings.Join(lines, "\n"); got != want {
				return fmt.Errorf("%s: block devices %q, want %q", what, got, want)
			}
		}
		return nil
	})
}

// TestVolumeLifecycle drives volumes through EC2 alone, on a real storage node and a real
// compute node joined by a storage network: created, exported (available), attached to a
// running instance by its node's agent (in use), detached, deleted.
func TestVolumeLifecycle(t *testing.T) {
	store, cl, ami := tenantWithStorage(t, "vollife")
	ctx := context.Background()

	before := time.Now().Add(-time.Minute)
	created, err := cl.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("vollife-zone"), Size: aws.Int32(2),
		VolumeType: types.VolumeTypeGp2, TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVolume,
			Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("data")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	v1 := aws.ToString(created.VolumeId)
	if !strings.HasPrefix(v1, "vol-") || aws.ToInt32(created.Size) != 2 || aws.ToString(created.AvailabilityZone) != "vollife-zone" ||
		created.State != types.VolumeStateCreating || created.VolumeType != types.VolumeTypeGp2 || aws.ToBool(created.Encrypted) ||
		len(created.Tags) != 1 || created.CreateTime == nil || created.CreateTime.Before(before) {
		t.Fatalf("created %+v", created)
	}
	// The Volume object is what was asked for, named by the id.
	obj := &cloudv1.Volume{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "vollife", Name: v1}, obj); err != nil {
		t.Fatal(err)
	}
	if obj.Spec.SizeGiB != 2 || obj.Spec.AvailabilityZone != "vollife-zone" || obj.Spec.AttachTo != nil {
		t.Fatalf("volume object %+v", obj.Spec)
	}
	// The storage node exports it: available, with a backing file of its size.
	if got := waitVolumeState(t, cl, v1, types.VolumeStateAvailable, "none"); aws.ToInt32(got.Size) != 2 {
		t.Fatalf("described %+v", got)
	}
	if fi, err := os.Stat(store.BackingFile(string(obj.UID))); err != nil || fi.Size() != 2<<30 {
		t.Fatalf("backing file: %v %v", fi, err)
	}

	inst := launchIn(t, cl, ami, "vollife-zone")
	att, err := cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(v1), InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")})
	if err != nil {
		t.Fatal(err)
	}
	if att.State != types.VolumeAttachmentStateAttaching || aws.ToString(att.InstanceId) != inst || aws.ToString(att.Device) != "/dev/sdf" {
		t.Fatalf("attach answered %+v", att)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "vollife", Name: v1}, obj); err != nil {
		t.Fatal(err)
	}
	if at := obj.Spec.AttachTo; at == nil || at.InstanceID != inst || at.Device != "/dev/sdf" {
		t.Fatalf("attachTo %+v", at)
	}

	// A volume, or a device, is used once, whether attaching or attached.
	v2 := newVolume(t, cl, "vollife-zone", 1)
	for _, dev := range []string{"/dev/xvdf", "/dev/sdf1", "/dev/sda", "/dev/sda1"} {
		_, err = cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(v2), InstanceId: aws.String(inst), Device: aws.String(dev)})
		expectCode(t, err, "InvalidParameterValue")
	}
	_, err = cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(v1), InstanceId: aws.String(inst), Device: aws.String("/dev/sdg")})
	expectCode(t, err, "VolumeInUse")
	_, err = cl.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(v1)})
	expectCode(t, err, "VolumeInUse")

	// The instance's node attaches it once the instance runs; the agent sets the attach time.
	waitState(t, cl, inst, types.InstanceStateNameRunning)
	got := waitVolumeState(t, cl, v1, types.VolumeStateInUse, inst+" /dev/sdf attached")
	if at := got.Attachments[0].AttachTime; at == nil || at.Before(created.CreateTime.Add(-time.Second)) || at.After(time.Now().Add(time.Minute)) {
		t.Fatalf("attach time %v (volume created %v)", at, created.CreateTime)
	}
	waitVolumeState(t, cl, v2, types.VolumeStateAvailable, "none")
	_, err = cl.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(v1)})
	expectCode(t, err, "VolumeInUse")
	// DescribeInstances shows it among the instance's block devices, as the agent attached it.
	waitBlockDevices(t, cl, inst, fmt.Sprintf("/dev/sdf %s attached %s false", v1, got.Attachments[0].AttachTime.UTC().Format(time.RFC3339)))
	// And the instance is found by its volume.
	for filter, value := range map[string]string{"block-device-mapping.volume-id": v1, "block-device-mapping.device-name": "/dev/sdf",
		"block-device-mapping.status": "attached", "block-device-mapping.delete-on-termination": "false"} {
		out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String(filter), Values: []string{value}}}})
		if err != nil || len(out.Reservations) != 1 || aws.ToString(out.Reservations[0].Instances[0].InstanceId) != inst {
			t.Fatalf("instances with %s=%s: %+v %v", filter, value, out, err)
		}
	}
	if out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("block-device-mapping.volume-id"),
		Values: []string{v2}}}}); err != nil || len(out.Reservations) != 0 {
		t.Fatalf("instances with the unattached %s: %+v %v", v2, out, err)
	}

	// Filters.
	expectFilters(t, []filterCase{
		{"attachment.instance-id", inst, []string{v1}},
		{"attachment.status", "attached", []string{v1}},
		{"attachment.status", "attaching", nil},
		{"attachment.device", "/dev/sd?", []string{v1}},
		{"size", "1", []string{v2}},
		{"status", "in-use", []string{v1}},
		{"status", "available", []string{v2}},
		{"status", "creating", nil},
		{"availability-zone", "vollife-zone", sorted(v1, v2)},
		{"volume-id", v2, []string{v2}},
		{"tag:Name", "data", []string{v1}},
		{"tag-key", "Name", []string{v1}},
		{"volume-type", "gp2", sorted(v1, v2)},
		{"volume-type", "standard", nil},
		{"create-time", "20*", sorted(v1, v2)},
		{"size", "3", nil},
	}, func(f []types.Filter) (*ec2.DescribeVolumesOutput, error) {
		return cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: f})
	}, func(out *ec2.DescribeVolumesOutput) []string { return volumeIDsOf(out.Volumes) })

	// Detaching: only what is attached, where it is attached.
	_, err = cl.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(v1), InstanceId: aws.String("i-0123456789abcdef0")})
	expectCode(t, err, "InvalidAttachment.NotFound")
	_, err = cl.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(v1), Device: aws.String("/dev/sdz")})
	expectCode(t, err, "InvalidAttachment.NotFound")
	_, err = cl.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(v2)})
	expectCode(t, err, "IncorrectState")
	det, err := cl.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(v1), InstanceId: aws.String(inst), Force: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if det.State != types.VolumeAttachmentStateDetaching || aws.ToString(det.InstanceId) != inst || aws.ToString(det.Device) != "/dev/sdf" {
		t.Fatalf("detach answered %+v", det)
	}
	// Detaching, then detached by the node (the attachment goes a moment before the controller
	// derives the state from it): either way not detachable again.
	if v := describeVolume(t, cl, v1); attachmentString(v) != inst+" /dev/sdf detaching" && len(v.Attachments) != 0 {
		t.Fatalf("after DetachVolume: %s %s", v.State, attachmentString(v))
	}
	_, err = cl.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(v1)})
	expectCode(t, err, "IncorrectState")
	waitVolumeState(t, cl, v1, types.VolumeStateAvailable, "none")
	waitBlockDevices(t, cl, inst, "")

	// Attached again, elsewhere on the instance, and detached without force.
	if _, err := cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(v2), InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")}); err != nil {
		t.Fatal(err)
	}
	waitVolumeState(t, cl, v2, types.VolumeStateInUse, inst+" /dev/sdf attached")
	_, err = cl.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(v2)})
	expectCode(t, err, "VolumeInUse")
	if _, err := cl.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(v2)})
	expectCode(t, err, "IncorrectState")
	waitVolumeState(t, cl, v2, types.VolumeStateAvailable, "none")

	// Terminating the instance detaches what is attached to it: the volume is available with no
	// attachment, and may be deleted (the attach request naming the terminated instance stays
	// in its spec, as with a kubectl user's, and counts for nothing).
	if _, err := cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(v1), InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")}); err != nil {
		t.Fatal(err)
	}
	waitVolumeState(t, cl, v1, types.VolumeStateInUse, inst+" /dev/sdf attached")
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{inst}}); err != nil {
		t.Fatal(err)
	}
	waitVolumeState(t, cl, v1, types.VolumeStateAvailable, "none")

	// Delete both; they are gone at once, and so are their backing files, in time.
	for _, id := range []string{v1, v2} {
		if _, err := cl.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
		_, err = cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
		expectCode(t, err, "InvalidVolume.NotFound")
	}
	_, err = cl.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(v1)})
	expectCode(t, err, "InvalidVolume.NotFound")
	testenv.Eventually(t, longWait, "the backing file to go", func() error {
		if _, err := os.Stat(store.BackingFile(string(obj.UID))); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("backing file: %v", err)
		}
		return nil
	})

	// An instance on its way out takes no volume.
	v3 := newVolume(t, cl, "vollife-zone", 1)
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{inst}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, inst, types.InstanceStateNameTerminated)
	_, err = cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(v3), InstanceId: aws.String(inst), Device: aws.String("/dev/sdh")})
	expectCode(t, err, "IncorrectInstanceState")
}

func TestVolumesRefuseBadInput(t *testing.T) {
	c, creds, cl, ami := tenantWithNode(t, "volbad")
	ctx := context.Background()

	expectRefusals(t, "create ", func() *ec2.CreateVolumeInput {
		return &ec2.CreateVolumeInput{AvailabilityZone: aws.String("volbad-zone"), Size: aws.Int32(1)}
	}, cl.CreateVolume, []refusal[ec2.CreateVolumeInput]{
		{"no size", func(in *ec2.CreateVolumeInput) { in.Size = nil }, "MissingParameter"},
		{"zero size", func(in *ec2.CreateVolumeInput) { in.Size = aws.Int32(0) }, "InvalidParameterValue"},
		{"huge", func(in *ec2.CreateVolumeInput) { in.Size = aws.Int32(16385) }, "InvalidParameterValue"},
		{"no zone", func(in *ec2.CreateVolumeInput) { in.AvailabilityZone = nil }, "MissingParameter"},
		{"unknown zone", func(in *ec2.CreateVolumeInput) { in.AvailabilityZone = aws.String("mars-1a") }, "InvalidZone.NotFound"},
		{"unknown zone id", func(in *ec2.CreateVolumeInput) {
			in.AvailabilityZone, in.AvailabilityZoneId = nil, aws.String("mars-az9")
		}, "InvalidZone.NotFound"},
		{"zone and zone id", func(in *ec2.CreateVolumeInput) { in.AvailabilityZoneId = aws.String("pinet-az1") }, "InvalidParameterCombination"},
		{"snapshot", func(in *ec2.CreateVolumeInput) { in.Size, in.SnapshotId = nil, aws.String("snap-0123456789abcdef0") }, "InvalidSnapshot.NotFound"},
		{"encrypted", func(in *ec2.CreateVolumeInput) { in.Encrypted = aws.Bool(true) }, "UnsupportedOperation"},
		{"unknown type", func(in *ec2.CreateVolumeInput) { in.VolumeType = "fast" }, "InvalidParameterValue"},
		{"long token", func(in *ec2.CreateVolumeInput) { in.ClientToken = aws.String(strings.Repeat("t", 65)) }, "InvalidParameterValue"},
		{"tags for instances", func(in *ec2.CreateVolumeInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("k")}}}}
		}, "InvalidParameterValue"},
		{"reserved tag", func(in *ec2.CreateVolumeInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("aws:x")}}}}
		}, "InvalidParameterValue"},
		{"dry run", func(in *ec2.CreateVolumeInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
	})
	if got := signedQuery(t, c, creds, "CreateVolume", url.Values{"AvailabilityZone": {"volbad-zone"}, "Size": {"1"}, "MultiAttachEnabled": {"true"}}); got != "UnknownParameter" {
		t.Fatalf("MultiAttachEnabled: %q", got)
	}

	// The zone can be named by its id.
	zones, err := cl.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"volbad-zone"}})
	if err != nil {
		t.Fatal(err)
	}
	byID, err := cl.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZoneId: zones.AvailabilityZones[0].ZoneId, Size: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	vol := aws.ToString(byID.VolumeId)
	if aws.ToString(byID.AvailabilityZone) != "volbad-zone" {
		t.Fatalf("zone %s", aws.ToString(byID.AvailabilityZone))
	}

	for _, tc := range []struct {
		name string
		in   *ec2.DescribeVolumesInput
		code string
	}{
		{"malformed id", &ec2.DescribeVolumesInput{VolumeIds: []string{"vol-1"}}, "InvalidVolumeID.Malformed"},
		{"unknown id", &ec2.DescribeVolumesInput{VolumeIds: []string{vol, "vol-0123456789abcdef0"}}, "InvalidVolume.NotFound"},
		{"unknown filter", &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("iops"), Values: []string{"1"}}}}, "InvalidParameterValue"},
		{"ids and paging", &ec2.DescribeVolumesInput{VolumeIds: []string{vol}, MaxResults: aws.Int32(5)}, "InvalidParameterValue"},
		{"small page", &ec2.DescribeVolumesInput{MaxResults: aws.Int32(4)}, "InvalidParameterValue"},
		{"forged token", &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5), NextToken: aws.String("forged")}, "InvalidParameterValue"},
	} {
		t.Run("describe "+tc.name, func(t *testing.T) {
			_, err := cl.DescribeVolumes(ctx, tc.in)
			expectCode(t, err, tc.code)
		})
	}

	inst := launchIn(t, cl, ami, "volbad-zone")
	elsewhere := ids.New(ids.Volume)
	if err := env.Client.Create(ctx, &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: elsewhere, Namespace: "volbad"},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "other-zone"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the volume made by manifest", func() error {
		_, err := cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{elsewhere}})
		return err
	})
	attach := func(volume, instance, device string) error {
		_, err := cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(volume), InstanceId: aws.String(instance), Device: aws.String(device)})
		return err
	}
	for _, tc := range []struct {
		name                     string
		volume, instance, device string
		code                     string
	}{
		{"unknown volume", "vol-0123456789abcdef0", inst, "/dev/sdf", "InvalidVolume.NotFound"},
		{"malformed volume", "vol", inst, "/dev/sdf", "InvalidVolumeID.Malformed"},
		{"unknown instance", vol, "i-0123456789abcdef0", "/dev/sdf", "InvalidInstanceID.NotFound"},
		{"malformed instance", vol, "i-1", "/dev/sdf", "InvalidInstanceID.Malformed"},
		{"IDE device", vol, inst, "/dev/hda", "InvalidParameterValue"},
		{"no /dev", vol, inst, "sdf", "InvalidParameterValue"},
		{"empty device", vol, inst, "", "InvalidParameterValue"},
		{"other zone", elsewhere, inst, "/dev/sdf", "InvalidVolume.ZoneMismatch"},
	} {
		t.Run("attach "+tc.name, func(t *testing.T) { expectCode(t, attach(tc.volume, tc.instance, tc.device), tc.code) })
	}
	_, err = cl.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(vol)})
	expectCode(t, err, "IncorrectState")

	// Nothing was half-made: the two volumes and no attachment.
	out, err := cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := volumeIDsOf(out.Volumes); fmt.Sprint(got) != fmt.Sprint(sorted(vol, elsewhere)) {
		t.Fatalf("volumes after refused calls: %v", got)
	}
	for _, v := range out.Volumes {
		if len(v.Attachments) != 0 {
			t.Fatalf("%s is attached after refused calls", aws.ToString(v.VolumeId))
		}
	}
	if v := describeVolume(t, cl, elsewhere); v.State != types.VolumeStateCreating || aws.ToString(v.AvailabilityZone) != "other-zone" {
		t.Fatalf("volume made by manifest: %+v", v)
	}
}

func TestVolumeClientTokenAndPaging(t *testing.T) {
	c, _, cl := tenant(t, "voltok")
	c.AddNode(t, "voltok-node", "voltok-zone", 4, 8192)
	ctx := context.Background()
	in := &ec2.CreateVolumeInput{AvailabilityZone: aws.String("voltok-zone"), Size: aws.Int32(3), ClientToken: aws.String("token-1")}
	got := make([]string, 10)
	errs := testenv.Race(len(got), func(i int) error {
		out, err := cl.CreateVolume(ctx, in)
		got[i] = aws.ToString(out.VolumeId)
		return err
	})
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("call %d: %s (%v), call 0: %s", i, got[i], errs[i], got[0])
		}
	}
	changed := *in
	changed.Size = aws.Int32(4)
	_, err := cl.CreateVolume(ctx, &changed)
	expectCode(t, err, "IdempotentParameterMismatch")

	for i := 0; i < 6; i++ {
		newVolume(t, cl, "voltok-zone", int32(i+1))
	}
	if err := checkPages(ctx, ec2.NewDescribeVolumesPaginator(cl, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)}),
		func(o *ec2.DescribeVolumesOutput) []string { return volumeIDsOf(o.Volumes) }, 7, 2); err != nil {
		t.Fatal(err)
	}
	// The AWS CLI pages DescribeVolumes by 1000; above 500 the page is 500 volumes, as in EC2.
	all, err := cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(1000)})
	if err != nil || len(all.Volumes) != 7 || all.NextToken != nil {
		t.Fatalf("MaxResults 1000: %v %+v", err, all)
	}
}

func TestVolumeQuota(t *testing.T) {
	c, _, cl := tenant(t, "volquota")
	c.AddNode(t, "volquota-node", "volquota-zone", 4, 8192)
	ctx := context.Background()
	setQuota(t, cl, "volquota", cloudv1.ProjectQuota{Volumes: ptr.To[int32](2), VolumeGiB: ptr.To[int64](15)})

	newVolume(t, cl, "volquota-zone", 10)
	_, err := cl.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("volquota-zone"), Size: aws.Int32(6)})
	expectCode(t, err, "VolumeLimitExceeded")
	newVolume(t, cl, "volquota-zone", 5)
	_, err = cl.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("volquota-zone"), Size: aws.Int32(1)})
	expectCode(t, err, "VolumeLimitExceeded")
	out, err := cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil || len(out.Volumes) != 2 {
		t.Fatalf("%d volumes within a quota of 2 (%v)", len(out.Volumes), err)
	}
}

// setQuota sets a project's quota and waits until the API reads it (its address limit shows in
// DescribeAccountAttributes, so every quota carries one).
func setQuota(t *testing.T, cl *ec2.Client, project string, q cloudv1.ProjectQuota) {
	t.Helper()
	ctx := context.Background()
	if q.Addresses == nil {
		q.Addresses = ptr.To[int32](1000)
	}
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: project}}
	if err := testenv.Update(ctx, env.Client, p, func(p *cloudv1.Project) { p.Spec.Quota = q }); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint(*q.Addresses)
	testenv.Eventually(t, shortWait, "the quota to be read", func() error {
		out, err := cl.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{"max-elastic-ips"}})
		if err != nil {
			return err
		}
		if got := aws.ToString(out.AccountAttributes[0].AttributeValues[0].AttributeValue); got != want {
			return fmt.Errorf("max-elastic-ips %s", got)
		}
		return nil
	})
}

func TestVolumesAcrossProjects(t *testing.T) {
	c, ca, a := tenant(t, "vol-a")
	_, _, b := tenant(t, "vol-b")
	c.AddNode(t, "volab-node", "volab-zone", 4, 8192)
	ami := c.RegisterRawImage(t, ca, "vol-a", "disk", []byte("0123456789"), false)
	ctx := context.Background()
	vol := newVolume(t, a, "volab-zone", 1)
	inst := launchIn(t, a, ami, "volab-zone")
	mine := newVolume(t, b, "volab-zone", 1)

	_, err := b.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol}})
	expectCode(t, err, "InvalidVolume.NotFound")
	_, err = b.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(vol)})
	expectCode(t, err, "InvalidVolume.NotFound")
	_, err = b.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(vol), InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")})
	expectCode(t, err, "InvalidVolume.NotFound")
	_, err = b.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(mine), InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	_, err = b.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(vol)})
	expectCode(t, err, "InvalidVolume.NotFound")
	out, err := b.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil || fmt.Sprint(volumeIDsOf(out.Volumes)) != fmt.Sprint([]string{mine}) {
		t.Fatalf("b sees %v (%v)", volumeIDsOf(out.Volumes), err)
	}
	if v := describeVolume(t, a, vol); len(v.Attachments) != 0 {
		t.Fatalf("a's volume after b's calls: %+v", v)
	}
}
