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
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// sdkVersion is a version as ListObjectVersions showed it: "key id latest [marker]".
func sdkVersions(t *testing.T, c *s3.Client, bucket string, pageSize int32) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListObjectVersions: %v", err)
		}
		if n := len(page.Versions) + len(page.DeleteMarkers); n > int(pageSize) {
			t.Fatalf("a page of %d entries for MaxKeys %d", n, pageSize)
		}
		// The SDK splits the entries; S3's order is keys ascending, each key's newest first.
		var entries []string
		for _, v := range page.Versions {
			entries = append(entries, fmt.Sprintf("%s %s %v", aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest)))
		}
		for _, d := range page.DeleteMarkers {
			entries = append(entries, fmt.Sprintf("%s %s %v marker", aws.ToString(d.Key), aws.ToString(d.VersionId), aws.ToBool(d.IsLatest)))
		}
		out = append(out, entries...)
	}
	return out
}

func sdkGet(t *testing.T, c *s3.Client, bucket, key, version string) (string, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("GetObject(%s, %s): %v", key, version, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), out
}

func sdkPut(t *testing.T, c *s3.Client, bucket, key, body string) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("PutObject(%s): %v", key, err)
	}
	return aws.ToString(out.VersionId)
}

func setVersioning(t *testing.T, c *s3.Client, bucket string, status types.BucketVersioningStatus) {
	t.Helper()
	_, err := c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{
		Bucket: aws.String(bucket), VersioningConfiguration: &types.VersioningConfiguration{Status: status},
	})
	if err != nil {
		t.Fatalf("PutBucketVersioning(%s): %v", status, err)
	}
}

// TestVersioningSDK walks a bucket from never versioned through enabled and suspended with
// aws-sdk-go-v2, checking versions, delete markers and the latest objects at each step.
func TestVersioningSDK(t *testing.T) {
	e := newTestEnv(t)
	c := sdkClient(e, alice)
	ctx := context.Background()
	const bucket = "ver-sdk"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	gv, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil || gv.Status != "" || gv.MFADelete != "" {
		t.Fatalf("GetBucketVersioning of a new bucket = %+v, %v", gv, err)
	}
	// Before versioning: objects are null versions, and ListObjectVersions answers too.
	if v := sdkPut(t, c, bucket, "doc", "legacy"); v != "" {
		t.Fatalf("an unversioned PUT answered version %q", v)
	}
	if got := sdkVersions(t, c, bucket, 1000); !slices.Equal(got, []string{"doc null true"}) {
		t.Fatalf("versions of an unversioned bucket = %q", got)
	}
	if body, out := sdkGet(t, c, bucket, "doc", "null"); body != "legacy" || aws.ToString(out.VersionId) != "null" {
		t.Fatalf("GET versionId=null = %q %q", body, aws.ToString(out.VersionId))
	}

	setVersioning(t, c, bucket, types.BucketVersioningStatusEnabled)
	if gv, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)}); err != nil || gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("GetBucketVersioning = %+v, %v", gv, err)
	}
	v1 := sdkPut(t, c, bucket, "doc", "one")
	v2 := sdkPut(t, c, bucket, "doc", "two")
	if v1 == "" || v2 == "" || v1 == v2 || v1 == "null" {
		t.Fatalf("version ids %q %q", v1, v2)
	}
	if body, out := sdkGet(t, c, bucket, "doc", ""); body != "two" || aws.ToString(out.VersionId) != v2 {
		t.Fatalf("latest = %q version %q", body, aws.ToString(out.VersionId))
	}
	for id, want := range map[string]string{v1: "one", v2: "two", "null": "legacy"} {
		if body, out := sdkGet(t, c, bucket, "doc", id); body != want || aws.ToString(out.VersionId) != id {
			t.Fatalf("version %s = %q (%q)", id, body, aws.ToString(out.VersionId))
		}
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), VersionId: aws.String(v1)})
	if err != nil || aws.ToInt64(head.ContentLength) != 3 || aws.ToString(head.VersionId) != v1 {
		t.Fatalf("HeadObject of v1 = %+v, %v", head, err)
	}

	// DeleteObject makes a delete marker: the key is gone from listings and reads, its
	// versions stay.
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
		t.Fatalf("DeleteObject = %+v, %v", del, err)
	}
	marker := aws.ToString(del.VersionId)
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc")}); apiCode(err) != CodeNoSuchKey {
		t.Fatalf("GET behind a delete marker = %v", err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), VersionId: aws.String(marker)}); apiCode(err) != CodeMethodNotAllowed {
		t.Fatalf("GET of the delete marker = %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), VersionId: aws.String(marker)}); apiCode(err) != "MethodNotAllowed" {
		t.Fatalf("HEAD of the delete marker = %v", err)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(list.Contents) != 0 {
		t.Fatalf("ListObjectsV2 behind a delete marker = %+v, %v", list, err)
	}
	// Pages of one keep S3's order across the SDK's split of versions and markers.
	want := []string{"doc " + marker + " true marker", "doc " + v2 + " false", "doc " + v1 + " false", "doc null false"}
	if got := sdkVersions(t, c, bucket, 1); !slices.Equal(got, want) {
		t.Fatalf("versions, paged by 1 = %q, want %q", got, want)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); apiCode(err) != CodeBucketNotEmpty {
		t.Fatalf("DeleteBucket with only versions left = %v", err)
	}

	// Deleting the marker brings the newest version back.
	del, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), VersionId: aws.String(marker)})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) != marker {
		t.Fatalf("DeleteObject of the marker = %+v, %v", del, err)
	}
	if body, _ := sdkGet(t, c, bucket, "doc", ""); body != "two" {
		t.Fatalf("after removing the marker, latest = %q", body)
	}

	// A copy from an older version restores it as a new version.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), CopySource: aws.String(bucket + "/doc?versionId=" + v1)})
	if err != nil || aws.ToString(cp.CopySourceVersionId) != v1 || aws.ToString(cp.VersionId) == "" {
		t.Fatalf("CopyObject from v1 = %+v, %v", cp, err)
	}
	restored := aws.ToString(cp.VersionId)
	if body, out := sdkGet(t, c, bucket, "doc", ""); body != "one" || aws.ToString(out.VersionId) != restored {
		t.Fatalf("after restoring v1, latest = %q", body)
	}

	// Suspended: PUT replaces the null version and keeps the others.
	setVersioning(t, c, bucket, types.BucketVersioningStatusSuspended)
	sdkPut(t, c, bucket, "doc", "suspended")
	want = []string{"doc null true", "doc " + restored + " false", "doc " + v2 + " false", "doc " + v1 + " false"}
	if got := sdkVersions(t, c, bucket, 2); !slices.Equal(got, want) {
		t.Fatalf("versions after a suspended PUT = %q, want %q", got, want)
	}
	if body, _ := sdkGet(t, c, bucket, "doc", "null"); body != "suspended" {
		t.Fatalf("null version = %q", body)
	}

	// DeleteObjects with version ids removes exactly those; without, it makes a marker.
	sdkPut(t, c, bucket, "other", "x")
	dels, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("doc"), VersionId: aws.String(v1)},
		{Key: aws.String("doc"), VersionId: aws.String(v2)},
		{Key: aws.String("other")},
		{Key: aws.String("doc"), VersionId: aws.String("bogus")},
	}}})
	if err != nil || len(dels.Deleted) != 3 || len(dels.Errors) != 1 || aws.ToString(dels.Errors[0].Code) != CodeInvalidArgument || aws.ToString(dels.Errors[0].VersionId) != "bogus" {
		t.Fatalf("DeleteObjects = %+v, %v", dels, err)
	}
	if d := dels.Deleted[2]; aws.ToString(d.Key) != "other" || !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) != "null" {
		t.Fatalf("DeleteObjects of other in a suspended bucket = %+v", d)
	}
	if d := dels.Deleted[0]; aws.ToString(d.VersionId) != v1 || aws.ToBool(d.DeleteMarker) {
		t.Fatalf("DeleteObjects of v1 = %+v", d)
	}
	want = []string{"doc null true", "doc " + restored + " false", "other null true marker"}
	if got := sdkVersions(t, c, bucket, 1000); !slices.Equal(got, want) {
		t.Fatalf("versions after DeleteObjects = %q, want %q", got, want)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), VersionId: aws.String(v1)}); apiCode(err) != CodeNoSuchVersion {
		t.Fatalf("GET of a deleted version = %v", err)
	}

	// Removing every version empties the bucket.
	for _, id := range []string{"null", restored} {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc"), VersionId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("other"), VersionId: aws.String("null")}); err != nil {
		t.Fatal(err)
	}
	if got := sdkVersions(t, c, bucket, 1000); len(got) != 0 {
		t.Fatalf("versions left = %q", got)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
}

// TestVersionsListingWithDelimiter lists versions under prefixes and common prefixes, with
// keys marked deleted, page by page.
func TestVersionsListingWithDelimiter(t *testing.T) {
	e := newTestEnv(t)
	c := sdkClient(e, alice)
	ctx := context.Background()
	const bucket = "ver-delim"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	setVersioning(t, c, bucket, types.BucketVersioningStatusEnabled)
	for _, k := range []string{"a/1", "a/2", "b", "c/1", "c/2/x"} {
		sdkPut(t, c, bucket, k, "1")
		sdkPut(t, c, bucket, k, "2")
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	var prefixes, keys []string
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
		for _, v := range page.Versions {
			keys = append(keys, aws.ToString(v.Key))
		}
		for _, d := range page.DeleteMarkers {
			keys = append(keys, aws.ToString(d.Key)+"!")
		}
	}
	if !slices.Equal(prefixes, []string{"a/", "c/"}) || !slices.Equal(keys, []string{"b!", "b", "b"}) {
		t.Fatalf("prefixes %q keys %q", prefixes, keys)
	}
	out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String("c/"), Delimiter: aws.String("/")})
	if err != nil || len(out.Versions) != 2 || aws.ToString(out.Versions[0].Key) != "c/1" || len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "c/2/" {
		t.Fatalf("versions under c/ = %+v, %v", out, err)
	}
	// ListObjects shows only the latest versions that are not deleted, and no prefix twice.
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var latest []string
	for _, o := range v1.Contents {
		latest = append(latest, aws.ToString(o.Key))
	}
	if !slices.Equal(latest, []string{"a/1", "a/2", "c/1", "c/2/x"}) {
		t.Fatalf("ListObjects = %q", latest)
	}
}
