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
	"encoding/json"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClockEnv(t *testing.T) (*testEnv, *testClock) {
	clock := &testClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	return newTestEnv(t, func(c *Config) { c.Now = clock.Now }), clock
}

func putLifecycle(t *testing.T, c *s3.Client, bucket string, rules ...types.LifecycleRule) {
	t.Helper()
	if _, err := c.PutBucketLifecycleConfiguration(context.Background(), &s3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String(bucket), LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}}); err != nil {
		t.Fatalf("PutBucketLifecycleConfiguration: %v", err)
	}
}

// keysOf lists the keys of a bucket.
func keysOf(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// versionsOf lists "key:id" for every version (and "key:id:marker" for delete markers).
func versionsOf(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	all := []string{}
	for _, v := range out.Versions {
		all = append(all, aws.ToString(v.Key)+":"+aws.ToString(v.VersionId))
	}
	for _, m := range out.DeleteMarkers {
		all = append(all, aws.ToString(m.Key)+":"+aws.ToString(m.VersionId)+":marker")
	}
	slices.Sort(all)
	return all
}

func runLifecycle(t *testing.T, e *testEnv) LifecycleResult {
	t.Helper()
	res, err := e.srv.LifecycleRunner(time.Hour).RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return res
}

func TestLifecycleConfigurationSDK(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "rules"
	mustCreate(t, c, bucket, "")
	if _, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)}); apiCode(err) != CodeNoSuchLifecycleConfiguration {
		t.Fatalf("GetBucketLifecycleConfiguration without rules = %v", err)
	}
	date := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	rules := []types.LifecycleRule{
		{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Expiration:                  &types.LifecycleExpiration{Days: aws.Int32(30)},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(7), NewerNoncurrentVersions: aws.Int32(2)}},
		{ID: aws.String("tmp"), Status: types.ExpirationStatusDisabled, Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{
			Prefix: aws.String("tmp/"), Tags: []types.Tag{{Key: aws.String("temp"), Value: aws.String("yes")}}}},
			Expiration: &types.LifecycleExpiration{Date: &date}},
		{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(3)},
			Expiration:                     &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}},
	}
	putLifecycle(t, c, bucket, rules...)
	got, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != 3 {
		t.Fatalf("rules = %+v", got.Rules)
	}
	r0, r1, r2 := got.Rules[0], got.Rules[1], got.Rules[2]
	if aws.ToString(r0.Filter.Prefix) != "logs/" || aws.ToInt32(r0.Expiration.Days) != 30 || aws.ToInt32(r0.NoncurrentVersionExpiration.NewerNoncurrentVersions) != 2 ||
		r1.Status != types.ExpirationStatusDisabled || r1.Filter.And == nil || aws.ToString(r1.Filter.And.Tags[0].Key) != "temp" || !r1.Expiration.Date.Equal(date) ||
		aws.ToInt32(r2.AbortIncompleteMultipartUpload.DaysAfterInitiation) != 3 || !aws.ToBool(r2.Expiration.ExpiredObjectDeleteMarker) {
		t.Fatalf("rules came back as %+v %+v %+v", r0, r1, r2)
	}

	const ok = `<Status>Enabled</Status><Filter><Prefix>a/</Prefix></Filter>`
	for _, tc := range []struct {
		name, rules, code string
	}{
		{"no rules", ``, CodeMalformedXML},
		{"bad status", `<Rule><Status>On</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>`, CodeMalformedXML},
		{"no filter", `<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, CodeMalformedXML},
		{"prefix and filter", `<Rule><Prefix>a</Prefix>` + ok + `<Expiration><Days>1</Days></Expiration></Rule>`, CodeMalformedXML},
		{"two filters", `<Rule><Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><Days>1</Days></Expiration></Rule>`, CodeMalformedXML},
		{"zero days", `<Rule>` + ok + `<Expiration><Days>0</Days></Expiration></Rule>`, CodeInvalidArgument},
		{"days and date", `<Rule>` + ok + `<Expiration><Days>1</Days><Date>2027-01-01T00:00:00Z</Date></Expiration></Rule>`, CodeMalformedXML},
		{"date not midnight", `<Rule>` + ok + `<Expiration><Date>2027-01-01T10:00:00Z</Date></Expiration></Rule>`, CodeInvalidArgument},
		{"no action", `<Rule>` + ok + `</Rule>`, CodeInvalidRequest},
		{"noncurrent zero", `<Rule>` + ok + `<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration></Rule>`, CodeInvalidArgument},
		{"newer noncurrent too many", `<Rule>` + ok + `<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>`, CodeInvalidArgument},
		{"abort zero", `<Rule>` + ok + `<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`, CodeInvalidArgument},
		{"abort with tags", `<Rule><Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`, CodeInvalidRequest},
		{"marker with tags", `<Rule><Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>`, CodeInvalidRequest},
		{"duplicate ids", `<Rule><ID>x</ID>` + ok + `<Expiration><Days>1</Days></Expiration></Rule><Rule><ID>x</ID>` + ok + `<Expiration><Days>2</Days></Expiration></Rule>`, CodeInvalidArgument},
		{"duplicate tag keys", `<Rule><Status>Enabled</Status><Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter><Expiration><Days>1</Days></Expiration></Rule>`, CodeInvalidTag},
		{"transition", `<Rule>` + ok + `<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>`, CodeNotImplemented},
	} {
		res := e.do(t, alice, rawRequest{method: "PUT", path: "/" + bucket, query: url.Values{"lifecycle": {""}},
			body: []byte("<LifecycleConfiguration>" + tc.rules + "</LifecycleConfiguration>")})
		if res.status != codes[tc.code].status {
			t.Fatalf("%s: status %d %s, want %s", tc.name, res.status, res.body, tc.code)
		}
		expectError(t, res, "PUT", codes[tc.code].status, tc.code)
	}
	if _, err := sdkClient(e, bob).PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(bucket),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules[:1]}}); apiCode(err) != "AccessDenied" {
		t.Fatalf("bob's PutBucketLifecycleConfiguration = %v", err)
	}
	got, err = c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil || len(got.Rules) != 3 {
		t.Fatalf("rules after refusals = %+v, %v", got, err)
	}
	if _, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)}); apiCode(err) != CodeNoSuchLifecycleConfiguration {
		t.Fatalf("GetBucketLifecycleConfiguration after delete = %v", err)
	}
}

func TestLifecycleExpiresCurrentVersions(t *testing.T) {
	e, clock := newClockEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "expiring"
	mustCreate(t, c, bucket, "")
	for _, k := range []string{"logs/a", "logs/b", "keep/c", "old/d"} {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("data of " + k)}
		if k == "logs/a" {
			in.Tagging = aws.String("temp=yes")
		}
		if _, err := c.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	date := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	putLifecycle(t, c, bucket,
		types.LifecycleRule{ID: aws.String("temp-logs"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("logs/"),
				Tags: []types.Tag{{Key: aws.String("temp"), Value: aws.String("yes")}}}},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(2)}},
		types.LifecycleRule{ID: aws.String("old"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("old/")},
			Expiration: &types.LifecycleExpiration{Date: &date}},
		types.LifecycleRule{ID: aws.String("off"), Status: types.ExpirationStatusDisabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}})
	all := []string{"keep/c", "logs/a", "logs/b", "old/d"}

	// Written on the 10th at noon, 2 days old at midnight starting the 13th.
	clock.advance(2*day + 11*time.Hour)
	if res := runLifecycle(t, e); res != (LifecycleResult{}) {
		t.Fatalf("a pass before anything is due did %+v", res)
	}
	if got := keysOf(t, c, bucket); !slices.Equal(got, all) {
		t.Fatalf("keys = %q", got)
	}
	clock.advance(time.Hour)
	if res := runLifecycle(t, e); res.Expired != 1 {
		t.Fatalf("pass on the 13th = %+v", res)
	}
	if got := keysOf(t, c, bucket); !slices.Equal(got, []string{"keep/c", "logs/b", "old/d"}) {
		t.Fatalf("keys on the 13th = %q", got)
	}
	clock.t = date
	if res := runLifecycle(t, e); res.Expired != 1 {
		t.Fatalf("pass on the 20th = %+v", res)
	}
	if got := keysOf(t, c, bucket); !slices.Equal(got, []string{"keep/c", "logs/b"}) {
		t.Fatalf("keys on the 20th = %q", got)
	}
	// Nothing else is touched however long it waits, and a pass changes nothing twice.
	clock.advance(400 * day)
	if res := runLifecycle(t, e); res != (LifecycleResult{}) {
		t.Fatalf("a later pass did %+v", res)
	}
}

func TestLifecycleVersions(t *testing.T) {
	e, clock := newClockEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "versioned-rules"
	mustCreate(t, c, bucket, "")
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	// k gets a version a day for four days; gone is written and deleted.
	var ids []string
	for i := range 4 {
		ids = append(ids, aws.ToString(mustPut(t, c, bucket, "k", strings.Repeat("v", i+1), "").VersionId))
		clock.advance(day)
	}
	gone := aws.ToString(mustPut(t, c, bucket, "gone", "x", "").VersionId)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	putLifecycle(t, c, bucket,
		types.LifecycleRule{ID: aws.String("history"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("k")},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1), NewerNoncurrentVersions: aws.Int32(1)}},
		types.LifecycleRule{ID: aws.String("gone"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("gone")},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1)}},
		types.LifecycleRule{ID: aws.String("markers"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}},
		types.LifecycleRule{ID: aws.String("current"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("k")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(10)}})

	// Two days on, the oldest two versions of k are noncurrent for over a day and have a newer
	// noncurrent version: they go; the third stays as the one newer noncurrent version kept.
	// gone's only version is noncurrent for a day only at the next midnight.
	clock.advance(day)
	res := runLifecycle(t, e)
	if res.NoncurrentRemoved != 2 || res.Expired != 0 || res.MarkersRemoved != 0 {
		t.Fatalf("first pass = %+v", res)
	}
	vs := versionsOf(t, c, bucket)
	for _, want := range []string{"k:" + ids[2], "k:" + ids[3], "gone:" + gone} {
		if !slices.Contains(vs, want) {
			t.Fatalf("versions %q lack %s", vs, want)
		}
	}
	if slices.Contains(vs, "k:"+ids[0]) || slices.Contains(vs, "k:"+ids[1]) || len(vs) != 4 {
		t.Fatalf("versions after the first pass = %q", vs)
	}
	// Later, gone's version goes, and then its marker, left alone, goes in the same pass.
	clock.advance(day)
	res = runLifecycle(t, e)
	if res.NoncurrentRemoved != 1 || res.MarkersRemoved != 1 {
		t.Fatalf("second pass = %+v", res)
	}
	vs = versionsOf(t, c, bucket)
	if !slices.Equal(vs, []string{"k:" + ids[2], "k:" + ids[3]}) {
		t.Fatalf("versions after the second pass = %q", vs)
	}
	// Ten days after its last write, k's current version expires behind a delete marker; the
	// version it was stays, as the newest noncurrent one.
	clock.advance(10 * day)
	res = runLifecycle(t, e)
	if res.Expired != 1 {
		t.Fatalf("third pass = %+v", res)
	}
	if got := keysOf(t, c, bucket); len(got) != 0 {
		t.Fatalf("keys after expiry = %q", got)
	}
	vs = versionsOf(t, c, bucket)
	if len(vs) != 3 || !slices.Contains(vs, "k:"+ids[3]) {
		t.Fatalf("versions after expiry = %q", vs)
	}
	// A version written meanwhile is current and young: the expired marker is not the latest.
	mustPut(t, c, bucket, "k", "fresh", "")
	clock.advance(day)
	runLifecycle(t, e)
	if got := keysOf(t, c, bucket); !slices.Equal(got, []string{"k"}) {
		t.Fatalf("keys after a fresh write = %q", got)
	}
}

func TestLifecycleAbortsUploads(t *testing.T) {
	e, clock := newClockEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "uploads-rules"
	mustCreate(t, c, bucket, "")
	var kept string
	for _, k := range []string{"tmp/big", "tmp/other", "data/keep"} {
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		if k == "data/keep" {
			kept = aws.ToString(up.UploadId)
		}
	}
	putLifecycle(t, c, bucket, types.LifecycleRule{ID: aws.String("abort"), Status: types.ExpirationStatusEnabled,
		Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
		AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}})
	if res := runLifecycle(t, e); res.UploadsAborted != 0 {
		t.Fatalf("pass on the first day = %+v", res)
	}
	// Started at noon, the uploads are a day old at the second midnight after.
	clock.advance(day)
	if res := runLifecycle(t, e); res.UploadsAborted != 0 {
		t.Fatalf("pass a day later = %+v", res)
	}
	clock.advance(12 * time.Hour)
	if res := runLifecycle(t, e); res.UploadsAborted != 2 {
		t.Fatalf("pass at the second midnight = %+v", res)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != kept {
		t.Fatalf("uploads = %+v, %v", ups, err)
	}
	// Nothing is left of the aborted uploads: the bucket can go once the last one is aborted.
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("data/keep"), UploadId: aws.String(kept)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
}

// TestLifecycleRunnerStarts runs the runner as the manager does, on a short interval.
func TestLifecycleRunnerStarts(t *testing.T) {
	e, clock := newClockEnv(t)
	c := sdkClient(e, alice)
	const bucket = "scheduled"
	mustCreate(t, c, bucket, "")
	mustPut(t, c, bucket, "k", "x", "")
	putLifecycle(t, c, bucket, types.LifecycleRule{ID: aws.String("all"), Status: types.ExpirationStatusEnabled,
		Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}})
	r := e.srv.LifecycleRunner(10 * time.Millisecond)
	if !r.NeedLeaderElection() {
		t.Fatal("the lifecycle runner must run on the leader only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	clock.advance(2 * day)
	deadline := time.Now().Add(30 * time.Second)
	for len(keysOf(t, c, bucket)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the runner never expired the object")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Start = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}
}

func TestLifecycleMinio(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := minioClient(t, e, alice)
	const bucket = "minio-lifecycle"
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	cfg := lifecycle.NewConfiguration()
	cfg.Rules = []lifecycle.Rule{{ID: "m", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: "cache/"},
		Expiration: lifecycle.Expiration{Days: 7}, NoncurrentVersionExpiration: lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 3}}}
	if err := c.SetBucketLifecycle(ctx, bucket, cfg); err != nil {
		t.Fatalf("SetBucketLifecycle: %v", err)
	}
	got, err := c.GetBucketLifecycle(ctx, bucket)
	if err != nil || len(got.Rules) != 1 || got.Rules[0].Expiration.Days != 7 || got.Rules[0].RuleFilter.Prefix != "cache/" ||
		got.Rules[0].NoncurrentVersionExpiration.NoncurrentDays != 3 {
		t.Fatalf("GetBucketLifecycle = %+v, %v", got, err)
	}
	if err := c.SetBucketLifecycle(ctx, bucket, lifecycle.NewConfiguration()); err != nil {
		t.Fatalf("removing the lifecycle: %v", err)
	}
	if _, err := c.GetBucketLifecycle(ctx, bucket); err == nil {
		t.Fatal("GetBucketLifecycle after removal succeeded")
	}
}

const lifecyclePython = `
import json, sys
import boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
out = {}
s3.create_bucket(Bucket="py-rules")
s3.put_bucket_lifecycle_configuration(Bucket="py-rules", LifecycleConfiguration={"Rules": [
    {"ID": "py", "Status": "Enabled", "Filter": {"Prefix": "p/"}, "Expiration": {"Days": 5}}]})
out["rules"] = s3.get_bucket_lifecycle_configuration(Bucket="py-rules")["Rules"]
try:
    s3.put_bucket_lifecycle_configuration(Bucket="py-rules", LifecycleConfiguration={"Rules": [
        {"ID": "bad", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}]})
except ClientError as e:
    out["bad"] = e.response["Error"]["Code"]
print(json.dumps(out, default=str))
`

func TestLifecycleBoto3AndCLI(t *testing.T) {
	e := newTestEnv(t)
	cmd := exec.Command("python3", "-c", lifecyclePython, e.url)
	cmd.Env = clientEnv(t, alice)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, raw)
	}
	var out struct {
		Rules []struct {
			ID         string
			Expiration struct{ Days int }
		}
		Bad string
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 output %s: %v", raw, err)
	}
	if len(out.Rules) != 1 || out.Rules[0].ID != "py" || out.Rules[0].Expiration.Days != 5 || out.Bad != CodeInvalidArgument {
		t.Fatalf("boto3 saw %+v", out)
	}
	got := runCLI(t, e, alice, "s3api", "get-bucket-lifecycle-configuration", "--bucket", "py-rules")
	if !strings.Contains(got, `"p/"`) {
		t.Fatalf("aws s3api get-bucket-lifecycle-configuration = %s", got)
	}
	runCLI(t, e, alice, "s3api", "delete-bucket-lifecycle", "--bucket", "py-rules")
	if out, err := cli(t, e, alice, "s3api", "get-bucket-lifecycle-configuration", "--bucket", "py-rules"); err == nil || !strings.Contains(out, CodeNoSuchLifecycleConfiguration) {
		t.Fatalf("after delete-bucket-lifecycle: %v %s", err, out)
	}
}

// TestLifecycleSizeFilter judges encrypted objects by the size their clients wrote.
func TestLifecycleSizeFilter(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	e := newTestEnv(t, func(c *Config) { c.Now, c.SSEMasterKey = clock.Now, testMasterKey })
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "sized"
	mustCreate(t, c, bucket, "")
	for k, n := range map[string]int{"small": 50, "large": 70} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(strings.Repeat("x", n)),
			ServerSideEncryption: types.ServerSideEncryptionAes256}); err != nil {
			t.Fatal(err)
		}
	}
	putLifecycle(t, c, bucket, types.LifecycleRule{ID: aws.String("small"), Status: types.ExpirationStatusEnabled,
		Filter:     &types.LifecycleRuleFilter{ObjectSizeLessThan: aws.Int64(60)},
		Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}})
	clock.advance(2 * day)
	if res := runLifecycle(t, e); res.Expired != 1 {
		t.Fatalf("pass = %+v", res)
	}
	if got := keysOf(t, c, bucket); !slices.Equal(got, []string{"large"}) {
		t.Fatalf("keys = %q", got)
	}
}
