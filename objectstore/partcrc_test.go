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
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

// defaultUploads are the uploads that name no checksum: the client (the SDK as it comes, which
// sends a CRC32 with every part, or one that sends none), the part sizes (a single part, parts
// with a short last one, equal parts, a last part of one byte), and whether the last part is
// stored without the CRC the store records as a part arrives (as by a store from before it
// recorded them, or a part left by a crash).
var defaultUploads = []struct {
	client string
	name   string
	sizes  []int
	old    bool
}{
	{"sdk-default", "single", []int{70001}, false},
	{"sdk-default", "short-last", []int{5 << 20, 4321}, false},
	{"sdk-default", "equal", []int{5 << 20, 5 << 20}, true},
	{"sdk-default", "one-byte", []int{5<<20 + 3, 5 << 20, 1}, false},
	{"no-checksums", "single", []int{70001}, true},
	{"no-checksums", "short-last", []int{5 << 20, 4321}, true},
	{"no-checksums", "equal", []int{5 << 20, 5 << 20}, false},
	{"no-checksums", "one-byte", []int{5<<20 + 3, 5 << 20, 1}, true},
}

// partBytes is part n of a test upload, of size bytes.
func partBytes(n, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*13 + n*101 + i>>9)
	}
	return b
}

// TestDefaultChecksumFromParts completes multipart uploads that name no checksum through
// aws-sdk-go-v2, with parts that carry the SDK's default CRC32 and with parts that carry none,
// and one of whose parts was stored without the CRC the store records as a part arrives (as
// by a store before it recorded them): the object's FULL_OBJECT CRC64NVME (combined from the
// parts' CRCs) equals the one the test computes over the whole bytes, and no answer shows a
// part's CRC64NVME, which S3 shows only when the upload or the part asked for it.
func TestDefaultChecksumFromParts(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	clients := map[string]*s3.Client{
		"sdk-default": sdkClient(e, alice),
		"no-checksums": s3.New(s3.Options{Region: testRegion, BaseEndpoint: aws.String(e.url), UsePathStyle: true,
			Credentials: sdkClient(e, alice).Options().Credentials, RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired}),
	}
	if _, err := clients["sdk-default"].CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("crc")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range defaultUploads {
		key := tc.client + "/" + tc.name
		if tc.old {
			key += "/old-part"
		}
		t.Run(key, func(t *testing.T) { completeDefault(t, e, clients[tc.client], key, tc.sizes, tc.old) })
	}
	t.Run("copied-part", func(t *testing.T) { completeWithCopiedPart(t, clients["no-checksums"]) })
}

// completeWithCopiedPart completes an upload naming no checksum whose second part is copied
// from a range of another object (UploadPartCopy records the CRC as UploadPart does).
func completeWithCopiedPart(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	bucket, key := aws.String("crc"), aws.String("copied-part")
	src := partBytes(7, 1000)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("copy-source"), Body: bytes.NewReader(src)}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	first := partBytes(1, 5<<20)
	p1, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: key, UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(first)})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: bucket, Key: key, UploadId: up.UploadId, PartNumber: aws.Int32(2),
		CopySource: aws.String("crc/copy-source"), CopySourceRange: aws.String("bytes=100-899")})
	if err != nil {
		t.Fatal(err)
	}
	if p2.CopyPartResult.ChecksumCRC64NVME != nil {
		t.Fatal("UploadPartCopy answered a CRC64NVME the upload did not ask for")
	}
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}})
	want := referenceSum(types.ChecksumAlgorithmCrc64nvme, append(first, src[100:900]...))
	if err != nil || aws.ToString(out.ChecksumCRC64NVME) != want {
		t.Fatalf("CompleteMultipartUpload = %+v, %v; want CRC64NVME %s", out, err, want)
	}
}

// completeDefault uploads parts of sizes to key with c, the last one straight into the store
// without a recorded CRC when old is set, completes the upload and checks its checksums.
func completeDefault(t *testing.T, e *testEnv, c *s3.Client, key string, sizes []int, old bool) {
	ctx := context.Background()
	bucket := aws.String("crc")
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var whole []byte
	var done []types.CompletedPart
	for i, size := range sizes {
		n := int32(i + 1)
		data := partBytes(i+1, size)
		whole = append(whole, data...)
		if old && i == len(sizes)-1 {
			p, err := e.srv.store.PutPart("crc", key, *up.UploadId, i+1, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(quoteETag(p.ETag))})
			continue
		}
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", n, err)
		}
		if out.ChecksumCRC64NVME != nil {
			t.Fatalf("UploadPart %d answered a CRC64NVME the client did not ask for", n)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId})
	if err != nil || len(lp.Parts) != len(sizes) || lp.ChecksumAlgorithm != "" {
		t.Fatalf("ListParts = %+v, %v", lp, err)
	}
	for _, p := range lp.Parts {
		if p.ChecksumCRC64NVME != nil {
			t.Fatalf("ListParts shows part %d's CRC64NVME", aws.ToInt32(p.PartNumber))
		}
	}
	want := referenceSum(types.ChecksumAlgorithmCrc64nvme, whole)
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil || aws.ToString(out.ChecksumCRC64NVME) != want || out.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("CompleteMultipartUpload = %+v, %v; want CRC64NVME %s", out, err, want)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.ChecksumCRC64NVME) != want || aws.ToInt64(head.ContentLength) != int64(len(whole)) {
		t.Fatalf("HeadObject = %+v, %v; want CRC64NVME %s", head, err, want)
	}
	// The SDK checks the body against the object's full-object checksum.
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(get.Body)
	get.Body.Close()
	if err != nil || !bytes.Equal(body, whole) {
		t.Fatalf("GetObject: %d bytes, %v", len(body), err)
	}
	attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: bucket, Key: aws.String(key),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts}})
	if err != nil || attrs.Checksum == nil || aws.ToString(attrs.Checksum.ChecksumCRC64NVME) != want || attrs.ObjectParts == nil {
		t.Fatalf("GetObjectAttributes = %+v, %v", attrs, err)
	}
	for _, p := range attrs.ObjectParts.Parts {
		if p.ChecksumCRC64NVME != nil {
			t.Fatalf("GetObjectAttributes shows part %d's CRC64NVME", aws.ToInt32(p.PartNumber))
		}
	}
	pg, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String(key), PartNumber: aws.Int32(1), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || pg.ChecksumCRC64NVME != nil {
		t.Fatalf("HeadObject of part 1 = %+v, %v; want no CRC64NVME", pg, err)
	}
}

// TestMinioDefaultChecksumFromParts puts objects through minio-go as the benchmark does (a
// multipart upload naming no checksum, parts of 5 MiB and a short last one) and reads their
// FULL_OBJECT CRC64NVME back.
func TestMinioDefaultChecksumFromParts(t *testing.T) {
	e := newTestEnv(t)
	mc := minioClient(t, e, alice)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "crc-minio", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{5<<20 + 1, 10<<20 + 777} {
		data := partBytes(size, size)
		key := fmt.Sprint("obj-", size)
		if _, err := mc.PutObject(ctx, "crc-minio", key, bytes.NewReader(data), int64(size), minio.PutObjectOptions{PartSize: 5 << 20}); err != nil {
			t.Fatal(err)
		}
		st, err := mc.StatObject(ctx, "crc-minio", key, minio.StatObjectOptions{Checksum: true})
		if want := referenceSum(types.ChecksumAlgorithmCrc64nvme, data); err != nil || st.ChecksumCRC64NVME != want {
			t.Fatalf("StatObject of %d bytes: CRC64NVME %q, %v; want %s", size, st.ChecksumCRC64NVME, err, want)
		}
	}
}
