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
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Tests of where server-side encryption meets checksums, partNumber reads, GetObjectAttributes,
// conditional writes and tagging: every size, checksum and ETag a client sees is of the
// plaintext, whatever is stored.

// sseCase is one way of encrypting what a test writes.
type sseCase struct {
	name string
	k    *customer
}

func sseCases() []sseCase {
	k := newCustomer(9)
	return []sseCase{{name: "sse-s3"}, {name: "sse-c", k: &k}}
}

func (sc sseCase) put(in *s3.PutObjectInput) *s3.PutObjectInput {
	if sc.k == nil {
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	} else {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), sc.k.key(), sc.k.md5()
	}
	return in
}

func (sc sseCase) get(in *s3.GetObjectInput) *s3.GetObjectInput {
	if sc.k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), sc.k.key(), sc.k.md5()
	}
	return in
}

func (sc sseCase) head(in *s3.HeadObjectInput) *s3.HeadObjectInput {
	if sc.k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), sc.k.key(), sc.k.md5()
	}
	return in
}

func (sc sseCase) attrs(in *s3.GetObjectAttributesInput) *s3.GetObjectAttributesInput {
	if sc.k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), sc.k.key(), sc.k.md5()
	}
	return in
}

func (sc sseCase) create(in *s3.CreateMultipartUploadInput) *s3.CreateMultipartUploadInput {
	if sc.k == nil {
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	} else {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), sc.k.key(), sc.k.md5()
	}
	return in
}

func (sc sseCase) part(in *s3.UploadPartInput) *s3.UploadPartInput {
	if sc.k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), sc.k.key(), sc.k.md5()
	}
	return in
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// readAll reads a GetObject body; the SDK checks a checksum it was sent as it reads.
func readAll(t *testing.T, out *s3.GetObjectOutput, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return b
}

// TestSSEChecksumsAndAttributesSDK writes encrypted objects whole and checks the checksums
// (declared and default), ETags and sizes GET/HEAD with checksum mode, partNumber 1 and
// GetObjectAttributes give: all of the plaintext.
func TestSSEChecksumsAndAttributesSDK(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "sse-sums"
	mustCreate(t, c, bucket, "")
	data := patternData(2*sseChunk + 1234)
	for _, sc := range sseCases() {
		for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha256, ""} {
			key := sc.name + "-" + string(alg)
			want := types.ChecksumAlgorithmCrc64nvme // the store's default
			if alg != "" {
				want = alg
			}
			put, err := c.PutObject(ctx, sc.put(&s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				Body: bytes.NewReader(data), ChecksumAlgorithm: alg}))
			if err != nil {
				t.Fatalf("PutObject %s: %v", key, err)
			}
			sum := referenceSum(want, data)
			if alg != "" && checksumOf(alg, put.ChecksumCRC32, put.ChecksumCRC32C, put.ChecksumCRC64NVME, put.ChecksumSHA1, put.ChecksumSHA256) != sum {
				t.Fatalf("PutObject %s answered a checksum of %+v, want %s", key, put, sum)
			}
			// S3 gives an SSE-S3 object its plaintext's MD5 as ETag, and an SSE-C one another.
			if sc.k == nil && aws.ToString(put.ETag) != md5Hex(data) {
				t.Fatalf("SSE-S3 PutObject ETag = %s, want the plaintext's MD5 %s", aws.ToString(put.ETag), md5Hex(data))
			}
			head, err := c.HeadObject(ctx, sc.head(&s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}))
			if err != nil {
				t.Fatalf("HeadObject %s: %v", key, err)
			}
			if got := checksumOf(want, head.ChecksumCRC32, head.ChecksumCRC32C, head.ChecksumCRC64NVME, head.ChecksumSHA1, head.ChecksumSHA256); got != sum ||
				aws.ToInt64(head.ContentLength) != int64(len(data)) || aws.ToString(head.ETag) != aws.ToString(put.ETag) {
				t.Fatalf("HeadObject %s: checksum %q, length %d, ETag %s; want %q, %d, %s", key, got, aws.ToInt64(head.ContentLength),
					aws.ToString(head.ETag), sum, len(data), aws.ToString(put.ETag))
			}
			get, err := c.GetObject(ctx, sc.get(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}))
			if got := readAll(t, get, err); !bytes.Equal(got, data) ||
				checksumOf(want, get.ChecksumCRC32, get.ChecksumCRC32C, get.ChecksumCRC64NVME, get.ChecksumSHA1, get.ChecksumSHA256) != sum {
				t.Fatalf("GetObject %s with checksum mode: %d bytes, checksum of %+v", key, len(got), get)
			}
			part, err := c.GetObject(ctx, sc.get(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), PartNumber: aws.Int32(1)}))
			if got := readAll(t, part, err); !bytes.Equal(got, data) || aws.ToInt64(part.ContentLength) != int64(len(data)) {
				t.Fatalf("GetObject %s part 1: %d bytes, Content-Length %d", key, len(got), aws.ToInt64(part.ContentLength))
			}
			attrs, err := c.GetObjectAttributes(ctx, sc.attrs(&s3.GetObjectAttributesInput{Bucket: aws.String(bucket), Key: aws.String(key),
				ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize, types.ObjectAttributesChecksum, types.ObjectAttributesEtag}}))
			if err != nil {
				t.Fatalf("GetObjectAttributes %s: %v", key, err)
			}
			if aws.ToInt64(attrs.ObjectSize) != int64(len(data)) || attrs.Checksum == nil ||
				checksumOf(want, attrs.Checksum.ChecksumCRC32, attrs.Checksum.ChecksumCRC32C, attrs.Checksum.ChecksumCRC64NVME, attrs.Checksum.ChecksumSHA1, attrs.Checksum.ChecksumSHA256) != sum ||
				`"`+aws.ToString(attrs.ETag)+`"` != aws.ToString(put.ETag) {
				t.Fatalf("GetObjectAttributes %s = size %d, checksum %+v, ETag %s", key, aws.ToInt64(attrs.ObjectSize), attrs.Checksum, aws.ToString(attrs.ETag))
			}
		}
		if sc.k != nil {
			// An SSE-C object's attributes need its key, as its data does.
			key := sc.name + "-" + string(types.ChecksumAlgorithmCrc32c)
			if _, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String(bucket), Key: aws.String(key),
				ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}}); apiCode(err) != CodeInvalidRequest {
				t.Fatalf("GetObjectAttributes of an SSE-C object without its key = %v, want InvalidRequest", err)
			}
		}
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		if aws.ToInt64(o.Size) != int64(len(data)) {
			t.Fatalf("ListObjectsV2 size of %s = %d, want %d", aws.ToString(o.Key), aws.ToInt64(o.Size), len(data))
		}
	}
}

// uploadSSEParts uploads parts to a new encrypted multipart upload of key, with the checksum
// algorithm and type (none when alg is ""), and returns the upload id and the completed parts.
func uploadSSEParts(t *testing.T, c *s3.Client, sc sseCase, bucket, key string, alg types.ChecksumAlgorithm, typ types.ChecksumType, parts [][]byte) (string, []types.CompletedPart) {
	t.Helper()
	ctx := context.Background()
	up, err := c.CreateMultipartUpload(ctx, sc.create(&s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumAlgorithm: alg, ChecksumType: typ}))
	if err != nil {
		t.Fatalf("CreateMultipartUpload %s %s: %v", alg, typ, err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		n := aws.Int32(int32(i + 1))
		out, err := c.UploadPart(ctx, sc.part(&s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: n, Body: bytes.NewReader(p), ChecksumAlgorithm: alg}))
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		if alg != "" && checksumOf(alg, out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256) != referenceSum(alg, p) {
			t.Fatalf("UploadPart %d answered the checksum of other data: %+v", i+1, out)
		}
		if sc.k == nil && aws.ToString(out.ETag) != md5Hex(p) {
			t.Fatalf("SSE-S3 UploadPart %d ETag = %s, want the plaintext's MD5 %s", i+1, aws.ToString(out.ETag), md5Hex(p))
		}
		done = append(done, types.CompletedPart{PartNumber: n, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C,
			ChecksumCRC64NVME: out.ChecksumCRC64NVME, ChecksumSHA1: out.ChecksumSHA1, ChecksumSHA256: out.ChecksumSHA256})
	}
	return *up.UploadId, done
}

// TestSSEMultipartPartsSDK completes encrypted multipart uploads (FULL_OBJECT, COMPOSITE and
// default checksums) and reads them by partNumber, with checksum mode, GetObjectAttributes'
// ObjectParts and a retried completion.
func TestSSEMultipartPartsSDK(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "sse-mpu"
	mustCreate(t, c, bucket, "")
	parts := [][]byte{patternData(5 << 20), patternData(3*sseChunk + 77)}
	whole := append(append([]byte{}, parts[0]...), parts[1]...)
	for _, sc := range sseCases() {
		for _, tc := range []struct {
			alg types.ChecksumAlgorithm
			typ types.ChecksumType
		}{
			{types.ChecksumAlgorithmCrc32, types.ChecksumTypeFullObject},
			{types.ChecksumAlgorithmCrc64nvme, types.ChecksumTypeFullObject},
			{types.ChecksumAlgorithmCrc32c, types.ChecksumTypeComposite},
			{"", ""}, // the store's default: a FULL_OBJECT CRC64NVME
		} {
			key := fmt.Sprintf("%s-%s-%s", sc.name, tc.alg, tc.typ)
			t.Run(key, func(t *testing.T) {
				id, done := uploadSSEParts(t, c, sc, bucket, key, tc.alg, tc.typ, parts)
				alg, wantSum := tc.alg, ""
				switch tc.typ {
				case types.ChecksumTypeComposite:
					wantSum = composite(tc.alg, parts...)
				case types.ChecksumTypeFullObject:
					wantSum = referenceSum(tc.alg, whole)
				default:
					alg, wantSum = types.ChecksumAlgorithmCrc64nvme, referenceSum(types.ChecksumAlgorithmCrc64nvme, whole)
				}
				complete := func() *s3.CompleteMultipartUploadOutput {
					out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
						MpuObjectSize: aws.Int64(int64(len(whole))), MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
					if err != nil {
						t.Fatalf("CompleteMultipartUpload: %v", err)
					}
					return out
				}
				first := complete()
				if got := checksumOf(alg, first.ChecksumCRC32, first.ChecksumCRC32C, first.ChecksumCRC64NVME, first.ChecksumSHA1, first.ChecksumSHA256); got != wantSum {
					t.Fatalf("completion checksum = %q, want %q (of the plaintext)", got, wantSum)
				}
				if again := complete(); aws.ToString(again.ETag) != aws.ToString(first.ETag) ||
					checksumOf(alg, again.ChecksumCRC32, again.ChecksumCRC32C, again.ChecksumCRC64NVME, again.ChecksumSHA1, again.ChecksumSHA256) != wantSum {
					t.Fatalf("a retried completion answered %+v, the first %+v", again, first)
				}
				head, err := c.HeadObject(ctx, sc.head(&s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}))
				if err != nil || aws.ToInt64(head.ContentLength) != int64(len(whole)) ||
					checksumOf(alg, head.ChecksumCRC32, head.ChecksumCRC32C, head.ChecksumCRC64NVME, head.ChecksumSHA1, head.ChecksumSHA256) != wantSum {
					t.Fatalf("HeadObject = %+v, %v", head, err)
				}
				for i, p := range parts {
					n := aws.Int32(int32(i + 1))
					get, err := c.GetObject(ctx, sc.get(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), PartNumber: n, ChecksumMode: types.ChecksumModeEnabled}))
					got := readAll(t, get, err)
					if !bytes.Equal(got, p) || aws.ToInt32(get.PartsCount) != 2 || aws.ToInt64(get.ContentLength) != int64(len(p)) {
						t.Fatalf("part %d: %d bytes (want %d), parts count %d", i+1, len(got), len(p), aws.ToInt32(get.PartsCount))
					}
					if tc.alg != "" && checksumOf(tc.alg, get.ChecksumCRC32, get.ChecksumCRC32C, get.ChecksumCRC64NVME, get.ChecksumSHA1, get.ChecksumSHA256) != referenceSum(tc.alg, p) {
						t.Fatalf("part %d checksum: %+v", i+1, get)
					}
					ph, err := c.HeadObject(ctx, sc.head(&s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), PartNumber: n}))
					if err != nil || aws.ToInt64(ph.ContentLength) != int64(len(p)) {
						t.Fatalf("HeadObject of part %d = %+v, %v", i+1, ph, err)
					}
				}
				attrs, err := c.GetObjectAttributes(ctx, sc.attrs(&s3.GetObjectAttributesInput{Bucket: aws.String(bucket), Key: aws.String(key),
					ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize, types.ObjectAttributesObjectParts, types.ObjectAttributesChecksum}}))
				if err != nil {
					t.Fatalf("GetObjectAttributes: %v", err)
				}
				if aws.ToInt64(attrs.ObjectSize) != int64(len(whole)) || attrs.ObjectParts == nil || len(attrs.ObjectParts.Parts) != 2 {
					t.Fatalf("GetObjectAttributes = size %d, parts %+v", aws.ToInt64(attrs.ObjectSize), attrs.ObjectParts)
				}
				for i, p := range attrs.ObjectParts.Parts {
					if aws.ToInt64(p.Size) != int64(len(parts[i])) {
						t.Fatalf("GetObjectAttributes part %d size = %d, want %d", i+1, aws.ToInt64(p.Size), len(parts[i]))
					}
				}
				get, err := c.GetObject(ctx, sc.get(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}))
				if got := readAll(t, get, err); !bytes.Equal(got, whole) {
					t.Fatal("the whole object differs")
				}
			})
		}
	}
}

// TestSSEConditionalWritesSDK makes conditional writes of encrypted objects: If-Match takes the
// ETag a client was given (for SSE-S3 the plaintext's MD5), and a refused write, whole or
// multipart, changes nothing.
func TestSSEConditionalWritesSDK(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "sse-cond"
	mustCreate(t, c, bucket, "")
	for _, sc := range sseCases() {
		key := aws.String(sc.name)
		put := func(body string, mutate func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
			in := sc.put(&s3.PutObjectInput{Bucket: aws.String(bucket), Key: key, Body: bytes.NewReader([]byte(body))})
			mutate(in)
			return c.PutObject(ctx, in)
		}
		read := func() string {
			get, err := c.GetObject(ctx, sc.get(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: key}))
			return string(readAll(t, get, err))
		}
		first, err := put("one", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
		if err != nil {
			t.Fatalf("%s: If-None-Match * on a new key: %v", sc.name, err)
		}
		if _, err := put("two", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); apiCode(err) != CodePreconditionFailed {
			t.Fatalf("%s: If-None-Match * on an existing key = %v, want PreconditionFailed", sc.name, err)
		}
		if _, err := put("two", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(md5Hex([]byte("zzz"))) }); apiCode(err) != CodePreconditionFailed {
			t.Fatalf("%s: If-Match of another ETag = %v, want PreconditionFailed", sc.name, err)
		}
		if got := read(); got != "one" {
			t.Fatalf("%s: after refused writes the object reads %q", sc.name, got)
		}
		second, err := put("two", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
		if err != nil {
			t.Fatalf("%s: If-Match of the ETag PutObject gave: %v", sc.name, err)
		}
		if sc.k == nil && (aws.ToString(first.ETag) != md5Hex([]byte("one")) || aws.ToString(second.ETag) != md5Hex([]byte("two"))) {
			t.Fatalf("SSE-S3 ETags %s, %s are not the plaintexts' MD5s", aws.ToString(first.ETag), aws.ToString(second.ETag))
		}
		// A client that knows the plaintext's MD5 may use it with SSE-S3, as with S3.
		if sc.k == nil {
			if _, err := put("three", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(md5Hex([]byte("two"))) }); err != nil {
				t.Fatalf("If-Match of the plaintext's MD5: %v", err)
			}
		}
		before := read()

		parts := [][]byte{patternData(5 << 20), []byte("tail")}
		id, done := uploadSSEParts(t, c, sc, bucket, *key, types.ChecksumAlgorithmCrc32, types.ChecksumTypeFullObject, parts)
		complete := func(mutate func(*s3.CompleteMultipartUploadInput)) (*s3.CompleteMultipartUploadOutput, error) {
			in := &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: aws.String(id),
				MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
			mutate(in)
			return c.CompleteMultipartUpload(ctx, in)
		}
		if _, err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }); apiCode(err) != CodePreconditionFailed {
			t.Fatalf("%s: completing with If-None-Match * over an existing key = %v, want PreconditionFailed", sc.name, err)
		}
		if _, err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = first.ETag }); apiCode(err) != CodePreconditionFailed {
			t.Fatalf("%s: completing with If-Match of an old ETag = %v, want PreconditionFailed", sc.name, err)
		}
		if got := read(); got != before {
			t.Fatalf("%s: a refused completion changed the object to %d bytes", sc.name, len(got))
		}
		head, err := c.HeadObject(ctx, sc.head(&s3.HeadObjectInput{Bucket: aws.String(bucket), Key: key}))
		if err != nil {
			t.Fatal(err)
		}
		out, err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = head.ETag })
		if err != nil {
			t.Fatalf("%s: completing with If-Match of the current ETag: %v", sc.name, err)
		}
		// Retried with the same condition after it succeeded, it answers as the first did.
		again, err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = head.ETag })
		if err != nil || aws.ToString(again.ETag) != aws.ToString(out.ETag) || aws.ToString(again.ChecksumCRC32) != aws.ToString(out.ChecksumCRC32) {
			t.Fatalf("%s: retried completion = %+v, %v; first %+v", sc.name, again, err, out)
		}
		if got := read(); got != string(parts[0])+string(parts[1]) {
			t.Fatalf("%s: the completed object reads %d bytes", sc.name, len(got))
		}
	}
}

// TestTaggingConditionalWritesSDK writes tagged objects conditionally: a refused write leaves
// the old version's tags, an allowed one brings its own, whole or multipart.
func TestTaggingConditionalWritesSDK(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "tag-cond"
	mustCreate(t, c, bucket, "")
	put := func(body, tagging string, mutate func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader([]byte(body)), Tagging: aws.String(tagging)}
		mutate(in)
		return c.PutObject(ctx, in)
	}
	first, err := put("one", "gen=1", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	if err != nil {
		t.Fatalf("a tagged PutObject with If-None-Match *: %v", err)
	}
	wantTags(t, c, bucket, "k", "", "gen=1")
	if _, err := put("two", "gen=2", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); apiCode(err) != CodePreconditionFailed {
		t.Fatalf("a tagged PutObject with If-None-Match * over an object = %v, want PreconditionFailed", err)
	}
	if _, err := put("two", "gen=2", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(md5Hex([]byte("zzz"))) }); apiCode(err) != CodePreconditionFailed {
		t.Fatalf("a tagged PutObject with If-Match of another ETag = %v, want PreconditionFailed", err)
	}
	wantTags(t, c, bucket, "k", "", "gen=1")
	// Tags changed after the write do not change the ETag a condition names.
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("k"), Tagging: sdkTags("gen", "1b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := put("two", "gen=2&x=y", func(in *s3.PutObjectInput) {
		in.IfMatch = first.ETag
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	}); err != nil {
		t.Fatalf("a tagged, encrypted PutObject with If-Match of the current ETag: %v", err)
	}
	wantTags(t, c, bucket, "k", "", "gen=2", "x=y")
	wantTagCount(t, c, bucket, "k", 2)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}

	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("k"), Tagging: aws.String("gen=3")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("k"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader([]byte("multipart"))})
	if err != nil {
		t.Fatal(err)
	}
	complete := func(mutate func(*s3.CompleteMultipartUploadInput)) error {
		in := &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("k"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p.ETag}}}}
		mutate(in)
		_, err := c.CompleteMultipartUpload(ctx, in)
		return err
	}
	if err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = first.ETag }); apiCode(err) != CodePreconditionFailed {
		t.Fatalf("completing a tagged upload with If-Match of an old ETag = %v, want PreconditionFailed", err)
	}
	wantTags(t, c, bucket, "k", "", "gen=2", "x=y")
	if err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = head.ETag }); err != nil {
		t.Fatalf("completing a tagged upload with If-Match of the current ETag: %v", err)
	}
	wantTags(t, c, bucket, "k", "", "gen=3")
	// A retried completion answers again and leaves the tags.
	if err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = head.ETag }); err != nil {
		t.Fatalf("a retried completion: %v", err)
	}
	wantTags(t, c, bucket, "k", "", "gen=3")
}

const sseMeetingPython = `
import base64, hashlib, json, sys
import boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
s3.create_bucket(Bucket="py-meet")
data = bytes((i * 7 + i // 65536) % 251 for i in range(200000))
put = s3.put_object(Bucket="py-meet", Key="k", Body=data, ServerSideEncryption="AES256", ChecksumAlgorithm="SHA256", Tagging="a=b")
get = s3.get_object(Bucket="py-meet", Key="k", ChecksumMode="ENABLED")
body = get["Body"].read()
attrs = s3.get_object_attributes(Bucket="py-meet", Key="k", ObjectAttributes=["ObjectSize", "Checksum"])
part = s3.get_object(Bucket="py-meet", Key="k", PartNumber=1)
out = {
    "etag": put["ETag"].strip('"') == hashlib.md5(data).hexdigest(),
    "body": body == data and part["Body"].read() == data,
    "sum": get.get("ChecksumSHA256") == base64.b64encode(hashlib.sha256(data).digest()).decode(),
    "size": attrs["ObjectSize"] == len(data) and attrs["Checksum"]["ChecksumSHA256"] == get.get("ChecksumSHA256"),
    "tags": get.get("TagCount"),
}
try:
    s3.put_object(Bucket="py-meet", Key="k", Body=b"x", ServerSideEncryption="AES256", Tagging="c=d", IfNoneMatch="*")
except ClientError as e:
    out["cond"] = e.response["Error"]["Code"]
s3.put_object(Bucket="py-meet", Key="k", Body=b"x", ServerSideEncryption="AES256", Tagging="c=d", IfMatch=put["ETag"])
out["after"] = s3.get_object_tagging(Bucket="py-meet", Key="k")["TagSet"]
print(json.dumps(out))
`

// TestSSEMeetingBoto3 checks the same meeting points through boto3, which validates the
// checksum of what it reads: an SSE-S3 object's plaintext ETag and checksum, its attributes,
// a partNumber read, and a tagged conditional write.
func TestSSEMeetingBoto3(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	e := newSSEEnv(t)
	cmd := exec.Command("python3", "-c", sseMeetingPython, e.url)
	cmd.Env = clientEnv(t, alice)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, raw)
	}
	var out struct {
		ETag, Body, Sum, Size bool
		Tags                  int
		Cond                  string
		After                 []struct{ Key, Value string }
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 printed %s: %v", raw, err)
	}
	if !out.ETag || !out.Body || !out.Sum || !out.Size || out.Tags != 1 || out.Cond != CodePreconditionFailed ||
		len(out.After) != 1 || out.After[0].Key != "c" || out.After[0].Value != "d" {
		t.Fatalf("boto3 saw %s", raw)
	}
}
