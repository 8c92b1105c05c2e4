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
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7/pkg/signer"

	"pinet.io/pinet/internal/awsauth"
)

// oddKey needs every kind of escaping: a space, a plus, a non-ASCII letter, an ampersand.
const (
	oddKey        = "dir one/a b+c\u00fc&x"
	oddKeyEncoded = "dir%20one/a%20b%2Bc%C3%BC%26x"
)

// TestListEncodingURL checks that every listing URL-encodes keys and prefixes as S3 does when
// asked to (a space as %20, never "+"), and leaves them alone when not.
func TestListEncodingURL(t *testing.T) {
	e := newTestEnv(t)
	c := sdkClient(e, alice)
	ctx := context.Background()
	bucket := aws.String("enc-bucket")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(oddKey), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(oddKey)})
	if err != nil {
		t.Fatal(err)
	}
	url := types.EncodingTypeUrl
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: bucket, EncodingType: url, Prefix: aws.String("dir one/")})
	if err != nil || len(v1.Contents) != 1 || *v1.Contents[0].Key != oddKeyEncoded || *v1.Prefix != "dir%20one/" || v1.EncodingType != url {
		t.Fatalf("ListObjects = %+v, %v", v1, err)
	}
	v2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, EncodingType: url, Delimiter: aws.String(" ")})
	if err != nil || len(v2.CommonPrefixes) != 1 || *v2.CommonPrefixes[0].Prefix != "dir%20" || *v2.Delimiter != "%20" {
		t.Fatalf("ListObjectsV2 = %+v, %v", v2, err)
	}
	vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bucket, EncodingType: url})
	if err != nil || len(vs.Versions) != 1 || *vs.Versions[0].Key != oddKeyEncoded {
		t.Fatalf("ListObjectVersions = %+v, %v", vs, err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket, EncodingType: url})
	if err != nil || len(ups.Uploads) != 1 || *ups.Uploads[0].Key != oddKeyEncoded {
		t.Fatalf("ListMultipartUploads = %+v, %v", ups, err)
	}
	// ListParts takes encoding-type too; the SDK has no field for it, so it is sent raw.
	parts := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/enc-bucket/" + oddKey,
		query: map[string][]string{"uploadId": {*up.UploadId}, "encoding-type": {"url"}}})
	if !bytes.Contains(parts.body, []byte("<Key>"+oddKeyEncoded+"</Key>")) || !bytes.Contains(parts.body, []byte("<EncodingType>url</EncodingType>")) {
		t.Fatalf("ListParts with encoding-type=url = %s", parts.body)
	}
	// Without encoding-type the key comes back as it is.
	plain, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
	if err != nil || len(plain.Contents) != 1 || *plain.Contents[0].Key != oddKey {
		t.Fatalf("ListObjectsV2 without encoding = %+v, %v", plain, err)
	}
	res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/enc-bucket", query: map[string][]string{"encoding-type": {"base64"}}})
	expectError(t, res, http.MethodGet, http.StatusBadRequest, CodeInvalidArgument)
	for _, v := range []string{"a b", "a+b", "\u00fc", "~-_./", "%"} {
		if got, err := urlUnescape(urlEncodeKey(v)); err != nil || got != v {
			t.Fatalf("encoding %q does not decode back: %q, %v", v, got, err)
		}
	}
}

func urlUnescape(s string) (string, error) { return url.PathUnescape(s) }

// TestListEmptyContinuationToken checks that an empty continuation-token lists from the start
// instead of being refused, and that a malformed one is still refused.
func TestListEmptyContinuationToken(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/tok-bucket"})
	for _, k := range []string{"a", "b", "c"} {
		e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/tok-bucket/" + k, body: []byte(k)})
	}
	res := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/tok-bucket",
		query: map[string][]string{"list-type": {"2"}, "continuation-token": {""}, "max-keys": {"2"}}})
	var out listObjectsV2Result
	if err := xml.Unmarshal(res.body, &out); err != nil || len(out.Contents) != 2 || out.Contents[0].Key != "a" || !out.IsTruncated {
		t.Fatalf("empty token listing = %s, %v", res.body, err)
	}
	bad := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/tok-bucket",
		query: map[string][]string{"list-type": {"2"}, "continuation-token": {"%%%"}}})
	expectError(t, bad, http.MethodGet, http.StatusBadRequest, CodeInvalidArgument)
}

// TestListBucketsPages pages through ListBuckets with max-buckets, a continuation token and a
// prefix, through the SDK's paginator.
func TestListBucketsPages(t *testing.T) {
	e := newTestEnv(t)
	c := sdkClient(e, alice)
	ctx := context.Background()
	var want []string
	for i := range 5 {
		name := fmt.Sprintf("page-%d", i)
		want = append(want, name)
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("other-0")}); err != nil {
		t.Fatal(err)
	}
	// Bob's bucket is never listed to alice, and does not cut her pages short.
	if _, err := sdkClient(e, bob).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("page-2b")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	pages := 0
	p := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), Prefix: aws.String("page-")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Buckets) > 2 || aws.ToString(out.Prefix) != "page-" {
			t.Fatalf("page = %+v", out)
		}
		for _, b := range out.Buckets {
			got = append(got, *b.Name)
		}
		pages++
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("paged buckets = %q in %d pages, want %q in 3", got, pages, want)
	}
	all, err := c.ListBuckets(ctx, &s3.ListBucketsInput{ContinuationToken: aws.String("")})
	if err != nil || len(all.Buckets) != 6 || all.ContinuationToken != nil {
		t.Fatalf("ListBuckets with an empty token = %+v, %v", all, err)
	}
	for _, q := range []url.Values{
		{"max-buckets": {"0"}}, {"max-buckets": {"10001"}}, {"max-buckets": {"x"}}, {"continuation-token": {"!!"}},
	} {
		res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/", query: q})
		expectError(t, res, http.MethodGet, http.StatusBadRequest, CodeInvalidArgument)
	}
}

// TestRecreateOwnBucket checks that creating one's own bucket again answers as the region does
// (us-east-1: success; elsewhere BucketAlreadyOwnedByYou) and keeps the bucket's objects, while
// another project's attempt is BucketAlreadyExists.
func TestRecreateOwnBucket(t *testing.T) {
	ctx := context.Background()
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		t.Run(region, func(t *testing.T) {
			e := newTestEnv(t, func(c *Config) { c.Region = region })
			c := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(e.url), UsePathStyle: true,
				Credentials: sdkClient(e, alice).Options().Credentials})
			in := &s3.CreateBucketInput{Bucket: aws.String("again")}
			if region != "us-east-1" {
				in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
			}
			if _, err := c.CreateBucket(ctx, in); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("again"), Key: aws.String("kept"), Body: strings.NewReader("still here")}); err != nil {
				t.Fatal(err)
			}
			_, err := c.CreateBucket(ctx, in)
			switch {
			case region == "us-east-1" && err != nil:
				t.Fatalf("re-creating one's own bucket in us-east-1 = %v, want success", err)
			case region != "us-east-1" && apiCode(err) != CodeBucketAlreadyOwnedByYou:
				t.Fatalf("re-creating one's own bucket in %s = %v, want BucketAlreadyOwnedByYou", region, err)
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("again"), Key: aws.String("kept")})
			if err != nil {
				t.Fatalf("the object after re-creation: %v", err)
			}
			body, _ := io.ReadAll(out.Body)
			if string(body) != "still here" {
				t.Fatalf("the object after re-creation = %q", body)
			}
			bc := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(e.url), UsePathStyle: true,
				Credentials: sdkClient(e, bob).Options().Credentials})
			if _, err := bc.CreateBucket(ctx, in); apiCode(err) != CodeBucketAlreadyExists {
				t.Fatalf("another project creating the bucket = %v, want BucketAlreadyExists", err)
			}
		})
	}
}

// TestPutChunkedWithoutLength checks a PUT sent with HTTP chunked transfer coding and no
// Content-Length: stored whole when it fits and matches its digests, refused with nothing
// stored when it is too large or its Content-MD5 does not match.
func TestPutChunkedWithoutLength(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.MaxObjectSize = 1 << 20 })
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/te-bucket"})
	body := bytes.Repeat([]byte("chunk "), 10000)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/te-bucket/ok", body: body, chunked: true, payloadHash: awsauth.UnsignedPayload})
	got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/te-bucket/ok"})
	if !bytes.Equal(got.body, body) {
		t.Fatalf("chunked PUT stored %d bytes, want %d", len(got.body), len(body))
	}
	// The signed payload hash works as well as UNSIGNED-PAYLOAD.
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/te-bucket/signed", body: body, chunked: true})
	big := e.do(t, alice, rawRequest{method: http.MethodPut, path: "/te-bucket/big", body: make([]byte, 1<<20+1), chunked: true, payloadHash: awsauth.UnsignedPayload})
	expectError(t, big, http.MethodPut, http.StatusBadRequest, CodeEntityTooLarge)
	md5 := e.do(t, alice, rawRequest{method: http.MethodPut, path: "/te-bucket/md5", body: []byte("abc"), chunked: true,
		payloadHash: awsauth.UnsignedPayload, header: hdr("Content-MD5", b64md5("abd"))})
	expectError(t, md5, http.MethodPut, http.StatusBadRequest, CodeBadDigest)
	for _, k := range []string{"big", "md5"} {
		res := e.do(t, alice, rawRequest{method: http.MethodHead, path: "/te-bucket/" + k})
		expectError(t, res, http.MethodHead, http.StatusNotFound, CodeNoSuchKey)
	}
	assertNoTemporaryFiles(t, e)
}

// TestSigV2BucketPaths checks S3 Signature Version 2 on bucket-level requests whose path has
// a trailing slash and whose path has none, as minio-go and botocore sign them.
func TestSigV2BucketPaths(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/v2-bucket"})
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/v2-bucket/obj", body: []byte("v2")})
	for _, path := range []string{"/v2-bucket", "/v2-bucket/"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r, _ := http.NewRequest(method, e.url+path+"?prefix=o", nil)
			r = signer.SignV2(*r, alice.ak, alice.sk, false)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || method == http.MethodGet && !bytes.Contains(b, []byte("<Key>obj</Key>")) {
				t.Fatalf("SigV2 %s %s = %d %s", method, path, resp.StatusCode, b)
			}
		}
		// A wrong secret is still refused on either path.
		r, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		r = signer.SignV2(*r, alice.ak, "not-the-secret", false)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("SigV2 with a wrong secret on %s = %d", path, resp.StatusCode)
		}
	}
	cmd := exec.Command("python3", "-c", `
import json, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(signature_version="s3", s3={"addressing_style": "path"}))
out = {"keys": [o["Key"] for o in s3.list_objects(Bucket="v2-bucket").get("Contents", [])]}
s3.head_bucket(Bucket="v2-bucket")
out["location"] = s3.get_bucket_location(Bucket="v2-bucket").get("LocationConstraint")
s3.put_object(Bucket="v2-bucket", Key="from boto", Body=b"x")
out["after"] = [o["Key"] for o in s3.list_objects_v2(Bucket="v2-bucket").get("Contents", [])]
print(json.dumps(out))
`, e.url)
	cmd.Env = clientEnv(t, alice)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("boto3 with SigV2: %v\n%s", err, stderrOf(err))
	}
	var out struct {
		Keys, After []string
	}
	if err := json.Unmarshal(raw, &out); err != nil || !slices.Equal(out.Keys, []string{"obj"}) || !slices.Equal(out.After, []string{"from boto", "obj"}) {
		t.Fatalf("boto3 with SigV2 = %s, %v", raw, err)
	}
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

// assertNoTemporaryFiles fails when a write left anything in the store's temporary directory.
func assertNoTemporaryFiles(t *testing.T, e *testEnv) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("the store's tmp directory holds %d leftovers, such as %s", len(entries), entries[0].Name())
	}
}
