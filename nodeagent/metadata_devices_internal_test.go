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

package nodeagent

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// The metadata service's block-device-mapping/ names the root disk, the type's instance-store
// disks where the node defines them, and the devices of the launch's volumes.
func TestBlockDevicesOf(t *testing.T) {
	tiny := &cloudv1.InstanceType{Spec: cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 512, RootDiskGiB: 1}}
	small := &cloudv1.InstanceType{Spec: cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 2048, RootDiskGiB: 10, EphemeralDiskGiB: 20, SwapMiB: 512}}
	launch := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "i"}, Spec: cloudv1.InstanceSpec{BlockDeviceMappings: []cloudv1.BlockDeviceMapping{
		{DeviceName: "/dev/sdf", EBS: &cloudv1.EBSBlockDevice{VolumeSize: 1}},
		{DeviceName: "/dev/sdh", VirtualName: ptr.To("ephemeral1")},
		{DeviceName: "/dev/xvdg", EBS: &cloudv1.EBSBlockDevice{SnapshotID: "snap-0123456789abcdef0"}},
	}}}
	image := &cloudv1.Image{Spec: cloudv1.ImageSpec{BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{
		{DeviceName: "/dev/sdj", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-0123456789abcdef1"}},
		{DeviceName: "/dev/sdf", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-0123456789abcdef2"}},
		{DeviceName: "/dev/sdk", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-0123456789abcdef3"}},
	}}}
	launch.Spec.BlockDeviceMappings = append(launch.Spec.BlockDeviceMappings, cloudv1.BlockDeviceMapping{DeviceName: "/dev/sdk", NoDevice: true})
	for _, tc := range []struct {
		inst *cloudv1.Instance
		img  *cloudv1.Image
		it   *cloudv1.InstanceType
		want string
	}{
		{&cloudv1.Instance{}, nil, tiny, "[{ami /dev/vda} {root /dev/vda}]"},
		{&cloudv1.Instance{}, nil, small, "[{ami /dev/vda} {root /dev/vda} {ephemeral0 vdb} {swap vdc}]"},
		{&cloudv1.Instance{}, nil, nil, "[{ami /dev/vda} {root /dev/vda}]"},
		{&cloudv1.Instance{}, nil, &cloudv1.InstanceType{Spec: cloudv1.InstanceTypeSpec{SwapMiB: 256}}, "[{ami /dev/vda} {root /dev/vda} {swap vdb}]"},
		{launch, nil, small, "[{ami /dev/vda} {root /dev/vda} {ephemeral0 vdb} {swap vdc} {ebs1 sdf} {ebs2 xvdg}]"},
		// The image's volumes first, but for one the launch drops or maps itself.
		{launch, image, tiny, "[{ami /dev/vda} {root /dev/vda} {ebs1 sdj} {ebs2 sdf} {ebs3 xvdg}]"},
	} {
		if got := fmt.Sprint(blockDevicesOf(tc.it, cloudv1.LaunchVolumes(tc.img, tc.inst))); got != tc.want {
			t.Errorf("%s of %v: %s, want %s", tc.inst.Name, tc.it, got, tc.want)
		}
	}
}
