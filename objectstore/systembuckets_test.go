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

package objectstore

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/objectstore/fsstore"
)

// The system buckets are made lazily, on the first image or snapshot: a project that made one
// first would own the bucket every project's verified images (or snapshots) are then written to.
func TestSystemBucketNamesAreReserved(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	adm := sdkClient(e, admin)
	for _, name := range systemBuckets {
		bucket := aws.String(name)
		for who, c := range map[string]*s3.Client{
			"bob":                       sdkClient(e, bob),
			"an admin acting in proj-b": s3.New(adm.Options(), actAs("proj-b")),
		} {
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); apiCode(err) != CodeBucketAlreadyExists {
				t.Fatalf("%s: CreateBucket %s = %v, want %s", who, name, err, CodeBucketAlreadyExists)
			}
		}
		// Nothing was made.
		if _, err := adm.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bucket}); apiCode(err) != "NotFound" {
			t.Fatalf("after the refusals, HeadBucket %s = %v, want NotFound", name, err)
		}
		// The system makes it, as often as it likes; others are still told it is not available.
		for range 2 {
			if err := s3client.EnsureSystemBucket(ctx, minioClient(t, e, admin), name); err != nil {
				t.Fatalf("the system making %s: %v", name, err)
			}
		}
		if _, err := sdkClient(e, bob).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); apiCode(err) != CodeBucketAlreadyExists {
			t.Fatalf("bob: CreateBucket %s once the system has it = %v", name, err)
		}
		info, err := e.srv.store.Bucket(name)
		if err != nil || info.Project != "pinet-system" {
			t.Fatalf("%s belongs to %q (%v), want pinet-system", name, info.Project, err)
		}
	}

	// A store that names no system project reserves the names to everyone.
	closed := newTestEnv(t, func(c *Config) { c.SystemProject = "" })
	if _, err := sdkClient(closed, admin).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(systemBuckets[0])}); apiCode(err) != CodeBucketAlreadyExists {
		t.Fatalf("with no system project, the system's CreateBucket = %v", err)
	}
}

// A system bucket a project made before its name was reserved is never used: the system's
// components refuse to store into it.
func TestSystemRefusesASystemBucketItDoesNotOwn(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	name := systemBuckets[0]
	if _, err := e.srv.store.CreateBucketWith(fsstore.BucketInfo{Name: name, Project: bob.p.Project, Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	err := s3client.EnsureSystemBucket(ctx, minioClient(t, e, admin), name)
	if err == nil || !strings.Contains(err.Error(), "belongs to another project") {
		t.Fatalf("EnsureSystemBucket of bob's %s = %v, want a refusal", name, err)
	}
	// Listing as bob shows his bucket as he left it: empty.
	n := 0
	for obj := range minioClient(t, e, bob).ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
	}
	if n != 0 {
		t.Fatalf("bob's %s holds %d objects, want none", name, n)
	}
}
