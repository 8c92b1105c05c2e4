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

package v1alpha1_test

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func TestInstanceTerminating(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		name    string
		desired cloudv1.DesiredState
		deleted bool
		guest   *cloudv1.GuestShutdown
		want    bool
	}{
		{name: "running", desired: cloudv1.DesiredRunning},
		{name: "stopped", desired: cloudv1.DesiredStopped},
		{name: "terminated", desired: cloudv1.DesiredTerminated, want: true},
		{name: "deleted while running", desired: cloudv1.DesiredRunning, deleted: true, want: true},
		{name: "guest stopped itself", desired: cloudv1.DesiredRunning,
			guest: &cloudv1.GuestShutdown{State: cloudv1.InstanceStateStopped}},
		{name: "guest shut down, shutdown behavior terminate", desired: cloudv1.DesiredRunning,
			guest: &cloudv1.GuestShutdown{State: cloudv1.InstanceStateTerminated}, want: true},
	} {
		inst := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: tc.desired}}
		inst.Status.GuestShutdown = tc.guest
		if tc.deleted {
			inst.DeletionTimestamp = &now
		}
		if got := inst.Terminating(); got != tc.want {
			t.Errorf("%s: Terminating() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestLaunchVolumes: the image's volumes, each replaced by the instance's own mapping of the
// device (dropped by noDevice; one without a snapshot keeps the image's, larger or kept), then
// the instance's others; the image's spec is never changed.
func TestLaunchVolumes(t *testing.T) {
	keep := false
	img := &cloudv1.Image{Spec: cloudv1.ImageSpec{BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{
		{DeviceName: "/dev/sdf", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-f", VolumeSize: 2}},
		{DeviceName: "/dev/sdg", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-g"}},
		{DeviceName: "/dev/sdh", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-h"}},
		{DeviceName: "/dev/sdi", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-i"}},
	}}}
	inst := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{BlockDeviceMappings: []cloudv1.BlockDeviceMapping{
		{DeviceName: "/dev/sdg", EBS: &cloudv1.EBSBlockDevice{VolumeSize: 5, DeleteOnTermination: &keep}},
		{DeviceName: "/dev/sdh", NoDevice: true},
		{DeviceName: "/dev/sdi", EBS: &cloudv1.EBSBlockDevice{SnapshotID: "snap-mine"}},
		{DeviceName: "/dev/sdj", EBS: &cloudv1.EBSBlockDevice{VolumeSize: 1}},
	}}}
	describe := func(ms []cloudv1.BlockDeviceMapping) []string {
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s %s %d %v", m.DeviceName, m.EBS.SnapshotID, m.EBS.VolumeSize, m.EBS.DeletesOnTermination()))
		}
		return out
	}
	want := []string{"/dev/sdf snap-f 2 true", "/dev/sdg snap-g 5 false", "/dev/sdi snap-mine 0 true", "/dev/sdj  1 true"}
	if got := describe(cloudv1.LaunchVolumes(img, inst)); !slices.Equal(got, want) {
		t.Errorf("with the image: %q, want %q", got, want)
	}
	if got, want := describe(cloudv1.LaunchVolumes(nil, inst)), []string{"/dev/sdg  5 false", "/dev/sdi snap-mine 0 true", "/dev/sdj  1 true"}; !slices.Equal(got, want) {
		t.Errorf("without the image: %q, want %q", got, want)
	}
	if inst.Spec.BlockDeviceMappings[0].EBS.SnapshotID != "" {
		t.Error("LaunchVolumes changed the instance's spec")
	}
}

// TestIOLimits: what each volume type gives its guest, after EC2's figures.
func TestIOLimits(t *testing.T) {
	vol := func(typ cloudv1.VolumeType, gib, iops, throughput int32) *cloudv1.Volume {
		return &cloudv1.Volume{Spec: cloudv1.VolumeSpec{VolumeType: typ, SizeGiB: gib, Iops: iops, Throughput: throughput}}
	}
	const mib = 1 << 20
	for _, tc := range []struct {
		v    *cloudv1.Volume
		want cloudv1.IOLimits
	}{
		// gp2 (the default): 3 per GiB, at least 100, bursting to 3000 on 5.4 million credits.
		{vol("", 1, 0, 0), cloudv1.IOLimits{IOPS: 100, BurstIOPS: 3000, BurstSeconds: 5_400_000 / 2900, BytesPerSec: 250 * mib}},
		{vol(cloudv1.VolumeTypeGP2, 2000, 0, 0), cloudv1.IOLimits{IOPS: 6000, BytesPerSec: 250 * mib}},
		{vol(cloudv1.VolumeTypeGP2, 10000, 0, 0), cloudv1.IOLimits{IOPS: 16000, BytesPerSec: 250 * mib}},
		{vol(cloudv1.VolumeTypeGP3, 1, 0, 0), cloudv1.IOLimits{IOPS: 3000, BytesPerSec: 125 * mib}},
		{vol(cloudv1.VolumeTypeGP3, 8, 4000, 250), cloudv1.IOLimits{IOPS: 4000, BytesPerSec: 250 * mib}},
		{vol(cloudv1.VolumeTypeIO1, 4, 200, 0), cloudv1.IOLimits{IOPS: 200, BytesPerSec: 1000 * mib}},
		{vol(cloudv1.VolumeTypeIO2, 4, 4000, 0), cloudv1.IOLimits{IOPS: 4000, BytesPerSec: 4000 * mib}},
		// st1: 40 MiB/s per TiB, bursting to 250 per TiB on a bucket of its size.
		{vol(cloudv1.VolumeTypeST1, 1024, 0, 0), cloudv1.IOLimits{BytesPerSec: 40 * mib, BurstBytesPerSec: 250 * mib, BurstSeconds: (1 << 40) / (210 * mib)}},
		{vol(cloudv1.VolumeTypeSC1, 16384, 0, 0), cloudv1.IOLimits{BytesPerSec: 192 * mib, BurstBytesPerSec: 250 * mib, BurstSeconds: (16384 << 30) / (58 * mib)}},
		{vol(cloudv1.VolumeTypeStandard, 1, 0, 0), cloudv1.IOLimits{}},
	} {
		if got := tc.v.IOLimits(); got != tc.want {
			t.Errorf("%s of %d GiB: %+v, want %+v", tc.v.Spec.VolumeType, tc.v.Spec.SizeGiB, got, tc.want)
		}
	}
}
