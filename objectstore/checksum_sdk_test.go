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
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/crc64nvme"

	"pinet.io/pinet/internal/awsauth"
)

// referenceHash is a checksum algorithm as the test computes it, independently of the store.
func referenceHash(alg types.ChecksumAlgorithm) hash.Hash {
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		return crc32.NewIEEE()
	case types.ChecksumAlgorithmCrc32c:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case types.ChecksumAlgorithmCrc64nvme:
		return crc64nvme.New()
	case types.ChecksumAlgorithmSha1:
		return sha1.New()
	}
	return sha256.New()
}

func referenceSum(alg types.ChecksumAlgorithm, data []byte) string {
	h := referenceHash(alg)
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// composite is the COMPOSITE checksum of parts: the checksum of their checksums, "-N".
func composite(alg types.ChecksumAlgorithm, parts ...[]byte) string {
	h := referenceHash(alg)
	for _, p := range parts {
		raw, _ := base64.StdEncoding.DecodeString(referenceSum(alg, p))
		h.Write(raw)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts))
}

// checksumOf picks the checksum of alg out of an SDK answer's fields.
func checksumOf(alg types.ChecksumAlgorithm, crc32, crc32c, crc64, sha1, sha256 *string) string {
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		return aws.ToString(crc32)
	case types.ChecksumAlgorithmCrc32c:
		return aws.ToString(crc32c)
	case types.ChecksumAlgorithmCrc64nvme:
		return aws.ToString(crc64)
	case types.ChecksumAlgorithmSha1:
		return aws.ToString(sha1)
	}
	return aws.ToString(sha256)
}

var allChecksums = []types.ChecksumAlgorithm{
	types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme,
	types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256,
}

// tlsSDKClient serves e's store over TLS as well and returns an SDK client of it: over TLS the
// SDK sends its checksums as trailers of an unsigned aws-chunked body.
func tlsSDKClient(t *testing.T, e *testEnv, u testUser) *s3.Client {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			select {
			case e.hashes <- r.Header.Get("X-Amz-Content-Sha256"):
			default:
			}
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return s3.New(s3.Options{
		Region: testRegion, BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: sdkClient(e, u).Options().Credentials, HTTPClient: ts.Client(),
	})
}

// TestChecksumsSDK puts an object with each checksum algorithm through aws-sdk-go-v2, over
// plain HTTP (checksum headers) and over TLS (checksum trailers of aws-chunked bodies), and
// reads the checksum back from PutObject, HeadObject, GetObject (which the SDK validates
// against the body) and GetObjectAttributes.
func TestChecksumsSDK(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	plain := sdkClient(e, alice)
	if _, err := plain.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sums")}); err != nil {
		t.Fatal(err)
	}
	clients := map[string]*s3.Client{"http": plain, "tls": tlsSDKClient(t, e, alice)}
	for name, c := range clients {
		for i, alg := range allChecksums {
			key := name + "/" + string(alg)
			data := bytes.Repeat([]byte{byte(i), 'x', byte(len(name))}, 70000+i)
			want := referenceSum(alg, data)
			e.sawPayloadHash("") // drain
			put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String(key),
				Body: bytes.NewReader(data), ChecksumAlgorithm: alg})
			if err != nil {
				t.Fatalf("%s PutObject with %s: %v", name, alg, err)
			}
			if got := checksumOf(alg, put.ChecksumCRC32, put.ChecksumCRC32C, put.ChecksumCRC64NVME, put.ChecksumSHA1, put.ChecksumSHA256); got != want || put.ChecksumType != types.ChecksumTypeFullObject {
				t.Fatalf("%s PutObject %s checksum = %q (%s), want %q", name, alg, got, put.ChecksumType, want)
			}
			if name == "tls" && !e.sawPayloadHash(awsauth.StreamingUnsignedPayloadTrailer) {
				t.Fatalf("the SDK did not send its %s checksum as a trailer over TLS", alg)
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil || checksumOf(alg, head.ChecksumCRC32, head.ChecksumCRC32C, head.ChecksumCRC64NVME, head.ChecksumSHA1, head.ChecksumSHA256) != want {
				t.Fatalf("%s HeadObject %s = %+v, %v", name, alg, head, err)
			}
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(get.Body) // the SDK fails the read if the body does not match
			get.Body.Close()
			if err != nil || !bytes.Equal(body, data) || checksumOf(alg, get.ChecksumCRC32, get.ChecksumCRC32C, get.ChecksumCRC64NVME, get.ChecksumSHA1, get.ChecksumSHA256) != want {
				t.Fatalf("%s GetObject %s: %d bytes, %v", name, alg, len(body), err)
			}
			attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("sums"), Key: aws.String(key),
				ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectSize, types.ObjectAttributesEtag, types.ObjectAttributesStorageClass}})
			if err != nil {
				t.Fatalf("GetObjectAttributes: %v", err)
			}
			cs := attrs.Checksum
			if cs == nil || checksumOf(alg, cs.ChecksumCRC32, cs.ChecksumCRC32C, cs.ChecksumCRC64NVME, cs.ChecksumSHA1, cs.ChecksumSHA256) != want ||
				aws.ToInt64(attrs.ObjectSize) != int64(len(data)) || aws.ToString(attrs.ETag) != strings.Trim(aws.ToString(put.ETag), `"`) ||
				attrs.StorageClass != types.StorageClassStandard || attrs.ObjectParts != nil {
				t.Fatalf("GetObjectAttributes of %s = %+v", key, attrs)
			}
		}
	}
	// Listings name each object's checksum algorithm and type.
	list, err := plain.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sums"), Prefix: aws.String("http/")})
	if err != nil || len(list.Contents) != len(allChecksums) {
		t.Fatalf("ListObjectsV2 = %+v, %v", list, err)
	}
	for _, o := range list.Contents {
		if len(o.ChecksumAlgorithm) != 1 || "http/"+string(o.ChecksumAlgorithm[0]) != aws.ToString(o.Key) || o.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("listing entry %s names checksum %v %s", aws.ToString(o.Key), o.ChecksumAlgorithm, o.ChecksumType)
		}
	}
	// Without a checksum from the client the object still gets one: CRC64NVME, as in S3.
	bare := s3.New(plain.Options(), func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired })
	data := []byte("no checksum sent")
	if _, err := bare.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("bare"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	head, err := plain.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String("bare"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.ChecksumCRC64NVME) != referenceSum(types.ChecksumAlgorithmCrc64nvme, data) {
		t.Fatalf("HeadObject of an object put without a checksum = %+v, %v", head, err)
	}
	// Without x-amz-checksum-mode, and for a range, no checksum is told.
	head, err = plain.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String("bare")})
	if err != nil || head.ChecksumCRC64NVME != nil {
		t.Fatalf("HeadObject without checksum mode = %+v, %v", head, err)
	}
	res := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/sums/bare", header: hdr("Range", "bytes=0-1", "x-amz-checksum-mode", "ENABLED")})
	if res.header.Get("x-amz-checksum-crc64nvme") != "" || string(res.body) != "no" {
		t.Fatalf("ranged GET with checksum mode = %q, %v", res.body, res.header)
	}
}

// TestChecksumRefusals checks that a payload that does not match its declared checksum
// (as a header or as a trailer) is refused with BadDigest, a malformed or contradictory
// declaration with InvalidRequest, and that none of them stores anything.
func TestChecksumRefusals(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("refuse")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("refuse"), Key: aws.String("bad-header"),
		Body: strings.NewReader("payload"), ChecksumSHA256: aws.String(referenceSum(types.ChecksumAlgorithmSha256, []byte("other")))})
	if apiCode(err) != CodeBadDigest {
		t.Fatalf("PutObject with a wrong SHA256 = %v, want BadDigest", err)
	}
	wrongTrailer := aws.String(referenceSum(types.ChecksumAlgorithmCrc32c, []byte("other")))
	tc := tlsSDKClient(t, e, alice)
	_, err = tc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("refuse"), Key: aws.String("bad-trailer"),
		Body: strings.NewReader("payload"), ChecksumCRC32C: wrongTrailer})
	if err == nil {
		t.Fatal("PutObject with a wrong CRC32C trailer succeeded")
	}
	// A raw unsigned aws-chunked body whose trailer does not match.
	body := "7\r\npayload\r\n0\r\nx-amz-checksum-crc32:" + referenceSum(types.ChecksumAlgorithmCrc32, []byte("other")) + "\r\n\r\n"
	raw := e.do(t, alice, rawRequest{method: http.MethodPut, path: "/refuse/raw-trailer", body: []byte(body), payloadHash: awsauth.StreamingUnsignedPayloadTrailer,
		header: hdr("Content-Encoding", "aws-chunked", "x-amz-decoded-content-length", "7", "x-amz-trailer", "x-amz-checksum-crc32")})
	if raw.status != http.StatusBadRequest {
		t.Fatalf("raw PUT with a wrong trailer = %d %s", raw.status, raw.body)
	}
	good := "7\r\npayload\r\n0\r\nx-amz-checksum-crc32:" + referenceSum(types.ChecksumAlgorithmCrc32, []byte("payload")) + "\r\n\r\n"
	ok := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/refuse/raw-good", body: []byte(good), payloadHash: awsauth.StreamingUnsignedPayloadTrailer,
		header: hdr("Content-Encoding", "aws-chunked", "x-amz-decoded-content-length", "7", "x-amz-trailer", "x-amz-checksum-crc32")})
	if ok.header.Get("x-amz-checksum-crc32") != referenceSum(types.ChecksumAlgorithmCrc32, []byte("payload")) {
		t.Fatalf("raw PUT with a good trailer answered %v", ok.header)
	}
	for _, c := range []struct {
		name   string
		header http.Header
	}{
		{"two checksums", hdr("x-amz-checksum-crc32", referenceSum(types.ChecksumAlgorithmCrc32, []byte("x")), "x-amz-checksum-sha1", referenceSum(types.ChecksumAlgorithmSha1, []byte("x")))},
		{"unknown sdk algorithm", hdr("x-amz-sdk-checksum-algorithm", "MD4")},
		{"trailer and header disagree", hdr("x-amz-checksum-crc32", referenceSum(types.ChecksumAlgorithmCrc32, []byte("x")), "x-amz-trailer", "x-amz-checksum-sha256")},
	} {
		res := e.do(t, alice, rawRequest{method: http.MethodPut, path: "/refuse/" + strings.ReplaceAll(c.name, " ", "-"), body: []byte("x"), header: c.header})
		expectError(t, res, http.MethodPut, http.StatusBadRequest, CodeInvalidRequest)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("refuse")})
	if err != nil || len(list.Contents) != 1 || *list.Contents[0].Key != "raw-good" {
		t.Fatalf("after the refusals the bucket holds %+v, %v", list, err)
	}
	assertNoTemporaryFiles(t, e)
}

// TestGetObjectAttributesRefusals checks GetObjectAttributes' refusals: a missing or unknown
// attribute, a key that is a delete marker, a version, and callers without read access.
func TestGetObjectAttributesRefusals(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	bucket := aws.String("attrs")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("k"), Body: strings.NewReader("first")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	size := []types.ObjectAttributes{types.ObjectAttributesObjectSize}
	_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: bucket, Key: aws.String("k"), ObjectAttributes: size})
	if apiCode(err) != CodeNoSuchKey {
		t.Fatalf("GetObjectAttributes of a deleted key = %v, want NoSuchKey", err)
	}
	old, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: bucket, Key: aws.String("k"), VersionId: v1.VersionId, ObjectAttributes: size})
	if err != nil || aws.ToInt64(old.ObjectSize) != 5 || aws.ToString(old.VersionId) != aws.ToString(v1.VersionId) {
		t.Fatalf("GetObjectAttributes of an older version = %+v, %v", old, err)
	}
	q := map[string][]string{"attributes": {""}, "versionId": {aws.ToString(v1.VersionId)}}
	for _, h := range []http.Header{nil, hdr("x-amz-object-attributes", "ObjectSize,Colour")} {
		res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/attrs/k", query: q, header: h})
		expectError(t, res, http.MethodGet, http.StatusBadRequest, CodeInvalidArgument)
	}
	_, err = sdkClient(e, bob).GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: bucket, Key: aws.String("k"), VersionId: v1.VersionId, ObjectAttributes: size})
	if apiCode(err) != CodeAccessDenied {
		t.Fatalf("another project's GetObjectAttributes = %v, want AccessDenied", err)
	}
	res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/attrs/k", query: q, unsigned: true, header: hdr("x-amz-object-attributes", "ObjectSize")})
	expectError(t, res, http.MethodGet, http.StatusForbidden, CodeAccessDenied)
}
