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
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"pinet.io/pinet/internal/awsauth"
)

// TestConditionalWritesSDK checks If-None-Match: * and If-Match on PutObject and
// CompleteMultipartUpload through aws-sdk-go-v2, in an unversioned and a versioned bucket:
// a failed condition is 412 (NoSuchKey for If-Match on a missing key) and writes nothing.
func TestConditionalWritesSDK(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	for _, versioned := range []bool{false, true} {
		bucket := aws.String(fmt.Sprintf("cond-%t", versioned))
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
			t.Fatal(err)
		}
		if versioned {
			if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
				t.Fatal(err)
			}
		}
		put := func(body string, mutate func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
			in := &s3.PutObjectInput{Bucket: bucket, Key: aws.String("k"), Body: strings.NewReader(body)}
			mutate(in)
			return c.PutObject(ctx, in)
		}
		first, err := put("one", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
		if err != nil {
			t.Fatalf("If-None-Match * on a new key: %v", err)
		}
		if _, err := put("two", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); apiCode(err) != CodePreconditionFailed {
			t.Fatalf("If-None-Match * on an existing key = %v, want PreconditionFailed", err)
		}
		if _, err := put("two", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(`"0123456789abcdef0123456789abcdef"`) }); apiCode(err) != CodePreconditionFailed {
			t.Fatalf("If-Match of another ETag = %v, want PreconditionFailed", err)
		}
		if _, err := put("two", func(in *s3.PutObjectInput) { in.Key, in.IfMatch = aws.String("missing"), first.ETag }); apiCode(err) != CodeNoSuchKey {
			t.Fatalf("If-Match on a missing key = %v, want NoSuchKey", err)
		}
		second, err := put("two", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
		if err != nil {
			t.Fatalf("If-Match of the current ETag: %v", err)
		}
		// CompleteMultipartUpload: refused over an existing key, then allowed by If-Match.
		parts := mpuParts(3)
		id, done := uploadParts(t, c, *bucket, "k", types.ChecksumAlgorithmCrc32, types.ChecksumTypeComposite, parts)
		complete := func(mutate func(*s3.CompleteMultipartUploadInput)) (*s3.CompleteMultipartUploadOutput, error) {
			in := &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("k"), UploadId: aws.String(id),
				MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
			mutate(in)
			return c.CompleteMultipartUpload(ctx, in)
		}
		if _, err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }); apiCode(err) != CodePreconditionFailed {
			t.Fatalf("completing with If-None-Match * over an existing key = %v, want PreconditionFailed", err)
		}
		if _, err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = first.ETag }); apiCode(err) != CodePreconditionFailed {
			t.Fatalf("completing with If-Match of an old ETag = %v, want PreconditionFailed", err)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if string(b) != "two" {
			t.Fatalf("after the refused writes the object reads %q, want %q", b, "two")
		}
		if versioned {
			vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bucket, Prefix: aws.String("k")})
			if err != nil || len(vs.Versions) != 2 {
				t.Fatalf("after the refused writes there are %d versions, want 2: %v", len(vs.Versions), err)
			}
		}
		if _, err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = second.ETag }); err != nil {
			t.Fatalf("completing with If-Match of the current ETag: %v", err)
		}
	}
	res := e.do(t, alice, rawRequest{method: http.MethodPut, path: "/cond-false/k", body: []byte("x"), header: hdr("If-None-Match", `"abc"`)})
	expectError(t, res, http.MethodPut, http.StatusNotImplemented, CodeNotImplemented)
	assertNoTemporaryFiles(t, e)
}

// slowPut starts a PUT of key whose body arrives in two halves; it returns once the store has
// begun writing the first half to disk (so the request passed its precondition check), with
// a function that sends the rest and the channel of the answer.
func slowPut(t *testing.T, e *testEnv, path string, header http.Header) (finish func(), answer <-chan *http.Response) {
	t.Helper()
	pr, pw := io.Pipe()
	body := bytes.Repeat([]byte("s"), 2<<20)
	req, err := http.NewRequest(http.MethodPut, e.url+path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", awsauth.UnsignedPayload)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: alice.ak, SecretAccessKey: alice.sk}, req, awsauth.UnsignedPayload, "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- nil
			return
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- resp
	}()
	if _, err := pw.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	// The store writes the data to a temporary file only once it is past its precheck.
	waitForTempFiles(t, e.dir, 1, 1)
	return func() {
		_, _ = pw.Write(body[len(body)/2:])
		pw.Close()
	}, ch
}

// TestConditionalWriteRaces checks conditions decided as the write commits: of two
// If-None-Match: * writes the one that finishes first wins and the other gets 412; an If-Match
// write whose object is deleted while it uploads gets 409 ConditionalRequestConflict. Neither
// loser leaves anything behind.
func TestConditionalWriteRaces(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/race"})
	finish, answer := slowPut(t, e, "/race/new", hdr("If-None-Match", "*"))
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/race/new", body: []byte("winner"), header: hdr("If-None-Match", "*")})
	finish()
	if resp := <-answer; resp == nil || resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("the If-None-Match write that finished second = %v, want 412", resp)
	}
	if got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/race/new"}); string(got.body) != "winner" {
		t.Fatalf("the key holds %d bytes, want the winner's", len(got.body))
	}
	put := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/race/old", body: []byte("old")})
	finish, answer = slowPut(t, e, "/race/old", hdr("If-Match", put.header.Get("ETag")))
	e.mustOK(t, alice, rawRequest{method: http.MethodDelete, path: "/race/old"})
	finish()
	if resp := <-answer; resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("the If-Match write whose object was deleted meanwhile = %v, want 409", resp)
	}
	res := e.do(t, alice, rawRequest{method: http.MethodHead, path: "/race/old"})
	expectError(t, res, http.MethodHead, http.StatusNotFound, CodeNoSuchKey)
	assertNoTemporaryFiles(t, e)
}

// TestCompleteRetryAndPartReupload checks that a CompleteMultipartUpload retried after it
// succeeded answers as the first (same ETag, version and checksum) and makes nothing new, and
// that a part uploaded again replaces the earlier upload of its number.
func TestCompleteRetryAndPartReupload(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	bucket := aws.String("retry")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	parts := mpuParts(5)
	id, done := uploadParts(t, c, *bucket, "k", types.ChecksumAlgorithmSha256, types.ChecksumTypeComposite, parts)
	// Part 2 again, with other data: the later upload is the part.
	again := []byte("the second upload of part two")
	re, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String("k"), UploadId: aws.String(id), PartNumber: aws.Int32(2),
		Body: bytes.NewReader(again), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	in := &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("k"), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
	if _, err := c.CompleteMultipartUpload(ctx, in); apiCode(err) != CodeInvalidPart {
		t.Fatalf("completing with the replaced part's ETag = %v, want InvalidPart", err)
	}
	done[1] = types.CompletedPart{PartNumber: aws.Int32(2), ETag: re.ETag, ChecksumSHA256: re.ChecksumSHA256}
	first, err := c.CompleteMultipartUpload(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := c.CompleteMultipartUpload(ctx, in)
	if err != nil {
		t.Fatalf("retrying a completed upload: %v", err)
	}
	if aws.ToString(retry.ETag) != aws.ToString(first.ETag) || aws.ToString(retry.VersionId) != aws.ToString(first.VersionId) ||
		aws.ToString(retry.ChecksumSHA256) != composite(types.ChecksumAlgorithmSha256, parts[0], again) || aws.ToString(retry.ChecksumSHA256) != aws.ToString(first.ChecksumSHA256) {
		t.Fatalf("retried completion = %+v, first %+v", retry, first)
	}
	vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bucket})
	if err != nil || len(vs.Versions) != 1 {
		t.Fatalf("after a retried completion there are %d versions, want 1: %v", len(vs.Versions), err)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(b, append(append([]byte{}, parts[0]...), again...)) {
		t.Fatalf("the object is not part 1 followed by the second upload of part 2")
	}
	// The retry of another key's upload id is still NoSuchUpload, as is an abort.
	other := &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("other"), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
	if _, err := c.CompleteMultipartUpload(ctx, other); apiCode(err) != CodeNoSuchUpload {
		t.Fatalf("completing the upload id under another key = %v, want NoSuchUpload", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: aws.String("k"), UploadId: aws.String(id)}); apiCode(err) != CodeNoSuchUpload {
		t.Fatalf("aborting a completed upload = %v, want NoSuchUpload", err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("uploads after completion = %+v, %v", ups.Uploads, err)
	}
}
