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
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
)

func bucketNames(t *testing.T, c *minio.Client) []string {
	t.Helper()
	list, err := c.ListBuckets(context.Background())
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range list {
		names = append(names, b.Name)
	}
	return names
}

func TestProjectsAreIsolated(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b, adm := minioClient(t, e, alice), minioClient(t, e, bob), minioClient(t, e, admin)
	for _, mk := range []struct {
		c    *minio.Client
		name string
	}{{a, "alpha"}, {b, "beta"}, {adm, "system"}} {
		if err := mk.c.MakeBucket(ctx, mk.name, minio.MakeBucketOptions{Region: testRegion}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.PutObject(ctx, "alpha", "secret", strings.NewReader("alice's"), 7, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	if got := bucketNames(t, a); !slices.Equal(got, []string{"alpha"}) {
		t.Fatalf("alice sees %q", got)
	}
	if got := bucketNames(t, b); !slices.Equal(got, []string{"beta"}) {
		t.Fatalf("bob sees %q", got)
	}
	if got := bucketNames(t, minioClient(t, e, carol)); !slices.Equal(got, []string{"alpha"}) {
		t.Fatalf("carol, in alice's project, sees %q", got)
	}
	if got := bucketNames(t, adm); !slices.Equal(got, []string{"alpha", "beta", "system"}) {
		t.Fatalf("the admin sees %q", got)
	}
	if got := bucketNames(t, minioClient(t, e, stranger)); len(got) != 0 {
		t.Fatalf("a user without a project sees %q", got)
	}

	// Every operation of bob's on alice's bucket is refused.
	denied := func(what string, err error) {
		t.Helper()
		if code := minio.ToErrorResponse(err).Code; code != CodeAccessDenied {
			t.Fatalf("bob's %s on alice's bucket = %v (code %q), want AccessDenied", what, err, code)
		}
	}
	_, err := b.StatObject(ctx, "alpha", "secret", minio.StatObjectOptions{})
	denied("StatObject", err)
	obj, _ := b.GetObject(ctx, "alpha", "secret", minio.GetObjectOptions{})
	_, err = io.ReadAll(obj)
	denied("GetObject", err)
	_, err = b.PutObject(ctx, "alpha", "planted", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	denied("PutObject", err)
	denied("RemoveObject", b.RemoveObject(ctx, "alpha", "secret", minio.RemoveObjectOptions{}))
	denied("RemoveBucket", b.RemoveBucket(ctx, "alpha"))
	for o := range b.ListObjects(ctx, "alpha", minio.ListObjectsOptions{}) {
		denied("ListObjects", o.Err)
	}
	_, err = b.CopyObject(ctx, minio.CopyDestOptions{Bucket: "beta", Object: "stolen"}, minio.CopySrcOptions{Bucket: "alpha", Object: "secret"})
	denied("CopyObject from it", err)
	_, err = a.CopyObject(ctx, minio.CopyDestOptions{Bucket: "beta", Object: "gift"}, minio.CopySrcOptions{Bucket: "alpha", Object: "secret"})
	if minio.ToErrorResponse(err).Code != CodeAccessDenied {
		t.Fatalf("alice copying into bob's bucket = %v", err)
	}
	if ok, err := b.BucketExists(ctx, "alpha"); err == nil || ok {
		t.Fatalf("bob's HeadBucket on alice's bucket = %v, %v", ok, err)
	}
	err = b.MakeBucket(ctx, "alpha", minio.MakeBucketOptions{Region: testRegion})
	if minio.ToErrorResponse(err).Code != CodeBucketAlreadyExists {
		t.Fatalf("bob creating alice's bucket name = %v", err)
	}
	// In us-east-1, S3 answers an owner's re-creation with success and changes nothing.
	err = minioClient(t, e, carol).MakeBucket(ctx, "alpha", minio.MakeBucketOptions{Region: testRegion})
	if err != nil {
		t.Fatalf("carol creating her project's bucket again = %v", err)
	}

	// The admin (PiNet's own components) reaches every project's bucket.
	obj, err = adm.GetObject(ctx, "alpha", "secret", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(obj); err != nil || string(got) != "alice's" {
		t.Fatalf("admin GetObject = %q, %v", got, err)
	}
	if _, err := adm.PutObject(ctx, "beta", "from-admin", strings.NewReader("hi"), 2, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("admin PutObject into bob's bucket: %v", err)
	}
	// The same holds through the AWS SDK.
	_, err = sdkClient(e, bob).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alpha"), Key: aws.String("secret")})
	if apiCode(err) != CodeAccessDenied {
		t.Fatalf("SDK GetObject by bob = %v", err)
	}
}

func TestCreateBucketNeedsProject(t *testing.T) {
	e := newTestEnv(t)
	res := e.do(t, stranger, rawRequest{method: http.MethodPut, path: "/orphan"})
	expectError(t, res, http.MethodPut, http.StatusForbidden, CodeAccessDenied)
}

func TestAuthorizerFailureIsInternal(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.srv.store.CreateBucket("broken-bucket", "broken", testRegion); err != nil {
		t.Fatal(err)
	}
	res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/broken-bucket"})
	expectError(t, res, http.MethodGet, http.StatusInternalServerError, CodeInternalError)
	if strings.Contains(string(res.body), "subject access review") {
		t.Fatalf("internal error text leaked: %s", res.body)
	}
	// ListBuckets does not fail on it for admins, who need no decision.
	e.mustOK(t, admin, rawRequest{method: http.MethodGet, path: "/"})
}

func TestPanicIsInternalError(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/calm"})
	for _, rr := range []rawRequest{
		{method: http.MethodGet, path: "/calm"},
		{method: http.MethodGet, path: "/"},
		{method: http.MethodPut, path: "/calm/key", body: []byte("data")},
	} {
		res := e.do(t, chaos, rr)
		expectError(t, res, rr.method, http.StatusInternalServerError, CodeInternalError)
	}
	res := e.do(t, chaos, rawRequest{method: http.MethodHead, path: "/calm"})
	expectError(t, res, http.MethodHead, http.StatusInternalServerError, CodeInternalError)
	// The server is still there.
	e.mustOK(t, alice, rawRequest{method: http.MethodHead, path: "/calm"})
}
