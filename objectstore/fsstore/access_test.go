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

package fsstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestObjectACLs(t *testing.T) {
	s, dir := openStore(t, Options{})
	if _, err := s.CreateBucket("acls", "proj", "r"); err != nil {
		t.Fatal(err)
	}
	initial := &ACL{Owner: "proj", Grants: []Grant{{Type: "Group", URI: "all", Permission: "READ"}}}
	info, err := s.PutObject("acls", "k", strings.NewReader("one"), ObjectMeta{ACL: initial})
	if err != nil {
		t.Fatal(err)
	}
	acl, got, err := s.ObjectACL("acls", "k", "")
	if err != nil || got.ETag != info.ETag || acl == nil || len(acl.Grants) != 1 {
		t.Fatalf("ObjectACL = %+v, %+v, %v", acl, got, err)
	}
	// A replacement wins over the ACL written with the object.
	if _, err := s.SetObjectACL("acls", "k", "", ACL{Owner: "proj"}); err != nil {
		t.Fatal(err)
	}
	if acl, _, err := s.ObjectACL("acls", "k", ""); err != nil || len(acl.Grants) != 0 {
		t.Fatalf("after SetObjectACL: %+v, %v", acl, err)
	}
	// An overwrite of the null version does not inherit it: the replacement names the old one.
	if _, err := s.PutObject("acls", "k", strings.NewReader("two"), ObjectMeta{ACL: initial}); err != nil {
		t.Fatal(err)
	}
	if acl, _, err := s.ObjectACL("acls", "k", ""); err != nil || len(acl.Grants) != 1 {
		t.Fatalf("after overwrite: %+v, %v", acl, err)
	}
	// Without one written, the object has none (the caller's default applies).
	if _, err := s.PutObject("acls", "plain", strings.NewReader("x"), ObjectMeta{}); err != nil {
		t.Fatal(err)
	}
	if acl, _, err := s.ObjectACL("acls", "plain", ""); err != nil || acl != nil {
		t.Fatalf("plain object ACL = %+v, %v", acl, err)
	}
	// Missing keys, versions and buckets.
	if _, _, err := s.ObjectACL("acls", "none", ""); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("ObjectACL of a missing key = %v", err)
	}
	if _, err := s.SetObjectACL("acls", "none", "", ACL{}); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("SetObjectACL of a missing key = %v", err)
	}
	if _, err := s.SetObjectACL("nobucket", "k", "", ACL{}); !errors.Is(err, ErrNoSuchBucket) && !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("SetObjectACL in a missing bucket = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "buckets", "nobucket")); !os.IsNotExist(err) {
		t.Fatalf("SetObjectACL made a bucket directory: %v", err)
	}
	// Nothing is left in tmp/.
	if names, _ := readNames(filepath.Join(dir, "tmp")); len(names) != 0 {
		t.Fatalf("tmp holds %q", names)
	}
}

func TestObjectACLsPerVersion(t *testing.T) {
	s, _ := openStore(t, Options{})
	if _, err := s.CreateBucket("vacls", "proj", "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetVersioning("vacls", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	pub := &ACL{Owner: "proj", Grants: []Grant{{Type: "Group", URI: "all", Permission: "READ"}}}
	v1, err := s.PutObject("vacls", "k", strings.NewReader("1"), ObjectMeta{ACL: pub})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.PutObject("vacls", "k", strings.NewReader("2"), ObjectMeta{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetObjectACL("vacls", "k", v1.VersionID, ACL{Owner: "proj"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetObjectACL("vacls", "k", v2.VersionID, *pub); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id     string
		grants int
	}{{v1.VersionID, 0}, {v2.VersionID, 1}, {"", 1}} {
		acl, _, err := s.ObjectACL("vacls", "k", c.id)
		if err != nil || acl == nil || len(acl.Grants) != c.grants {
			t.Fatalf("ACL of version %q = %+v, %v; want %d grants", c.id, acl, err, c.grants)
		}
	}
	// A delete marker has no ACL.
	if _, err := s.DeleteObject("vacls", "k"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ObjectACL("vacls", "k", ""); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("ACL of a deleted key = %v", err)
	}
	if acl, _, err := s.ObjectACL("vacls", "k", v2.VersionID); err != nil || len(acl.Grants) != 1 {
		t.Fatalf("ACL of v2 after the delete marker = %+v, %v", acl, err)
	}
}

func TestUpdateBucket(t *testing.T) {
	s, dir := openStore(t, Options{})
	if _, err := s.CreateBucketWith(BucketInfo{Name: "upd", Project: "proj", Region: "r", ACL: &ACL{Owner: "proj"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateBucket("upd", func(b *BucketInfo) error {
		b.Policy, b.PublicAccessBlock = `{"Statement":[]}`, &PublicAccessBlock{BlockPublicAcls: true}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A failing change changes nothing.
	boom := errors.New("boom")
	if _, err := s.UpdateBucket("upd", func(b *BucketInfo) error {
		b.Policy = "changed"
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("UpdateBucket = %v", err)
	}
	// It survives reopening the store.
	s2 := openAt(t, dir, Options{})
	b, err := s2.Bucket("upd")
	if err != nil || b.Policy != `{"Statement":[]}` || b.PublicAccessBlock == nil || !b.PublicAccessBlock.BlockPublicAcls || b.ACL == nil || b.Project != "proj" {
		t.Fatalf("bucket after reopening = %+v, %v", b, err)
	}
	if _, err := s.UpdateBucket("missing", func(*BucketInfo) error { return nil }); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("UpdateBucket of a missing bucket = %v", err)
	}
}
