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
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/ids"
)

// taggedResources are resources of alice's project, one of each kind the test tags, by EC2 id,
// with the object that holds each one's tags.
type taggedResources map[string]client.Object

// tagTestResources makes an instance, an image, a key pair and a volume in alice's project.
func tagTestResources(t *testing.T, s *cloud.Service, prefix string) taggedResources {
	t.Helper()
	ctx := context.Background()
	out := taggedResources{}
	instID := kubectlInstance(t, alice.Project(), prefix+"-inst", "")
	out[instID] = &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-inst", Namespace: alice.Project()}}
	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: ids.New(ids.Machine), Namespace: alice.Project()},
		Spec: cloudv1.ImageSpec{ImageLocation: "bucket/" + prefix + ".manifest.xml"}}
	if err := env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), img) })
	out[img.Name] = &cloudv1.Image{ObjectMeta: img.ObjectMeta}
	kp, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: prefix + "-key"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.DeleteKeyPair(context.Background(), alice, cloud.DeleteKeyPairInput{Name: prefix + "-key"})
	})
	list := &cloudv1.KeyPairList{}
	if err := env.Client.List(ctx, list, client.InNamespace(alice.Project())); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if list.Items[i].EffectiveKeyName() == prefix+"-key" {
			out[kp.ID] = &list.Items[i]
		}
	}
	volumeHypervisor(t)
	size := int32(1)
	v := createTestVolume(t, s, alice, cloud.CreateVolumeInput{SizeGiB: &size})
	out[v.VolumeID] = &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: v.VolumeID, Namespace: alice.Project()}}
	return out
}

// tagsOnObject reads the tags an object holds on the API server.
func tagsOnObject(t *testing.T, obj client.Object) map[string]string {
	t.Helper()
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	return cloud.TagsOf(obj)
}

// describedTagsOf lists the tags c sees on the resource with the id, page by page.
func describedTagsOf(t *testing.T, s *cloud.Service, c cloud.Caller, id string) map[string]string {
	t.Helper()
	out := map[string]string{}
	five := int32(5)
	page := cloud.Page{MaxResults: &five}
	for {
		tags, next, err := s.DescribeTags(context.Background(), c, cloud.DescribeTagsInput{Page: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			if tag.ResourceID == id {
				out[tag.Key] = tag.Value
			}
		}
		if next == "" {
			return out
		}
		page.NextToken = next
	}
}

// tagWhenCached creates tags, retrying while the service's cache does not show the resource yet.
func tagWhenCached(t *testing.T, s *cloud.Service, c cloud.Caller, id string, tags ...cloud.Tag) {
	t.Helper()
	until(t, "tagging "+id, func() error {
		err := s.CreateTags(context.Background(), c, cloud.CreateTagsInput{ResourceIDs: []string{id}, Tags: tags})
		if err != nil && codeOf(err) != "" && !isTagNotFound(err) {
			t.Fatalf("tagging %s: %v", id, err)
		}
		return err
	})
}

func isTagNotFound(err error) bool {
	switch codeOf(err) {
	case cloud.CodeInstanceNotFound, cloud.CodeAMINotFound, cloud.CodeKeyPairNotFound, cloud.CodeVolumeNotFound:
		return true
	}
	return false
}

func TestTagsStayInTheirProject(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	res := tagTestResources(t, s, "svc-tagx")
	for id, obj := range res {
		tagWhenCached(t, s, alice, id, cloud.Tag{Key: "owner", Value: "alice"}, cloud.Tag{Key: "Name", Value: id})
		if got := tagsOnObject(t, obj); got["owner"] != "alice" || got["Name"] != id {
			t.Fatalf("%s holds tags %v after alice tagged it", id, got)
		}
		until(t, "alice to see the tags of "+id, func() error {
			if got := describedTagsOf(t, s, alice, id); len(got) != 2 || got["owner"] != "alice" {
				return fmt.Errorf("alice sees %v", got)
			}
			return nil
		})

		err := s.CreateTags(ctx, bob, cloud.CreateTagsInput{ResourceIDs: []string{id}, Tags: []cloud.Tag{{Key: "owner", Value: "bob"}}})
		if !isTagNotFound(err) {
			t.Fatalf("bob tagging alice's %s: %v, want a not-found code", id, err)
		}
		err = s.DeleteTags(ctx, bob, cloud.DeleteTagsInput{ResourceIDs: []string{id}})
		if !isTagNotFound(err) {
			t.Fatalf("bob untagging alice's %s: %v, want a not-found code", id, err)
		}
		if got := describedTagsOf(t, s, bob, id); len(got) != 0 {
			t.Fatalf("bob sees the tags %v of alice's %s", got, id)
		}
		if got := tagsOnObject(t, obj); got["owner"] != "alice" || len(got) != 2 {
			t.Fatalf("%s holds tags %v after bob's attempts", id, got)
		}

		value := "someone-else"
		if err := s.DeleteTags(ctx, alice, cloud.DeleteTagsInput{ResourceIDs: []string{id},
			Tags: []cloud.TagToDelete{{Key: "owner", Value: &value}, {Key: "Name"}}}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOnObject(t, obj); len(got) != 1 || got["owner"] != "alice" {
			t.Fatalf("%s holds tags %v, want only owner (its value did not match)", id, got)
		}
		if err := s.DeleteTags(ctx, alice, cloud.DeleteTagsInput{ResourceIDs: []string{id}}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOnObject(t, obj); len(got) != 0 {
			t.Fatalf("%s holds tags %v after deleting all", id, got)
		}
	}
}

func TestTagRefusalsChangeNothing(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	kp, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "svc-tag-refusals"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.DeleteKeyPair(context.Background(), alice, cloud.DeleteKeyPairInput{Name: "svc-tag-refusals"})
	})
	tagWhenCached(t, s, alice, kp.ID, cloud.Tag{Key: "keep", Value: "1"})
	obj := &cloudv1.KeyPair{}
	list := &cloudv1.KeyPairList{}
	if err := env.Client.List(ctx, list, client.InNamespace(alice.Project())); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if list.Items[i].EffectiveKeyName() == "svc-tag-refusals" {
			obj = &list.Items[i]
		}
	}

	var many []cloud.Tag
	for i := range cloud.MaxTags {
		many = append(many, cloud.Tag{Key: fmt.Sprintf("k%d", i), Value: "v"})
	}
	long := string(make([]byte, 129))
	for _, tc := range []struct {
		name string
		in   cloud.CreateTagsInput
		code string
	}{
		{"empty key", cloud.CreateTagsInput{Tags: []cloud.Tag{{Key: ""}}}, cloud.CodeInvalidParameter},
		{"long key", cloud.CreateTagsInput{Tags: []cloud.Tag{{Key: long}}}, cloud.CodeInvalidParameter},
		{"aws: prefix", cloud.CreateTagsInput{Tags: []cloud.Tag{{Key: "aws:x", Value: "1"}}}, cloud.CodeInvalidParameter},
		{"more than the limit with the one it has", cloud.CreateTagsInput{Tags: many}, cloud.CodeTagLimit},
		{"unknown id form", cloud.CreateTagsInput{ResourceIDs: []string{"subnet-12345678"}, Tags: []cloud.Tag{{Key: "a"}}}, cloud.CodeInvalidID},
		{"no id", cloud.CreateTagsInput{ResourceIDs: []string{""}, Tags: []cloud.Tag{{Key: "a"}}}, cloud.CodeInvalidID},
		{"one missing volume", cloud.CreateTagsInput{ResourceIDs: []string{ids.New(ids.Volume)}, Tags: []cloud.Tag{{Key: "a"}}}, cloud.CodeVolumeNotFound},
		{"dry run", cloud.CreateTagsInput{Tags: []cloud.Tag{{Key: "a"}}, DryRun: true}, cloud.CodeDryRun},
	} {
		tc.in.ResourceIDs = append([]string{kp.ID}, tc.in.ResourceIDs...)
		expectCode(t, s.CreateTags(ctx, alice, tc.in), tc.code)
		if got := tagsOnObject(t, obj); len(got) != 1 || got["keep"] != "1" {
			t.Fatalf("%s: the key pair holds tags %v", tc.name, got)
		}
	}
	expectCode(t, s.CreateTags(ctx, stranger, cloud.CreateTagsInput{ResourceIDs: []string{kp.ID}, Tags: []cloud.Tag{{Key: "a"}}}),
		cloud.CodeUnauthorized)
	expectCode(t, s.DeleteTags(ctx, alice, cloud.DeleteTagsInput{ResourceIDs: []string{kp.ID}, DryRun: true}), cloud.CodeDryRun)
	expectCode(t, s.DeleteTags(ctx, alice, cloud.DeleteTagsInput{ResourceIDs: []string{kp.ID},
		Tags: []cloud.TagToDelete{{Key: "aws:keep"}}}), cloud.CodeInvalidParameter)
	expectCode(t, s.DeleteTags(ctx, alice, cloud.DeleteTagsInput{ResourceIDs: []string{kp.ID, "bogus"}}), cloud.CodeInvalidID)
	expectCode(t, s.DeleteTags(ctx, stranger, cloud.DeleteTagsInput{ResourceIDs: []string{kp.ID}}), cloud.CodeUnauthorized)
	if got := tagsOnObject(t, obj); len(got) != 1 || got["keep"] != "1" {
		t.Fatalf("after refused deletes the key pair holds tags %v", got)
	}

	_, _, err = s.DescribeTags(ctx, alice, cloud.DescribeTagsInput{DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	_, _, err = s.DescribeTags(ctx, stranger, cloud.DescribeTagsInput{})
	expectCode(t, err, cloud.CodeUnauthorized)
	bad := int32(2)
	_, _, err = s.DescribeTags(ctx, alice, cloud.DescribeTagsInput{Page: cloud.Page{MaxResults: &bad}})
	if err == nil {
		t.Fatal("a page of 2 tags was accepted; the least is 5")
	}
	_, _, err = s.DescribeTags(ctx, alice, cloud.DescribeTagsInput{Page: cloud.Page{NextToken: "forged"}})
	if codeOf(err) == "" {
		t.Fatalf("a forged token: %v, want an EC2 error", err)
	}
}

// TestDescribeTagsNeedsAProject has a caller that names no project (an admin signed in to the
// dashboard who has not picked one yet) ask for tags: asked with no namespace, RBAC and the
// listings would answer for every project, so it is refused and sees none of alice's.
func TestDescribeTagsNeedsAProject(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	sg, err := s.CreateSecurityGroup(ctx, alice, cloud.CreateSecurityGroupInput{Name: "svc-tag-noproject",
		Description: "tagged", TagSpecifications: tagSpecs("security-group", "owner", "alice")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.DeleteSecurityGroup(context.Background(), alice, cloud.GroupInput{GroupID: sg.ID}) })
	until(t, "alice to see the tag of "+sg.ID, func() error {
		if got := describedTagsOf(t, s, alice, sg.ID); got["owner"] != "alice" {
			return fmt.Errorf("alice sees %v", got)
		}
		return nil
	})
	admin := cloud.Caller{Principal: awsauth.Principal{User: "svc-root", Admin: true}}
	for _, dryRun := range []bool{false, true} {
		tags, _, err := s.DescribeTags(ctx, admin, cloud.DescribeTagsInput{DryRun: dryRun})
		if codeOf(err) != cloud.CodeAuthFailure || len(tags) != 0 {
			t.Fatalf("a caller of no project (dry run %v) got %d tags, error %v", dryRun, len(tags), err)
		}
	}
}
