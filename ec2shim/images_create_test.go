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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/minio/minio-go/v7"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// qemuIO runs qemu-io's command on a node's qcow2 disk (the test driver runs no QEMU, so nothing
// else holds it) and returns its output.
func qemuIO(t *testing.T, disk, command string) string {
	t.Helper()
	out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", command, disk).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-io %q %s: %v: %s", command, disk, err, out)
	}
	return string(out)
}

func rootDisk(node *testcloud.Node, id string) string {
	return filepath.Join(node.StateDir(), "instances", id, "root.qcow2")
}

// holdsPattern reports whether the disk holds 64 KiB of pattern at 1 MiB.
func holdsPattern(t *testing.T, disk string, pattern string) bool {
	t.Helper()
	out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", "read -P "+pattern+" 1M 64k", disk).CombinedOutput()
	if err != nil || strings.Contains(string(out), "verification failed") {
		t.Logf("reading %s: %v: %s", disk, err, out)
		return false
	}
	return true
}

// eventsOf counts the instance's events with the reason.
func eventsOf(t *testing.T, project, name, reason string) int {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := theCloud(t).Env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			n++
		}
	}
	return n
}

func expectEvent(t *testing.T, project, name, reason string) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("event %s of %s", reason, name), func() error {
		if eventsOf(t, project, name, reason) == 0 {
			return fmt.Errorf("none")
		}
		return nil
	})
}

func expectNoEvent(t *testing.T, project, name, reason string) {
	t.Helper()
	if n := eventsOf(t, project, name, reason); n > 0 {
		t.Errorf("%d events %s of %s", n, reason, name)
	}
}

// expectNoObjects checks, with an administrator's client, that nothing is left under prefix.
func expectNoObjects(t *testing.T, mc *minio.Client, bucket, prefix string) {
	t.Helper()
	for obj := range mc.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		t.Errorf("%s/%s is left", bucket, obj.Key)
	}
}

// copiedImage waits for the node's label to leave an image made of an instance, and returns it.
func copiedImage(t *testing.T, c *testcloud.Cloud, project, name string) *cloudv1.Image {
	t.Helper()
	img := &cloudv1.Image{}
	testenv.Eventually(t, longWait, "the capture label to leave image "+name, func() error {
		if err := c.Env.Client.Get(context.Background(), client.ObjectKey{Namespace: project, Name: name}, img); err != nil {
			return err
		}
		if node, ok := img.Labels[cloudv1.LabelCaptureNode]; ok {
			return fmt.Errorf("labelled for %s", node)
		}
		return nil
	})
	return img
}

func createImage(t *testing.T, cl *ec2.Client, id, name string, noReboot bool) string {
	t.Helper()
	out, err := cl.CreateImage(context.Background(), &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String(name),
		NoReboot: aws.Bool(noReboot), Description: aws.String("made of " + id)})
	if err != nil {
		t.Fatalf("CreateImage of %s: %v", id, err)
	}
	return aws.ToString(out.ImageId)
}

// TestCreateImageOfAnInstance makes images of an instance's root disk (running, running with
// NoReboot, stopped) with aws-sdk-go-v2 and boots them: what the guest wrote is in the new
// instances' disks. Another project, bad input and instances in no state to be imaged make
// nothing.
func TestCreateImageOfAnInstance(t *testing.T) {
	const project = "capture-a"
	c, creds, ca := tenant(t, project)
	node := c.AddNode(t, project+"-node", project+"-zone", 4, 8192)
	ami := c.RegisterRawImage(t, creds, project, "disk", []byte(strings.Repeat("base", 1024)), false)
	_, _, cb := tenant(t, "capture-b")
	admin := c.S3(t, c.AddUser(t, "capture-admin", true, project))
	ctx := context.Background()

	launch := func(image string) string {
		t.Helper()
		// On this test's node: the cloud's other nodes are other tests' (some stopped by now).
		out, err := ca.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(image), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			InstanceType: types.InstanceType("m1.tiny"), Placement: &types.Placement{AvailabilityZone: aws.String(project + "-zone")}})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.Instances[0].InstanceId)
		waitState(t, ca, id, types.InstanceStateNameRunning)
		return id
	}
	id := launch(ami)
	// What the guest wrote on its root disk.
	qemuIO(t, rootDisk(node, id), "write -P 0xab 1M 64k")

	expectRefusals(t, "", func() *ec2.CreateImageInput {
		return &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("refused")}
	}, ca.CreateImage, []refusal[ec2.CreateImageInput]{
		{"short name", func(in *ec2.CreateImageInput) { in.Name = aws.String("ab") }, "InvalidAMIName.Malformed"},
		{"bad name", func(in *ec2.CreateImageInput) { in.Name = aws.String("a*b*c") }, "InvalidAMIName.Malformed"},
		{"long description", func(in *ec2.CreateImageInput) { in.Description = aws.String(strings.Repeat("d", 256)) }, "InvalidParameterValue"},
		{"unknown instance", func(in *ec2.CreateImageInput) { in.InstanceId = aws.String("i-0123456789abcdef0") }, "InvalidInstanceID.NotFound"},
		{"malformed instance", func(in *ec2.CreateImageInput) { in.InstanceId = aws.String("vol-1") }, "InvalidInstanceID.Malformed"},
		{"EBS mapping", func(in *ec2.CreateImageInput) {
			in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdb"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(1)}}}
		}, "InvalidParameterValue"},
		{"volume tags", func(in *ec2.CreateImageInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}
		}, "InvalidParameterValue"},
		{"dry run", func(in *ec2.CreateImageInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
	})
	// Another project cannot image the instance, nor tell it exists.
	_, err := cb.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("stolen")})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	expectCount(t, project, &cloudv1.ImageList{}, 1)
	expectCount(t, "capture-b", &cloudv1.ImageList{}, 0)

	// Running: the guest is shut down for the copy and started again.
	made := createImage(t, ca, id, "web (captured)", false)
	img := waitImageState(t, ca, made, types.ImageStateAvailable)
	if got, want := aws.ToString(img.ImageLocation), project+"/web (captured)"; got != want {
		t.Errorf("image location %q, want %q", got, want)
	}
	if img.ImageType != types.ImageTypeValuesMachine || aws.ToString(img.Description) != "made of "+id || aws.ToString(img.OwnerId) != project {
		t.Errorf("image %+v", img)
	}
	waitState(t, ca, id, types.InstanceStateNameRunning)
	testenv.Eventually(t, longWait, "the instance's domain to run again", func() error {
		if d := node.Domains(t)[id]; d.State != "running" {
			return fmt.Errorf("domain %s is %s", id, d.State)
		}
		return nil
	})
	expectEvent(t, project, id, "ShuttingDown")
	_, err = ca.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("web (captured)")})
	expectCode(t, err, "InvalidAMIName.Duplicate")
	// Nothing is left of the copy, and the node no longer watches the image.
	stored := copiedImage(t, c, project, made)
	if stored.Status.Stored == nil {
		t.Errorf("available image not stored: %+v", stored.Status)
	}
	expectNoObjects(t, admin, stored.Status.Capture.Bucket, stored.Status.Capture.Prefix)

	// The new image boots with what the guest wrote.
	second := launch(made)
	if !holdsPattern(t, rootDisk(node, second), "0xab") {
		t.Errorf("instance %s of image %s does not hold what %s wrote", second, made, id)
	}

	// NoReboot: copied while the guest is paused, which runs on.
	qemuIO(t, rootDisk(node, second), "write -P 0xcd 1M 64k")
	quick := createImage(t, ca, second, "web (no reboot)", true)
	waitImageState(t, ca, quick, types.ImageStateAvailable)
	if d := node.Domains(t)[second]; d.State != "running" {
		t.Errorf("domain %s is %s after a copy without reboot", second, d.State)
	}
	expectNoEvent(t, project, second, "ShuttingDown")

	// The same through kubectl, as a member of the project: an Image naming the instance.
	kube, err := c.Env.ClientAs(cloudv1.UserPrefix+project+"-user", cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	manifest := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "web-gitops", Namespace: project},
		Spec: cloudv1.ImageSpec{InstanceID: second, NoReboot: true, Name: "web (gitops)"}}
	if err := kube.Create(ctx, manifest); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the kubectl image to be available", func() error {
		if err := kube.Get(ctx, client.ObjectKeyFromObject(manifest), manifest); err != nil {
			return err
		}
		if manifest.Status.State != cloudv1.ImageStateAvailable {
			return fmt.Errorf("state %q %+v", manifest.Status.State, manifest.Status.Conditions)
		}
		return nil
	})
	if by := manifest.Annotations[cloudv1.AnnotationRegisteredBy]; by != project+"-user" {
		t.Errorf("the kubectl image is registered by %q", by)
	}

	// Stopped: copied as it is; it stays stopped.
	if _, err := ca.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{second}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, ca, second, types.InstanceStateNameStopped)
	cold := createImage(t, ca, second, "web (stopped)", false)
	waitImageState(t, ca, cold, types.ImageStateAvailable)
	waitState(t, ca, second, types.InstanceStateNameStopped)
	third := launch(cold)
	if !holdsPattern(t, rootDisk(node, third), "0xcd") {
		t.Errorf("instance %s of image %s does not hold what %s wrote", third, cold, second)
	}

	// A disk the node cannot copy fails the image with the node's reason; nothing is stored.
	if err := os.Remove(rootDisk(node, third)); err != nil {
		t.Fatal(err)
	}
	broken := createImage(t, ca, third, "web (no disk)", true)
	failed := waitImageState(t, ca, broken, types.ImageStateFailed)
	if r := failed.StateReason; r == nil || aws.ToString(r.Code) != cloudv1.ReasonCaptureFailed || !strings.Contains(aws.ToString(r.Message), "has no root disk") {
		t.Errorf("state reason %+v", r)
	}
	gone := copiedImage(t, c, project, broken)
	if gone.Status.Stored != nil {
		t.Errorf("failed image stored: %+v", gone.Status.Stored)
	}
	expectNoObjects(t, admin, gone.Status.Capture.Bucket, gone.Status.Capture.Prefix)

	// A terminated instance is in no state to be imaged.
	if _, err := ca.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{third}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, ca, third, types.InstanceStateNameTerminated)
	_, err = ca.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(third), Name: aws.String("too late")})
	expectCode(t, err, "IncorrectInstanceState")
	expectCount(t, project, &cloudv1.ImageList{}, 6)
}

// A node that stops answering before it copies its instance's disk fails the image once it has
// not been ready for the cloud's capture timeout (CaptureFailed, naming the node), and nothing
// of the copy is left; the node back finds its guest untouched and running, and copies a new
// image of it.
func TestImageOfAnInstanceOnALostNode(t *testing.T) {
	const project = "capture-lost"
	c, creds, cl := tenant(t, project)
	node := c.AddNode(t, project+"-node", project+"-zone", 4, 8192)
	ami := c.RegisterRawImage(t, creds, project, "disk", []byte(strings.Repeat("base", 1024)), false)
	ctx := context.Background()
	run, err := runIn(ctx, cl, ami, project+"-zone", "m1.tiny")
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	waitState(t, cl, id, types.InstanceStateNameRunning)

	node.Stop() // the agent is gone; its domain runs on
	lost := createImage(t, cl, id, "of a lost node", false)
	img := waitImageState(t, cl, lost, types.ImageStateFailed)
	if why := aws.ToString(img.StateReason.Message); !strings.Contains(why, "node capture-lost-node stopped before it copied the disk of instance "+id) ||
		!strings.Contains(why, "has not been ready for") {
		t.Errorf("the failed image says %q", why)
	}
	failed := copiedImage(t, c, project, lost)
	admin := c.S3(t, c.AddUser(t, "capture-lost-admin", true, project))
	expectNoObjects(t, admin, failed.Status.Capture.Bucket, failed.Status.Capture.Prefix)

	// What an agent killed mid-upload would have left: the flattened disk of the image that
	// failed meanwhile. The agent back removes it.
	left := filepath.Join(node.StateDir(), "instances", id, "image-"+lost+"."+string(failed.UID)+".qcow2")
	if err := os.WriteFile(left, []byte(strings.Repeat("disk", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	node.Start()
	if d := node.Domains(t)[id]; d.State != "running" {
		t.Errorf("domain %s is %s after its node came back", id, d.State)
	}
	testenv.Eventually(t, shortWait, "the agent back to remove the failed image's copy", func() error {
		if _, err := os.Stat(left); !os.IsNotExist(err) {
			return fmt.Errorf("%s is left (%v)", left, err)
		}
		return nil
	})
	again := createImage(t, cl, id, "of the node back", true)
	waitImageState(t, cl, again, types.ImageStateAvailable)
	waitState(t, cl, id, types.InstanceStateNameRunning)
}
