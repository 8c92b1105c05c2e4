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
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/bundle"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var (
	imageSvcOnce sync.Once
	imageSvc     *cloud.Service
	// imageAlice and imageBob act in svc-a and svc-b with access keys of their own, which the
	// service uses to read manifests from the object store as them.
	imageAlice, imageBob cloud.Caller
	imageAliceKeys       testcloud.Credentials
)

// imageService is a service over the same cloud as service(t) that can register images: it
// knows the object store and finds callers' secrets (and signs in the object store's region).
func imageService(t *testing.T) *cloud.Service {
	t.Helper()
	service(t)
	imageSvcOnce.Do(func() {
		imageAliceKeys = svcCloud.AddUser(t, "svc-img-alice", false, "svc-a")
		bobKeys := svcCloud.AddUser(t, "svc-img-bob", false, "svc-b")
		imageAlice = cloud.Caller{Principal: awsauth.Principal{User: "svc-img-alice", Project: "svc-a"}, AccessKeyID: imageAliceKeys.AccessKeyID}
		imageBob = cloud.Caller{Principal: awsauth.Principal{User: "svc-img-bob", Project: "svc-b"}, AccessKeyID: bobKeys.AccessKeyID}
		tokens, err := query.NewPageTokens([]byte("a page token key for the image service's tests"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := cloud.New(cloud.Config{Client: svcCache, APIReader: env.Client, Authz: &authz.Authorizer{Client: env.Client},
			Tokens: tokens, Region: testcloud.Region, Credentials: &credentials.Store{Client: svcCache, SystemNamespace: testenv.SystemNamespace},
			ObjectStoreURL: svcCloud.S3URL})
		if err != nil {
			t.Fatal(err)
		}
		imageSvc = s
	})
	if imageSvc == nil {
		t.Fatal("the image service did not start")
	}
	return imageSvc
}

// imageIDsSeenBy lists the ids of the images the caller sees.
func imageIDsSeenBy(t *testing.T, s *cloud.Service, c cloud.Caller, in cloud.DescribeImagesInput) map[string]cloud.Image {
	t.Helper()
	imgs, _, err := s.DescribeImages(context.Background(), c, in)
	if err != nil {
		t.Fatal(err)
	}
	return byID(imgs, func(img cloud.Image) string { return img.ID })
}

// imagesInProject counts the Image objects and image name claims in a project's namespace.
func imagesInProject(t *testing.T, project string) (images, claims int) {
	t.Helper()
	ctx := context.Background()
	list := &cloudv1.ImageList{}
	if err := env.Client.List(ctx, list, client.InNamespace(project)); err != nil {
		t.Fatal(err)
	}
	leases := &coordinationv1.LeaseList{}
	if err := env.Client.List(ctx, leases, client.InNamespace(project)); err != nil {
		t.Fatal(err)
	}
	for _, l := range leases.Items {
		if strings.HasPrefix(l.Name, "pinet-image-name-") {
			claims++
		}
	}
	return len(list.Items), claims
}

// imageLaunchableIn says whether RunInstances in project would resolve id (refs.Image is its lookup).
func imageLaunchableIn(t *testing.T, project, id string) bool {
	t.Helper()
	_, err := refs.Image(context.Background(), svcCache, project, id)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestImagesAcrossProjects(t *testing.T) {
	s := imageService(t)
	ctx := context.Background()
	location := svcCloud.UploadBundle(t, imageAliceKeys, "svc-img-alice", "svc-a", "svc-img-alices", "disk.img", bundle.TypeMachine,
		[]byte("a disk image of a test, small and plain")).Location
	register := cloud.RegisterImageInput{Location: location, Name: "alices-image", Description: "alice's",
		TagSpecifications: tagSpecs("image", "team", "a")}

	// A dry run and bob's registration from alice's bucket make nothing.
	dry := register
	dry.DryRun = true
	_, err := s.RegisterImage(ctx, imageAlice, dry)
	expectCode(t, err, cloud.CodeDryRun)
	_, err = s.RegisterImage(ctx, imageBob, register)
	expectCode(t, err, cloud.CodeManifestNotFound)
	_, err = s.RegisterImage(ctx, stranger, register)
	expectCode(t, err, cloud.CodeUnauthorized)
	for _, p := range []string{"svc-a", "svc-b"} {
		if imgs, claims := imagesInProject(t, p); imgs != 0 || claims != 0 {
			t.Fatalf("%s has %d images and %d name claims after refused registrations", p, imgs, claims)
		}
	}

	id, err := s.RegisterImage(ctx, imageAlice, register)
	if err != nil {
		t.Fatal(err)
	}
	img, ok := imageIDsSeenBy(t, s, imageAlice, cloud.DescribeImagesInput{Owners: []string{"self"}})[id]
	if !ok || img.OwnerID != "svc-a" || img.Name != "alices-image" || img.Type != "machine" || img.Public || img.Tags["team"] != "a" {
		t.Fatalf("alice's image %s: %+v (found %v)", id, img, ok)
	}
	// The name is alice's in her project: a second registration is refused and leaves nothing.
	_, err = s.RegisterImage(ctx, imageAlice, register)
	expectCode(t, err, cloud.CodeAMINameDuplicate)
	if imgs, claims := imagesInProject(t, "svc-a"); imgs != 1 || claims != 1 {
		t.Fatalf("svc-a has %d images and %d name claims after a duplicate registration", imgs, claims)
	}

	// Private: bob can neither see, launch, deregister nor change it.
	expectImageHiddenFromBob(t, s, id)
	// RunInstances finds images by the id the image controller records.
	testenv.Eventually(t, 2*time.Minute, "alice's image to be launchable in her project", func() error {
		if !imageLaunchableIn(t, "svc-a", id) {
			return fmt.Errorf("%s does not resolve in svc-a", id)
		}
		return nil
	})
	if imageLaunchableIn(t, "svc-b", id) {
		t.Fatal("a private image is launchable outside its project")
	}

	// Refused changes change nothing.
	err = s.ModifyImageAttribute(ctx, imageAlice, cloud.ModifyImageAttributeInput{ID: id,
		LaunchPermission: &cloud.LaunchPermissionChanges{Add: []cloud.LaunchPermission{{UserID: "svc-b"}, {UserID: "No Such Project"}}}})
	expectCode(t, err, cloud.CodeAMIAttributeItem)
	err = s.ModifyImageAttribute(ctx, imageAlice, cloud.ModifyImageAttributeInput{ID: id, Attribute: "launchPermission",
		OperationType: "add", UserIDs: []string{"svc-b"}, DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	expectImageLaunchPermissions(t, s, id)

	// Shared with bob's project: bob sees and may launch it, a third project may not; it is
	// still alice's alone to change, deregister and list the permissions of.
	err = s.ModifyImageAttribute(ctx, imageAlice, cloud.ModifyImageAttributeInput{ID: id, Attribute: "launchPermission",
		OperationType: "add", UserIDs: []string{"svc-b"}})
	if err != nil {
		t.Fatal(err)
	}
	expectImageLaunchPermissions(t, s, id, cloud.LaunchPermission{UserID: "svc-b"})
	if _, seen := imageIDsSeenBy(t, s, imageBob, cloud.DescribeImagesInput{ExecutableBy: []string{"self"}})[id]; !seen {
		t.Fatalf("bob does not see %s shared with his project", id)
	}
	if !imageLaunchableIn(t, "svc-b", id) || imageLaunchableIn(t, "svc-nowhere", id) {
		t.Fatal("a shared image is not launchable by the project it is shared with, or launchable by another")
	}
	_, err = s.DescribeImageAttribute(ctx, imageBob, cloud.DescribeImageAttributeInput{ID: id, Attribute: "launchPermission"})
	expectCode(t, err, cloud.CodeAuthFailure)
	err = s.ModifyImageAttribute(ctx, imageBob, cloud.ModifyImageAttributeInput{ID: id, Description: ptrTo("bob's now")})
	expectCode(t, err, cloud.CodeAuthFailure)
	err = s.ResetImageAttribute(ctx, imageBob, cloud.ResetImageAttributeInput{ID: id, Attribute: "launchPermission"})
	expectCode(t, err, cloud.CodeAuthFailure)
	err = s.DeregisterImage(ctx, imageBob, cloud.DeregisterImageInput{ID: id})
	expectCode(t, err, cloud.CodeAMINotFound)
	desc, err := s.DescribeImageAttribute(ctx, imageBob, cloud.DescribeImageAttributeInput{ID: id, Attribute: "description"})
	if err != nil || desc.Value != "alice's" {
		t.Fatalf("bob reads the description %+v, %v", desc, err)
	}
	expectImageLaunchPermissions(t, s, id, cloud.LaunchPermission{UserID: "svc-b"})

	// Reset makes it private again.
	if err := s.ResetImageAttribute(ctx, imageAlice, cloud.ResetImageAttributeInput{ID: id, Attribute: "launchPermission"}); err != nil {
		t.Fatal(err)
	}
	expectImageHiddenFromBob(t, s, id)

	// Deregistered: gone, its name claim with it.
	err = s.DeregisterImage(ctx, imageAlice, cloud.DeregisterImageInput{ID: id, DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	if err := s.DeregisterImage(ctx, imageAlice, cloud.DeregisterImageInput{ID: id}); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.DescribeImages(ctx, imageAlice, cloud.DescribeImagesInput{IDs: []string{id}})
	expectCode(t, err, cloud.CodeAMINotFound)
	if _, claims := imagesInProject(t, "svc-a"); claims != 0 {
		t.Fatalf("%d name claims left after deregistering", claims)
	}
}

func ptrTo[T any](v T) *T { return &v }

// expectImageHiddenFromBob checks that every operation of bob's on id answers as if it did not exist.
func expectImageHiddenFromBob(t *testing.T, s *cloud.Service, id string) {
	t.Helper()
	ctx := context.Background()
	if _, seen := imageIDsSeenBy(t, s, imageBob, cloud.DescribeImagesInput{})[id]; seen {
		t.Fatalf("bob sees alice's private image %s", id)
	}
	_, _, err := s.DescribeImages(ctx, imageBob, cloud.DescribeImagesInput{IDs: []string{id}})
	expectCode(t, err, cloud.CodeAMINotFound)
	_, err = s.DescribeImageAttribute(ctx, imageBob, cloud.DescribeImageAttributeInput{ID: id, Attribute: "description"})
	expectCode(t, err, cloud.CodeAMINotFound)
	err = s.DeregisterImage(ctx, imageBob, cloud.DeregisterImageInput{ID: id})
	expectCode(t, err, cloud.CodeAMINotFound)
	err = s.ModifyImageAttribute(ctx, imageBob, cloud.ModifyImageAttributeInput{ID: id,
		LaunchPermission: &cloud.LaunchPermissionChanges{Add: []cloud.LaunchPermission{{Group: "all"}}}})
	expectCode(t, err, cloud.CodeAMINotFound)
	err = s.ResetImageAttribute(ctx, imageBob, cloud.ResetImageAttributeInput{ID: id, Attribute: "launchPermission"})
	expectCode(t, err, cloud.CodeAMINotFound)
	if _, seen := imageIDsSeenBy(t, s, imageAlice, cloud.DescribeImagesInput{})[id]; !seen {
		t.Fatalf("alice no longer sees %s after bob's calls", id)
	}
}

// expectImageLaunchPermissions checks the launch permissions the owner reads.
func expectImageLaunchPermissions(t *testing.T, s *cloud.Service, id string, want ...cloud.LaunchPermission) {
	t.Helper()
	got, err := s.DescribeImageAttribute(context.Background(), imageAlice, cloud.DescribeImageAttributeInput{ID: id, Attribute: "launchPermission"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.LaunchPermissions) != len(want) {
		t.Fatalf("launch permissions of %s: %+v, want %+v", id, got.LaunchPermissions, want)
	}
	for i := range want {
		if got.LaunchPermissions[i] != want[i] {
			t.Fatalf("launch permissions of %s: %+v, want %+v", id, got.LaunchPermissions, want)
		}
	}
}

func TestDescribeImagesRefusals(t *testing.T) {
	s := imageService(t)
	ctx := context.Background()
	_, _, err := s.DescribeImages(ctx, imageAlice, cloud.DescribeImagesInput{DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	_, _, err = s.DescribeImages(ctx, stranger, cloud.DescribeImagesInput{})
	expectCode(t, err, cloud.CodeUnauthorized)
	_, _, err = s.DescribeImages(ctx, imageAlice, cloud.DescribeImagesInput{IDs: []string{"not-an-image"}})
	expectCode(t, err, cloud.CodeAMIMalformed)
	_, _, err = s.DescribeImages(ctx, imageAlice, cloud.DescribeImagesInput{Owners: []string{"all"}})
	expectCode(t, err, cloud.CodeUserIDMalformed)
	_, err = s.RegisterImage(ctx, imageAlice, cloud.RegisterImageInput{Location: "svc-img-nobucket/m.manifest.xml", Name: "x"})
	expectCode(t, err, cloud.CodeAMINameMalformed)
	_, err = s.RegisterImage(ctx, imageAlice, cloud.RegisterImageInput{Location: "svc-img-nobucket/m.manifest.xml", Name: "missing-manifest"})
	expectCode(t, err, cloud.CodeManifestNotFound)
	if imgs, claims := imagesInProject(t, "svc-a"); claims != 0 {
		t.Fatalf("refused registrations left %d images' name claims (%d images)", claims, imgs)
	}
}
