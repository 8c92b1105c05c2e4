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
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// storedImage reads an image's status as an administrator.
func storedImage(t *testing.T, project, id string) *cloudv1.Image {
	t.Helper()
	list := &cloudv1.ImageList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if img := &list.Items[i]; img.Status.ImageID == id || img.Name == id {
			return img
		}
	}
	t.Fatalf("no image %s in %s", id, project)
	return nil
}

func tagKeys(tags []types.Tag) string {
	var keys []string
	for _, t := range tags {
		keys = append(keys, aws.ToString(t.Key))
	}
	return strings.Join(keys, ",")
}

// TestCopyImage copies images with aws-sdk-go-v2 (EC2's CopyImage in one region): a project
// copies an image shared with it into one of its own, which stays, and boots, when the source is
// unshared and deregistered. A private image of another project is not found, through the EC2
// API or an Image applied with kubectl; bad input, a failed source and a reused ClientToken make
// nothing.
func TestCopyImage(t *testing.T) {
	c, a, ca := tenant(t, "imgcopy-a")
	_, b, cb, _ := tenantWithNode(t, "imgcopy-b")
	_, _, cc := tenant(t, "imgcopy-c")
	ctx := context.Background()
	src := c.RegisterRawImage(t, a, "imgcopy-a", "copied-disk", []byte(strings.Repeat("copy", 2048)), false)
	if _, err := ca.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{src},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}}); err != nil {
		t.Fatal(err)
	}
	copyImage := func(cl *ec2.Client, in *ec2.CopyImageInput) (string, error) {
		if in.SourceImageId == nil {
			in.SourceImageId = aws.String(src)
		}
		in.SourceRegion = aws.String(testcloud.Region)
		out, err := cl.CopyImage(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ImageId), nil
	}

	// Private: another project cannot copy it, nor tell it exists.
	_, err := copyImage(cb, &ec2.CopyImageInput{Name: aws.String("stolen")})
	expectCode(t, err, "InvalidAMIID.NotFound")
	expectCount(t, "imgcopy-b", &cloudv1.ImageList{}, 1)

	// Shared with b: b copies it.
	if _, err := ca.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(src),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String("imgcopy-b")}}}}); err != nil {
		t.Fatal(err)
	}
	expectRefusals(t, "", func() *ec2.CopyImageInput {
		return &ec2.CopyImageInput{SourceImageId: aws.String(src), SourceRegion: aws.String(testcloud.Region), Name: aws.String("refused")}
	}, cb.CopyImage, []refusal[ec2.CopyImageInput]{
		{"other region", func(in *ec2.CopyImageInput) { in.SourceRegion = aws.String("us-east-1") }, "InvalidParameterValue"},
		{"short name", func(in *ec2.CopyImageInput) { in.Name = aws.String("ab") }, "InvalidAMIName.Malformed"},
		{"long description", func(in *ec2.CopyImageInput) { in.Description = aws.String(strings.Repeat("d", 256)) }, "InvalidParameterValue"},
		{"encrypted", func(in *ec2.CopyImageInput) { in.Encrypted = aws.Bool(true) }, "UnsupportedOperation"},
		{"outpost", func(in *ec2.CopyImageInput) { in.DestinationOutpostArn = aws.String("arn:aws:outposts:x") }, "UnsupportedOperation"},
		{"time-based", func(in *ec2.CopyImageInput) { in.SnapshotCopyCompletionDurationMinutes = aws.Int64(15) }, "UnsupportedOperation"},
		{"malformed source", func(in *ec2.CopyImageInput) { in.SourceImageId = aws.String("vol-1") }, "InvalidAMIID.Malformed"},
		{"unknown source", func(in *ec2.CopyImageInput) { in.SourceImageId = aws.String("ami-0123456789abcdef0") }, "InvalidAMIID.NotFound"},
		{"long token", func(in *ec2.CopyImageInput) { in.ClientToken = aws.String(strings.Repeat("t", 65)) }, "InvalidParameterValue"},
		{"volume tags", func(in *ec2.CopyImageInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}
		}, "InvalidParameterValue"},
		{"dry run", func(in *ec2.CopyImageInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
	})
	expectCount(t, "imgcopy-b", &cloudv1.ImageList{}, 1)

	copied, err := copyImage(cb, &ec2.CopyImageInput{Name: aws.String("a's disk (copy)"), Description: aws.String("kept"),
		CopyImageTags: aws.Bool(true), ClientToken: aws.String("copy-1"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("mine"), Value: aws.String("b")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	img := waitImageState(t, cb, copied, types.ImageStateAvailable)
	if aws.ToString(img.OwnerId) != "imgcopy-b" || aws.ToString(img.ImageLocation) != "imgcopy-b/a's disk (copy)" ||
		aws.ToString(img.Description) != "kept" || img.ImageType != types.ImageTypeValuesMachine {
		t.Errorf("the copy: %+v", img)
	}
	// Another project's tags are not copied; the call's are set.
	if tags := tagKeys(img.Tags); strings.Contains(tags, "team") || !strings.Contains(tags, "mine") {
		t.Errorf("the copy's tags: %v", img.Tags)
	}
	from, to := storedImage(t, "imgcopy-a", src), storedImage(t, "imgcopy-b", copied)
	if to.Status.Stored == nil || to.Status.Stored.MD5 != from.Status.Stored.MD5 || to.Status.Stored.SizeBytes != from.Status.Stored.SizeBytes ||
		to.Status.Stored.Key == from.Status.Stored.Key {
		t.Errorf("stored copy %+v of %+v", to.Status.Stored, from.Status.Stored)
	}

	// A retry with the ClientToken answers the same image; the token with other arguments is
	// refused.
	again, err := copyImage(cb, &ec2.CopyImageInput{Name: aws.String("a's disk (copy)"), Description: aws.String("kept"),
		CopyImageTags: aws.Bool(true), ClientToken: aws.String("copy-1"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("mine"), Value: aws.String("b")}}}}})
	if err != nil || again != copied {
		t.Fatalf("the retried copy: %s, %v (first %s)", again, err, copied)
	}
	_, err = copyImage(cb, &ec2.CopyImageInput{Name: aws.String("another copy"), ClientToken: aws.String("copy-1")})
	expectCode(t, err, "IdempotentParameterMismatch")
	_, err = copyImage(cb, &ec2.CopyImageInput{Name: aws.String("a's disk (copy)")})
	expectCode(t, err, "InvalidAMIName.Duplicate")
	expectCount(t, "imgcopy-b", &cloudv1.ImageList{}, 2)

	// The AWS CLI's copy-image.
	var cli struct{ ImageId string }
	awsCLI(t, c, b, &cli, "copy-image", "--source-image-id", src, "--source-region", testcloud.Region, "--name", "copied by the cli")
	waitImageState(t, cb, cli.ImageId, types.ImageStateAvailable)
	expectCount(t, "imgcopy-b", &cloudv1.ImageList{}, 3)

	// Its own image's tags are copied when asked.
	own, err := copyImage(ca, &ec2.CopyImageInput{Name: aws.String("second of mine"), CopyImageTags: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if img := waitImageState(t, ca, own, types.ImageStateAvailable); !strings.Contains(tagKeys(img.Tags), "team") {
		t.Errorf("the owner's copy's tags: %v", img.Tags)
	}

	// Through kubectl: a member of c naming the image, still private to c, gets nothing stored;
	// one of b copies it.
	kubectlCopy := func(project, name string) *cloudv1.Image {
		t.Helper()
		kube, err := c.Env.ClientAs(cloudv1.UserPrefix+project+"-user", cloudv1.ProjectGroupPrefix+project)
		if err != nil {
			t.Fatal(err)
		}
		m := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
			Spec: cloudv1.ImageSpec{SourceImageID: src, Name: name}}
		if err := kube.Create(ctx, m); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, longWait, "image "+name+" to end", func() error {
			if err := kube.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
				return err
			}
			if m.Status.State != cloudv1.ImageStateAvailable && m.Status.State != cloudv1.ImageStateFailed {
				return fmt.Errorf("state %q %+v", m.Status.State, m.Status.Conditions)
			}
			return nil
		})
		return m
	}
	if m := kubectlCopy("imgcopy-c", "stolen-copy"); m.Status.State != cloudv1.ImageStateFailed || m.Status.Stored != nil ||
		conditions.Get(m, cloudv1.ReadyCondition).Reason != cloudv1.ReasonSourceNotFound ||
		!strings.Contains(m.Status.StateReason, "does not exist or is not shared with project imgcopy-c") {
		t.Errorf("c's kubectl copy of a's private image: %+v", m.Status)
	}
	if m := kubectlCopy("imgcopy-b", "gitops-copy"); m.Status.State != cloudv1.ImageStateAvailable {
		t.Errorf("b's kubectl copy of the shared image: %+v", m.Status)
	}
	// An image naming itself as its source (by the id it is named by) is not a copy of anything.
	selfID := "ami-00000000000000ab1"
	self := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: selfID, Namespace: "imgcopy-b"},
		Spec: cloudv1.ImageSpec{SourceImageID: selfID}}
	if err := env.Client.Create(ctx, self); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the image copying itself to fail", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(self), self); err != nil {
			return err
		}
		if self.Status.State != cloudv1.ImageStateFailed || !strings.Contains(self.Status.StateReason, "cannot be a copy of itself") {
			return fmt.Errorf("state %q %q", self.Status.State, self.Status.StateReason)
		}
		return nil
	})
	// Copies naming each other in a ring would wait for each other forever: each fails.
	ring := []string{"ami-00000000000000ab2", "ami-00000000000000ab3", "ami-00000000000000ab4"}
	for i, id := range ring {
		img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: "imgcopy-b"},
			Spec: cloudv1.ImageSpec{SourceImageID: ring[(i+1)%len(ring)]}}
		if err := env.Client.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	// The first found in the ring fails for it, the others for their failed source.
	testenv.Eventually(t, longWait, "copies naming each other to fail", func() error {
		loop := false
		for _, id := range ring {
			img := &cloudv1.Image{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "imgcopy-b", Name: id}, img); err != nil {
				return err
			}
			if img.Status.State != cloudv1.ImageStateFailed || img.Status.Stored != nil {
				return fmt.Errorf("%s: state %q %q", id, img.Status.State, img.Status.StateReason)
			}
			loop = loop || strings.Contains(img.Status.StateReason, "waiting, through copies, for this image")
		}
		if !loop {
			return errors.New("none failed for the ring")
		}
		return nil
	})

	// Unshared and deregistered, the source is gone; b's copy stays and boots.
	if _, err := ca.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(src),
		LaunchPermission: &types.LaunchPermissionModifications{Remove: []types.LaunchPermission{{UserId: aws.String("imgcopy-b")}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = copyImage(cb, &ec2.CopyImageInput{Name: aws.String("too late")})
	expectCode(t, err, "InvalidAMIID.NotFound")
	// A retry of the first copy still answers its image.
	again, err = copyImage(cb, &ec2.CopyImageInput{Name: aws.String("a's disk (copy)"), Description: aws.String("kept"),
		CopyImageTags: aws.Bool(true), ClientToken: aws.String("copy-1"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("mine"), Value: aws.String("b")}}}}})
	if err != nil || again != copied {
		t.Fatalf("the retried copy after the unsharing: %s, %v (first %s)", again, err, copied)
	}
	if _, err := ca.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(src)}); err != nil {
		t.Fatal(err)
	}
	run, err := runIn(ctx, cb, copied, "imgcopy-b-zone", "m1.tiny")
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, cb, aws.ToString(run.Instances[0].InstanceId), types.InstanceStateNameRunning)
	_, err = cc.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: aws.String(copied), SourceRegion: aws.String(testcloud.Region), Name: aws.String("stolen")})
	expectCode(t, err, "InvalidAMIID.NotFound")

	// A failed image is not copied.
	broken := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "imgcopy-a"},
		Spec: cloudv1.ImageSpec{ImageLocation: "raw-imgcopy-a/missing", Format: cloudv1.ImageFormatRaw}}
	if err := env.Client.Create(ctx, broken); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the broken image to fail", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(broken), broken); err != nil {
			return err
		}
		if broken.Status.State != cloudv1.ImageStateFailed {
			return fmt.Errorf("state %q", broken.Status.State)
		}
		return nil
	})
	_, err = copyImage(ca, &ec2.CopyImageInput{SourceImageId: aws.String(broken.Status.ImageID), Name: aws.String("of a failed image")})
	expectCode(t, err, "InvalidAMIID.Unavailable")
}
