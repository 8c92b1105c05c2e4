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
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// bucketGrant is the Grants of a store whose reader may read every object of one bucket and,
// with put, write them.
type bucketGrant struct {
	bucket string
	put    bool
}

func (g bucketGrant) Covers(user string) bool { return user == reader.p.User }

func (g bucketGrant) Allowed(_ context.Context, _, bucket, _ string, put bool) (bool, error) {
	return bucket == g.bucket && (g.put || !put), nil
}

// TestReadOnlyGrant checks that a user the Grants let read one bucket reads and heads its
// objects and is refused everything else, changing nothing.
func TestReadOnlyGrant(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Grants = bucketGrant{bucket: "images"} })
	ctx := context.Background()
	adm, rd := minioClient(t, e, admin), minioClient(t, e, reader)
	for _, b := range []string{"images", "other"} {
		if err := adm.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: testRegion}); err != nil {
			t.Fatal(err)
		}
		if _, err := adm.PutObject(ctx, b, "img", strings.NewReader("image bytes"), 11, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	obj, err := rd.GetObject(ctx, "images", "img", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(obj)
	if err != nil || string(data) != "image bytes" {
		t.Fatalf("reading its bucket: %q, %v", data, err)
	}
	if info, err := rd.StatObject(ctx, "images", "img", minio.StatObjectOptions{}); err != nil || info.Size != 11 {
		t.Fatalf("heading its bucket's object: %+v, %v", info, err)
	}

	denied := func(what string, err error) {
		t.Helper()
		if code := minio.ToErrorResponse(err).Code; code != CodeAccessDenied {
			t.Errorf("%s: want AccessDenied, got %v", what, err)
		}
	}
	_, err = rd.StatObject(ctx, "other", "img", minio.StatObjectOptions{})
	denied("heading another bucket's object", err)
	o, err := rd.GetObject(ctx, "other", "img", minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(o)
	}
	denied("reading another bucket's object", err)
	_, err = rd.PutObject(ctx, "images", "new", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	denied("writing its bucket", err)
	denied("deleting from its bucket", rd.RemoveObject(ctx, "images", "img", minio.RemoveObjectOptions{}))
	_, err = rd.CopyObject(ctx, minio.CopyDestOptions{Bucket: "images", Object: "copy"}, minio.CopySrcOptions{Bucket: "images", Object: "img"})
	denied("copying within its bucket", err)
	_, err = rd.ListBuckets(ctx)
	denied("listing buckets", err)
	for o := range rd.ListObjects(ctx, "images", minio.ListObjectsOptions{}) {
		denied("listing its bucket", o.Err)
	}
	_, err = rd.BucketExists(ctx, "images")
	denied("heading its bucket", err)
	denied("making a bucket", rd.MakeBucket(ctx, "mine", minio.MakeBucketOptions{Region: testRegion}))
	denied("deleting its bucket", rd.RemoveBucket(ctx, "images"))
	core := minio.Core{Client: rd}
	_, err = core.NewMultipartUpload(ctx, "images", "big", minio.PutObjectOptions{})
	denied("starting an upload", err)

	// Nothing changed.
	var keys []string
	for o := range adm.ListObjects(ctx, "images", minio.ListObjectsOptions{}) {
		keys = append(keys, o.Key)
	}
	if len(keys) != 1 || keys[0] != "img" {
		t.Fatalf("the bucket holds %q", keys)
	}
	if names := bucketNames(t, adm); len(names) != 2 {
		t.Fatalf("buckets %q", names)
	}

	// Without the grant the same user reads nothing.
	pe := newTestEnv(t)
	if err := minioClient(t, pe, admin).MakeBucket(ctx, "images", minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	if _, err := minioClient(t, pe, admin).PutObject(ctx, "images", "img", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = minioClient(t, pe, reader).StatObject(ctx, "images", "img", minio.StatObjectOptions{})
	denied("reading without a grant", err)
}

// TestPutGrant checks that a grant with put (as a storage node's on its snapshots) also writes
// objects of its bucket with single PUTs, and still nothing else: no other bucket, no delete,
// copy, listing or multipart upload.
func TestPutGrant(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Grants = bucketGrant{bucket: "snaps", put: true} })
	ctx := context.Background()
	adm, rd := minioClient(t, e, admin), minioClient(t, e, reader)
	for _, b := range []string{"snaps", "other"} {
		if err := adm.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: testRegion}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rd.PutObject(ctx, "snaps", "p/snap-1/chunk", strings.NewReader("chunk bytes"), 11, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("writing its bucket: %v", err)
	}
	obj, err := rd.GetObject(ctx, "snaps", "p/snap-1/chunk", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if data, err := io.ReadAll(obj); err != nil || string(data) != "chunk bytes" {
		t.Fatalf("reading back: %q %v", data, err)
	}
	denied := func(what string, err error) {
		t.Helper()
		if code := minio.ToErrorResponse(err).Code; code != CodeAccessDenied {
			t.Errorf("%s: want AccessDenied, got %v", what, err)
		}
	}
	_, err = rd.PutObject(ctx, "other", "x", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	denied("writing another bucket", err)
	denied("deleting from its bucket", rd.RemoveObject(ctx, "snaps", "p/snap-1/chunk", minio.RemoveObjectOptions{}))
	_, err = rd.CopyObject(ctx, minio.CopyDestOptions{Bucket: "snaps", Object: "copy"}, minio.CopySrcOptions{Bucket: "snaps", Object: "p/snap-1/chunk"})
	denied("copying within its bucket", err)
	for o := range rd.ListObjects(ctx, "snaps", minio.ListObjectsOptions{}) {
		denied("listing its bucket", o.Err)
	}
	core := minio.Core{Client: rd}
	_, err = core.NewMultipartUpload(ctx, "snaps", "big", minio.PutObjectOptions{})
	denied("starting an upload", err)
	var keys []string
	for o := range adm.ListObjects(ctx, "snaps", minio.ListObjectsOptions{Recursive: true}) {
		keys = append(keys, o.Key)
	}
	if len(keys) != 1 || keys[0] != "p/snap-1/chunk" {
		t.Fatalf("the bucket holds %q", keys)
	}
}
