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
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// TestVolumeTypes: a volume keeps the type, iops and throughput it was made with (gp2 by
// default, as on EC2) and shows them; EC2's rules of each type refuse the rest, making nothing,
// at both doors; the guest's disk is held to the type's I/O by QEMU's throttle in the domain
// definition, for a launch volume and for one attached later; the type cannot be changed.
func TestVolumeTypes(t *testing.T) {
	const project, zone = "voltype", "voltype-zone"
	c, creds, cl := tenant(t, project)
	_, compute := c.AddStorageNodes(t, project+"-store", project+"-node", zone)
	ami := c.RegisterRawImage(t, creds, project, "disk", []byte("0123456789"), false)
	ctx := context.Background()

	valid := func() *ec2.CreateVolumeInput {
		return &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(4), VolumeType: types.VolumeTypeGp3,
			Iops: aws.Int32(3000), Throughput: aws.Int32(250)}
	}
	expectRefusals(t, "CreateVolume ", valid, cl.CreateVolume, []refusal[ec2.CreateVolumeInput]{
		{"of an unknown type", func(in *ec2.CreateVolumeInput) { in.VolumeType = "gp9" }, "InvalidParameterValue"},
		{"gp2 with iops", func(in *ec2.CreateVolumeInput) { in.VolumeType, in.Throughput = types.VolumeTypeGp2, nil }, "InvalidParameterCombination"},
		{"io1 with throughput", func(in *ec2.CreateVolumeInput) { in.VolumeType, in.Iops = types.VolumeTypeIo1, aws.Int32(200) }, "InvalidParameterCombination"},
		{"io1 without iops", func(in *ec2.CreateVolumeInput) { in.VolumeType, in.Iops, in.Throughput = types.VolumeTypeIo1, nil, nil }, "MissingParameter"},
		{"io1 past 50 iops per GiB", func(in *ec2.CreateVolumeInput) {
			in.VolumeType, in.Iops, in.Throughput = types.VolumeTypeIo1, aws.Int32(201), nil
		}, "InvalidParameterValue"},
		{"io2 below 4 GiB", func(in *ec2.CreateVolumeInput) {
			in.VolumeType, in.Iops, in.Throughput, in.Size = types.VolumeTypeIo2, aws.Int32(100), nil, aws.Int32(2)
		}, "InvalidParameterValue"},
		{"gp3 below 3000 iops", func(in *ec2.CreateVolumeInput) { in.Iops, in.Throughput = aws.Int32(2000), nil }, "InvalidParameterValue"},
		{"gp3 past 500 iops per GiB", func(in *ec2.CreateVolumeInput) { in.Iops = aws.Int32(4001) }, "InvalidParameterValue"},
		{"gp3 throughput past 1000 MiB/s", func(in *ec2.CreateVolumeInput) { in.Throughput = aws.Int32(1001) }, "InvalidParameterValue"},
		{"gp3 throughput past a quarter of its iops", func(in *ec2.CreateVolumeInput) { in.Iops, in.Throughput = nil, aws.Int32(800) }, "InvalidParameterValue"},
		{"st1 below 125 GiB", func(in *ec2.CreateVolumeInput) { in.VolumeType, in.Iops, in.Throughput = types.VolumeTypeSt1, nil, nil }, "InvalidParameterValue"},
		{"standard past 1024 GiB", func(in *ec2.CreateVolumeInput) {
			in.VolumeType, in.Iops, in.Throughput, in.Size = types.VolumeTypeStandard, nil, nil, aws.Int32(2048)
		}, "InvalidParameterValue"},
	})
	expectCount(t, project, &cloudv1.VolumeList{}, 0)

	gp3, err := cl.CreateVolume(ctx, valid())
	if err != nil {
		t.Fatal(err)
	}
	plain := newVolume(t, cl, zone, 1)
	out, err := cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(gp3.VolumeId), plain}})
	if err != nil || len(out.Volumes) != 2 {
		t.Fatalf("describing the volumes: %+v (%v)", out, err)
	}
	for _, v := range out.Volumes {
		got := [3]any{v.VolumeType, aws.ToInt32(v.Iops), aws.ToInt32(v.Throughput)}
		want := [3]any{types.VolumeTypeGp2, int32(100), int32(0)}
		if aws.ToString(v.VolumeId) == aws.ToString(gp3.VolumeId) {
			want = [3]any{types.VolumeTypeGp3, int32(3000), int32(250)}
		}
		if got != want {
			t.Errorf("volume %s: type, iops, throughput %v, want %v", aws.ToString(v.VolumeId), got, want)
		}
	}
	byType, err := cl.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("volume-type"), Values: []string{"gp3"}}}})
	if err != nil || len(byType.Volumes) != 1 || aws.ToString(byType.Volumes[0].VolumeId) != aws.ToString(gp3.VolumeId) {
		t.Errorf("the gp3 volumes: %+v (%v)", byType, err)
	}
	_, err = cl.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String(plain), VolumeType: types.VolumeTypeGp3})
	expectCode(t, err, "UnsupportedOperation")
	// Nor may a volume grow past what its type holds.
	standard, err := cl.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(1), VolumeType: types.VolumeTypeStandard})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: standard.VolumeId, Size: aws.Int32(2048)})
	expectCode(t, err, "InvalidParameterValue")
	if _, err := cl.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: standard.VolumeId}); err != nil {
		t.Fatal(err)
	}

	// kubectl: the same rules, as the Volume's admission rules.
	kube, err := c.Env.ClientAs(cloudv1.UserPrefix+project+"-user", cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	for name, spec := range map[string]cloudv1.VolumeSpec{
		"iops is for gp3, io1 and io2 volumes": {SizeGiB: 8, VolumeType: cloudv1.VolumeTypeGP2, Iops: 300},
		"io1 and io2 volumes need iops":        {SizeGiB: 8, VolumeType: cloudv1.VolumeTypeIO2},
		"at most 50 per GiB":                   {SizeGiB: 8, VolumeType: cloudv1.VolumeTypeIO1, Iops: 401},
		"st1 and sc1 volumes hold at least":    {SizeGiB: 8, VolumeType: cloudv1.VolumeTypeSC1},
	} {
		v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{GenerateName: "typed-", Namespace: project}, Spec: spec}
		if err := kube.Create(ctx, v); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), name) {
			t.Errorf("a kubectl volume %+v: %v, want %q", spec, err, name)
		}
	}
	// A kubectl Instance whose mapping the Volume's rules refuse (201 iops on 4 GiB of io1) gets no
	// volume, and says so, rather than trying again.
	refused := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "refused-volume", Namespace: project},
		Spec: cloudv1.InstanceSpec{ImageID: ami, InstanceType: "m1.tiny", AvailabilityZone: zone,
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/sdh",
				EBS: &cloudv1.EBSBlockDevice{VolumeSize: 4, VolumeType: cloudv1.VolumeTypeIO1, Iops: 201}}}}}
	if err := kube.Create(ctx, refused); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the refused launch volume to be reported", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(refused), refused); err != nil {
			return err
		}
		if c := conditions.Get(refused, cloudv1.InstanceLaunchVolumes); c == nil || c.Status != metav1.ConditionTrue ||
			!strings.Contains(c.Message, "none (refused) at /dev/sdh") {
			return fmt.Errorf("LaunchVolumes %+v", c)
		}
		return nil
	})
	if err := kube.Delete(ctx, refused); err != nil {
		t.Fatal(err)
	}
	// The deleted standard volume may still be going.
	testenv.Eventually(t, longWait, "the project's two volumes", func() error { return countIs(project, &cloudv1.VolumeList{}, 2) })

	// The guest's disks: a launch's io1 volume throttled from the first definition, the gp3 one
	// once attached.
	run, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: "m1.tiny", Placement: &types.Placement{AvailabilityZone: aws.String(zone)},
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"),
			Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(4), VolumeType: types.VolumeTypeIo1, Iops: aws.Int32(200)}}}})
	if err != nil {
		t.Fatal(err)
	}
	inst := aws.ToString(run.Instances[0].InstanceId)
	waitState(t, cl, inst, types.InstanceStateNameRunning)
	launched := launchVolumesOf(t, cl, inst, 1)["/dev/sdf"]
	if launched.VolumeType != types.VolumeTypeIo1 || aws.ToInt32(launched.Iops) != 200 {
		t.Errorf("the launch volume: %s, %d iops", launched.VolumeType, aws.ToInt32(launched.Iops))
	}
	if _, err := cl.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: gp3.VolumeId, InstanceId: aws.String(inst), Device: aws.String("/dev/sdg")}); err != nil {
		t.Fatal(err)
	}
	waitVolumeState(t, cl, aws.ToString(gp3.VolumeId), types.VolumeStateInUse, inst+" /dev/sdg attached")
	domain := compute.Domains(t)[inst].XML
	for _, want := range []string{
		"<total_iops_sec>200</total_iops_sec>", "<size_iops_sec>262144</size_iops_sec>", // io1, 256 KiB an operation
		"<total_iops_sec>3000</total_iops_sec>", "<total_bytes_sec>262144000</total_bytes_sec>", // gp3
	} {
		if !strings.Contains(domain, want) {
			t.Errorf("the domain lacks %s:\n%s", want, domain)
		}
	}
}
