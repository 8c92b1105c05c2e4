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
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"pinet.io/pinet/internal/awsauth"
)

func minioClient(t *testing.T, e *testEnv, u testUser) *minio.Client {
	t.Helper()
	c, err := minio.New(e.host, &minio.Options{
		Creds:        miniocreds.NewStaticV4(u.ak, u.sk, ""),
		Secure:       false,
		Region:       testRegion,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMinio(t *testing.T) {
	e := newTestEnv(t)
	c := minioClient(t, e, alice)
	ctx := context.Background()
	const bucket = "images"
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatalf("MakeBucket: %v", err)
	}
	if ok, err := c.BucketExists(ctx, bucket); err != nil || !ok {
		t.Fatalf("BucketExists = %v, %v", ok, err)
	}

	// A small object with metadata, uploaded with minio-go's streaming (aws-chunked) signature.
	body := "hello, object store"
	_, err := c.PutObject(ctx, bucket, "dir/hello.txt", strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{
		ContentType:  "text/plain",
		UserMetadata: map[string]string{"Origin": "minio-test"},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	if !e.sawPayloadHash(awsauth.StreamingPayload) {
		t.Fatal("minio-go did not stream its upload as aws-chunked")
	}
	obj, err := c.GetObject(ctx, bucket, "dir/hello.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || string(got) != body {
		t.Fatalf("GetObject = %q, %v", got, err)
	}
	obj.Close()

	var rng minio.GetObjectOptions
	if err := rng.SetRange(7, 12); err != nil {
		t.Fatal(err)
	}
	obj, err = c.GetObject(ctx, bucket, "dir/hello.txt", rng)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(obj); err != nil || string(got) != body[7:13] {
		t.Fatalf("range GetObject = %q, %v", got, err)
	}
	obj.Close()

	st, err := c.StatObject(ctx, bucket, "dir/hello.txt", minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("StatObject: %v", err)
	}
	if st.Size != int64(len(body)) || st.ContentType != "text/plain" || st.UserMetadata["Origin"] != "minio-test" ||
		time.Since(st.LastModified) > time.Hour || len(st.ETag) != 32 {
		t.Fatalf("StatObject = %+v", st)
	}

	for _, k := range []string{"dir/a", "dir/sub/b", "dir/sub/c", "other", "dir/with space+plus"} {
		if _, err := c.PutObject(ctx, bucket, k, strings.NewReader(k), int64(len(k)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("PutObject(%q): %v", k, err)
		}
	}
	var listed []string
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "dir/"}) {
		if o.Err != nil {
			t.Fatalf("ListObjects: %v", o.Err)
		}
		listed = append(listed, o.Key)
	}
	// minio-go yields a page's objects before its common prefixes.
	slices.Sort(listed)
	if want := []string{"dir/a", "dir/hello.txt", "dir/sub/", "dir/with space+plus"}; !slices.Equal(listed, want) {
		t.Fatalf("ListObjects with delimiter = %q, want %q", listed, want)
	}
	listed = nil
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "dir/s", Recursive: true, UseV1: true}) {
		if o.Err != nil {
			t.Fatalf("ListObjects v1: %v", o.Err)
		}
		listed = append(listed, o.Key)
	}
	if want := []string{"dir/sub/b", "dir/sub/c"}; !slices.Equal(listed, want) {
		t.Fatalf("recursive ListObjects v1 = %q, want %q", listed, want)
	}

	if _, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: "copy.txt"}, minio.CopySrcOptions{Bucket: bucket, Object: "dir/hello.txt"}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if st, err := c.StatObject(ctx, bucket, "copy.txt", minio.StatObjectOptions{}); err != nil || st.ContentType != "text/plain" || st.UserMetadata["Origin"] != "minio-test" {
		t.Fatalf("copied object = %+v, %v", st, err)
	}

	// Presigned GET: no credentials on the request, only the signed query.
	u, err := c.PresignedGetObject(ctx, bucket, "copy.txt", time.Minute, url.Values{"response-content-type": {"application/x-test"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != body || resp.Header.Get("Content-Type") != "application/x-test" {
		t.Fatalf("presigned GET = %d %q %q", resp.StatusCode, got, resp.Header.Get("Content-Type"))
	}

	for _, k := range []string{"dir/hello.txt", "dir/a", "dir/sub/b", "dir/sub/c", "other", "copy.txt"} {
		if err := c.RemoveObject(ctx, bucket, k, minio.RemoveObjectOptions{}); err != nil {
			t.Fatalf("RemoveObject(%q): %v", k, err)
		}
	}
	if err := c.RemoveBucket(ctx, bucket); err == nil || minio.ToErrorResponse(err).Code != CodeBucketNotEmpty {
		t.Fatalf("RemoveBucket of a bucket with one object left = %v", err)
	}
	// Bulk removal (DeleteObjects) of what is left.
	objs := make(chan minio.ObjectInfo, 1)
	objs <- minio.ObjectInfo{Key: "dir/with space+plus"}
	close(objs)
	for rerr := range c.RemoveObjects(ctx, bucket, objs, minio.RemoveObjectsOptions{}) {
		t.Fatalf("RemoveObjects: %v", rerr.Err)
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		t.Fatalf("RemoveBucket: %v", err)
	}
	if ok, err := c.BucketExists(ctx, bucket); err != nil || ok {
		t.Fatalf("BucketExists after removal = %v, %v", ok, err)
	}
}

// TestMinioMultipart uploads 70 MiB in 16 MiB parts, as the image pipeline does.
func TestMinioMultipart(t *testing.T) {
	if testing.Short() {
		t.Skip("large upload")
	}
	e := newTestEnv(t)
	c := minioClient(t, e, admin)
	ctx := context.Background()
	const bucket, key, size = "bundles", "images/disk.img", 70 << 20
	// Admins own buckets of their own project too.
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	info, err := c.PutObject(ctx, bucket, key, newPattern(size, 7), size, minio.PutObjectOptions{PartSize: 16 << 20})
	if err != nil {
		t.Fatalf("multipart PutObject: %v", err)
	}
	if !strings.HasSuffix(info.ETag, "-5") {
		t.Fatalf("multipart ETag = %q, want 5 parts", info.ETag)
	}
	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if got := sumOf(obj); got != patternSum(size, 7) {
		t.Fatal("the object read back differs from what was uploaded")
	}
	st, err := c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil || st.Size != size || st.ETag != info.ETag {
		t.Fatalf("StatObject = %+v, %v", st, err)
	}
}

// TestMinioTrailingChecksums uploads with checksums sent as signed trailers of the aws-chunked
// stream, which the verifier checks.
func TestMinioTrailingChecksums(t *testing.T) {
	e := newTestEnv(t)
	c, err := minio.New(e.host, &minio.Options{
		Creds:           miniocreds.NewStaticV4(alice.ak, alice.sk, ""),
		Region:          testRegion,
		BucketLookup:    minio.BucketLookupPath,
		TrailingHeaders: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.MakeBucket(ctx, "trailers", minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	for i, ck := range []minio.ChecksumType{minio.ChecksumCRC32, minio.ChecksumCRC32C, minio.ChecksumCRC64NVME, minio.ChecksumSHA1, minio.ChecksumSHA256} {
		const size = 1 << 20
		key := "obj-" + ck.String()
		if _, err := c.PutObject(ctx, "trailers", key, newPattern(size, uint64(i)), size, minio.PutObjectOptions{Checksum: ck}); err != nil {
			t.Fatalf("PutObject with a %s trailer: %v", ck, err)
		}
		if !e.sawPayloadHash(awsauth.StreamingPayloadTrailer) {
			t.Fatalf("minio-go did not send its %s checksum as a trailer", ck)
		}
		obj, err := c.GetObject(ctx, "trailers", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sumOf(obj) != patternSum(size, uint64(i)) {
			t.Fatalf("object with a %s trailer reads back different", ck)
		}
		obj.Close()
	}
}
