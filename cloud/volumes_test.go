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
	"errors"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/quota"
)

// volumeTestZone is the zone of the volume tests' hypervisor.
const volumeTestZone = "svc-vol-zone"

// volumeHypervisor registers a hypervisor (no agent behind it) so that volumeTestZone exists.
func volumeHypervisor(t *testing.T) {
	t.Helper()
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "svc-vol-hv"}, Spec: cloudv1.HypervisorSpec{Zone: volumeTestZone}}
	if err := env.Client.Create(context.Background(), hv); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// createTestVolume creates a volume in volumeTestZone, retrying while the service's cache does not
// show the zone yet; cleanup deletes its object.
func createTestVolume(t *testing.T, s *cloud.Service, c cloud.Caller, in cloud.CreateVolumeInput) *cloud.Volume {
	t.Helper()
	in.AvailabilityZone = volumeTestZone
	var v *cloud.Volume
	until(t, "a volume of "+c.Principal.User, func() error {
		var err error
		v, err = s.CreateVolume(context.Background(), c, in)
		if err != nil && codeOf(err) != cloud.CodeZoneNotFound {
			t.Fatalf("creating a volume: %v", err)
		}
		return err
	})
	obj := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: v.VolumeID, Namespace: c.Project()}}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	return v
}

// volumeObject reads a volume's object from the API server.
func volumeObject(t *testing.T, project, id string) *cloudv1.Volume {
	t.Helper()
	v := &cloudv1.Volume{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: project, Name: id}, v); err != nil {
		t.Fatalf("volume %s: %v", id, err)
	}
	return v
}

// liveVolumeObjects lists a project's Volume objects that are not being deleted.
func liveVolumeObjects(t *testing.T, project string) []cloudv1.Volume {
	list := &cloudv1.VolumeList{}
	return liveObjects(t, project, list, func() []cloudv1.Volume { return list.Items })
}

func describeVolumeIDs(t *testing.T, s *cloud.Service, c cloud.Caller) []string {
	t.Helper()
	vols, _, err := s.DescribeVolumes(context.Background(), c, cloud.DescribeVolumesInput{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(vols))
	for _, v := range vols {
		out = append(out, v.VolumeID)
	}
	return out
}

// attachTestVolume attaches, retrying while the service's cache does not show the instance yet.
func attachTestVolume(t *testing.T, s *cloud.Service, c cloud.Caller, in cloud.AttachVolumeInput) *cloud.VolumeAttachment {
	t.Helper()
	var a *cloud.VolumeAttachment
	until(t, "attaching "+in.VolumeID+" to "+in.InstanceID, func() error {
		var err error
		a, err = s.AttachVolume(context.Background(), c, in)
		if err != nil && codeOf(err) != cloud.CodeInstanceNotFound {
			t.Fatalf("attaching: %v", err)
		}
		return err
	})
	return a
}

func TestVolumesAcrossProjects(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	volumeHypervisor(t)
	theirs := createTestVolume(t, s, alice, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](2),
		TagSpecifications: tagSpecs("volume", "owner", "alice")})
	if theirs.SizeGiB != 2 || theirs.AvailabilityZone != volumeTestZone || theirs.State != "creating" || theirs.Tags["owner"] != "alice" {
		t.Fatalf("created %+v", theirs)
	}
	mine := createTestVolume(t, s, bob, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1)})
	theirInstance := kubectlInstance(t, "svc-a", "svc-vol-a", volumeTestZone)
	myInstance := kubectlInstance(t, "svc-b", "svc-vol-b", volumeTestZone)

	// Bob sees only his own volume; alice's is not found wherever he names it.
	if got := describeVolumeIDs(t, s, bob); !slices.Contains(got, mine.VolumeID) || slices.Contains(got, theirs.VolumeID) {
		t.Fatalf("bob sees %v", got)
	}
	_, _, err := s.DescribeVolumes(ctx, bob, cloud.DescribeVolumesInput{VolumeIDs: []string{theirs.VolumeID}})
	expectCode(t, err, cloud.CodeVolumeNotFound)
	_, err = s.AttachVolume(ctx, bob, cloud.AttachVolumeInput{VolumeID: theirs.VolumeID, InstanceID: myInstance, Device: "/dev/sdf"})
	expectCode(t, err, cloud.CodeVolumeNotFound)
	_, err = s.DetachVolume(ctx, bob, cloud.DetachVolumeInput{VolumeID: theirs.VolumeID})
	expectCode(t, err, cloud.CodeVolumeNotFound)
	expectCode(t, s.DeleteVolume(ctx, bob, cloud.VolumeIDInput{VolumeID: theirs.VolumeID}), cloud.CodeVolumeNotFound)
	// Nor can he attach his own volume to alice's instance.
	_, err = s.AttachVolume(ctx, bob, cloud.AttachVolumeInput{VolumeID: mine.VolumeID, InstanceID: theirInstance, Device: "/dev/sdf"})
	expectCode(t, err, cloud.CodeInstanceNotFound)
	if v := volumeObject(t, "svc-b", mine.VolumeID); v.Spec.AttachTo != nil {
		t.Fatalf("bob's volume was attached to %+v", v.Spec.AttachTo)
	}

	// Alice attaches hers; bob can still neither detach nor delete it.
	a := attachTestVolume(t, s, alice, cloud.AttachVolumeInput{VolumeID: theirs.VolumeID, InstanceID: theirInstance, Device: "/dev/sdf"})
	if a.State != "attaching" || a.InstanceID != theirInstance || a.Device != "/dev/sdf" || a.AttachTime.IsZero() {
		t.Fatalf("attachment %+v", a)
	}
	_, err = s.DetachVolume(ctx, bob, cloud.DetachVolumeInput{VolumeID: theirs.VolumeID})
	expectCode(t, err, cloud.CodeVolumeNotFound)
	expectCode(t, s.DeleteVolume(ctx, bob, cloud.VolumeIDInput{VolumeID: theirs.VolumeID}), cloud.CodeVolumeNotFound)
	at := volumeObject(t, "svc-a", theirs.VolumeID).Spec.AttachTo
	if at == nil || at.InstanceID != theirInstance || at.Device != "/dev/sdf" {
		t.Fatalf("alice's attachment is %+v", at)
	}
	if got := describeVolumeIDs(t, s, bob); !slices.Contains(got, mine.VolumeID) || slices.Contains(got, theirs.VolumeID) {
		t.Fatalf("bob sees %v", got)
	}
	vols, _, err := s.DescribeVolumes(ctx, alice, cloud.DescribeVolumesInput{
		Filters: []query.Filter{{Name: "attachment.instance-id", Values: []string{theirInstance}}}})
	if err != nil || len(vols) != 1 || vols[0].VolumeID != theirs.VolumeID || len(vols[0].Attachments) != 1 {
		t.Fatalf("alice's attached volumes %+v %v", vols, err)
	}

	// Alice's own refusals and lifecycle: in use, then detached and deleted.
	expectCode(t, s.DeleteVolume(ctx, alice, cloud.VolumeIDInput{VolumeID: theirs.VolumeID}), cloud.CodeVolumeInUse)
	d, err := s.DetachVolume(ctx, alice, cloud.DetachVolumeInput{VolumeID: theirs.VolumeID, InstanceID: theirInstance})
	if err != nil || d.State != "detaching" || d.InstanceID != theirInstance {
		t.Fatalf("detached %+v %v", d, err)
	}
	if err := s.DeleteVolume(ctx, alice, cloud.VolumeIDInput{VolumeID: theirs.VolumeID}); err != nil {
		t.Fatal(err)
	}
	if got := describeVolumeIDs(t, s, alice); slices.Contains(got, theirs.VolumeID) {
		t.Fatalf("alice still sees %v", got)
	}
}

func TestVolumeDryRunAndAuthorization(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	volumeHypervisor(t)
	v := createTestVolume(t, s, alice, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1)})
	inst := kubectlInstance(t, "svc-a", "svc-vol-dry", volumeTestZone)
	before := len(liveVolumeObjects(t, "svc-a"))

	_, err := s.CreateVolume(ctx, alice, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone, DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	_, err = s.CreateVolume(ctx, stranger, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone, DryRun: true})
	expectCode(t, err, cloud.CodeUnauthorized)
	_, err = s.CreateVolume(ctx, stranger, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone})
	expectCode(t, err, cloud.CodeUnauthorized)
	_, _, err = s.DescribeVolumes(ctx, alice, cloud.DescribeVolumesInput{DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	_, _, err = s.DescribeVolumes(ctx, stranger, cloud.DescribeVolumesInput{})
	expectCode(t, err, cloud.CodeUnauthorized)
	_, err = s.AttachVolume(ctx, alice, cloud.AttachVolumeInput{VolumeID: v.VolumeID, InstanceID: inst, Device: "/dev/sdg", DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	expectCode(t, s.DeleteVolume(ctx, alice, cloud.VolumeIDInput{VolumeID: v.VolumeID, DryRun: true}), cloud.CodeDryRun)
	_, err = s.DetachVolume(ctx, alice, cloud.DetachVolumeInput{VolumeID: v.VolumeID, DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)

	if after := len(liveVolumeObjects(t, "svc-a")); after != before {
		t.Fatalf("dry runs and refusals left %d volumes, had %d", after, before)
	}
	if obj := volumeObject(t, "svc-a", v.VolumeID); obj.Spec.AttachTo != nil || !obj.DeletionTimestamp.IsZero() {
		t.Fatalf("a dry run changed the volume: %+v", obj.Spec)
	}
}

// setVolumeGiBQuota sets a project's volume size quota; cleanup restores the quota it had.
func setVolumeGiBQuota(t *testing.T, project string, gib int64) {
	setQuota(t, project, func(q *cloudv1.ProjectQuota) { q.VolumeGiB = ptr.To(gib) })
}

func TestVolumeRefusalsLeaveNothing(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	volumeHypervisor(t)
	first := createTestVolume(t, s, bob, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](3), ClientToken: "svc-vol-token"})
	inst := kubectlInstance(t, "svc-b", "svc-vol-bad", volumeTestZone)
	before := liveVolumeObjects(t, "svc-b")

	for _, tc := range []struct {
		name string
		in   cloud.CreateVolumeInput
		code string
	}{
		{"no size", cloud.CreateVolumeInput{AvailabilityZone: volumeTestZone}, cloud.CodeMissingParameter},
		{"size 0", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](0), AvailabilityZone: volumeTestZone}, cloud.CodeInvalidParameter},
		{"too big", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](16385), AvailabilityZone: volumeTestZone}, cloud.CodeInvalidParameter},
		{"encrypted", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone, Encrypted: true}, cloud.CodeUnsupported},
		{"snapshot", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone, SnapshotID: "snap-0123456789abcdef0"}, cloud.CodeSnapshotNotFound},
		{"malformed snapshot", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone, SnapshotID: "snap-1"}, cloud.CodeSnapshotMalformed},
		{"volume type", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone, VolumeType: "floppy"}, cloud.CodeInvalidParameter},
		{"no zone", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1)}, cloud.CodeMissingParameter},
		{"unknown zone", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: "mars-1a"}, cloud.CodeZoneNotFound},
		{"tag type", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone,
			TagSpecifications: []cloud.TagSpecification{{ResourceType: "instance"}}}, cloud.CodeInvalidParameter},
		{"token reused", cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](4), AvailabilityZone: volumeTestZone, ClientToken: "svc-vol-token"}, cloud.CodeIdempotentMismatch},
	} {
		_, err := s.CreateVolume(ctx, bob, tc.in)
		if codeOf(err) != tc.code {
			t.Fatalf("%s: error %v, want code %s", tc.name, err, tc.code)
		}
	}
	// The same request with the same token meets the volume it made.
	again, err := s.CreateVolume(ctx, bob, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](3), AvailabilityZone: volumeTestZone, ClientToken: "svc-vol-token"})
	if err != nil || again.VolumeID != first.VolumeID {
		t.Fatalf("retried %+v %v, want %s", again, err, first.VolumeID)
	}
	// Once the service's cache shows the instance, attachments are refused for what they ask.
	until(t, "instance "+inst+" in the cache", func() error {
		_, err := s.AttachVolume(ctx, bob, cloud.AttachVolumeInput{VolumeID: first.VolumeID, InstanceID: inst, Device: "/dev/hda"})
		if codeOf(err) == cloud.CodeInstanceNotFound {
			return err
		}
		return nil
	})
	for _, tc := range []struct {
		name, id, instance, device, code string
	}{
		{"malformed volume", "vol-?", inst, "/dev/sdf", cloud.CodeVolumeMalformed},
		{"malformed instance", first.VolumeID, "i-?", "/dev/sdf", cloud.CodeInstanceMalformed},
		{"bad device", first.VolumeID, inst, "/dev/hda", cloud.CodeInvalidParameter},
		{"root device", first.VolumeID, inst, "/dev/sda", cloud.CodeInvalidParameter},
	} {
		_, err := s.AttachVolume(ctx, bob, cloud.AttachVolumeInput{VolumeID: tc.id, InstanceID: tc.instance, Device: tc.device})
		if codeOf(err) != tc.code {
			t.Fatalf("%s: error %v, want code %s", tc.name, err, tc.code)
		}
	}
	_, err = s.DetachVolume(ctx, bob, cloud.DetachVolumeInput{VolumeID: first.VolumeID})
	expectCode(t, err, cloud.CodeIncorrectResource)
	if after := liveVolumeObjects(t, "svc-b"); len(after) != len(before) {
		t.Fatalf("refusals left %d volumes, had %d", len(after), len(before))
	}
	if obj := volumeObject(t, "svc-b", first.VolumeID); obj.Spec.AttachTo != nil {
		t.Fatalf("a refused attachment was written: %+v", obj.Spec.AttachTo)
	}
}

func TestVolumeQuotaRefusalLeavesNothing(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	volumeHypervisor(t)
	used := int64(0)
	for _, v := range liveVolumeObjects(t, "svc-b") {
		used += int64(v.Spec.SizeGiB)
	}
	setVolumeGiBQuota(t, "svc-b", used+5)
	// Until the service's cache shows the quota, creations succeed unlimited; such a volume is
	// deleted again and the call retried until the quota refuses it.
	until(t, "a refusal under the volume size quota", func() error {
		v, err := s.CreateVolume(ctx, bob, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](6), AvailabilityZone: volumeTestZone})
		switch {
		case err == nil:
			_ = env.Client.Delete(ctx, &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: v.VolumeID, Namespace: "svc-b"}})
			return errors.New("the quota did not refuse yet")
		case codeOf(err) == cloud.CodeVolumeLimit:
			return nil
		case codeOf(err) == cloud.CodeZoneNotFound:
			return err
		}
		t.Fatalf("creating over the quota: %v", err)
		return nil
	})
	fits := createTestVolume(t, s, bob, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](5)})
	_, err := s.CreateVolume(ctx, bob, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](1), AvailabilityZone: volumeTestZone})
	expectCode(t, err, cloud.CodeVolumeLimit)
	var total int64
	for _, v := range liveVolumeObjects(t, "svc-b") {
		if quota.IsMarkedPending(&v) {
			t.Fatalf("volume %s was left pending", v.Name)
		}
		total += int64(v.Spec.SizeGiB)
	}
	if total != used+5 {
		t.Fatalf("bob's volumes hold %d GiB, want %d (the one that fits: %s)", total, used+5, fits.VolumeID)
	}
	// Alice's quota is not bob's.
	createTestVolume(t, s, alice, cloud.CreateVolumeInput{SizeGiB: ptr.To[int32](6)})
}
