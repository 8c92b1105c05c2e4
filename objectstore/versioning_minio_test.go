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
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

// minioVersions lists every version in the order minio-go keeps (S3's own).
func minioVersions(t *testing.T, c *minio.Client, bucket string) []string {
	t.Helper()
	var out []string
	for o := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("ListObjects WithVersions: %v", o.Err)
		}
		s := fmt.Sprintf("%s %s %v", o.Key, o.VersionID, o.IsLatest)
		if o.IsDeleteMarker {
			s += " marker"
		}
		out = append(out, s)
	}
	return out
}

func minioRead(t *testing.T, c *minio.Client, bucket, key, version string) string {
	t.Helper()
	obj, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{VersionID: version})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("GetObject(%s, %s): %v", key, version, err)
	}
	return string(b)
}

func TestVersioningMinio(t *testing.T) {
	e := newTestEnv(t)
	c := minioClient(t, e, alice)
	ctx := context.Background()
	const bucket = "ver-minio"
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := c.GetBucketVersioning(ctx, bucket); err != nil || cfg.Status != "" || cfg.Enabled() {
		t.Fatalf("GetBucketVersioning of a new bucket = %+v, %v", cfg, err)
	}
	if err := c.EnableVersioning(ctx, bucket); err != nil {
		t.Fatalf("EnableVersioning: %v", err)
	}
	if cfg, err := c.GetBucketVersioning(ctx, bucket); err != nil || !cfg.Enabled() {
		t.Fatalf("GetBucketVersioning = %+v, %v", cfg, err)
	}
	var ids []string
	for _, body := range []string{"first", "second", "third"} {
		info, err := c.PutObject(ctx, bucket, "dir/obj", strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
		if err != nil || info.VersionID == "" {
			t.Fatalf("PutObject = %+v, %v", info, err)
		}
		ids = append(ids, info.VersionID)
	}
	if got := minioRead(t, c, bucket, "dir/obj", ids[0]); got != "first" {
		t.Fatalf("first version = %q", got)
	}
	st, err := c.StatObject(ctx, bucket, "dir/obj", minio.StatObjectOptions{VersionID: ids[1]})
	if err != nil || st.VersionID != ids[1] || st.Size != 6 {
		t.Fatalf("StatObject of the second version = %+v, %v", st, err)
	}
	if err := c.RemoveObject(ctx, bucket, "dir/obj", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	got := minioVersions(t, c, bucket)
	if len(got) != 4 || !strings.HasSuffix(got[0], " true marker") || got[1] != "dir/obj "+ids[2]+" false" || got[3] != "dir/obj "+ids[0]+" false" {
		t.Fatalf("versions = %q", got)
	}
	marker := strings.Fields(got[0])[1]
	st, err = c.StatObject(ctx, bucket, "dir/obj", minio.StatObjectOptions{VersionID: marker})
	if minio.ToErrorResponse(err).Code != CodeMethodNotAllowed || !st.IsDeleteMarker || st.VersionID != marker {
		t.Fatalf("StatObject of the delete marker = %+v, %v", st, err)
	}
	st, err = c.StatObject(ctx, bucket, "dir/obj", minio.StatObjectOptions{})
	if minio.ToErrorResponse(err).Code != CodeNoSuchKey || !st.IsDeleteMarker {
		t.Fatalf("StatObject behind the delete marker = %+v, %v", st, err)
	}
	// Removing the middle version leaves the others in place.
	if err := c.RemoveObject(ctx, bucket, "dir/obj", minio.RemoveObjectOptions{VersionID: ids[1]}); err != nil {
		t.Fatal(err)
	}
	want := []string{"dir/obj " + marker + " true marker", "dir/obj " + ids[2] + " false", "dir/obj " + ids[0] + " false"}
	if got := minioVersions(t, c, bucket); !slices.Equal(got, want) {
		t.Fatalf("versions = %q, want %q", got, want)
	}
	if err := c.SuspendVersioning(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	if cfg, err := c.GetBucketVersioning(ctx, bucket); err != nil || !cfg.Suspended() {
		t.Fatalf("GetBucketVersioning = %+v, %v", cfg, err)
	}
	// RemoveObjects by version empties the bucket.
	objs := make(chan minio.ObjectInfo, 3)
	for _, id := range []string{marker, ids[2], ids[0]} {
		objs <- minio.ObjectInfo{Key: "dir/obj", VersionID: id}
	}
	close(objs)
	for rerr := range c.RemoveObjects(ctx, bucket, objs, minio.RemoveObjectsOptions{}) {
		t.Fatalf("RemoveObjects: %v", rerr.Err)
	}
	if got := minioVersions(t, c, bucket); len(got) != 0 {
		t.Fatalf("versions left = %q", got)
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
}

// TestVersionsAreAuthorized checks that a user of another project is refused every version
// operation on a private bucket, changing nothing, while the owner project's members may.
func TestVersionsAreAuthorized(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b := sdkClient(e, alice), sdkClient(e, bob)
	const bucket = "ver-private"
	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bobs")}); err != nil {
		t.Fatal(err)
	}
	setVersioning(t, a, bucket, types.BucketVersioningStatusEnabled)
	v1 := sdkPut(t, a, bucket, "secret", "one")
	sdkPut(t, a, bucket, "secret", "two")
	before := sdkVersions(t, a, bucket, 1000)

	denied := func(what string, err error) {
		t.Helper()
		if apiCode(err) != CodeAccessDenied {
			t.Errorf("bob's %s = %v, want AccessDenied", what, err)
		}
	}
	_, err := b.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	denied("GetBucketVersioning", err)
	_, err = b.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	denied("PutBucketVersioning", err)
	_, err = b.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	denied("ListObjectVersions", err)
	_, err = b.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret"), VersionId: aws.String(v1)})
	denied("GetObject of a version", err)
	_, err = b.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret"), VersionId: aws.String(v1)})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("bob's HeadObject of a version = %v, want 403", err)
	}
	_, err = b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret"), VersionId: aws.String(v1)})
	denied("DeleteObject of a version", err)
	_, err = b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret")})
	denied("DeleteObject (a marker)", err)
	_, err = b.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("secret"), VersionId: aws.String(v1)}}}})
	denied("DeleteObjects of a version", err)
	_, err = b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bobs"), Key: aws.String("stolen"), CopySource: aws.String(bucket + "/secret?versionId=" + v1)})
	denied("CopyObject from a version", err)
	// A raw request with a version id marker goes no further than a plain one.
	res := e.do(t, bob, rawRequest{method: http.MethodGet, path: "/" + bucket, query: url.Values{"versions": {""}, "key-marker": {"secret"}, "version-id-marker": {v1}}})
	expectError(t, res, http.MethodGet, http.StatusForbidden, CodeAccessDenied)

	if got := sdkVersions(t, a, bucket, 1000); !slices.Equal(got, before) {
		t.Fatalf("bob's refused requests changed the versions: %q, was %q", got, before)
	}
	if gv, err := a.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)}); err != nil || gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning after bob = %+v, %v", gv, err)
	}
	if got := sdkVersions(t, b, "bobs", 1000); len(got) != 0 {
		t.Fatalf("bob's bucket got %q", got)
	}
	// carol, of alice's project, may.
	c := sdkClient(e, carol)
	if body, _ := sdkGet(t, c, bucket, "secret", v1); body != "one" {
		t.Fatalf("carol reads version one as %q", body)
	}
	if got := sdkVersions(t, c, bucket, 1); !slices.Equal(got, before) {
		t.Fatalf("carol lists %q", got)
	}
}
