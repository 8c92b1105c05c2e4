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
	"testing"
)

// boto3Script drives the store with boto3 and prints what it saw as JSON.
const boto3Script = `
import json, sys
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3", endpoint_url=sys.argv[1])
out = {}
s3.create_bucket(Bucket="boto-bucket")
for key in ["logs/2026/a.txt", "logs/2026/b.txt", "logs/readme", "top & tail.txt", "ctl\x01char"]:
    s3.put_object(Bucket="boto-bucket", Key=key, Body=("data:" + key).encode(), ContentType="text/plain",
                  Metadata={"owner": "boto"})
obj = s3.get_object(Bucket="boto-bucket", Key="logs/readme")
out["body"] = obj["Body"].read().decode()
out["meta"] = obj["Metadata"]
out["type"] = obj["ContentType"]
out["range"] = s3.get_object(Bucket="boto-bucket", Key="logs/readme", Range="bytes=5-")["Body"].read().decode()
v1 = s3.list_objects(Bucket="boto-bucket", Prefix="logs/", Delimiter="/")
out["v1_keys"] = [o["Key"] for o in v1.get("Contents", [])]
out["v1_prefixes"] = [p["Prefix"] for p in v1.get("CommonPrefixes", [])]
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="boto-bucket", PaginationConfig={"PageSize": 2}):
    keys += [o["Key"] for o in page.get("Contents", [])]
out["v2_keys"] = keys
out["buckets"] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
try:
    s3.get_object(Bucket="boto-bucket", Key="missing")
except ClientError as e:
    out["missing"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
for key in keys:
    s3.delete_object(Bucket="boto-bucket", Key=key)
s3.delete_bucket(Bucket="boto-bucket")
print(json.dumps(out))
`

func TestBoto3(t *testing.T) {
	e := newTestEnv(t)
	cmd := exec.Command("python3", "-c", boto3Script, e.url)
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
		Body       string
		Meta       map[string]string
		Type       string
		Range      string
		V1Keys     []string `json:"v1_keys"`
		V1Prefixes []string `json:"v1_prefixes"`
		V2Keys     []string `json:"v2_keys"`
		Buckets    []string
		Missing    []any
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 output %q: %v", raw, err)
	}
	if out.Body != "data:logs/readme" || out.Meta["owner"] != "boto" || out.Type != "text/plain" || out.Range != "logs/readme" {
		t.Fatalf("boto3 get_object = %+v", out)
	}
	if !slices.Equal(out.V1Keys, []string{"logs/readme"}) || !slices.Equal(out.V1Prefixes, []string{"logs/2026/"}) {
		t.Fatalf("boto3 list_objects = %q %q", out.V1Keys, out.V1Prefixes)
	}
	if want := []string{"ctl\x01char", "logs/2026/a.txt", "logs/2026/b.txt", "logs/readme", "top & tail.txt"}; !slices.Equal(out.V2Keys, want) {
		t.Fatalf("boto3 list_objects_v2 = %q, want %q", out.V2Keys, want)
	}
	if !slices.Equal(out.Buckets, []string{"boto-bucket"}) {
		t.Fatalf("boto3 list_buckets = %q", out.Buckets)
	}
	if len(out.Missing) != 2 || out.Missing[0] != CodeNoSuchKey || out.Missing[1] != float64(404) {
		t.Fatalf("boto3 missing key = %v", out.Missing)
	}
}
