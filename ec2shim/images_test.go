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
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/minio/minio-go/v7"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/bundle"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// imageBytes is a test image: seeded noise, which gzip cannot shrink, so it spans several parts.
func imageBytes(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return data
}

// describeImage returns what DescribeImages shows of one image.
func describeImage(t *testing.T, cl *ec2.Client, id string) types.Image {
	t.Helper()
	return only(t, "image "+id, cl.DescribeImages, &ec2.DescribeImagesInput{ImageIds: []string{id}},
		func(out *ec2.DescribeImagesOutput) []types.Image { return out.Images })
}

func waitImageState(t *testing.T, cl *ec2.Client, id string, want types.ImageState) types.Image {
	t.Helper()
	var img types.Image
	testenv.Eventually(t, longWait, fmt.Sprintf("image %s to be %s", id, want), func() error {
		out, err := cl.DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{id}})
		if err != nil {
			return err
		}
		if len(out.Images) != 1 {
			return fmt.Errorf("%d images", len(out.Images))
		}
		img = out.Images[0]
		if img.State != want {
			return fmt.Errorf("state %s (%+v)", img.State, img.StateReason)
		}
		return nil
	})
	return img
}

func imageIDsOf(imgs []types.Image) []string {
	return idsOf(imgs, func(img types.Image) *string { return img.ImageId })
}

// visibleTo lists, sorted, the ids of the images the client sees with the options.
func visibleTo(t *testing.T, cl *ec2.Client, in *ec2.DescribeImagesInput) []string {
	t.Helper()
	out, err := cl.DescribeImages(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return imageIDsOf(out.Images)
}

func TestRegisterBundledImages(t *testing.T) {
	c, a, ca := tenant(t, "imgreg-a")
	_, _, cb := tenant(t, "imgreg-b")
	ctx := context.Background()
	const bucket = "imgreg-a-bundles"
	disk := c.UploadBundle(t, a, "imgreg-a-user", "imgreg-a", bucket, "disk.img", bundle.TypeMachine, imageBytes(1, 300<<10))
	if len(disk.Parts) < 3 {
		t.Fatalf("the bundle has %d parts", len(disk.Parts))
	}

	reg, err := ca.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(disk.Location), Name: aws.String("web (v1)"),
		Description: aws.String("the web image"), Architecture: types.ArchitectureValuesX8664,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImage,
			Tags: []types.Tag{{Key: aws.String("Role"), Value: aws.String("web")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	web := aws.ToString(reg.ImageId)
	if !strings.HasPrefix(web, "ami-") {
		t.Fatalf("image id %s", web)
	}
	// Shown at once, before the controller has verified it.
	img := describeImage(t, ca, web)
	if (img.State != types.ImageStatePending && img.State != types.ImageStateAvailable) || aws.ToString(img.Name) != "web (v1)" ||
		aws.ToString(img.Description) != "the web image" || aws.ToString(img.ImageLocation) != disk.Location ||
		aws.ToString(img.OwnerId) != "imgreg-a" || img.ImageType != types.ImageTypeValuesMachine || aws.ToBool(img.Public) ||
		img.RootDeviceType != types.DeviceTypeInstanceStore || aws.ToString(img.RootDeviceName) != "/dev/sda1" ||
		img.Architecture != types.ArchitectureValuesX8664 || img.VirtualizationType != types.VirtualizationTypeHvm ||
		len(img.Tags) != 1 || aws.ToString(img.CreationDate) == "" {
		t.Fatalf("registered image: %+v", img)
	}
	waitImageState(t, ca, web, types.ImageStateAvailable)
	obj := &cloudv1.Image{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "imgreg-a", Name: web}, obj); err != nil {
		t.Fatal(err)
	}
	if obj.Annotations[cloudv1.AnnotationRegisteredBy] != "imgreg-a-user" || obj.Spec.Format != cloudv1.ImageFormatBundle {
		t.Fatalf("the Image object: %+v", obj.ObjectMeta)
	}

	// Kernel and ramdisk bundles are told apart by their manifests; machine images may name them.
	kernel := registerBundle(t, c, a, "imgreg-a-user", "imgreg-a", bucket, "vmlinuz", bundle.TypeKernel, "kernel-1")
	ramdisk := registerBundle(t, c, a, "imgreg-a-user", "imgreg-a", bucket, "initrd", bundle.TypeRamdisk, "ramdisk-1")
	if !strings.HasPrefix(kernel, "aki-") || !strings.HasPrefix(ramdisk, "ari-") {
		t.Fatalf("kernel %s, ramdisk %s", kernel, ramdisk)
	}
	reg2, err := ca.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(disk.Location), Name: aws.String("web (v2)"),
		KernelId: aws.String(kernel), RamdiskId: aws.String(ramdisk)})
	if err != nil {
		t.Fatal(err)
	}
	web2 := aws.ToString(reg2.ImageId)
	if img := describeImage(t, ca, web2); aws.ToString(img.KernelId) != kernel || aws.ToString(img.RamdiskId) != ramdisk {
		t.Fatalf("kernel %s ramdisk %s", aws.ToString(img.KernelId), aws.ToString(img.RamdiskId))
	}
	waitImageState(t, ca, web2, types.ImageStateAvailable)

	junk := "img/junk.manifest.xml"
	if _, err := c.S3(t, a).PutObject(ctx, bucket, junk, strings.NewReader("<manifest>garbage"), -1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	expectRefusals(t, "", func() *ec2.RegisterImageInput {
		return &ec2.RegisterImageInput{ImageLocation: aws.String(disk.Location), Name: aws.String("refused")}
	}, ca.RegisterImage, []refusal[ec2.RegisterImageInput]{
		{"taken name", func(in *ec2.RegisterImageInput) { in.Name = aws.String("web (v1)") }, "InvalidAMIName.Duplicate"},
		{"short name", func(in *ec2.RegisterImageInput) { in.Name = aws.String("ab") }, "InvalidAMIName.Malformed"},
		{"name with !", func(in *ec2.RegisterImageInput) { in.Name = aws.String("web!") }, "InvalidAMIName.Malformed"},
		{"no location", func(in *ec2.RegisterImageInput) { in.ImageLocation = nil }, "MissingParameter"},
		{"from a snapshot", func(in *ec2.RegisterImageInput) {
			in.ImageLocation, in.RootDeviceName = nil, aws.String("/dev/sda1")
		}, "InvalidParameterValue"},
		{"ebs mapping", func(in *ec2.RegisterImageInput) {
			in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{SnapshotId: aws.String("snap-0123456789abcdef0")}}}
		}, "InvalidParameterValue"},
		{"location without key", func(in *ec2.RegisterImageInput) { in.ImageLocation = aws.String("just-a-bucket") }, "InvalidParameterValue"},
		{"missing manifest", func(in *ec2.RegisterImageInput) { in.ImageLocation = aws.String(bucket + "/img/none.manifest.xml") }, "InvalidManifest"},
		{"missing bucket", func(in *ec2.RegisterImageInput) { in.ImageLocation = aws.String("imgreg-nobucket/x.manifest.xml") }, "InvalidManifest"},
		{"garbage manifest", func(in *ec2.RegisterImageInput) { in.ImageLocation = aws.String(bucket + "/" + junk) }, "InvalidManifest"},
		{"unknown kernel", func(in *ec2.RegisterImageInput) { in.KernelId = aws.String("aki-0123456789abcdef0") }, "InvalidAMIID.NotFound"},
		{"ramdisk id as kernel", func(in *ec2.RegisterImageInput) { in.KernelId = aws.String(ramdisk) }, "InvalidAMIID.Malformed"},
		{"malformed kernel", func(in *ec2.RegisterImageInput) { in.KernelId = aws.String("aki-xyz") }, "InvalidAMIID.Malformed"},
		{"unknown ramdisk", func(in *ec2.RegisterImageInput) { in.RamdiskId = aws.String("ari-0123456789abcdef0") }, "InvalidAMIID.NotFound"},
		{"architecture", func(in *ec2.RegisterImageInput) { in.Architecture = "sparc" }, "InvalidParameterValue"},
		{"paravirtual", func(in *ec2.RegisterImageInput) { in.VirtualizationType = aws.String("paravirtual") }, "InvalidParameterValue"},
		{"root device", func(in *ec2.RegisterImageInput) { in.RootDeviceName = aws.String("sda1; rm") }, "InvalidParameterValue"},
		{"long description", func(in *ec2.RegisterImageInput) { in.Description = aws.String(strings.Repeat("d", 256)) }, "InvalidParameterValue"},
		{"tags for an instance", func(in *ec2.RegisterImageInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}}
		}, "InvalidParameterValue"},
		{"dry run", func(in *ec2.RegisterImageInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
	})
	// The SDK insists on a name; other clients may not.
	if status, body := rawEC2(t, c, a, url.Values{"Action": {"RegisterImage"}, "Version": {"2016-11-15"},
		"ImageLocation": {disk.Location}}); status != http.StatusBadRequest || !strings.Contains(body, "<Code>MissingParameter</Code>") {
		t.Fatalf("registering without a name: %d %s", status, body)
	}
	_, err = ca.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(strings.Replace(disk.Location, "disk.img", "vmlinuz", 1)),
		Name: aws.String("kernel with kernel"), KernelId: aws.String(kernel)})
	expectCode(t, err, "InvalidParameterValue")

	// Another project cannot register a bundle it may not read, nor see these images.
	_, err = cb.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(disk.Location), Name: aws.String("stolen")})
	expectCode(t, err, "InvalidManifest")
	if got := visibleTo(t, cb, &ec2.DescribeImagesInput{Owners: []string{"self"}}); len(got) != 0 {
		t.Fatalf("b owns %v", got)
	}
	_, err = cb.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{web}})
	expectCode(t, err, "InvalidAMIID.NotFound")
	_, err = cb.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(web)})
	expectCode(t, err, "InvalidAMIID.NotFound")

	// Nothing refused was half-made.
	want := sorted(web, web2, kernel, ramdisk)
	if got := visibleTo(t, ca, &ec2.DescribeImagesInput{Owners: []string{"self"}}); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("a owns %v, want %v", got, want)
	}
	for ns, n := range map[string]int{"imgreg-a": 4, "imgreg-b": 0} {
		expectCount(t, ns, &cloudv1.ImageList{}, n)
	}
	for _, tc := range []struct {
		filter types.Filter
		want   []string
	}{
		{types.Filter{Name: aws.String("tag:Role"), Values: []string{"web"}}, []string{web}},
		{types.Filter{Name: aws.String("image-type"), Values: []string{"kernel", "ramdisk"}}, sorted(kernel, ramdisk)},
		{types.Filter{Name: aws.String("name"), Values: []string{"web (*"}}, sorted(web, web2)},
		{types.Filter{Name: aws.String("kernel-id"), Values: []string{kernel}}, []string{web2}},
		{types.Filter{Name: aws.String("manifest-location"), Values: []string{disk.Location}}, sorted(web, web2)},
		{types.Filter{Name: aws.String("description"), Values: []string{"the web image"}}, []string{web}},
	} {
		got := visibleTo(t, ca, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{tc.filter}})
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("filter %s=%v: %v, want %v", aws.ToString(tc.filter.Name), tc.filter.Values, got, tc.want)
		}
	}

	// A bundle with a tampered part registers, and then fails with the reason.
	tampered := c.UploadBundle(t, a, "imgreg-a-user", "imgreg-a", bucket, "tampered.img", bundle.TypeMachine, imageBytes(2, 200<<10))
	part := filepath.Join(tampered.Dir, filepath.Base(tampered.Parts[1]))
	data, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	data[100] ^= 0xff
	if _, err := c.S3(t, a).PutObject(ctx, bucket, tampered.Parts[1], strings.NewReader(string(data)), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	bad, err := ca.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(tampered.Location), Name: aws.String("tampered")})
	if err != nil {
		t.Fatal(err)
	}
	failed := waitImageState(t, ca, aws.ToString(bad.ImageId), types.ImageStateFailed)
	if failed.StateReason == nil || aws.ToString(failed.StateReason.Code) != cloudv1.ReasonDigestMismatch ||
		!strings.Contains(aws.ToString(failed.StateReason.Message), "digest") {
		t.Fatalf("state reason %+v", failed.StateReason)
	}
	_, err = ca.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: bad.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	expectCode(t, err, "InvalidAMIID.Unavailable")

	// Deregistering: gone from Describe at once; the object goes once the stored copy is removed.
	if _, err := ca.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(web2), DryRun: aws.Bool(true)}); apiCode(err) != "DryRunOperation" {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := ca.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(web2)}); err != nil {
		t.Fatal(err)
	}
	_, err = ca.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{web2}})
	expectCode(t, err, "InvalidAMIID.NotFound")
	_, err = ca.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(web2)})
	expectCode(t, err, "InvalidAMIID.NotFound")
	_, err = ca.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String("ami-nope")})
	expectCode(t, err, "InvalidAMIID.Malformed")
	testenv.Eventually(t, shortWait, "the deregistered Image object to go", func() error {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: "imgreg-a", Name: web2}, &cloudv1.Image{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	// Its name is free again.
	if _, err := ca.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(disk.Location), Name: aws.String("web (v2)")}); err != nil {
		t.Fatalf("re-registering a deregistered name: %v", err)
	}
}

// TestRegisterRefusesImagesNamingOtherFiles: a machine image whose bytes name another file of
// the node it would boot on (a qcow2 overlay of a backing file, a qcow2 whose data is in another
// file, a vmdk descriptor naming its extents) or in a format a node cannot boot from registers,
// and then fails with the reason, storing nothing; a self-contained qcow2 is available.
func TestRegisterRefusesImagesNamingOtherFiles(t *testing.T) {
	c, a, ca := tenant(t, "imgfmt-a")
	admin := c.AddUser(t, "imgfmt-admin", true, "imgfmt-a")
	ctx := context.Background()
	dir := t.TempDir()
	qemuImg := func(name string, args ...string) []byte {
		path := filepath.Join(dir, name)
		args = append(append([]string{"create", "-q"}, args...), path, "64M")
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v: %s", args, err, out)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	refused := []struct{ name, why string }{
		{"overlay", "backing file"},
		{"datafile", "external data file"},
		{"descriptor", "vmdk descriptor"},
		{"vhdx", "vhdx"},
	}
	images := map[string][]byte{
		"overlay":    qemuImg("overlay", "-u", "-f", "qcow2", "-F", "raw", "-b", "/var/lib/pinet/instances/i-0123456789abcdef0/root.qcow2"),
		"datafile":   qemuImg("datafile", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "data.bin")),
		"descriptor": []byte("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/shadow\" 0\n"),
		"vhdx":       qemuImg("vhdx", "-f", "vhdx"),
		"plain":      qemuImg("plain", "-f", "qcow2"),
	}
	register := func(name string) string {
		b := c.UploadBundle(t, a, "imgfmt-a-user", "imgfmt-a", "imgfmt-a-bundles", name+".img", bundle.TypeMachine, images[name])
		reg, err := ca.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(b.Location), Name: aws.String(name)})
		if err != nil {
			t.Fatalf("registering %s: %v", name, err)
		}
		return aws.ToString(reg.ImageId)
	}
	plain := register("plain")
	ids := map[string]string{}
	for _, r := range refused {
		ids[r.name] = register(r.name)
	}
	for _, r := range refused {
		img := waitImageState(t, ca, ids[r.name], types.ImageStateFailed)
		if img.StateReason == nil || aws.ToString(img.StateReason.Code) != cloudv1.ReasonUnsupportedImage ||
			!strings.Contains(aws.ToString(img.StateReason.Message), r.why) {
			t.Errorf("%s: state reason %+v, want %s about %q", r.name, img.StateReason, cloudv1.ReasonUnsupportedImage, r.why)
		}
		_, err := ca.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ids[r.name]), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		expectCode(t, err, "InvalidAMIID.Unavailable")
	}
	waitImageState(t, ca, plain, types.ImageStateAvailable)

	// Nothing of a refused image is in the store: neither its copy nor an upload left behind.
	store := c.S3(t, admin)
	var kept []string
	for obj := range store.ListObjects(ctx, s3client.ImageStoreBucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		kept = append(kept, obj.Key)
	}
	for upload := range store.ListIncompleteUploads(ctx, s3client.ImageStoreBucket, "", true) {
		if upload.Err != nil {
			t.Fatal(upload.Err)
		}
		kept = append(kept, "upload of "+upload.Key)
	}
	for _, key := range kept {
		for name, id := range ids {
			if strings.Contains(key, id) {
				t.Errorf("the store keeps %s of the refused %s image", key, name)
			}
		}
	}
	if !slices.ContainsFunc(kept, func(k string) bool { return strings.HasPrefix(k, plain+".") }) {
		t.Errorf("the store has no copy of %s: %v", plain, kept)
	}
}

// registerBundle bundles a small image of the type, registers it and returns its id.
func registerBundle(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, userName, project, bucket, prefix, typ, name string) string {
	t.Helper()
	b := c.UploadBundle(t, creds, userName, project, bucket, prefix, typ, imageBytes(uint64(len(prefix)), 20<<10))
	out, err := c.EC2(creds).RegisterImage(context.Background(), &ec2.RegisterImageInput{ImageLocation: aws.String(b.Location), Name: aws.String(name)})
	if err != nil {
		t.Fatalf("registering %s: %v", name, err)
	}
	return aws.ToString(out.ImageId)
}

func TestConcurrentRegistrationsOfOneName(t *testing.T) {
	c, creds, cl := tenant(t, "imgrace")
	b := c.UploadBundle(t, creds, "imgrace-user", "imgrace", "imgrace-bundles", "disk.img", bundle.TypeMachine, imageBytes(3, 10<<10))
	won := winners(t, testenv.Race(10, func(int) error {
		_, err := cl.RegisterImage(context.Background(), &ec2.RegisterImageInput{ImageLocation: aws.String(b.Location), Name: aws.String("racy")})
		return err
	}), "InvalidAMIName.Duplicate")
	racy := func() []string {
		return visibleTo(t, cl, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"racy"}}}})
	}
	got := racy()
	if won != 1 || len(got) != 1 {
		t.Fatalf("%d registrations succeeded, %d images named racy", won, len(got))
	}
	// Deleted with kubectl, the image leaves its claim on the name behind: the next registration
	// takes it over.
	ctx := context.Background()
	if err := env.Client.Delete(ctx, &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Namespace: "imgrace", Name: got[0]}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the deleted image to leave Describe", func() error {
		if n := len(racy()); n != 0 {
			return fmt.Errorf("%d images named racy", n)
		}
		return nil
	})
	again, err := cl.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(b.Location), Name: aws.String("racy")})
	if err != nil {
		t.Fatalf("registering the name of an image deleted with kubectl: %v", err)
	}
	if got := racy(); len(got) != 1 || got[0] != aws.ToString(again.ImageId) {
		t.Fatalf("images named racy: %v", got)
	}
	_, err = cl.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(b.Location), Name: aws.String("racy")})
	expectCode(t, err, "InvalidAMIName.Duplicate")
}

func TestImageVisibilityAcrossProjects(t *testing.T) {
	c := theCloud(t)
	for _, p := range []string{"imgvis-a", "imgvis-b", "imgvis-c"} {
		c.AddProject(t, p)
	}
	a := c.AddUser(t, "imgvis-a-user", false, "imgvis-a")
	c.AddNode(t, "imgvis-node", "imgvis-zone", 8, 16384)
	testenv.Eventually(t, shortWait, "m1.small to fit a hypervisor", func() error {
		it := &cloudv1.InstanceType{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "m1.small"}, it); err != nil {
			return err
		}
		if !conditions.IsTrue(it, cloudv1.ReadyCondition) {
			return fmt.Errorf("conditions %+v", it.Status.Conditions)
		}
		return nil
	})
	ca := c.EC2(a)
	cb := c.EC2(c.AddUser(t, "imgvis-b-user", false, "imgvis-b"))
	cc := c.EC2(c.AddUser(t, "imgvis-c-user", false, "imgvis-c"))
	ctx := context.Background()
	ami := c.RegisterRawImage(t, a, "imgvis-a", "shared-disk", []byte(strings.Repeat("x", 4096)), false)
	run := func(cl *ec2.Client) error {
		out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		if err == nil {
			_, err = cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(out.Instances[0].InstanceId)}})
		}
		return err
	}
	modify := func(in *ec2.ModifyImageAttributeInput) {
		t.Helper()
		in.ImageId = aws.String(ami)
		if _, err := ca.ModifyImageAttribute(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	invisible := func(cl *ec2.Client, who string) {
		t.Helper()
		if got := visibleTo(t, cl, &ec2.DescribeImagesInput{}); hasImage(got, ami) {
			t.Fatalf("%s sees %s", who, ami)
		}
		_, err := cl.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		expectCode(t, err, "InvalidAMIID.NotFound")
		expectCode(t, run(cl), "InvalidAMIID.NotFound")
		_, err = cl.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ImageAttributeNameDescription})
		expectCode(t, err, "InvalidAMIID.NotFound")
		_, err = cl.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(ami), LaunchPermission: &types.LaunchPermissionModifications{
			Add: []types.LaunchPermission{{Group: types.PermissionGroupAll}}}})
		expectCode(t, err, "InvalidAMIID.NotFound")
	}
	visible := func(cl *ec2.Client, who string) {
		t.Helper()
		if got := visibleTo(t, cl, &ec2.DescribeImagesInput{}); !hasImage(got, ami) {
			t.Fatalf("%s does not see %s", who, ami)
		}
		if err := run(cl); err != nil {
			t.Fatalf("%s cannot launch %s: %v", who, ami, err)
		}
	}

	img := describeImage(t, ca, ami)
	if aws.ToString(img.Name) != "shared-disk" || img.State != types.ImageStateAvailable || aws.ToBool(img.Public) || aws.ToString(img.OwnerId) != "imgvis-a" {
		t.Fatalf("a kubectl-made image: %+v", img)
	}
	invisible(cb, "b")
	invisible(cc, "c")

	// Public: everyone sees and launches it; only the owner changes it.
	modify(&ec2.ModifyImageAttributeInput{LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{Group: types.PermissionGroupAll}}}})
	visible(cb, "b")
	visible(cc, "c")
	if img := describeImage(t, cb, ami); !aws.ToBool(img.Public) || aws.ToString(img.OwnerId) != "imgvis-a" {
		t.Fatalf("b's view of the public image: %+v", img)
	}
	for _, tc := range []struct {
		in   *ec2.DescribeImagesInput
		want bool
	}{
		{&ec2.DescribeImagesInput{ExecutableUsers: []string{"all"}}, true},
		{&ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}}, false},
		{&ec2.DescribeImagesInput{Owners: []string{"self"}}, false},
		{&ec2.DescribeImagesInput{Owners: []string{"imgvis-a"}}, true},
		{&ec2.DescribeImagesInput{Owners: []string{"amazon"}}, false},
		{&ec2.DescribeImagesInput{Filters: []types.Filter{{Name: aws.String("is-public"), Values: []string{"true"}}}}, true},
		{&ec2.DescribeImagesInput{Filters: []types.Filter{{Name: aws.String("owner-id"), Values: []string{"imgvis-a"}}}}, true},
	} {
		if got := hasImage(visibleTo(t, cb, tc.in), ami); got != tc.want {
			t.Errorf("b with %+v sees it: %v, want %v", tc.in, got, tc.want)
		}
	}
	if _, err := cb.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ImageAttributeNameDescription}); err != nil {
		t.Fatalf("b reading the public image's description: %v", err)
	}
	_, err := cb.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ImageAttributeNameLaunchPermission})
	expectCode(t, err, "AuthFailure")
	_, err = cb.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(ami), Description: &types.AttributeValue{Value: aws.String("mine now")}})
	expectCode(t, err, "AuthFailure")
	_, err = cb.ResetImageAttribute(ctx, &ec2.ResetImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ResetImageAttributeNameLaunchPermission})
	expectCode(t, err, "AuthFailure")
	_, err = cb.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(ami)})
	expectCode(t, err, "InvalidAMIID.NotFound")

	// Private again.
	modify(&ec2.ModifyImageAttributeInput{LaunchPermission: &types.LaunchPermissionModifications{Remove: []types.LaunchPermission{{Group: types.PermissionGroupAll}}}})
	invisible(cb, "b")
	invisible(cc, "c")

	// Shared with b only, in the older form of the call.
	modify(&ec2.ModifyImageAttributeInput{Attribute: aws.String("launchPermission"), OperationType: types.OperationTypeAdd, UserIds: []string{"imgvis-b"}})
	visible(cb, "b")
	invisible(cc, "c")
	if !hasImage(visibleTo(t, cb, &ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}}), ami) {
		t.Fatal("b's ExecutableBy=self does not list the image shared with it")
	}
	perms, err := ca.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ImageAttributeNameLaunchPermission})
	if err != nil || len(perms.LaunchPermissions) != 1 || aws.ToString(perms.LaunchPermissions[0].UserId) != "imgvis-b" {
		t.Fatalf("launch permissions %+v (%v)", perms, err)
	}

	// Three concurrent changes all land.
	var wg sync.WaitGroup
	for _, lp := range []types.LaunchPermission{{UserId: aws.String("imgvis-c")}, {Group: types.PermissionGroupAll}, {UserId: aws.String("imgvis-a")}} {
		wg.Add(1)
		go func(lp types.LaunchPermission) {
			defer wg.Done()
			if _, err := ca.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(ami),
				LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{lp}}}); err != nil {
				t.Error(err)
			}
		}(lp)
	}
	wg.Wait()
	perms, err = ca.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ImageAttributeNameLaunchPermission})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range perms.LaunchPermissions {
		got = append(got, string(p.Group)+aws.ToString(p.UserId))
	}
	// The owner's own project is implicit and never listed.
	if strings.Join(got, ",") != "all,imgvis-b,imgvis-c" {
		t.Fatalf("after concurrent changes: %v", got)
	}
	// Whom the image is shared with is the owner's to know: b, which sees it (public), may ask
	// ExecutableBy about itself, not about c; the owner may ask about anyone.
	for _, tc := range []struct {
		who   *ec2.Client
		about string
		want  bool
	}{{cb, "self", true}, {cb, "imgvis-b", true}, {cb, "imgvis-c", false}, {ca, "imgvis-c", true}, {ca, "imgvis-b", true}} {
		if got := hasImage(visibleTo(t, tc.who, &ec2.DescribeImagesInput{ExecutableUsers: []string{tc.about}}), ami); got != tc.want {
			t.Errorf("ExecutableBy=%s by %s lists the image: %v, want %v", tc.about, map[*ec2.Client]string{cb: "b", ca: "a"}[tc.who], got, tc.want)
		}
	}

	// Reset makes it private.
	if _, err := ca.ResetImageAttribute(ctx, &ec2.ResetImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ResetImageAttributeNameLaunchPermission}); err != nil {
		t.Fatal(err)
	}
	invisible(cb, "b")
	invisible(cc, "c")
}

func TestImageAttributes(t *testing.T) {
	c, creds, cl := tenant(t, "imgattr")
	ctx := context.Background()
	ami := c.RegisterRawImage(t, creds, "imgattr", "attr-disk", []byte(strings.Repeat("y", 4096)), false)

	if _, err := cl.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(ami), Description: &types.AttributeValue{Value: aws.String("new words")}}); err != nil {
		t.Fatal(err)
	}
	desc, err := cl.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ImageAttributeNameDescription})
	if err != nil || aws.ToString(desc.Description.Value) != "new words" || aws.ToString(desc.ImageId) != ami {
		t.Fatalf("description %+v (%v)", desc, err)
	}
	if _, err := cl.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(ami), Attribute: aws.String("description"), Value: aws.String("older form")}); err != nil {
		t.Fatal(err)
	}
	if img := describeImage(t, cl, ami); aws.ToString(img.Description) != "older form" {
		t.Fatalf("description %q", aws.ToString(img.Description))
	}
	for _, attr := range []types.ImageAttributeName{types.ImageAttributeNameKernel, types.ImageAttributeNameRamdisk,
		types.ImageAttributeNameProductCodes, types.ImageAttributeNameBlockDeviceMapping, types.ImageAttributeNameLaunchPermission,
		types.ImageAttributeNameBootMode} {
		out, err := cl.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: attr})
		if err != nil || aws.ToString(out.ImageId) != ami || len(out.ProductCodes)+len(out.BlockDeviceMappings)+len(out.LaunchPermissions) != 0 {
			t.Fatalf("attribute %s: %+v (%v)", attr, out, err)
		}
	}

	modify := func(in *ec2.ModifyImageAttributeInput) error {
		in.ImageId = aws.String(ami)
		_, err := cl.ModifyImageAttribute(ctx, in)
		return err
	}
	add := func(lp types.LaunchPermission) *ec2.ModifyImageAttributeInput {
		return &ec2.ModifyImageAttributeInput{LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{lp}}}
	}
	for _, tc := range []struct {
		name string
		in   *ec2.ModifyImageAttributeInput
		code string
	}{
		{"malformed project", add(types.LaunchPermission{UserId: aws.String("Not A Project")}), "InvalidAMIAttributeItemValue"},
		{"unknown group", add(types.LaunchPermission{Group: "everyone"}), "InvalidAMIAttributeItemValue"},
		{"nothing", &ec2.ModifyImageAttributeInput{}, "MissingParameter"},
		{"no operation", &ec2.ModifyImageAttributeInput{Attribute: aws.String("launchPermission"), UserGroups: []string{"all"}}, "MissingParameter"},
		{"bad operation", &ec2.ModifyImageAttributeInput{Attribute: aws.String("launchPermission"), OperationType: "toggle", UserGroups: []string{"all"}}, "InvalidParameterValue"},
		{"read-only attribute", &ec2.ModifyImageAttributeInput{Attribute: aws.String("kernel"), Value: aws.String("aki-0123456789abcdef0")}, "InvalidParameterValue"},
		{"product codes", &ec2.ModifyImageAttributeInput{ProductCodes: []string{"abc"}}, "UnsupportedOperation"},
		{"long description", &ec2.ModifyImageAttributeInput{Description: &types.AttributeValue{Value: aws.String(strings.Repeat("d", 256))}}, "InvalidParameterValue"},
		{"dry run", &ec2.ModifyImageAttributeInput{DryRun: aws.Bool(true), Description: &types.AttributeValue{Value: aws.String("x")}}, "DryRunOperation"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectCode(t, modify(tc.in), tc.code) })
	}
	// A permission naming nobody, which the SDK would not send.
	if status, body := rawEC2(t, c, creds, url.Values{"Action": {"ModifyImageAttribute"}, "Version": {"2016-11-15"},
		"ImageId": {ami}, "LaunchPermission.Add.1.Group": {""}}); status != http.StatusBadRequest || !strings.Contains(body, "<Code>InvalidAMIAttributeItemValue</Code>") {
		t.Fatalf("an empty launch permission: %d %s", status, body)
	}
	if img := describeImage(t, cl, ami); aws.ToBool(img.Public) || aws.ToString(img.Description) != "older form" {
		t.Fatalf("refused changes changed the image: %+v", img)
	}
	// A well-formed project name is taken whether or not such a project exists: refusing the
	// names of projects that do not exist would tell any project which ones do.
	if err := modify(add(types.LaunchPermission{UserId: aws.String("no-such-project")})); err != nil {
		t.Fatalf("sharing with a project that does not exist: %v", err)
	}
	if err := modify(&ec2.ModifyImageAttributeInput{LaunchPermission: &types.LaunchPermissionModifications{Remove: []types.LaunchPermission{{UserId: aws.String("no-such-project")}}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   *ec2.DescribeImageAttributeInput
		code string
	}{
		{"unknown attribute", &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: "color"}, "InvalidParameterValue"},
		{"malformed id", &ec2.DescribeImageAttributeInput{ImageId: aws.String("ami-1"), Attribute: types.ImageAttributeNameKernel}, "InvalidAMIID.Malformed"},
		{"unknown id", &ec2.DescribeImageAttributeInput{ImageId: aws.String("ami-0123456789abcdef0"), Attribute: types.ImageAttributeNameKernel}, "InvalidAMIID.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cl.DescribeImageAttribute(ctx, tc.in)
			expectCode(t, err, tc.code)
		})
	}
	_, err = cl.ResetImageAttribute(ctx, &ec2.ResetImageAttributeInput{ImageId: aws.String(ami), Attribute: "kernel"})
	expectCode(t, err, "InvalidParameterValue")
}

func TestDescribeImagesPagingAndFilters(t *testing.T) {
	c, creds, cl := tenant(t, "imgpage")
	ctx := context.Background()
	var all []string
	for i := 0; i < 7; i++ {
		all = append(all, c.RegisterRawImage(t, creds, "imgpage", fmt.Sprintf("page-%d", i), []byte("0123456789"), i == 0))
	}
	if err := checkPages(ctx, ec2.NewDescribeImagesPaginator(cl, &ec2.DescribeImagesInput{Owners: []string{"self"}, MaxResults: aws.Int32(5)}),
		func(o *ec2.DescribeImagesOutput) []string { return imageIDsOf(o.Images) }, 7, 2); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   *ec2.DescribeImagesInput
		want []string
	}{
		{&ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"page-3"}}}}, all[3:4]},
		{&ec2.DescribeImagesInput{Owners: []string{"imgpage"}, Filters: []types.Filter{{Name: aws.String("is-public"), Values: []string{"true"}}}}, all[:1]},
		{&ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{{Name: aws.String("state"), Values: []string{"available"}},
			{Name: aws.String("architecture"), Values: []string{"x86_64"}}, {Name: aws.String("root-device-type"), Values: []string{"instance-store"}}}}, sorted(all...)},
		{&ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{{Name: aws.String("image-id"), Values: all[5:6]}}}, all[5:6]},
		{&ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{{Name: aws.String("state"), Values: []string{"pending"}}}}, nil},
		{&ec2.DescribeImagesInput{ImageIds: []string{all[2], all[4]}}, sorted(all[2], all[4])},
		{&ec2.DescribeImagesInput{Owners: []string{"amazon", "aws-marketplace"}}, nil},
	} {
		if got := visibleTo(t, cl, tc.in); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%+v: %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		in   *ec2.DescribeImagesInput
		code string
	}{
		{"page too small", &ec2.DescribeImagesInput{MaxResults: aws.Int32(4)}, "InvalidParameterValue"},
		{"ids and paging", &ec2.DescribeImagesInput{ImageIds: all[:1], MaxResults: aws.Int32(5)}, "InvalidParameterValue"},
		{"forged token", &ec2.DescribeImagesInput{MaxResults: aws.Int32(5), NextToken: aws.String("forged")}, "InvalidParameterValue"},
		{"unknown filter", &ec2.DescribeImagesInput{Filters: []types.Filter{{Name: aws.String("color"), Values: []string{"x"}}}}, "InvalidParameterValue"},
		{"malformed id", &ec2.DescribeImagesInput{ImageIds: []string{"ami-123"}}, "InvalidAMIID.Malformed"},
		{"unknown id", &ec2.DescribeImagesInput{ImageIds: []string{"ami-0123456789abcdef0"}}, "InvalidAMIID.NotFound"},
		{"malformed owner", &ec2.DescribeImagesInput{Owners: []string{"Not_A_Project"}}, "InvalidUserID.Malformed"},
		{"owner all", &ec2.DescribeImagesInput{Owners: []string{"all"}}, "InvalidUserID.Malformed"},
		{"malformed executable-by", &ec2.DescribeImagesInput{ExecutableUsers: []string{"Nobody!"}}, "InvalidUserID.Malformed"},
		{"dry run", &ec2.DescribeImagesInput{DryRun: aws.Bool(true)}, "DryRunOperation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cl.DescribeImages(ctx, tc.in)
			expectCode(t, err, tc.code)
		})
	}
}

func TestImagesThroughTheCLI(t *testing.T) {
	c, creds, _ := tenant(t, "imgcli")
	_, other, _ := tenant(t, "imgcli-other")
	b := c.UploadBundle(t, creds, "imgcli-user", "imgcli", "imgcli-bundles", "cli.img", bundle.TypeMachine, imageBytes(4, 100<<10))

	var reg struct{ ImageId string }
	if err := json.Unmarshal([]byte(cliEC2(t, c, creds, "register-image", "--image-location", b.Location, "--name", "cli image",
		"--architecture", "x86_64")), &reg); err != nil || !strings.HasPrefix(reg.ImageId, "ami-") {
		t.Fatalf("register-image: %+v %v", reg, err)
	}
	waitImageState(t, c.EC2(creds), reg.ImageId, types.ImageStateAvailable)
	var described struct {
		Images []struct {
			ImageId, Name, State, OwnerId, ImageLocation, RootDeviceType, CreationDate string
			Public                                                                     bool
		}
	}
	if err := json.Unmarshal([]byte(cliEC2(t, c, creds, "describe-images", "--owners", "self")), &described); err != nil {
		t.Fatal(err)
	}
	if len(described.Images) != 1 || described.Images[0].ImageId != reg.ImageId || described.Images[0].Name != "cli image" ||
		described.Images[0].State != "available" || described.Images[0].OwnerId != "imgcli" || described.Images[0].CreationDate == "" {
		t.Fatalf("describe-images: %+v", described)
	}
	cliEC2(t, c, creds, "modify-image-attribute", "--image-id", reg.ImageId, "--launch-permission", "Add=[{UserId=imgcli-other}]")
	cliEC2(t, c, creds, "modify-image-attribute", "--image-id", reg.ImageId, "--operation-type", "add", "--user-groups", "all")
	var perms struct {
		ImageId           string
		LaunchPermissions []struct{ Group, UserId string }
	}
	if err := json.Unmarshal([]byte(cliEC2(t, c, creds, "describe-image-attribute", "--image-id", reg.ImageId, "--attribute", "launchPermission")), &perms); err != nil {
		t.Fatal(err)
	}
	if perms.ImageId != reg.ImageId || len(perms.LaunchPermissions) != 2 || perms.LaunchPermissions[0].Group != "all" || perms.LaunchPermissions[1].UserId != "imgcli-other" {
		t.Fatalf("describe-image-attribute: %+v", perms)
	}
	if out := cliEC2Fail(t, c, other, "describe-image-attribute", "--image-id", reg.ImageId, "--attribute", "launchPermission"); !strings.Contains(out, "AuthFailure") {
		t.Fatalf("another project reading the launch permissions: %s", out)
	}
	cliEC2(t, c, creds, "reset-image-attribute", "--image-id", reg.ImageId, "--attribute", "launchPermission")
	if out := cliEC2Fail(t, c, other, "describe-images", "--image-ids", reg.ImageId); !strings.Contains(out, "InvalidAMIID.NotFound") {
		t.Fatalf("another project describing a private image: %s", out)
	}
	cliEC2(t, c, creds, "deregister-image", "--image-id", reg.ImageId)
	if err := json.Unmarshal([]byte(cliEC2(t, c, creds, "describe-images", "--owners", "self")), &described); err != nil || len(described.Images) != 0 {
		t.Fatalf("after deregister-image: %+v %v", described, err)
	}
}

func hasImage(list []string, id string) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}

// An image's default kernel is booted with the launcher's rights: a kernel one project shared
// with the image's owner alone boots no other project's instance, through either door, however
// public the image.
func TestImageDefaultKernelIsTheLaunchersToSee(t *testing.T) {
	c, k, ck := tenant(t, "imgdef-k")
	_, m, cm := tenant(t, "imgdef-m")
	_, _, cl := tenant(t, "imgdef-l")
	c.AddNode(t, "imgdef-node", "imgdef-zone", 4, 8192)
	ctx := context.Background()
	kernel := registerBundle(t, c, k, "imgdef-k-user", "imgdef-k", "imgdef-k-bundles", "vmlinuz", bundle.TypeKernel, "k's kernel")
	waitImageState(t, ck, kernel, types.ImageStateAvailable)
	share := func(cl *ec2.Client, id string, lp types.LaunchPermission) {
		t.Helper()
		if _, err := cl.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
			LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{lp}}}); err != nil {
			t.Fatal(err)
		}
	}
	share(ck, kernel, types.LaunchPermission{UserId: aws.String("imgdef-m")})
	disk := c.UploadBundle(t, m, "imgdef-m-user", "imgdef-m", "imgdef-m-bundles", "disk.img", bundle.TypeMachine, imageBytes(5, 20<<10))
	reg, err := cm.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(disk.Location), Name: aws.String("with k's kernel"),
		KernelId: aws.String(kernel)})
	if err != nil {
		t.Fatal(err)
	}
	ami := aws.ToString(reg.ImageId)
	waitImageState(t, cm, ami, types.ImageStateAvailable)
	share(cm, ami, types.LaunchPermission{Group: types.PermissionGroupAll})

	run := func(cl *ec2.Client) error {
		_, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: types.InstanceType("m1.tiny"),
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		return err
	}
	// l sees the image, not its kernel: refused, and nothing made.
	expectCode(t, run(cl), "InvalidAMIID.NotFound")
	if out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil || len(out.Reservations) != 0 {
		t.Fatalf("l's instances after the refusal: %v %+v", err, out)
	}
	// Made with kubectl, l's instance waits for a kernel it can see.
	lKube, err := env.ClientAs(cloudv1.UserPrefix+"imgdef-l-user", cloudv1.ProjectGroupPrefix+"imgdef-l")
	if err != nil {
		t.Fatal(err)
	}
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "with-k-kernel", Namespace: "imgdef-l"},
		Spec: cloudv1.InstanceSpec{ImageID: ami, InstanceType: "m1.tiny"}}
	if err := lKube.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	resolved := func(want metav1.ConditionStatus, reason string) {
		t.Helper()
		testenv.Eventually(t, time.Minute, "l's instance's references "+reason, func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
				return err
			}
			if c := conditions.Get(inst, cloudv1.InstanceReferencesResolved); c == nil || c.Status != want || (reason != "" && c.Reason != reason) {
				return fmt.Errorf("ReferencesResolved is %+v", c)
			}
			return nil
		})
	}
	resolved(metav1.ConditionFalse, cloudv1.ReasonKernelNotFound)
	if inst.Status.Hypervisor != "" {
		t.Fatalf("l's instance was scheduled to %s", inst.Status.Hypervisor)
	}

	// m, which k shared the kernel with, launches it; once k shares it with l, so does l.
	if err := run(cm); err != nil {
		t.Fatalf("m launching its image: %v", err)
	}
	share(ck, kernel, types.LaunchPermission{UserId: aws.String("imgdef-l")})
	if err := run(cl); err != nil {
		t.Fatalf("l launching with the kernel shared: %v", err)
	}
	resolved(metav1.ConditionTrue, "")
}
