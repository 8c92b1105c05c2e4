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
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
)

// objectTable grants reader what it lists: "bucket/key" → may put. "broken/…" fails.
type objectTable struct {
	mu    sync.Mutex
	table map[string]bool
	asked []string
}

func (g *objectTable) Covers(user string) bool { return user == reader.p.User }

func (g *objectTable) Allowed(_ context.Context, user, bucket, key string, put bool) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, user+" "+bucket+"/"+key)
	if bucket == "broken" {
		return false, errors.New("the cache is not synced")
	}
	mayPut, ok := g.table[bucket+"/"+key]
	return ok && (mayPut || !put), nil
}

// TestObjectGrants checks that a covered user (a node's user) reaches exactly the objects its
// grants allow, reads or single PUTs, and nothing else: not a neighbour object of the same
// bucket, no listing, deleting, copying, upload, ACL; that a failing grant is an error, not a
// yes; and that no component acts as a covered user.
func TestObjectGrants(t *testing.T) {
	grants := &objectTable{table: map[string]bool{"images/mine": false, "snaps/p/snap-1/chunk": true}}
	e := newTestEnv(t, func(c *Config) { c.Grants = grants })
	ctx := context.Background()
	adm, rd := minioClient(t, e, admin), minioClient(t, e, reader)
	for _, b := range []string{"images", "snaps", "broken"} {
		if err := adm.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: testRegion}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"images/mine", "images/theirs", "broken/x"} {
		b, key, _ := strings.Cut(k, "/")
		if _, err := adm.PutObject(ctx, b, key, strings.NewReader(k), int64(len(k)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	obj, err := rd.GetObject(ctx, "images", "mine", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if data, err := io.ReadAll(obj); err != nil || string(data) != "images/mine" {
		t.Fatalf("reading a granted object: %q, %v", data, err)
	}
	if _, err := rd.PutObject(ctx, "snaps", "p/snap-1/chunk", strings.NewReader("chunk"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("writing a granted object: %v", err)
	}
	if info, err := rd.StatObject(ctx, "snaps", "p/snap-1/chunk", minio.StatObjectOptions{}); err != nil || info.Size != 5 {
		t.Fatalf("heading what it wrote: %+v, %v", info, err)
	}

	denied := func(what string, err error) {
		t.Helper()
		if code := minio.ToErrorResponse(err).Code; code != CodeAccessDenied {
			t.Errorf("%s: want AccessDenied, got %v", what, err)
		}
	}
	_, err = rd.StatObject(ctx, "images", "theirs", minio.StatObjectOptions{})
	denied("heading another object of the bucket", err)
	o, err := rd.GetObject(ctx, "images", "theirs", minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(o)
	}
	denied("reading another object of the bucket", err)
	_, err = rd.PutObject(ctx, "images", "mine", strings.NewReader("over"), 4, minio.PutObjectOptions{})
	denied("writing an object granted for reading", err)
	_, err = rd.PutObject(ctx, "snaps", "p/snap-2/chunk", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	denied("writing another snapshot's object", err)
	_, err = rd.PutObject(ctx, "snaps", "p/snap-1/chunk", strings.NewReader("public"), 6,
		minio.PutObjectOptions{UserMetadata: map[string]string{"x-amz-acl": "public-read"}})
	denied("writing a granted object with an ACL", err)
	denied("deleting a granted object", rd.RemoveObject(ctx, "snaps", "p/snap-1/chunk", minio.RemoveObjectOptions{}))
	_, err = rd.CopyObject(ctx, minio.CopyDestOptions{Bucket: "snaps", Object: "p/snap-1/chunk"}, minio.CopySrcOptions{Bucket: "images", Object: "theirs"})
	denied("copying onto a granted object", err)
	for o := range rd.ListObjects(ctx, "images", minio.ListObjectsOptions{}) {
		denied("listing", o.Err)
	}
	_, err = rd.ListBuckets(ctx)
	denied("listing buckets", err)
	denied("making a bucket", rd.MakeBucket(ctx, "mine", minio.MakeBucketOptions{Region: testRegion}))
	core := minio.Core{Client: rd}
	_, err = core.NewMultipartUpload(ctx, "snaps", "p/snap-1/chunk", minio.PutObjectOptions{})
	denied("starting an upload of a granted object", err)
	_, err = rd.GetObjectACL(ctx, "images", "mine")
	denied("reading a granted object's ACL", err)

	// A grant that cannot be decided is a server error, never access.
	_, err = rd.StatObject(ctx, "broken", "x", minio.StatObjectOptions{})
	if resp := minio.ToErrorResponse(err); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("an undecidable grant: want 500, got %v (%d)", err, resp.StatusCode)
	}

	// No one acts as a covered user, not even an admin component.
	as := s3.New(sdkClient(e, admin).Options(), actAsUser(alice.p.Project, reader.p.User))
	if _, err := as.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("images"), Key: aws.String("mine")}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("admin acting as the covered user: %v", err)
	}

	// Nothing changed but the one granted write.
	obj, err = adm.GetObject(ctx, "snaps", "p/snap-1/chunk", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if data, err := io.ReadAll(obj); err != nil || string(data) != "chunk" {
		t.Fatalf("the granted object holds %q, %v", data, err)
	}
	var keys []string
	for _, b := range []string{"images", "snaps"} {
		for o := range adm.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true}) {
			keys = append(keys, b+"/"+o.Key)
		}
	}
	if strings.Join(keys, " ") != "images/mine images/theirs snaps/p/snap-1/chunk" {
		t.Fatalf("the buckets hold %q", keys)
	}
	if names := bucketNames(t, adm); len(names) != 3 {
		t.Fatalf("buckets %q", names)
	}
	// Only the covered user's requests were put to the grants (the admin's were not).
	grants.mu.Lock()
	for _, a := range grants.asked {
		if !strings.HasPrefix(a, reader.p.User+" ") {
			t.Errorf("the grants were asked about %q", a)
		}
	}
	grants.mu.Unlock()
}
