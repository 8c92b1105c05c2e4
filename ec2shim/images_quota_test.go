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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/bundle"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// A project's image quota holds RegisterImage, CreateImage and Images made with kubectl alike.
// EC2 calls past it answer ResourceLimitExceeded and make nothing (no image, no name held); an
// Image applied by a member waits with Ready=False (QuotaExceeded), given no id, no node's copy
// and nothing stored, until an image is deregistered or the quota is raised. Another project's
// images neither count nor are refused by it.
func TestImageQuota(t *testing.T) {
	const project = "imgquota"
	c, creds, cl, ami := tenantWithNode(t, project) // one image: ami
	_, credsB, clB := tenant(t, "imgquota-b")
	ctx := context.Background()
	setQuota(t, cl, project, cloudv1.ProjectQuota{Images: ptr.To[int32](2)})

	run, err := runIn(ctx, cl, ami, project+"-zone", "m1.tiny")
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	waitState(t, cl, id, types.InstanceStateNameRunning)
	b := c.UploadBundle(t, creds, project+"-user", project, project+"-bundles", "disk.img", bundle.TypeMachine, imageBytes(7, 10<<10))
	register := func(cl *ec2.Client, location, name string) (string, error) {
		out, err := cl.RegisterImage(ctx, &ec2.RegisterImageInput{ImageLocation: aws.String(location), Name: aws.String(name)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ImageId), nil
	}
	second, err := register(cl, b.Location, "second")
	if err != nil {
		t.Fatal(err)
	}

	// Full: neither call makes an image, and the names stay free.
	_, err = register(cl, b.Location, "over")
	expectCode(t, err, "ResourceLimitExceeded")
	if err != nil && !strings.Contains(err.Error(), "image quota of project imgquota is used up (2 images)") {
		t.Errorf("the refusal says %v", err)
	}
	_, err = cl.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("over")})
	expectCode(t, err, "ResourceLimitExceeded")
	waitCount(t, shortWait, project, &cloudv1.ImageList{}, 2, "the refused images to go")

	// Another project registers as it likes; its images do not count in this one's.
	other := c.UploadBundle(t, credsB, "imgquota-b-user", "imgquota-b", "imgquota-b-bundles", "disk.img", bundle.TypeMachine, imageBytes(8, 10<<10))
	for i := range 3 {
		if _, err := register(clB, other.Location, fmt.Sprintf("b-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = register(cl, b.Location, "over")
	expectCode(t, err, "ResourceLimitExceeded")

	// An Image a member applies waits for room, given nothing.
	kube, err := c.Env.ClientAs(cloudv1.UserPrefix+project+"-user", cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	gitops := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "gitops", Namespace: project},
		Spec: cloudv1.ImageSpec{InstanceID: id, NoReboot: true, Name: "over"}}
	if err := kube.Create(ctx, gitops); err != nil {
		t.Fatal(err)
	}
	imageReason := func(img *cloudv1.Image, reason string) {
		t.Helper()
		testenv.Eventually(t, longWait, img.Name+" "+reason, func() error {
			if err := kube.Get(ctx, client.ObjectKeyFromObject(img), img); err != nil {
				return err
			}
			if c := conditions.Get(img, cloudv1.ReadyCondition); c == nil || c.Reason != reason {
				return fmt.Errorf("ready %+v, status %+v", c, img.Status)
			}
			return nil
		})
	}
	imageReason(gitops, cloudv1.ReasonQuotaExceeded)
	if c := conditions.Get(gitops, cloudv1.ReadyCondition); !strings.Contains(c.Message, "project quota images exceeded: 2 of 2 in use") {
		t.Errorf("the waiting image says %q", c.Message)
	}
	if gitops.Status.ImageID != "" || gitops.Status.State != "" || gitops.Status.Capture != nil || gitops.Labels[cloudv1.LabelCaptureNode] != "" {
		t.Fatalf("an image over the quota was started: %+v labels %v", gitops.Status, gitops.Labels)
	}
	expectEvent(t, project, gitops.Name, cloudv1.ReasonQuotaExceeded)

	// Deregistering one lets it in: it is made of the instance.
	if _, err := cl.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	imageReason(gitops, cloudv1.ReasonImageAvailable)
	if gitops.Status.ImageID == "" || gitops.Status.Stored == nil {
		t.Errorf("the admitted image: %+v", gitops.Status)
	}
	expectEvent(t, project, gitops.Name, cloudv1.ReasonAdmitted)
	_, err = register(cl, b.Location, "second")
	expectCode(t, err, "ResourceLimitExceeded")

	// A raised quota has room for one more, through either call.
	setQuota(t, cl, project, cloudv1.ProjectQuota{Images: ptr.To[int32](4), Addresses: ptr.To[int32](999)})
	if _, err := register(cl, b.Location, "second"); err != nil {
		t.Fatal(err)
	}
	made := createImage(t, cl, id, "of the instance", true)
	waitImageState(t, cl, made, types.ImageStateAvailable)
	_, err = register(cl, b.Location, "fifth")
	expectCode(t, err, "ResourceLimitExceeded")
	waitCount(t, shortWait, project, &cloudv1.ImageList{}, 4, "the refused image to go")
}
