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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// integrityBoto3Script drives checksums, conditional writes, GetObjectAttributes, parts and
// URL-encoded listings through boto3, printing what it saw as JSON.
const integrityBoto3Script = `
import json, sys
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3", endpoint_url=sys.argv[1])
out = {}
s3.create_bucket(Bucket="boto-sums")
# Without botocore[crt] (not installed) boto3 computes only these.
for alg in ["CRC32", "SHA1", "SHA256"]:
    r = s3.put_object(Bucket="boto-sums", Key="k-" + alg, Body=b"boto payload", ChecksumAlgorithm=alg)
    h = s3.head_object(Bucket="boto-sums", Key="k-" + alg, ChecksumMode="ENABLED")
    g = s3.get_object(Bucket="boto-sums", Key="k-" + alg, ChecksumMode="ENABLED")
    body = g["Body"].read().decode()
    out[alg] = [r.get("Checksum" + alg), h.get("Checksum" + alg), body]
a = s3.get_object_attributes(Bucket="boto-sums", Key="k-SHA256", ObjectAttributes=["Checksum", "ObjectSize", "ETag"])
out["attrs"] = [a["Checksum"].get("ChecksumSHA256"), a["ObjectSize"], a["ETag"]]
def code(f):
    try:
        f()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]
out["if_none_match_new"] = code(lambda: s3.put_object(Bucket="boto-sums", Key="once", Body=b"1", IfNoneMatch="*"))
out["if_none_match_again"] = code(lambda: s3.put_object(Bucket="boto-sums", Key="once", Body=b"2", IfNoneMatch="*"))
out["if_match_wrong"] = code(lambda: s3.put_object(Bucket="boto-sums", Key="once", Body=b"2", IfMatch='"00000000000000000000000000000000"'))
out["bad_sha256"] = code(lambda: s3.put_object(Bucket="boto-sums", Key="bad", Body=b"x", ChecksumSHA256="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="))
up = s3.create_multipart_upload(Bucket="boto-sums", Key="mp", ChecksumAlgorithm="SHA256")
parts = []
for n, data in [(1, b"a" * (5 << 20)), (2, b"tail")]:
    p = s3.upload_part(Bucket="boto-sums", Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=data, ChecksumAlgorithm="SHA256")
    parts.append({"PartNumber": n, "ETag": p["ETag"], "ChecksumSHA256": p["ChecksumSHA256"]})
c = s3.complete_multipart_upload(Bucket="boto-sums", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
c2 = s3.complete_multipart_upload(Bucket="boto-sums", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
out["mpu"] = [c.get("ChecksumSHA256"), c.get("ChecksumType"), c2["ETag"] == c["ETag"]]
p2 = s3.get_object(Bucket="boto-sums", Key="mp", PartNumber=2)
out["part2"] = [p2["Body"].read().decode(), p2["PartsCount"]]
s3.put_object(Bucket="boto-sums", Key="dir one/a b+c&d.txt", Body=b"odd")
# boto3 asks for encoding-type=url itself and decodes the keys.
out["keys"] = [o["Key"] for o in s3.list_objects(Bucket="boto-sums", Prefix="dir ")["Contents"]]
out["keys_v2"] = [o["Key"] for o in s3.list_objects_v2(Bucket="boto-sums", Prefix="dir ")["Contents"]]
out["versions"] = [v["Key"] for v in s3.list_object_versions(Bucket="boto-sums", Prefix="dir ")["Versions"]]
for name in ["boto-page-a", "boto-page-b", "boto-page-c"]:
    s3.create_bucket(Bucket=name)
s3.create_bucket(Bucket="boto-page-a")  # us-east-1: succeeds, changes nothing
pages = s3.get_paginator("list_buckets").paginate(Prefix="boto-page-", PaginationConfig={"PageSize": 2})
out["bucket_pages"] = [[b["Name"] for b in p["Buckets"]] for p in pages]
print(json.dumps(out))
`

// TestIntegrityBoto3 checks checksums, conditional writes, GetObjectAttributes, GET of a part
// and URL-encoded listings as boto3 uses them.
func TestIntegrityBoto3(t *testing.T) {
	e := newTestEnv(t)
	cmd := exec.Command("python3", "-c", integrityBoto3Script, e.url)
	cmd.Env = clientEnv(t, alice)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, stderrOf(err))
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 output %q: %v", raw, err)
	}
	payload := []byte("boto payload")
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		want := referenceSum(alg, payload)
		got, _ := out[string(alg)].([]any)
		if len(got) != 3 || got[0] != want || got[1] != want || got[2] != string(payload) {
			t.Fatalf("boto3 %s = %v, want checksum %s", alg, got, want)
		}
	}
	attrs, _ := out["attrs"].([]any)
	if len(attrs) != 3 || attrs[0] != referenceSum(types.ChecksumAlgorithmSha256, payload) || attrs[1] != float64(len(payload)) {
		t.Fatalf("boto3 get_object_attributes = %v", attrs)
	}
	for name, want := range map[string]string{"if_none_match_new": "ok", "if_none_match_again": CodePreconditionFailed,
		"if_match_wrong": CodePreconditionFailed, "bad_sha256": CodeBadDigest} {
		if out[name] != want {
			t.Fatalf("boto3 %s = %v, want %s", name, out[name], want)
		}
	}
	wantMPU := composite(types.ChecksumAlgorithmSha256, []byte(strings.Repeat("a", 5<<20)), []byte("tail"))
	if mpu, _ := out["mpu"].([]any); len(mpu) != 3 || mpu[0] != wantMPU || mpu[1] != "COMPOSITE" || mpu[2] != true {
		t.Fatalf("boto3 multipart = %v, want %s", out["mpu"], wantMPU)
	}
	if p, _ := out["part2"].([]any); len(p) != 2 || p[0] != "tail" || p[1] != float64(2) {
		t.Fatalf("boto3 part 2 = %v", out["part2"])
	}
	if p, _ := json.Marshal(out["bucket_pages"]); string(p) != `[["boto-page-a","boto-page-b"],["boto-page-c"]]` {
		t.Fatalf("boto3 list_buckets pages = %s", p)
	}
	for _, name := range []string{"keys", "keys_v2", "versions"} {
		if k, _ := out[name].([]any); len(k) != 1 || k[0] != "dir one/a b+c&d.txt" {
			t.Fatalf("boto3 %s = %v", name, out[name])
		}
	}
}

// TestIntegrityAWSCLI checks checksums and conditional writes as the AWS CLI sends them:
// s3api put-object with a checksum algorithm, a multipart "aws s3 cp", and If-None-Match.
func TestIntegrityAWSCLI(t *testing.T) {
	e := newTestEnv(t)
	runCLI(t, e, alice, "s3", "mb", "s3://cli-sums")
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("cli payload"), 0o600); err != nil {
		t.Fatal(err)
	}
	var put struct{ ChecksumSHA1 string }
	if err := json.Unmarshal([]byte(runCLI(t, e, alice, "s3api", "put-object", "--bucket", "cli-sums", "--key", "small",
		"--body", small, "--checksum-algorithm", "SHA1")), &put); err != nil || put.ChecksumSHA1 != referenceSum(types.ChecksumAlgorithmSha1, []byte("cli payload")) {
		t.Fatalf("put-object = %+v, %v", put, err)
	}
	var head struct{ ChecksumSHA1 string }
	if err := json.Unmarshal([]byte(runCLI(t, e, alice, "s3api", "head-object", "--bucket", "cli-sums", "--key", "small", "--checksum-mode", "ENABLED")), &head); err != nil || head.ChecksumSHA1 != put.ChecksumSHA1 {
		t.Fatalf("head-object = %+v, %v", head, err)
	}
	out, err := cli(t, e, alice, "s3api", "put-object", "--bucket", "cli-sums", "--key", "small", "--body", small, "--if-none-match", "*")
	if err == nil || !strings.Contains(out, CodePreconditionFailed) {
		t.Fatalf("put-object --if-none-match * over an object = %v: %s", err, out)
	}
	big := filepath.Join(dir, "big")
	data := []byte(strings.Repeat("0123456789abcdef", 12<<20/16))
	if err := os.WriteFile(big, data, 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, e, alice, "configure", "set", "default.s3.multipart_chunksize", "5MB")
	runCLI(t, e, alice, "s3", "cp", big, "s3://cli-sums/big", "--checksum-algorithm", "SHA256")
	var attrs struct {
		ObjectParts struct{ TotalPartsCount int }
		ObjectSize  int
	}
	if err := json.Unmarshal([]byte(runCLI(t, e, alice, "s3api", "get-object-attributes", "--bucket", "cli-sums", "--key", "big",
		"--object-attributes", "ObjectParts", "ObjectSize")), &attrs); err != nil || attrs.ObjectSize != len(data) || attrs.ObjectParts.TotalPartsCount < 2 {
		t.Fatalf("get-object-attributes of a multipart copy = %+v, %v", attrs, err)
	}
	back := filepath.Join(dir, "back")
	runCLI(t, e, alice, "s3", "cp", "s3://cli-sums/big", back)
	if got, err := os.ReadFile(back); err != nil || string(got) != string(data) {
		t.Fatalf("the multipart object reads back %d bytes, %v", len(got), err)
	}
}
