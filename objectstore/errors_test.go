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
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/objectstore/fsstore"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func b64md5(s string) string {
	sum := md5.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// startUpload begins a multipart upload of key and returns its id.
func startUpload(t *testing.T, e *testEnv, u testUser, bucket, key string) string {
	t.Helper()
	res := e.mustOK(t, u, rawRequest{method: http.MethodPost, path: "/" + bucket + "/" + key, query: url.Values{"uploads": {""}}})
	var out initiateUploadResult
	if err := xml.Unmarshal(res.body, &out); err != nil || out.UploadID == "" {
		t.Fatalf("CreateMultipartUpload answer %s: %v", res.body, err)
	}
	return out.UploadID
}

// uploadPart uploads a part and returns its quoted ETag.
func uploadPart(t *testing.T, e *testEnv, bucket, key, id string, n int, data []byte) string {
	t.Helper()
	res := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/" + bucket + "/" + key,
		query: url.Values{"uploadId": {id}, "partNumber": {strconv.Itoa(n)}}, body: data})
	return res.header.Get("ETag")
}

func completeBody(parts ...any) []byte {
	var b strings.Builder
	b.WriteString("<CompleteMultipartUpload>")
	for i := 0; i < len(parts); i += 2 {
		b.WriteString("<Part><PartNumber>" + strconv.Itoa(parts[i].(int)) + "</PartNumber><ETag>" + parts[i+1].(string) + "</ETag></Part>")
	}
	b.WriteString("</CompleteMultipartUpload>")
	return []byte(b.String())
}

// TestErrorCodes checks every error code the store answers with, its status and its body.
func TestErrorCodes(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.MaxObjectSize = 64 << 20 })
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/errs"})
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/errs/obj", body: []byte("hello")})
	big := make([]byte, 5<<20)
	upload := startUpload(t, e, alice, "errs", "mp")
	etag1 := uploadPart(t, e, "errs", "mp", upload, 1, []byte("small first part"))
	etag2 := uploadPart(t, e, "errs", "mp", upload, 2, []byte("second"))
	upload2 := startUpload(t, e, alice, "errs", "mp2")
	etagBig := uploadPart(t, e, "errs", "mp2", upload2, 1, big)
	wrongSecret := alice
	wrongSecret.sk = "not-alice-secret"
	unknown := testUser{ak: "AKIAUNKNOWN000000001", sk: "whatever"}
	mp := url.Values{"uploadId": {upload}}

	cases := []struct {
		name   string
		user   testUser
		req    rawRequest
		status int
		code   string
	}{
		{"anonymous", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", unsigned: true}, 403, CodeAccessDenied},
		{"other project", bob, rawRequest{method: http.MethodGet, path: "/errs/obj"}, 403, CodeAccessDenied},
		{"other project HEAD", bob, rawRequest{method: http.MethodHead, path: "/errs/obj"}, 403, CodeAccessDenied},
		{"expired presigned URL", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", presign: time.Minute, at: time.Now().Add(-time.Hour)}, 403, CodeAccessDenied},
		{"no such bucket", alice, rawRequest{method: http.MethodGet, path: "/nothere/obj"}, 404, CodeNoSuchBucket},
		{"no such bucket HEAD", alice, rawRequest{method: http.MethodHead, path: "/nothere"}, 404, CodeNoSuchBucket},
		{"no such key", alice, rawRequest{method: http.MethodGet, path: "/errs/missing"}, 404, CodeNoSuchKey},
		{"no such key HEAD", alice, rawRequest{method: http.MethodHead, path: "/errs/missing"}, 404, CodeNoSuchKey},
		{"key under an object", alice, rawRequest{method: http.MethodGet, path: "/errs/obj/below"}, 404, CodeNoSuchKey},
		{"no such upload", alice, rawRequest{method: http.MethodGet, path: "/errs/mp", query: url.Values{"uploadId": {"0123456789abcdef0123456789abcdef"}}}, 404, CodeNoSuchUpload},
		{"upload of another key", alice, rawRequest{method: http.MethodGet, path: "/errs/other", query: mp}, 404, CodeNoSuchUpload},
		{"malformed upload id", alice, rawRequest{method: http.MethodDelete, path: "/errs/mp", query: url.Values{"uploadId": {"../../obj"}}}, 404, CodeNoSuchUpload},
		{"bucket taken", bob, rawRequest{method: http.MethodPut, path: "/errs"}, 409, CodeBucketAlreadyExists},
		{"bucket not empty", alice, rawRequest{method: http.MethodDelete, path: "/errs"}, 409, CodeBucketNotEmpty},
		{"invalid bucket name", alice, rawRequest{method: http.MethodPut, path: "/Bad_Bucket"}, 400, CodeInvalidBucketName},
		{"ip bucket name", alice, rawRequest{method: http.MethodGet, path: "/10.0.0.1/k"}, 400, CodeInvalidBucketName},
		{"bad signature", wrongSecret, rawRequest{method: http.MethodGet, path: "/errs/obj"}, 403, CodeSignatureDoesNotMatch},
		{"unknown key", unknown, rawRequest{method: http.MethodGet, path: "/errs/obj"}, 403, CodeInvalidAccessKeyID},
		{"retired key", retired, rawRequest{method: http.MethodGet, path: "/"}, 403, CodeInvalidAccessKeyID},
		{"clock skew", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", at: time.Now().Add(-time.Hour)}, 403, CodeRequestTimeTooSkewed},
		{"malformed authorization", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", unsigned: true, header: hdr("Authorization", "AWS4-HMAC-SHA256 nonsense")}, 400, CodeInvalidArgument},
		{"content-md5 mismatch", alice, rawRequest{method: http.MethodPut, path: "/errs/md5", body: []byte("abc"), header: hdr("Content-MD5", b64md5("abd"))}, 400, CodeBadDigest},
		{"crc32 mismatch", alice, rawRequest{method: http.MethodPut, path: "/errs/crc", body: []byte("abc"), header: hdr("x-amz-checksum-crc32", "AAAAAA==")}, 400, CodeBadDigest},
		{"sha256 checksum mismatch", alice, rawRequest{method: http.MethodPut, path: "/errs/sha", body: []byte("abc"), header: hdr("x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(make([]byte, 32)))}, 400, CodeBadDigest},
		{"content-md5 malformed", alice, rawRequest{method: http.MethodPut, path: "/errs/md5", body: []byte("abc"), header: hdr("Content-MD5", "not-an-md5")}, 400, CodeInvalidDigest},
		{"checksum malformed", alice, rawRequest{method: http.MethodPut, path: "/errs/crc", body: []byte("abc"), header: hdr("x-amz-checksum-crc32", "??")}, 400, CodeInvalidRequest},
		{"payload hash mismatch", alice, rawRequest{method: http.MethodPut, path: "/errs/sha", body: []byte("abc"), payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, 400, CodeXAmzContentSHA256Mismatch},
		{"object too large", alice, rawRequest{method: http.MethodPut, path: "/errs/big", body: make([]byte, 1), header: hdr("x-amz-decoded-content-length", "67108865")}, 400, CodeEntityTooLarge},
		{"short body", alice, rawRequest{method: http.MethodPut, path: "/errs/short", body: []byte("abc"), header: hdr("x-amz-decoded-content-length", "10")}, 400, CodeIncompleteBody},
		{"part too small", alice, rawRequest{method: http.MethodPost, path: "/errs/mp", query: mp, body: completeBody(1, etag1, 2, etag2)}, 400, CodeEntityTooSmall},
		{"method on service", alice, rawRequest{method: http.MethodDelete, path: "/"}, 405, CodeMethodNotAllowed},
		{"method on object", alice, rawRequest{method: http.MethodPatch, path: "/errs/obj"}, 405, CodeMethodNotAllowed},
		{"post on object", alice, rawRequest{method: http.MethodPost, path: "/errs/obj"}, 405, CodeMethodNotAllowed},
		{"bucket logging", alice, rawRequest{method: http.MethodGet, path: "/errs", query: url.Values{"logging": {""}}}, 501, CodeNotImplemented},
		{"object retention", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", query: url.Values{"retention": {""}}}, 501, CodeNotImplemented},
		{"unknown canned acl", alice, rawRequest{method: http.MethodPut, path: "/errs/pub", body: []byte("x"), header: hdr("x-amz-acl", "public-read-only")}, 400, CodeInvalidArgument},
		{"encryption", alice, rawRequest{method: http.MethodPut, path: "/errs/enc", body: []byte("x"), header: hdr("x-amz-server-side-encryption", "AES256")}, 501, CodeNotImplemented},
		{"form upload", alice, rawRequest{method: http.MethodPost, path: "/errs"}, 501, CodeNotImplemented},
		{"part past the end", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", query: url.Values{"partNumber": {"2"}}}, 416, CodeInvalidPartNumber},
		{"part number and range", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", query: url.Values{"partNumber": {"1"}}, header: hdr("Range", "bytes=0-1")}, 400, CodeInvalidRequest},
		{"part number zero", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", query: url.Values{"partNumber": {"0"}}}, 400, CodeInvalidArgument},
		{"delete objects garbage", alice, rawRequest{method: http.MethodPost, path: "/errs", query: url.Values{"delete": {""}}, body: []byte("<Delete><Object>")}, 400, CodeMalformedXML},
		{"delete objects empty", alice, rawRequest{method: http.MethodPost, path: "/errs", query: url.Values{"delete": {""}}, body: []byte("<Delete></Delete>")}, 400, CodeMalformedXML},
		{"complete garbage", alice, rawRequest{method: http.MethodPost, path: "/errs/mp", query: mp, body: []byte("<CompleteMultipartUpload><Part>")}, 400, CodeMalformedXML},
		{"complete wrong root", alice, rawRequest{method: http.MethodPost, path: "/errs/mp", query: mp, body: []byte("<Delete/>")}, 400, CodeMalformedXML},
		{"bucket config garbage", alice, rawRequest{method: http.MethodPut, path: "/new-bucket", body: []byte("<CreateBucketConfiguration>")}, 400, CodeMalformedXML},
		{"bad location", alice, rawRequest{method: http.MethodPut, path: "/new-bucket", body: []byte("<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>")}, 400, CodeInvalidLocationConstraint},
		{"negative max-keys", alice, rawRequest{method: http.MethodGet, path: "/errs", query: url.Values{"max-keys": {"-1"}}}, 400, CodeInvalidArgument},
		{"list-type 1", alice, rawRequest{method: http.MethodGet, path: "/errs", query: url.Values{"list-type": {"1"}}}, 400, CodeInvalidArgument},
		{"bad continuation token", alice, rawRequest{method: http.MethodGet, path: "/errs", query: url.Values{"list-type": {"2"}, "continuation-token": {"!!"}}}, 400, CodeInvalidArgument},
		{"bad encoding type", alice, rawRequest{method: http.MethodGet, path: "/errs", query: url.Values{"encoding-type": {"base64"}}}, 400, CodeInvalidArgument},
		{"part number zero", alice, rawRequest{method: http.MethodPut, path: "/errs/mp", query: url.Values{"uploadId": {upload}, "partNumber": {"0"}}, body: []byte("x")}, 400, CodeInvalidArgument},
		{"part number too big", alice, rawRequest{method: http.MethodPut, path: "/errs/mp", query: url.Values{"uploadId": {upload}, "partNumber": {"10001"}}, body: []byte("x")}, 400, CodeInvalidArgument},
		{"part without upload", alice, rawRequest{method: http.MethodPut, path: "/errs/mp", query: url.Values{"partNumber": {"1"}}, body: []byte("x")}, 400, CodeInvalidArgument},
		{"version id", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", query: url.Values{"versionId": {"v1"}}}, 400, CodeInvalidArgument},
		{"bad metadata directive", alice, rawRequest{method: http.MethodPut, path: "/errs/copy", header: hdr("x-amz-copy-source", "/errs/obj", "x-amz-metadata-directive", "MERGE")}, 400, CodeInvalidArgument},
		{"copy source without key", alice, rawRequest{method: http.MethodPut, path: "/errs/copy", header: hdr("x-amz-copy-source", "/errs")}, 400, CodeInvalidArgument},
		{"bad copy range", alice, rawRequest{method: http.MethodPut, path: "/errs/mp", query: url.Values{"uploadId": {upload}, "partNumber": {"3"}}, header: hdr("x-amz-copy-source", "errs/obj", "x-amz-copy-source-range", "bytes=2-99")}, 400, CodeInvalidArgument},
		{"range past end", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", header: hdr("Range", "bytes=5-")}, 416, CodeInvalidRange},
		{"empty suffix range", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", header: hdr("Range", "bytes=-0")}, 416, CodeInvalidRange},
		{"wrong part etag", alice, rawRequest{method: http.MethodPost, path: "/errs/mp2", query: url.Values{"uploadId": {upload2}}, body: completeBody(1, `"00000000000000000000000000000000"`)}, 400, CodeInvalidPart},
		{"missing part", alice, rawRequest{method: http.MethodPost, path: "/errs/mp2", query: url.Values{"uploadId": {upload2}}, body: completeBody(1, etagBig, 2, etagBig)}, 400, CodeInvalidPart},
		{"parts out of order", alice, rawRequest{method: http.MethodPost, path: "/errs/mp2", query: url.Values{"uploadId": {upload2}}, body: completeBody(2, etagBig, 1, etagBig)}, 400, CodeInvalidPartOrder},
		{"key too long", alice, rawRequest{method: http.MethodPut, path: "/errs/" + strings.Repeat("k", 1025), body: []byte("x")}, 400, CodeKeyTooLong},
		{"metadata too large", alice, rawRequest{method: http.MethodPut, path: "/errs/meta", body: []byte("x"), header: hdr("x-amz-meta-big", strings.Repeat("m", 2100))}, 400, CodeMetadataTooLarge},
		{"if-match fails", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", header: hdr("If-Match", `"nope"`)}, 412, CodePreconditionFailed},
		{"if-unmodified-since fails", alice, rawRequest{method: http.MethodGet, path: "/errs/obj", header: hdr("If-Unmodified-Since", "Mon, 02 Jan 2006 15:04:05 GMT")}, 412, CodePreconditionFailed},
		{"copy if-match fails", alice, rawRequest{method: http.MethodPut, path: "/errs/copy", header: hdr("x-amz-copy-source", "/errs/obj", "x-amz-copy-source-if-match", `"nope"`)}, 412, CodePreconditionFailed},
		{"conditional put on an etag", alice, rawRequest{method: http.MethodPut, path: "/errs/cond", body: []byte("x"), header: hdr("If-None-Match", `"abc"`)}, 501, CodeNotImplemented},
		{"conditional put over an object", alice, rawRequest{method: http.MethodPut, path: "/errs/obj", body: []byte("x"), header: hdr("If-None-Match", "*")}, 412, CodePreconditionFailed},
		{"conditional put of a missing key", alice, rawRequest{method: http.MethodPut, path: "/errs/cond", body: []byte("x"), header: hdr("If-Match", `"abc"`)}, 404, CodeNoSuchKey},
		{"copy onto itself", alice, rawRequest{method: http.MethodPut, path: "/errs/obj", header: hdr("x-amz-copy-source", "/errs/obj")}, 400, CodeInvalidRequest},
		{"copy of a missing key", alice, rawRequest{method: http.MethodPut, path: "/errs/copy", header: hdr("x-amz-copy-source", "/errs/none")}, 404, CodeNoSuchKey},
		{"copy from a missing bucket", alice, rawRequest{method: http.MethodPut, path: "/errs/copy", header: hdr("x-amz-copy-source", "/nothere/x")}, 404, CodeNoSuchBucket},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(t, tc.user, tc.req)
			expectError(t, res, tc.req.method, tc.status, tc.code)
		})
	}
	// Failed writes leave nothing behind.
	for _, k := range []string{"md5", "crc", "sha", "big", "short", "chunked", "meta", "copy", "pub", "enc"} {
		expectError(t, e.do(t, alice, rawRequest{method: http.MethodHead, path: "/errs/" + k}), http.MethodHead, 404, CodeNoSuchKey)
	}
}

// TestErrorCodeTable keeps the code table honest: every code has a status and a message.
func TestErrorCodeTable(t *testing.T) {
	for code, info := range codes {
		if info.status < 300 || info.message == "" {
			t.Errorf("code %s has status %d message %q", code, info.status, info.message)
		}
	}
	for _, a := range authErrors {
		if _, ok := codes[a.code]; !ok {
			t.Errorf("auth error %v maps to unknown code %s", a.kind, a.code)
		}
	}
}

// TestDeletionInProgressIsOperationAborted: creating a bucket another replica is deleting answers
// S3's retryable 409, with S3's message rather than the store's.
func TestDeletionInProgressIsOperationAborted(t *testing.T) {
	err := fmt.Errorf("creating bucket %q: %w", "reborn", fmt.Errorf("creating buckets/reborn: %w", fsstore.ErrDeletionInProgress))
	ae, internal := toAPIError(err)
	if internal || ae.code != CodeOperationAborted || ae.status() != http.StatusConflict || strings.Contains(ae.message, "buckets/") {
		t.Fatalf("toAPIError = %+v (internal %v), want a 409 OperationAborted", ae, internal)
	}
}
