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

package isolation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/objectstore"
)

// kubectlImageReadAsItsMaker: B's bucket policy keeps one of B's users, carol, from reading an
// object. An Image carol makes of it with kubectl is read as carol, so it fails, whatever she
// claims about who registered it; bob's Image of the same object is made.
func (w *world) kubectlImageReadAsItsMaker(t *testing.T) {
	ctx := context.Background()
	w.cloud.AddUser(t, "iso-carol", false, projectB)
	carol, err := env.ClientAs(cloudv1.UserPrefix+"iso-carol", cloudv1.ProjectGroupPrefix+projectB)
	if err != nil {
		t.Fatal(err)
	}
	w.uploadB(t, "not-for-carol", []byte("bob's disk, kept from carol"))
	policy := `{"Statement":[{"Effect":"Deny","Principal":{"AWS":["` + objectstore.UserCanonicalID("iso-carol") +
		`"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::` + bucketB + `/not-for-carol"}]}`
	if err := w.cloud.S3(t, w.b).SetBucketPolicy(ctx, bucketB, policy); err != nil {
		t.Fatal(err)
	}

	img := &cloudv1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: "carols-copy", Namespace: projectB,
			Annotations: map[string]string{cloudv1.AnnotationRegisteredBy: "iso-bob"}},
		Spec: cloudv1.ImageSpec{ImageLocation: bucketB + "/not-for-carol", Format: cloudv1.ImageFormatRaw, Type: cloudv1.ImageTypeMachine},
	}
	if err := carol.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	if got := img.Annotations[cloudv1.AnnotationRegisteredBy]; got != "iso-carol" {
		t.Fatalf("carol's Image is registered by %q, want iso-carol", got)
	}
	w.waitImageFailed(t, img, cloudv1.ReasonSourceAccessDenied)

	// Once made, nobody changes who registered it: not carol, not bob.
	for who, c := range map[string]client.Client{"carol": carol, "bob": w.bKube} {
		err := c.Patch(ctx, img.DeepCopy(), client.RawPatch(k8stypes.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"`+cloudv1.AnnotationRegisteredBy+`":"iso-bob"}}}`)))
		if err == nil || !strings.Contains(err.Error(), "does not change") {
			t.Fatalf("%s rewriting who registered carol's Image: %v", who, err)
		}
	}

	bobs := w.bImage(t, "bobs-copy", bucketB+"/not-for-carol")
	if got := bobs.Annotations[cloudv1.AnnotationRegisteredBy]; got != "iso-bob" {
		t.Fatalf("bob's Image is registered by %q, want iso-bob", got)
	}
	w.waitImage(t, bobs, cloudv1.ImageStateAvailable)

	// The EC2 API names the caller; a caller who is not (or no longer) a member of the image's
	// project reads nothing for it.
	for _, who := range []string{"iso-alice", "iso-nobody"} {
		img := &cloudv1.Image{
			ObjectMeta: metav1.ObjectMeta{Name: "registered-by-" + who, Namespace: projectB,
				Annotations: map[string]string{cloudv1.AnnotationRegisteredBy: who}},
			Spec: cloudv1.ImageSpec{ImageLocation: bucketB + "/not-for-carol", Format: cloudv1.ImageFormatRaw, Type: cloudv1.ImageTypeMachine},
		}
		if err := env.Client.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		w.waitImageFailed(t, img, cloudv1.ReasonSourceAccessDenied)
	}
}

// imagesOfOthersInstance: B cannot make an image of A's running instance. The EC2 API does not
// know the id in B; a kubectl Image naming it fails without any node being given the copy; B
// cannot give a node the copy itself (an image's status is the controller's), nor make the
// Image in A's namespace. A's instance runs on untouched (checkAUnchanged).
func (w *world) imagesOfOthersInstance(t *testing.T) {
	ctx := context.Background()
	_, err := w.cloud.EC2(w.b).CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(w.instA), Name: aws.String("a's disk")})
	expectCode(t, err, "InvalidInstanceID.NotFound")

	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "copy-of-a", Namespace: projectB},
		Spec: cloudv1.ImageSpec{InstanceID: w.instA}}
	if err := w.bKube.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	w.waitImageFailed(t, img, cloudv1.ReasonSourceNotFound)
	if c := conditions.Get(img, cloudv1.ReadyCondition); !strings.Contains(c.Message, "does not exist in project "+projectB) {
		t.Errorf("the refusal says %q", c.Message)
	}
	if img.Status.Capture != nil || img.Labels[cloudv1.LabelCaptureNode] != "" {
		t.Fatalf("B's image of A's instance was given to a node: %+v %v", img.Status.Capture, img.Labels)
	}

	own := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "copy-of-a-2", Namespace: projectB},
		Spec: cloudv1.ImageSpec{InstanceID: "i-0123456789abcdef0"}}
	if err := w.bKube.Create(ctx, own); err != nil {
		t.Fatal(err)
	}
	inst := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: projectA, Name: w.instA}, inst); err != nil {
		t.Fatal(err)
	}
	own.Status.Capture = &cloudv1.ImageCapture{Node: w.node.Name, InstanceUID: string(inst.UID),
		Bucket: "pinet-images", Prefix: "captures/x/"}
	if err := w.bKube.Status().Update(ctx, own); !apierrors.IsForbidden(err) {
		t.Fatalf("B writing its image's capture: %v", err)
	}
	inA := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "copy-in-a", Namespace: projectA},
		Spec: cloudv1.ImageSpec{InstanceID: w.instA}}
	if err := w.bKube.Create(ctx, inA); !apierrors.IsForbidden(err) {
		t.Fatalf("B making an image in A's namespace: %v", err)
	}
}

// copiesOfOthersImage: B cannot copy A's private image: the EC2 API does not know the id in B
// (nor by a ClientToken retry), and a kubectl Image naming it fails SourceNotFound with nothing
// stored. B cannot make the copy in A's namespace, nor name A's stored object by a copy of its
// own image (a copy's source is an image id, read with B's rights). A's image stays A's
// (checkAUnchanged).
func (w *world) copiesOfOthersImage(t *testing.T) {
	ctx := context.Background()
	eb := w.cloud.EC2(w.b)
	for _, token := range []string{"", "retry-1"} {
		in := &ec2.CopyImageInput{SourceImageId: aws.String(w.amiA), SourceRegion: aws.String(testcloud.Region), Name: aws.String("a's image")}
		if token != "" {
			in.ClientToken = aws.String(token)
		}
		_, err := eb.CopyImage(ctx, in)
		expectCode(t, err, "InvalidAMIID.NotFound")
	}

	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "copy-of-a-image", Namespace: projectB},
		Spec: cloudv1.ImageSpec{SourceImageID: w.amiA}}
	if err := w.bKube.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	w.waitImageFailed(t, img, cloudv1.ReasonSourceNotFound)
	if c := conditions.Get(img, cloudv1.ReadyCondition); !strings.Contains(c.Message, "does not exist or is not shared with project "+projectB) {
		t.Errorf("the refusal says %q", c.Message)
	}
	if img.Status.Stored != nil {
		t.Fatalf("B's copy of A's private image was stored: %+v", img.Status.Stored)
	}
	inA := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "copy-in-a-image", Namespace: projectA},
		Spec: cloudv1.ImageSpec{SourceImageID: w.amiA}}
	if err := w.bKube.Create(ctx, inA); !apierrors.IsForbidden(err) {
		t.Fatalf("B copying into A's namespace: %v", err)
	}
	// B's own image named by A's id has an id of its own: a copy naming A's id is not of it,
	// and never of A's.
	w.uploadB(t, "bob-named", []byte("bob's disk named like A's id"))
	named := w.bImage(t, w.amiA, bucketB+"/bob-named")
	w.waitImage(t, named, cloudv1.ImageStateAvailable)
	byName := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "copy-by-name", Namespace: projectB},
		Spec: cloudv1.ImageSpec{SourceImageID: w.amiA}}
	if err := w.bKube.Create(ctx, byName); err != nil {
		t.Fatal(err)
	}
	w.waitImageFailed(t, byName, cloudv1.ReasonSourceNotFound)
	if err := w.bKube.Delete(ctx, named); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "B's image named like A's id to be gone", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(named), named); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}
