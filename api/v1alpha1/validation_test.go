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
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "api-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func expectRefused(t *testing.T, obj client.Object, want string) {
	t.Helper()
	err := env.Client.Create(context.Background(), obj)
	if err == nil {
		t.Fatalf("accepted %T %s; want an error naming %q", obj, obj.GetName(), want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}

func TestCreateValidation(t *testing.T) {
	ns := namespace(t)
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	cluster := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
	for _, tc := range []struct {
		name string
		obj  client.Object
		want string
	}{
		{"instance without image", &cloudv1.Instance{ObjectMeta: meta("a")}, "spec.imageId"},
		{"instance bad kernel id", &cloudv1.Instance{ObjectMeta: meta("b"), Spec: cloudv1.InstanceSpec{ImageID: "x", KernelID: "Not_A_Kernel"}}, "spec.kernelId"},
		{"instance bad state", &cloudv1.Instance{ObjectMeta: meta("c"), Spec: cloudv1.InstanceSpec{ImageID: "x", DesiredState: "Paused"}}, "spec.desiredState"},
		{"instance block device with both", &cloudv1.Instance{ObjectMeta: meta("d"), Spec: cloudv1.InstanceSpec{ImageID: "x",
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/sdb", VirtualName: ptr.To("ephemeral0"), EBS: &cloudv1.EBSBlockDevice{VolumeSize: 1}}}}},
			"exactly one of virtualName, ebs and noDevice"},
		{"instance block device bad name", &cloudv1.Instance{ObjectMeta: meta("e"), Spec: cloudv1.InstanceSpec{ImageID: "x",
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "sdb", VirtualName: ptr.To("ephemeral0")}}}}, "deviceName"},
		{"instance ebs without size or snapshot", &cloudv1.Instance{ObjectMeta: meta("ebs0"), Spec: cloudv1.InstanceSpec{ImageID: "x",
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: &cloudv1.EBSBlockDevice{}}}}},
			"an ebs mapping needs volumeSize, snapshotId or both"},
		{"instance ebs bad snapshot id", &cloudv1.Instance{ObjectMeta: meta("ebs1"), Spec: cloudv1.InstanceSpec{ImageID: "x",
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: &cloudv1.EBSBlockDevice{SnapshotID: "vol-0123456789abcdef0"}}}}},
			"snapshotId"},
		{"instance type negative vcpus", &cloudv1.InstanceType{ObjectMeta: cluster("neg"), Spec: cloudv1.InstanceTypeSpec{VCPUs: -1, MemoryMiB: 512}}, "spec.vcpus"},
		{"instance type negative swap", &cloudv1.InstanceType{ObjectMeta: cluster("negswap"), Spec: cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 512, SwapMiB: -1}}, "spec.swapMiB"},
		{"instance type tiny memory", &cloudv1.InstanceType{ObjectMeta: cluster("tinymem"), Spec: cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 8}}, "spec.memoryMiB"},
		{"image kernel on kernel", &cloudv1.Image{ObjectMeta: meta("k"), Spec: cloudv1.ImageSpec{ImageLocation: "bucket/k.xml", Type: cloudv1.ImageTypeKernel, KernelID: "aki-0123456789abcdef0"}}, "only machine images"},
		{"image bad location", &cloudv1.Image{ObjectMeta: meta("loc"), Spec: cloudv1.ImageSpec{ImageLocation: "no-slash"}}, "spec.imageLocation"},
		{"image of no source", &cloudv1.Image{ObjectMeta: meta("nosrc"), Spec: cloudv1.ImageSpec{Name: "x"}}, "one of them"},
		{"image of a location and an instance", &cloudv1.Image{ObjectMeta: meta("twosrc"),
			Spec: cloudv1.ImageSpec{ImageLocation: "bucket/k.xml", InstanceID: "i-0123456789abcdef0"}}, "one of them"},
		{"image of a location and a source image", &cloudv1.Image{ObjectMeta: meta("twosrc2"),
			Spec: cloudv1.ImageSpec{ImageLocation: "bucket/k.xml", SourceImageID: "ami-0123456789abcdef0"}}, "one of them"},
		{"image of an instance and a source image", &cloudv1.Image{ObjectMeta: meta("twosrc3"),
			Spec: cloudv1.ImageSpec{InstanceID: "i-0123456789abcdef0", SourceImageID: "ami-0123456789abcdef0"}}, "one of them"},
		{"image of a bad source id", &cloudv1.Image{ObjectMeta: meta("badsrc"), Spec: cloudv1.ImageSpec{SourceImageID: "web"}}, "spec.sourceImageId"},
		{"kernel image of an instance", &cloudv1.Image{ObjectMeta: meta("kinst"),
			Spec: cloudv1.ImageSpec{InstanceID: "i-0123456789abcdef0", Type: cloudv1.ImageTypeKernel}}, "is a machine image"},
		{"kernel image with volumes", &cloudv1.Image{ObjectMeta: meta("kvol"), Spec: cloudv1.ImageSpec{ImageLocation: "bucket/k.xml", Type: cloudv1.ImageTypeKernel,
			BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-0123456789abcdef0"}}}}},
			"only machine images have block device mappings"},
		{"image volume without a snapshot", &cloudv1.Image{ObjectMeta: meta("nosnap"), Spec: cloudv1.ImageSpec{ImageLocation: "bucket/k.xml",
			BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: cloudv1.EBSBlockDevice{VolumeSize: 1}}}}},
			"ebs.snapshotId is required"},
		{"instance mapping of nothing and a volume", &cloudv1.Instance{ObjectMeta: meta("nodev"), Spec: cloudv1.InstanceSpec{ImageID: "x",
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/sdf", NoDevice: true, EBS: &cloudv1.EBSBlockDevice{VolumeSize: 1}}}}},
			"exactly one of virtualName, ebs and noDevice"},
		{"image volume at the root device", &cloudv1.Image{ObjectMeta: meta("rootvol"), Spec: cloudv1.ImageSpec{ImageLocation: "bucket/k.xml",
			BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{{DeviceName: "/dev/xvda", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-0123456789abcdef0"}}}}},
			"the root device is the instance's own disk"},
		{"instance volume at the root device", &cloudv1.Instance{ObjectMeta: meta("rootvol"), Spec: cloudv1.InstanceSpec{ImageID: "x",
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/sda1", EBS: &cloudv1.EBSBlockDevice{VolumeSize: 1}}}}},
			"the root device is the instance's own disk"},
		{"image of a bad instance id", &cloudv1.Image{ObjectMeta: meta("badinst"), Spec: cloudv1.ImageSpec{InstanceID: "web-1"}}, "spec.instanceId"},
		{"volume zero size", &cloudv1.Volume{ObjectMeta: meta("v0"), Spec: cloudv1.VolumeSpec{SizeGiB: 0}}, "spec.sizeGiB"},
		{"snapshot of a volume through an image", &cloudv1.Snapshot{ObjectMeta: meta("st0"), Spec: cloudv1.SnapshotSpec{VolumeID: "vol-0123456789abcdef0",
			SourceImageID: "ami-0123456789abcdef0"}}, "sourceImageId is for a copy of a snapshot"},
		{"volume gp2 with iops", &cloudv1.Volume{ObjectMeta: meta("vt0"), Spec: cloudv1.VolumeSpec{SizeGiB: 8, Iops: 300}}, "iops is for gp3, io1 and io2 volumes"},
		{"volume gp3 iops past 500 per GiB", &cloudv1.Volume{ObjectMeta: meta("vt1"), Spec: cloudv1.VolumeSpec{SizeGiB: 4,
			VolumeType: cloudv1.VolumeTypeGP3, Iops: 3001}}, "beyond 3000 at most 500 per GiB"},
		{"volume gp3 throughput past a quarter of its iops", &cloudv1.Volume{ObjectMeta: meta("vt2"), Spec: cloudv1.VolumeSpec{SizeGiB: 4,
			VolumeType: cloudv1.VolumeTypeGP3, Throughput: 800}}, "at most a quarter of its iops"},
		{"volume io2 past 1000 per GiB", &cloudv1.Volume{ObjectMeta: meta("vt3"), Spec: cloudv1.VolumeSpec{SizeGiB: 4,
			VolumeType: cloudv1.VolumeTypeIO2, Iops: 4001}}, "at most 1000 per GiB"},
		{"volume standard past 1024 GiB", &cloudv1.Volume{ObjectMeta: meta("vt4"), Spec: cloudv1.VolumeSpec{SizeGiB: 2048,
			VolumeType: cloudv1.VolumeTypeStandard}}, "standard volumes hold at most 1024 GiB"},
		{"volume unknown type", &cloudv1.Volume{ObjectMeta: meta("vt5"), Spec: cloudv1.VolumeSpec{SizeGiB: 1, VolumeType: "gp9"}}, "spec.volumeType"},
		{"instance ebs io1 without iops", &cloudv1.Instance{ObjectMeta: meta("ebst"), Spec: cloudv1.InstanceSpec{ImageID: "x",
			BlockDeviceMappings: []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: &cloudv1.EBSBlockDevice{VolumeSize: 4, VolumeType: cloudv1.VolumeTypeIO1}}}}},
			"io1 and io2 volumes need iops"},
		{"volume bad attach id", &cloudv1.Volume{ObjectMeta: meta("v1"), Spec: cloudv1.VolumeSpec{SizeGiB: 1, AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: "web", Device: "/dev/sdf"}}}, "instanceId"},
		{"pool bad cidr", &cloudv1.AddressPool{ObjectMeta: cluster("badpool"), Spec: cloudv1.AddressPoolSpec{CIDRs: []string{"300.1.1.0/24"}}}, "IPv4 CIDR"},
		{"pool v6", &cloudv1.AddressPool{ObjectMeta: cluster("v6pool"), Spec: cloudv1.AddressPoolSpec{CIDRs: []string{"2001:db8::/64"}}}, "IPv4 CIDR"},
		{"sg ports reversed", &cloudv1.SecurityGroup{ObjectMeta: meta("sg1"), Spec: cloudv1.SecurityGroupSpec{Ingress: []cloudv1.IngressRule{
			{Protocol: cloudv1.ProtocolTCP, FromPort: ptr.To[int32](90), ToPort: ptr.To[int32](80), CIDRIPs: []string{"0.0.0.0/0"}}}}}, "fromPort must not exceed toPort"},
		{"sg rule without source", &cloudv1.SecurityGroup{ObjectMeta: meta("sg2"), Spec: cloudv1.SecurityGroupSpec{Ingress: []cloudv1.IngressRule{
			{Protocol: cloudv1.ProtocolTCP, FromPort: ptr.To[int32](80), ToPort: ptr.To[int32](80)}}}}, "at least one cidrIp or sourceGroup"},
		{"sg tcp without ports", &cloudv1.SecurityGroup{ObjectMeta: meta("sg3"), Spec: cloudv1.SecurityGroupSpec{Ingress: []cloudv1.IngressRule{
			{Protocol: cloudv1.ProtocolTCP, CIDRIPs: []string{"10.0.0.0/8"}}}}}, "fromPort and toPort are required"},
		{"project bad name", &cloudv1.Project{ObjectMeta: cluster("Bad.Name")}, "DNS labels"},
		{"project negative snapshot quota", &cloudv1.Project{ObjectMeta: cluster("negsnaps"),
			Spec: cloudv1.ProjectSpec{Quota: cloudv1.ProjectQuota{Snapshots: ptr.To[int32](-1)}}}, "spec.quota.snapshots"},
		{"keypair short key", &cloudv1.KeyPair{ObjectMeta: meta("kp"), Spec: cloudv1.KeyPairSpec{PublicKey: "ssh-rsa"}}, "spec.publicKey"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectRefused(t, tc.obj, tc.want) })
	}
}

func TestTransitionRules(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: ns},
		Spec:       cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.small"},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	update := func(mut func(*cloudv1.Instance), want string) {
		t.Helper()
		cur := &cloudv1.Instance{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), cur); err != nil {
			t.Fatal(err)
		}
		mut(cur)
		err := env.Client.Update(ctx, cur)
		switch {
		case want == "" && err != nil:
			t.Fatalf("update refused: %v", err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Fatalf("update: got %v, want an error with %q", err, want)
		}
	}
	update(func(i *cloudv1.Instance) { i.Spec.ImageID = "other" }, "imageId is immutable")
	update(func(i *cloudv1.Instance) { i.Spec.InstanceType = "m1.large" }, "only while the instance is stopped")
	update(func(i *cloudv1.Instance) { i.Spec.ConfigDrive = ptr.To(true) }, "configDrive is immutable")
	update(func(i *cloudv1.Instance) {
		i.Spec.BlockDeviceMappings = []cloudv1.BlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: &cloudv1.EBSBlockDevice{VolumeSize: 1}}}
	}, "blockDeviceMappings are immutable")
	// Once stopped, the type may change.
	cur := &cloudv1.Instance{}
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(inst), cur)
	cur.Status.State = cloudv1.InstanceStateStopped
	if err := env.Client.Status().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	update(func(i *cloudv1.Instance) { i.Spec.InstanceType = "m1.large" }, "")
	update(func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredTerminated }, "")
	update(func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredRunning }, "cannot be started or stopped")

	// A config drive is chosen at creation: it can be neither turned on, off nor removed later;
	// an image's default may change (it applies to later instances).
	drive := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "drive", Namespace: ns},
		Spec:       cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.small", ConfigDrive: ptr.To(false)},
	}
	if err := env.Client.Create(ctx, drive); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*bool{ptr.To(true), nil} {
		cur := &cloudv1.Instance{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(drive), cur)
		cur.Spec.ConfigDrive = v
		if err := env.Client.Update(ctx, cur); err == nil || !strings.Contains(err.Error(), "configDrive is immutable") {
			t.Fatalf("changing configDrive to %v: %v", v, err)
		}
	}
	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: ns},
		Spec: cloudv1.ImageSpec{ImageLocation: "bkt/img.manifest.xml"}}
	if err := env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	img.Spec.ConfigDrive = ptr.To(true)
	if err := env.Client.Update(ctx, img); err != nil {
		t.Fatalf("setting an image's configDrive: %v", err)
	}
	// An image's source never changes: not its instance, nor from a location to an instance.
	captured := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "captured", Namespace: ns},
		Spec: cloudv1.ImageSpec{InstanceID: "i-0123456789abcdef0"}}
	if err := env.Client.Create(ctx, captured); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(){
		"instance": func() { captured.Spec.InstanceID = "i-0123456789abcdef1" },
		"noReboot": func() { captured.Spec.NoReboot = true },
		"location": func() { captured.Spec.InstanceID, captured.Spec.ImageLocation = "", "bkt/img.manifest.xml" },
	} {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(captured), captured)
		change()
		if err := env.Client.Update(ctx, captured); err == nil || !strings.Contains(err.Error(), "immutable") && !strings.Contains(err.Error(), "never changes") {
			t.Fatalf("changing a captured image's %s: %v", name, err)
		}
	}
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(img), img)
	img.Spec.ImageLocation, img.Spec.InstanceID = "", "i-0123456789abcdef0"
	if err := env.Client.Update(ctx, img); err == nil || !strings.Contains(err.Error(), "never changes") {
		t.Fatalf("changing a registered image into a captured one: %v", err)
	}
	copied := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "copied", Namespace: ns},
		Spec: cloudv1.ImageSpec{SourceImageID: "ami-0123456789abcdef0"}}
	if err := env.Client.Create(ctx, copied); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(){
		"source":   func() { copied.Spec.SourceImageID = "ami-0123456789abcdef1" },
		"instance": func() { copied.Spec.SourceImageID, copied.Spec.InstanceID = "", "i-0123456789abcdef0" },
		"location": func() { copied.Spec.SourceImageID, copied.Spec.ImageLocation = "", "bkt/img.manifest.xml" },
	} {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(copied), copied)
		change()
		if err := env.Client.Update(ctx, copied); err == nil || !strings.Contains(err.Error(), "immutable") && !strings.Contains(err.Error(), "never changes") {
			t.Fatalf("changing a copied image's %s: %v", name, err)
		}
	}
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(img), img)
	img.Spec.ImageLocation, img.Spec.SourceImageID = "", "ami-0123456789abcdef0"
	if err := env.Client.Update(ctx, img); err == nil || !strings.Contains(err.Error(), "never changes") {
		t.Fatalf("changing a registered image into a copy: %v", err)
	}

	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "v", Namespace: ns}, Spec: cloudv1.VolumeSpec{SizeGiB: 5}}
	if err := env.Client.Create(ctx, vol); err != nil {
		t.Fatal(err)
	}
	vol.Spec.SizeGiB = 4
	if err := env.Client.Update(ctx, vol); err == nil || !strings.Contains(err.Error(), "cannot shrink") {
		t.Fatalf("shrinking a volume: %v", err)
	}
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(vol), vol)
	vol.Spec.VolumeType, vol.Spec.Iops = cloudv1.VolumeTypeIO1, 200
	if err := env.Client.Update(ctx, vol); err == nil || !strings.Contains(err.Error(), "volumeType, iops and throughput are immutable") {
		t.Fatalf("changing a volume's type: %v", err)
	}

	// EC2 ids in status never change once set.
	_ = env.Client.Get(ctx, client.ObjectKeyFromObject(inst), cur)
	cur.Status.InstanceID = "i-0123456789abcdef0"
	if err := env.Client.Status().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	cur.Status.InstanceID = "i-0123456789abcdef1"
	if err := env.Client.Status().Update(ctx, cur); err == nil || !strings.Contains(err.Error(), "never changes") {
		t.Fatalf("changing an instance id: %v", err)
	}
}

// The network facts in an instance's and a project's status are checked at admission.
func TestNetworkStatusValidation(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "net", Namespace: ns},
		Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.small"}}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	good := cloudv1.InstanceStatus{PrivateIPAddress: "10.128.0.2", MACAddress: "02:64:0a:80:00:02", SegmentID: 100,
		Subnet: "10.128.0.0/24", Gateway: "10.128.0.1", PrivateDNSName: "ip-10-128-0-2.pinet.compute.internal"}
	for _, tc := range []struct {
		mut  func(*cloudv1.InstanceStatus)
		want string
	}{
		{func(*cloudv1.InstanceStatus) {}, ""},
		{func(s *cloudv1.InstanceStatus) { s.PrivateIPAddress = "10.128.0.300" }, "must be an IP address"},
		{func(s *cloudv1.InstanceStatus) { s.MACAddress = "02:64:0A:80:00:02" }, "macAddress"},
		{func(s *cloudv1.InstanceStatus) { s.MACAddress = "02-64-0a-80-00-02" }, "macAddress"},
		{func(s *cloudv1.InstanceStatus) { s.Subnet = "fd00::/64" }, "must be an IPv4 CIDR"},
		{func(s *cloudv1.InstanceStatus) { s.Subnet = "10.128.0.0" }, "must be an IPv4 CIDR"},
		{func(s *cloudv1.InstanceStatus) { s.Gateway = "10.128.0.1/24" }, "must be an IPv4 address"},
		{func(s *cloudv1.InstanceStatus) { s.SegmentID = 1 << 24 }, "segmentId"},
	} {
		cur := &cloudv1.Instance{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), cur); err != nil {
			t.Fatal(err)
		}
		st := good
		tc.mut(&st)
		cur.Status = st
		err := env.Client.Status().Update(ctx, cur)
		switch {
		case tc.want == "" && err != nil:
			t.Fatalf("valid network status refused: %v", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Fatalf("status %+v: got %v, want an error with %q", st, err, tc.want)
		}
	}

	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "api-net-" + ns}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Status.Subnet = "10.128.0.0/33"
	if err := env.Client.Status().Update(ctx, p); err == nil || !strings.Contains(err.Error(), "must be an IPv4 CIDR") {
		t.Fatalf("a project's bad subnet: %v", err)
	}
}

// A security group's member list holds every instance a project's largest subnet (a /18) can
// hold, and not more than its limit.
func TestGroupMembersOfAFullSubnet(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	sg := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: ns},
		Spec: cloudv1.SecurityGroupSpec{Description: "every instance"}}
	if err := env.Client.Create(ctx, sg); err != nil {
		t.Fatal(err)
	}
	members := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("10.%d.%d.%d", 128+(i>>16), (i>>8)&0xff, i&0xff)
		}
		return out
	}
	sg.Status.MemberIPs = members(16381) // a /18's instances
	if err := env.Client.Status().Update(ctx, sg); err != nil {
		t.Fatalf("a group with a full /18 of members refused: %v", err)
	}
	sg.Status.MemberIPs = members(16385)
	if err := env.Client.Status().Update(ctx, sg); err == nil || !strings.Contains(err.Error(), "memberIPs") {
		t.Fatalf("a group with more members than its limit: %v", err)
	}
}
