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
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"pinet.io/pinet/internal/awsauth"
)

// mpuParts are the parts of the test uploads: one of the minimum size and a short last one.
func mpuParts(seed byte) [][]byte {
	first := bytes.Repeat([]byte{seed, 'p', 'a', 'r', 't'}, 5<<20/5)
	return [][]byte{first, bytes.Repeat([]byte{seed + 1}, 4321)}
}

// uploadParts uploads parts to a new multipart upload of key with the checksum algorithm and
// type, and returns the upload id and the parts as CompleteMultipartUpload names them.
func uploadParts(t *testing.T, c *s3.Client, bucket, key string, alg types.ChecksumAlgorithm, typ types.ChecksumType, parts [][]byte) (string, []types.CompletedPart) {
	t.Helper()
	ctx := context.Background()
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumAlgorithm: alg, ChecksumType: typ})
	if err != nil {
		t.Fatalf("CreateMultipartUpload %s %s: %v", alg, typ, err)
	}
	if up.ChecksumAlgorithm != alg || up.ChecksumType != typ {
		t.Fatalf("CreateMultipartUpload answered %s %s, want %s %s", up.ChecksumAlgorithm, up.ChecksumType, alg, typ)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		n := aws.Int32(int32(i + 1))
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: n, Body: bytes.NewReader(p), ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatalf("UploadPart %d with %s: %v", i+1, alg, err)
		}
		sum := checksumOf(alg, out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256)
		if sum != referenceSum(alg, p) {
			t.Fatalf("UploadPart %d %s checksum = %q, want %q", i+1, alg, sum, referenceSum(alg, p))
		}
		done = append(done, types.CompletedPart{PartNumber: n, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C,
			ChecksumCRC64NVME: out.ChecksumCRC64NVME, ChecksumSHA1: out.ChecksumSHA1, ChecksumSHA256: out.ChecksumSHA256})
	}
	return *up.UploadId, done
}

// TestMultipartChecksumsSDK completes multipart uploads with composite and full-object
// checksums through aws-sdk-go-v2, and reads the object's checksum, its parts' checksums and
// each part back (HeadObject, GetObjectAttributes, ListParts, GetObject with partNumber).
func TestMultipartChecksumsSDK(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mpu")}); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		alg types.ChecksumAlgorithm
		typ types.ChecksumType
	}{
		{types.ChecksumAlgorithmCrc32, types.ChecksumTypeComposite},
		{types.ChecksumAlgorithmSha256, types.ChecksumTypeComposite},
		{types.ChecksumAlgorithmCrc32c, types.ChecksumTypeFullObject},
		{types.ChecksumAlgorithmCrc64nvme, types.ChecksumTypeFullObject},
	} {
		key := string(tc.alg) + "-" + string(tc.typ)
		parts := mpuParts(byte(i))
		whole := bytes.Join(parts, nil)
		want := composite(tc.alg, parts...)
		if tc.typ == types.ChecksumTypeFullObject {
			want = referenceSum(tc.alg, whole)
		}
		id, done := uploadParts(t, c, "mpu", key, tc.alg, tc.typ, parts)
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: aws.String(id)})
		if err != nil || lp.ChecksumAlgorithm != tc.alg || lp.ChecksumType != tc.typ || len(lp.Parts) != 2 ||
			checksumOf(tc.alg, lp.Parts[1].ChecksumCRC32, lp.Parts[1].ChecksumCRC32C, lp.Parts[1].ChecksumCRC64NVME, lp.Parts[1].ChecksumSHA1, lp.Parts[1].ChecksumSHA256) != referenceSum(tc.alg, parts[1]) {
			t.Fatalf("ListParts = %+v, %v", lp, err)
		}
		in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}, MpuObjectSize: aws.Int64(int64(len(whole)))}
		if tc.typ == types.ChecksumTypeFullObject {
			in.ChecksumType = tc.typ
			switch tc.alg {
			case types.ChecksumAlgorithmCrc32c:
				in.ChecksumCRC32C = aws.String(want)
			case types.ChecksumAlgorithmCrc64nvme:
				in.ChecksumCRC64NVME = aws.String(want)
			}
		}
		out, err := c.CompleteMultipartUpload(ctx, in)
		if err != nil {
			t.Fatalf("CompleteMultipartUpload %s: %v", key, err)
		}
		if got := checksumOf(tc.alg, out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256); got != want || out.ChecksumType != tc.typ {
			t.Fatalf("CompleteMultipartUpload %s checksum = %q %s, want %q", key, got, out.ChecksumType, want)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || checksumOf(tc.alg, head.ChecksumCRC32, head.ChecksumCRC32C, head.ChecksumCRC64NVME, head.ChecksumSHA1, head.ChecksumSHA256) != want || head.ChecksumType != tc.typ {
			t.Fatalf("HeadObject %s = %+v, %v", key, head, err)
		}
		// The whole object, which the SDK validates when its checksum is a full-object one.
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(get.Body)
		get.Body.Close()
		if err != nil || !bytes.Equal(body, whole) {
			t.Fatalf("GetObject %s: %d bytes, %v", key, len(body), err)
		}
		for n, p := range parts {
			pg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key), PartNumber: aws.Int32(int32(n + 1)), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatalf("GetObject part %d: %v", n+1, err)
			}
			b, err := io.ReadAll(pg.Body)
			pg.Body.Close()
			if err != nil || !bytes.Equal(b, p) || aws.ToInt32(pg.PartsCount) != 2 || aws.ToInt64(pg.ContentLength) != int64(len(p)) {
				t.Fatalf("GetObject part %d: %d bytes, %d parts, %v", n+1, len(b), aws.ToInt32(pg.PartsCount), err)
			}
		}
		attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("mpu"), Key: aws.String(key), MaxParts: aws.Int32(1),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts}})
		if err != nil || attrs.ObjectParts == nil || aws.ToInt32(attrs.ObjectParts.TotalPartsCount) != 2 || !aws.ToBool(attrs.ObjectParts.IsTruncated) ||
			len(attrs.ObjectParts.Parts) != 1 || aws.ToInt64(attrs.ObjectParts.Parts[0].Size) != int64(len(parts[0])) || attrs.Checksum == nil || attrs.Checksum.ChecksumType != tc.typ {
			t.Fatalf("GetObjectAttributes %s = %+v, %v", key, attrs, err)
		}
		p0 := attrs.ObjectParts.Parts[0]
		if got := checksumOf(tc.alg, p0.ChecksumCRC32, p0.ChecksumCRC32C, p0.ChecksumCRC64NVME, p0.ChecksumSHA1, p0.ChecksumSHA256); got != referenceSum(tc.alg, parts[0]) {
			t.Fatalf("GetObjectAttributes part 1 checksum = %q", got)
		}
	}
	// A copy gets a full-object checksum of its data: of the algorithm it asks for, else of
	// its source's.
	src := bytes.Join(mpuParts(0), nil)
	for alg, want := range map[types.ChecksumAlgorithm]string{
		"": referenceSum(types.ChecksumAlgorithmCrc32, src), types.ChecksumAlgorithmSha1: referenceSum(types.ChecksumAlgorithmSha1, src),
	} {
		key := aws.String("copy-" + string(alg))
		if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mpu"), Key: key, CopySource: aws.String("mpu/CRC32-COMPOSITE"), ChecksumAlgorithm: alg}); err != nil {
			t.Fatalf("CopyObject: %v", err)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: key, ChecksumMode: types.ChecksumModeEnabled})
		got := aws.ToString(head.ChecksumCRC32)
		if alg != "" {
			got = aws.ToString(head.ChecksumSHA1)
		}
		if err != nil || got != want || head.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("HeadObject of a copy with %q = %+v, %v; want %s", alg, head, err, want)
		}
	}
	// A part copied into an upload gets the upload's algorithm.
	id, done := uploadParts(t, c, "mpu", "with-copy", types.ChecksumAlgorithmCrc32c, types.ChecksumTypeComposite, mpuParts(9)[:1])
	cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("with-copy"), UploadId: aws.String(id),
		PartNumber: aws.Int32(2), CopySource: aws.String("mpu/CRC32-COMPOSITE"), CopySourceRange: aws.String("bytes=0-99")})
	if err != nil {
		t.Fatal(err)
	}
	done = append(done, types.CompletedPart{PartNumber: aws.Int32(2), ETag: cp.CopyPartResult.ETag})
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("with-copy"), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if want := composite(types.ChecksumAlgorithmCrc32c, mpuParts(9)[0], src[:100]); err != nil || aws.ToString(out.ChecksumCRC32C) != want {
		t.Fatalf("completing an upload with a copied part = %+v, %v; want %s", out, err, want)
	}
	// A part past the last one is InvalidPartNumber.
	res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/mpu/CRC32-COMPOSITE", query: url.Values{"partNumber": {"3"}}})
	expectError(t, res, http.MethodGet, http.StatusRequestedRangeNotSatisfiable, CodeInvalidPartNumber)
}

// TestMultipartTrailersSDK uploads parts over TLS, where aws-sdk-go-v2 sends each part's
// checksum as a trailer of an unsigned aws-chunked body, and completes a composite upload.
func TestMultipartTrailersSDK(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := tlsSDKClient(t, e, alice)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mpu-tls")}); err != nil {
		t.Fatal(err)
	}
	parts := mpuParts(11)
	e.sawPayloadHash("") // drain
	id, done := uploadParts(t, c, "mpu-tls", "k", types.ChecksumAlgorithmCrc32c, types.ChecksumTypeComposite, parts)
	if !e.sawPayloadHash(awsauth.StreamingUnsignedPayloadTrailer) {
		t.Fatal("the SDK did not send its part checksums as trailers over TLS")
	}
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu-tls"), Key: aws.String("k"), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if want := composite(types.ChecksumAlgorithmCrc32c, parts...); err != nil || aws.ToString(out.ChecksumCRC32C) != want {
		t.Fatalf("CompleteMultipartUpload over TLS = %+v, %v; want %s", out, err, want)
	}
}

// TestMultipartChecksumRefusals checks the refusals of checksums that do not fit the upload,
// and that each leaves no object and the upload still completable.
func TestMultipartChecksumRefusals(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mpu-bad")}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		alg types.ChecksumAlgorithm
		typ types.ChecksumType
	}{{types.ChecksumAlgorithmCrc64nvme, types.ChecksumTypeComposite}, {types.ChecksumAlgorithmSha1, types.ChecksumTypeFullObject}} {
		_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu-bad"), Key: aws.String("k"), ChecksumAlgorithm: bad.alg, ChecksumType: bad.typ})
		if apiCode(err) != CodeInvalidRequest {
			t.Fatalf("CreateMultipartUpload %s %s = %v, want InvalidRequest", bad.alg, bad.typ, err)
		}
	}
	parts := mpuParts(7)
	id, done := uploadParts(t, c, "mpu-bad", "k", types.ChecksumAlgorithmCrc32, types.ChecksumTypeComposite, parts)
	// A part sent with another algorithm than the upload's.
	_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu-bad"), Key: aws.String("k"), UploadId: aws.String(id),
		PartNumber: aws.Int32(3), Body: strings.NewReader("x"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if apiCode(err) != CodeInvalidRequest {
		t.Fatalf("UploadPart with another algorithm = %v, want InvalidRequest", err)
	}
	complete := func(parts []types.CompletedPart, mutate func(*s3.CompleteMultipartUploadInput)) error {
		in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu-bad"), Key: aws.String("k"), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}
		if mutate != nil {
			mutate(in)
		}
		_, err := c.CompleteMultipartUpload(ctx, in)
		return err
	}
	wrongPart := append([]types.CompletedPart{}, done...)
	wrongPart[1].ChecksumCRC32 = aws.String(referenceSum(types.ChecksumAlgorithmCrc32, []byte("other")))
	if err := complete(wrongPart, nil); apiCode(err) != CodeInvalidPart {
		t.Fatalf("completing with a wrong part checksum = %v, want InvalidPart", err)
	}
	if err := complete(done, func(in *s3.CompleteMultipartUploadInput) { in.ChecksumCRC32 = aws.String("AAAAAA==-2") }); apiCode(err) != CodeBadDigest {
		t.Fatalf("completing with a wrong object checksum = %v, want BadDigest", err)
	}
	if err := complete(done, func(in *s3.CompleteMultipartUploadInput) { in.ChecksumType = types.ChecksumTypeFullObject }); apiCode(err) != CodeInvalidRequest {
		t.Fatalf("completing with another checksum type = %v, want InvalidRequest", err)
	}
	if err := complete(done, func(in *s3.CompleteMultipartUploadInput) { in.MpuObjectSize = aws.Int64(1) }); apiCode(err) != CodeInvalidRequest {
		t.Fatalf("completing with a wrong object size = %v, want InvalidRequest", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu-bad"), Key: aws.String("k")}); apiCode(err) != "NotFound" {
		t.Fatalf("after the refused completions the object exists: %v", err)
	}
	if err := complete(done, func(in *s3.CompleteMultipartUploadInput) {
		in.ChecksumCRC32 = aws.String(composite(types.ChecksumAlgorithmCrc32, parts...))
	}); err != nil {
		t.Fatalf("completing after the refusals: %v", err)
	}
	assertNoTemporaryFiles(t, e)
}
