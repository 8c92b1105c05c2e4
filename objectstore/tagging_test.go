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
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/tags"
)

// tagList renders a tag set as "k=v" strings, in order.
func tagList(ts []types.Tag) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return out
}

func wantTags(t *testing.T, c *s3.Client, bucket, key, version string, want ...string) {
	t.Helper()
	in := &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetObjectTagging(context.Background(), in)
	if err != nil {
		t.Fatalf("GetObjectTagging %s %s: %v", key, version, err)
	}
	if got := tagList(out.TagSet); !slices.Equal(got, append([]string{}, want...)) {
		t.Fatalf("tags of %s %s = %q, want %q", key, version, got, want)
	}
}

func wantTagCount(t *testing.T, c *s3.Client, bucket, key string, want int32) {
	t.Helper()
	head, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	get, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if aws.ToInt32(head.TagCount) != want || aws.ToInt32(get.TagCount) != want {
		t.Fatalf("tag count of %s: HEAD %d, GET %d, want %d", key, aws.ToInt32(head.TagCount), aws.ToInt32(get.TagCount), want)
	}
}

func sdkTags(kv ...string) *types.Tagging {
	tg := &types.Tagging{TagSet: []types.Tag{}}
	for i := 0; i+1 < len(kv); i += 2 {
		tg.TagSet = append(tg.TagSet, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return tg
}

func TestObjectTaggingSDK(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "tagged"
	mustCreate(t, c, bucket, "")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"),
		Body: strings.NewReader("data"), Tagging: aws.String("project=blue&note=two%20words")})
	if err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, bucket, "k", "", "project=blue", "note=two words")
	wantTagCount(t, c, bucket, "k", 2)

	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("k"),
		Tagging: sdkTags("env", "prod", "owner", "ops@example.com")}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, bucket, "k", "", "env=prod", "owner=ops@example.com")

	// A copy takes the source's tags (as they are now), or the request's with REPLACE.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy"),
		CopySource: aws.String(bucket + "/k")}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, bucket, "copy", "", "env=prod", "owner=ops@example.com")
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy2"),
		CopySource: aws.String(bucket + "/k"), TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("x=y")}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, bucket, "copy2", "", "x=y")

	// A multipart upload's tags are the completed object's.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp"), Tagging: aws.String("part=whole")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("one part")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, bucket, "mp", "", "part=whole")

	// Deleting the tags leaves an empty set and no count; a new object under the key does
	// not inherit what was set on the old one.
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, bucket, "k", "")
	wantTagCount(t, c, bucket, "k", 0)
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("copy"), Tagging: sdkTags("old", "1")}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, bucket, "copy", "new data", "")
	wantTags(t, c, bucket, "copy", "")

	// Another project may neither read nor set them.
	bc := sdkClient(e, bob)
	if _, err := bc.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("copy2")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("bob's GetObjectTagging = %v", err)
	}
	if _, err := bc.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("copy2"), Tagging: sdkTags("a", "b")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("bob's PutObjectTagging = %v", err)
	}
	wantTags(t, c, bucket, "copy2", "", "x=y")
	if _, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("missing")}); apiCode(err) != "NoSuchKey" {
		t.Fatalf("GetObjectTagging of a missing key = %v", err)
	}
}

func TestObjectTaggingVersions(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "tagged-versions"
	mustCreate(t, c, bucket, "")
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: strings.NewReader("1"), Tagging: aws.String("gen=1")})
	if err != nil {
		t.Fatal(err)
	}
	v2 := mustPut(t, c, bucket, "k", "2", "")
	wantTags(t, c, bucket, "k", "")
	wantTags(t, c, bucket, "k", aws.ToString(v1.VersionId), "gen=1")
	out, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("k"),
		VersionId: v1.VersionId, Tagging: sdkTags("gen", "one")})
	if err != nil || aws.ToString(out.VersionId) != aws.ToString(v1.VersionId) {
		t.Fatalf("PutObjectTagging of v1 = %+v, %v", out, err)
	}
	wantTags(t, c, bucket, "k", aws.ToString(v1.VersionId), "gen=one")
	wantTags(t, c, bucket, "k", aws.ToString(v2.VersionId))
	// Behind a delete marker the key has no tags to give; its versions still do.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("k")}); apiCode(err) != "NoSuchKey" {
		t.Fatalf("GetObjectTagging behind a delete marker = %v", err)
	}
	wantTags(t, c, bucket, "k", aws.ToString(v1.VersionId), "gen=one")
}

func TestTaggingRefusals(t *testing.T) {
	e := newTestEnv(t)
	c := sdkClient(e, alice)
	const bucket = "tag-refusals"
	mustCreate(t, c, bucket, "")
	mustPut(t, c, bucket, "k", "data", "")
	ctx := context.Background()
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("k"), Tagging: sdkTags("keep", "me")}); err != nil {
		t.Fatal(err)
	}
	eleven := []string{}
	for i := range 11 {
		eleven = append(eleven, fmt.Sprint("k", i), "v")
	}
	for _, tc := range []struct {
		name string
		body string
		code string
	}{
		{"eleven tags", taggingXML(eleven...), CodeBadRequest},
		{"duplicate keys", taggingXML("a", "1", "a", "2"), CodeInvalidTag},
		{"empty key", taggingXML("", "1"), CodeInvalidTag},
		{"long key", taggingXML(strings.Repeat("k", 129), "1"), CodeInvalidTag},
		{"long value", taggingXML("k", strings.Repeat("v", 257)), CodeInvalidTag},
		{"bad character", taggingXML("k", "semi;colon"), CodeInvalidTag},
		{"no tag set", "<Tagging></Tagging>", CodeMalformedXML},
		{"no value", "<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>", CodeMalformedXML},
		{"not XML", "tags please", CodeMalformedXML},
		{"empty", "", CodeMalformedXML},
	} {
		res := e.do(t, alice, rawRequest{method: "PUT", path: "/" + bucket + "/k", query: url.Values{"tagging": {""}}, body: []byte(tc.body)})
		expectError(t, res, "PUT", codes[tc.code].status, tc.code)
		wantTags(t, c, bucket, "k", "", "keep=me")
	}
	// At the limits, tags are taken.
	ten := []string{}
	for i := range 10 {
		ten = append(ten, fmt.Sprint("k", i), strings.Repeat("v", 256))
	}
	ten[0] = strings.Repeat("é", 128)
	e.mustOK(t, alice, rawRequest{method: "PUT", path: "/" + bucket + "/k", query: url.Values{"tagging": {""}}, body: []byte(taggingXML(ten...))})

	// A write with bad tags makes nothing.
	for _, h := range []string{"a=1&a=2", "a=%zz", "k=" + strings.Repeat("v", 257), strings.Repeat("x=1&", 11)} {
		res := e.do(t, alice, rawRequest{method: "PUT", path: "/" + bucket + "/bad", header: http.Header{"X-Amz-Tagging": {h}}, body: []byte("x")})
		if res.status != http.StatusBadRequest {
			t.Fatalf("PUT with x-amz-tagging %q = %d %s", h, res.status, res.body)
		}
		res = e.do(t, alice, rawRequest{method: "POST", path: "/" + bucket + "/bad", query: url.Values{"uploads": {""}}, header: http.Header{"X-Amz-Tagging": {h}}})
		if res.status != http.StatusBadRequest {
			t.Fatalf("CreateMultipartUpload with x-amz-tagging %q = %d %s", h, res.status, res.body)
		}
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("bad")}); apiCode(err) != "NotFound" {
		t.Fatalf("HeadObject after refused writes = %v", err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("uploads after refused writes = %+v, %v", ups, err)
	}
	res := e.do(t, alice, rawRequest{method: "PUT", path: "/" + bucket + "/copy", body: nil,
		header: http.Header{"X-Amz-Copy-Source": {bucket + "/k"}, "X-Amz-Tagging-Directive": {"MERGE"}}})
	expectError(t, res, "PUT", http.StatusBadRequest, CodeInvalidArgument)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy")}); apiCode(err) != "NotFound" {
		t.Fatalf("HeadObject after a refused copy = %v", err)
	}
}

// taggingXML is a Tagging document of key, value pairs.
func taggingXML(kv ...string) string {
	var b bytes.Buffer
	b.WriteString("<Tagging><TagSet>")
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "<Tag><Key>%s</Key><Value>%s</Value></Tag>", kv[i], kv[i+1])
	}
	b.WriteString("</TagSet></Tagging>")
	return b.String()
}

func TestBucketTaggingSDK(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "tagged-bucket"
	mustCreate(t, c, bucket, "")
	if _, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)}); apiCode(err) != "NoSuchTagSet" {
		t.Fatalf("GetBucketTagging of an untagged bucket = %v", err)
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: sdkTags("cost-center", "42", "team", "storage")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil || !slices.Equal(tagList(out.TagSet), []string{"cost-center=42", "team=storage"}) {
		t.Fatalf("GetBucketTagging = %v, %v", out, err)
	}
	fifty := []string{}
	for i := range 51 {
		fifty = append(fifty, fmt.Sprint("k", i), "v")
	}
	for _, bad := range []*types.Tagging{sdkTags("aws:reserved", "1"), sdkTags("a", "1", "a", "2"), sdkTags(fifty...)} {
		if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: bad}); apiCode(err) != CodeInvalidTag {
			t.Fatalf("PutBucketTagging %v = %v, want InvalidTag", tagList(bad.TagSet), err)
		}
	}
	if _, err := sdkClient(e, bob).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: sdkTags("x", "y")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("bob's PutBucketTagging = %v", err)
	}
	if _, err := sdkClient(e, bob).GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)}); apiCode(err) != "AccessDenied" {
		t.Fatalf("bob's GetBucketTagging = %v", err)
	}
	out, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil || len(out.TagSet) != 2 {
		t.Fatalf("tags after refusals = %v, %v", out, err)
	}
	if _, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)}); apiCode(err) != "NoSuchTagSet" {
		t.Fatalf("GetBucketTagging after delete = %v", err)
	}
}

func TestTaggingMinio(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := minioClient(t, e, alice)
	const bucket = "minio-tags"
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, bucket, "obj", strings.NewReader("abc"), 3,
		minio.PutObjectOptions{UserTags: map[string]string{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetObjectTagging(ctx, bucket, "obj", minio.GetObjectTaggingOptions{})
	if err != nil || got.ToMap()["a"] != "1" || len(got.ToMap()) != 1 {
		t.Fatalf("GetObjectTagging = %v, %v", got, err)
	}
	tg, err := tags.NewTags(map[string]string{"b": "2", "c": "3"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutObjectTagging(ctx, bucket, "obj", tg, minio.PutObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := c.StatObject(ctx, bucket, "obj", minio.StatObjectOptions{})
	if err != nil || st.UserTagCount != 2 {
		t.Fatalf("StatObject = %+v, %v", st.UserTagCount, err)
	}
	btg, _ := tags.NewTags(map[string]string{"team": "img"}, false)
	if err := c.SetBucketTagging(ctx, bucket, btg); err != nil {
		t.Fatal(err)
	}
	bt, err := c.GetBucketTagging(ctx, bucket)
	if err != nil || bt.ToMap()["team"] != "img" {
		t.Fatalf("GetBucketTagging = %v, %v", bt, err)
	}
	if err := c.RemoveObjectTagging(ctx, bucket, "obj", minio.RemoveObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetObjectTagging(ctx, bucket, "obj", minio.GetObjectTaggingOptions{})
	if err != nil || len(got.ToMap()) != 0 {
		t.Fatalf("GetObjectTagging after removal = %v, %v", got, err)
	}
}

// taggingPython drives tagging with boto3, then the AWS CLI reads what it set.
const taggingPython = `
import json, sys
import boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
out = {}
s3.create_bucket(Bucket="py-tags")
s3.put_object(Bucket="py-tags", Key="k", Body=b"x", Tagging="a=1&b=2")
out["get"] = s3.get_object_tagging(Bucket="py-tags", Key="k")["TagSet"]
out["count"] = s3.head_object(Bucket="py-tags", Key="k").get("TagCount")
s3.put_bucket_tagging(Bucket="py-tags", Tagging={"TagSet": [{"Key": "team", "Value": "py"}]})
try:
    s3.put_object_tagging(Bucket="py-tags", Key="k", Tagging={"TagSet": [{"Key": "x", "Value": "bad;"}]})
except ClientError as e:
    out["bad"] = e.response["Error"]["Code"]
print(json.dumps(out))
`

func TestTaggingBoto3AndCLI(t *testing.T) {
	e := newTestEnv(t)
	cmd := exec.Command("python3", "-c", taggingPython, e.url)
	cmd.Env = clientEnv(t, alice)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, raw)
	}
	var out struct {
		Get   []struct{ Key, Value string }
		Count int
		Bad   string
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 output %s: %v", raw, err)
	}
	if len(out.Get) != 2 || out.Get[0].Key != "a" || out.Get[1].Value != "2" || out.Count != 2 || out.Bad != CodeInvalidTag {
		t.Fatalf("boto3 saw %+v", out)
	}
	got := runCLI(t, e, alice, "s3api", "get-bucket-tagging", "--bucket", "py-tags")
	if !strings.Contains(got, `"team"`) || !strings.Contains(got, `"py"`) {
		t.Fatalf("aws s3api get-bucket-tagging = %s", got)
	}
	runCLI(t, e, alice, "s3api", "put-object-tagging", "--bucket", "py-tags", "--key", "k", "--tagging", `TagSet=[{Key=cli,Value=yes}]`)
	got = runCLI(t, e, alice, "s3api", "get-object-tagging", "--bucket", "py-tags", "--key", "k")
	if !strings.Contains(got, `"cli"`) || strings.Contains(got, `"a"`) {
		t.Fatalf("aws s3api get-object-tagging = %s", got)
	}
}
