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
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// boto3VersioningScript drives versioning with boto3 and prints what it saw as JSON.
const boto3VersioningScript = `
import json, sys
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3", endpoint_url=sys.argv[1])
out = {}
b = "boto-versions"
s3.create_bucket(Bucket=b)
out["before"] = s3.get_bucket_versioning(Bucket=b).get("Status", "")
s3.put_object(Bucket=b, Key="k", Body=b"null")
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
out["status"] = s3.get_bucket_versioning(Bucket=b)["Status"]
ids = [s3.put_object(Bucket=b, Key="k", Body=("v%d" % i).encode())["VersionId"] for i in range(3)]
out["ids"] = ids
out["v0"] = s3.get_object(Bucket=b, Key="k", VersionId=ids[0])["Body"].read().decode()
d = s3.delete_object(Bucket=b, Key="k")
out["marker"] = [d.get("DeleteMarker", False), d["VersionId"]]
try:
    s3.head_object(Bucket=b, Key="k", VersionId=d["VersionId"])
except ClientError as e:
    out["head_marker"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"],
                          e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker", "")]
try:
    s3.get_object(Bucket=b, Key="k", VersionId="not-a-version")
except ClientError as e:
    out["bad_id"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
try:
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}, MFA="SERIAL 123456")
except ClientError as e:
    out["mfa"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
seen = []
for page in s3.get_paginator("list_object_versions").paginate(Bucket=b, PaginationConfig={"PageSize": 2}):
    seen += [[v["VersionId"], v["IsLatest"], False] for v in page.get("Versions", [])]
    seen += [[m["VersionId"], m["IsLatest"], True] for m in page.get("DeleteMarkers", [])]
out["seen"] = seen
try:
    s3.delete_bucket(Bucket=b)
except ClientError as e:
    out["not_empty"] = e.response["Error"]["Code"]
versions = s3.list_object_versions(Bucket=b)
objs = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
out["deleted"] = len(s3.delete_objects(Bucket=b, Delete={"Objects": objs}).get("Deleted", []))
s3.delete_bucket(Bucket=b)
print(json.dumps(out))
`

func TestVersioningBoto3(t *testing.T) {
	e := newTestEnv(t)
	cmd := exec.Command("python3", "-c", boto3VersioningScript, e.url)
	cmd.Env = clientEnv(t, alice)
	raw, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("boto3: %v\n%s", err, stderr)
	}
	var out struct {
		Before, Status, V0 string
		IDs                []string `json:"ids"`
		Marker             []any
		HeadMarker         []any `json:"head_marker"`
		BadID              []any `json:"bad_id"`
		MFA                []any `json:"mfa"`
		Seen               [][]any
		NotEmpty           string `json:"not_empty"`
		Deleted            int
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 output %q: %v", raw, err)
	}
	if out.Before != "" || out.Status != "Enabled" || len(out.IDs) != 3 || out.V0 != "v0" {
		t.Fatalf("boto3 saw %+v", out)
	}
	if len(out.Marker) != 2 || out.Marker[0] != true {
		t.Fatalf("boto3 delete_object = %v", out.Marker)
	}
	// A HEAD answer has no body, so boto3 names the error by its status.
	if !slices.Equal(out.HeadMarker, []any{"405", float64(405), "true"}) {
		t.Fatalf("boto3 head_object of a marker = %v", out.HeadMarker)
	}
	if !slices.Equal(out.BadID, []any{CodeInvalidArgument, float64(400)}) || !slices.Equal(out.MFA, []any{CodeNotImplemented, float64(501)}) {
		t.Fatalf("boto3 refusals = %v %v", out.BadID, out.MFA)
	}
	// Five versions (the null one, three, the marker), each once, with only the marker latest.
	ids := map[string]bool{}
	for _, s := range out.Seen {
		ids[s[0].(string)] = true
		if latest := s[1].(bool); latest != s[2].(bool) {
			t.Fatalf("boto3 list_object_versions entry %v", s)
		}
	}
	if len(out.Seen) != 5 || len(ids) != 5 || !ids["null"] || !ids[out.IDs[2]] || !ids[out.Marker[1].(string)] {
		t.Fatalf("boto3 list_object_versions = %v", out.Seen)
	}
	if out.NotEmpty != CodeBucketNotEmpty || out.Deleted != 5 {
		t.Fatalf("boto3 cleanup: %q, %d deleted", out.NotEmpty, out.Deleted)
	}
}

// TestVersioningAWSCLI drives versioning with the AWS CLI's s3api commands (boto3, which the
// CLI is built on, covers the rest: each CLI run costs seconds on a loaded machine).
func TestVersioningAWSCLI(t *testing.T) {
	e := newTestEnv(t)
	runCLI(t, e, alice, "s3", "mb", "s3://cli-versions")
	runCLI(t, e, alice, "s3api", "put-bucket-versioning", "--bucket", "cli-versions", "--versioning-configuration", "Status=Enabled")
	var put struct{ VersionId string }
	for range 2 {
		out := runCLI(t, e, alice, "s3api", "put-object", "--bucket", "cli-versions", "--key", "a b", "--body", patternFile(t, 100, 7))
		if err := json.Unmarshal([]byte(out), &put); err != nil || put.VersionId == "" {
			t.Fatalf("put-object = %q, %v", out, err)
		}
	}
	runCLI(t, e, alice, "s3", "rm", "s3://cli-versions/a b")
	var list struct {
		Versions      []struct{ Key, VersionId string }
		DeleteMarkers []struct {
			Key, VersionId string
			IsLatest       bool
		}
	}
	out := runCLI(t, e, alice, "s3api", "list-object-versions", "--bucket", "cli-versions", "--page-size", "1")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list-object-versions = %q: %v", out, err)
	}
	if len(list.Versions) != 2 || list.Versions[0].VersionId != put.VersionId || len(list.DeleteMarkers) != 1 || !list.DeleteMarkers[0].IsLatest {
		t.Fatalf("list-object-versions = %+v", list)
	}
	if out, err := cli(t, e, alice, "s3api", "get-object", "--bucket", "cli-versions", "--key", "a b", "--version-id", "bad!", "/dev/null"); err == nil || !strings.Contains(out, "InvalidArgument") {
		t.Fatalf("get-object of a bad version id = %v %q", err, out)
	}
	if out, err := cli(t, e, bob, "s3api", "list-object-versions", "--bucket", "cli-versions"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Fatalf("another project's list-object-versions = %v %q", err, out)
	}
	if out, err := cli(t, e, alice, "s3", "rb", "s3://cli-versions"); err == nil || !strings.Contains(out, "BucketNotEmpty") {
		t.Fatalf("aws s3 rb with versions left = %v %q", err, out)
	}
}
