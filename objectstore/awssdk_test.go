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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func sdkClient(e *testEnv, u testUser) *s3.Client {
	return s3.New(s3.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(e.url),
		UsePathStyle: true,
		Credentials:  awscreds.NewStaticCredentialsProvider(u.ak, u.sk, ""),
	})
}

// apiCode is the S3 error code of an SDK error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestAWSSDK(t *testing.T) {
	e := newTestEnv(t)
	c := sdkClient(e, alice)
	ctx := context.Background()
	bucket := aws.String("sdk-bucket")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bucket}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: bucket})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("GetBucketLocation = %+v, %v", loc, err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: bucket, Key: aws.String("a/one"), Body: strings.NewReader("first"),
		ContentType: aws.String("text/x-one"), Metadata: map[string]string{"k": "v"},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("a/one")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "first" || aws.ToString(out.ContentType) != "text/x-one" || out.Metadata["k"] != "v" {
		t.Fatalf("GetObject = %q %+v", body, out)
	}
	out, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("a/one"), Range: aws.String("bytes=-3")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "rst" || aws.ToString(out.ContentRange) != "bytes 2-4/5" {
		t.Fatalf("suffix range = %q %q", body, aws.ToString(out.ContentRange))
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("a/one")})
	if err != nil || aws.ToInt64(head.ContentLength) != 5 || head.LastModified == nil || aws.ToString(head.ETag) != `"8b04d5e3775d298e78455efc5ca404d5"` {
		t.Fatalf("HeadObject = %+v, %v", head, err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("missing")}); apiCode(err) != "NotFound" {
		t.Fatalf("HeadObject of a missing key = %v", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: bucket, Key: aws.String("a/two"), CopySource: aws.String("sdk-bucket/a/one"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/x-two"),
	})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("a/two")}); err != nil || aws.ToString(h.ContentType) != "text/x-two" || len(h.Metadata) != 0 {
		t.Fatalf("copied object with replaced metadata = %+v, %v", h, err)
	}

	var keys []string
	for i := range 7 {
		k := fmt.Sprintf("page/%02d", i)
		keys = append(keys, k)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: bytes.NewReader([]byte(k))}); err != nil {
			t.Fatal(err)
		}
	}
	var listed []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String("page/"), MaxKeys: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		pages++
		if int(aws.ToInt32(page.KeyCount)) != len(page.Contents) {
			t.Fatalf("KeyCount %d for %d keys", aws.ToInt32(page.KeyCount), len(page.Contents))
		}
		for _, o := range page.Contents {
			listed = append(listed, aws.ToString(o.Key))
		}
	}
	if pages != 3 || !slices.Equal(listed, keys) {
		t.Fatalf("paginated listing = %d pages %q", pages, listed)
	}
	v2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Delimiter: aws.String("/"), StartAfter: aws.String("a/")})
	if err != nil || len(v2.CommonPrefixes) != 1 || aws.ToString(v2.CommonPrefixes[0].Prefix) != "page/" || len(v2.Contents) != 0 {
		t.Fatalf("listing after a/ with delimiter = %+v, %v", v2, err)
	}

	del := &types.Delete{Quiet: aws.Bool(false)}
	for _, k := range append(keys, "a/one", "a/two", "never-existed") {
		del.Objects = append(del.Objects, types.ObjectIdentifier{Key: aws.String(k)})
	}
	dres, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bucket, Delete: del})
	if err != nil || len(dres.Deleted) != 10 || len(dres.Errors) != 0 {
		t.Fatalf("DeleteObjects = %+v, %v", dres, err)
	}
	dres, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bucket, Delete: &types.Delete{Quiet: aws.Bool(true), Objects: del.Objects}})
	if err != nil || len(dres.Deleted) != 0 || len(dres.Errors) != 0 {
		t.Fatalf("quiet DeleteObjects = %+v, %v", dres, err)
	}

	sdkMultipart(t, c, *bucket)

	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bucket}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bucket}); apiCode(err) != "NotFound" {
		t.Fatalf("HeadBucket after delete = %v", err)
	}
}

// sdkMultipart drives a multipart upload step by step and leaves the bucket empty.
func sdkMultipart(t *testing.T, c *s3.Client, bucket string) {
	ctx := context.Background()
	b, key := aws.String(bucket), aws.String("multi/object.bin")
	created, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: key, ContentType: aws.String("application/x-disk")})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	id := created.UploadId
	sizes := []int64{5 << 20, 1234}
	var parts []types.CompletedPart
	for i, size := range sizes {
		n := aws.Int32(int32(i + 1))
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: id, PartNumber: n, Body: io.NewSectionReader(readerAt{newPattern(size, uint64(i))}, 0, size), ContentLength: aws.Int64(size)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: n, ETag: up.ETag})
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: key, UploadId: id})
	if err != nil || len(lp.Parts) != 2 || aws.ToInt64(lp.Parts[0].Size) != sizes[0] || aws.ToString(lp.Parts[1].ETag) != aws.ToString(parts[1].ETag) {
		t.Fatalf("ListParts = %+v, %v", lp, err)
	}
	uploads, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
	if err != nil || len(uploads.Uploads) != 1 || aws.ToString(uploads.Uploads[0].UploadId) != aws.ToString(id) {
		t.Fatalf("ListMultipartUploads = %+v, %v", uploads, err)
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{parts[1], parts[0]}}})
	if apiCode(err) != CodeInvalidPartOrder {
		t.Fatalf("completing with parts out of order = %v", err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil || !strings.HasSuffix(aws.ToString(done.ETag), `-2"`) {
		t.Fatalf("CompleteMultipartUpload = %+v, %v", done, err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	got := sumOf(out.Body)
	out.Body.Close()
	want := sumOf(io.MultiReader(newPattern(sizes[0], 0), newPattern(sizes[1], 1)))
	if got != want || aws.ToString(out.ContentType) != "application/x-disk" {
		t.Fatalf("assembled object differs (content type %q)", aws.ToString(out.ContentType))
	}

	aborted, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("multi/aborted")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("multi/aborted"), UploadId: aborted.UploadId}); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	if _, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String("multi/aborted"), UploadId: aborted.UploadId}); apiCode(err) != CodeNoSuchUpload {
		t.Fatalf("ListParts of an aborted upload = %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: key}); err != nil {
		t.Fatal(err)
	}
}

// readerAt makes a pattern seekable for the SDK, which rewinds bodies to retry and checksum.
type readerAt struct{ p *patternReader }

func (r readerAt) ReadAt(b []byte, off int64) (int, error) {
	if off >= r.p.n {
		return 0, io.EOF
	}
	q := &patternReader{n: r.p.n, off: off, seed: r.p.seed}
	return io.ReadFull(q, b[:min(int64(len(b)), r.p.n-off)])
}
