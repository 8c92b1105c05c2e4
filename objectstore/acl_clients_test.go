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
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestACLMinio(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b, anon := minioClient(t, e, alice), minioClient(t, e, bob), minioClient(t, e, nobody)
	if err := a.MakeBucket(ctx, "minio-acl", minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	put := func(key, acl string) {
		t.Helper()
		opts := minio.PutObjectOptions{}
		if acl != "" {
			opts.UserMetadata = map[string]string{"x-amz-acl": acl}
		}
		if _, err := a.PutObject(ctx, "minio-acl", key, strings.NewReader("data of "+key), -1, opts); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
	}
	read := func(c *minio.Client, key string) (string, string) {
		obj, err := c.GetObject(ctx, "minio-acl", key, minio.GetObjectOptions{})
		if err != nil {
			return "", minio.ToErrorResponse(err).Code
		}
		defer obj.Close()
		data, err := io.ReadAll(obj)
		if err != nil {
			return "", minio.ToErrorResponse(err).Code
		}
		return string(data), ""
	}
	put("public", "public-read")
	put("private", "")
	if got, code := read(anon, "public"); got != "data of public" {
		t.Fatalf("anonymous minio GET of public-read = %q %q", got, code)
	}
	if _, code := read(anon, "private"); code != CodeAccessDenied {
		t.Fatalf("anonymous minio GET of private = %q", code)
	}
	info, err := a.GetObjectACL(ctx, "minio-acl", "public")
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata.Get("X-Amz-Acl") != "public-read" || info.Owner.ID != ProjectCanonicalID("proj-a") {
		t.Fatalf("minio GetObjectACL = %v, owner %+v", info.Metadata, info.Owner)
	}
	// Bucket policies through minio: a public listing, then a Deny for bob over the public grant.
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::minio-acl"]},
		{"Effect":"Deny","Principal":{"AWS":["%s"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::minio-acl/*"]}]}`, UserCanonicalID("bob"))
	if err := a.SetBucketPolicy(ctx, "minio-acl", policy); err != nil {
		t.Fatal(err)
	}
	if got, err := a.GetBucketPolicy(ctx, "minio-acl"); err != nil || got != policy {
		t.Fatalf("GetBucketPolicy = %q, %v", got, err)
	}
	var keys []string
	for o := range anon.ListObjects(ctx, "minio-acl", minio.ListObjectsOptions{}) {
		if o.Err != nil {
			t.Fatalf("anonymous listing under a public policy: %v", o.Err)
		}
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"private", "public"}) {
		t.Fatalf("anonymous listing = %q", keys)
	}
	if _, code := read(b, "public"); code != CodeAccessDenied {
		t.Fatalf("bob, denied by policy, reading a public-read object = %q", code)
	}
	if got, _ := read(anon, "public"); got != "data of public" {
		t.Fatal("the Deny for bob closed the object to everyone")
	}
	if err := b.SetBucketPolicy(ctx, "minio-acl", ""); minio.ToErrorResponse(err).Code != CodeAccessDenied {
		t.Fatalf("bob removing alice's policy = %v", err)
	}
	if err := a.SetBucketPolicy(ctx, "minio-acl", ""); err != nil {
		t.Fatal(err)
	}
	if got, err := a.GetBucketPolicy(ctx, "minio-acl"); err != nil || got != "" {
		t.Fatalf("GetBucketPolicy after removal = %q, %v", got, err)
	}
	if got, _ := read(b, "public"); got != "data of public" {
		t.Fatal("bob still denied after the policy went")
	}
	if err := a.SetBucketPolicy(ctx, "minio-acl", `{"Statement":"everything"}`); minio.ToErrorResponse(err).Code != CodeMalformedPolicy {
		t.Fatalf("malformed policy through minio = %v", err)
	}
}

// boto3ACLScript drives ACLs, policies and Block Public Access with boto3 and prints what it saw.
const boto3ACLScript = `
import json, sys
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

url, bob_id = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=url)
anon = boto3.client("s3", endpoint_url=url, config=Config(signature_version=UNSIGNED))
out = {}
def code(f):
    try:
        f()
        return "ok"
    except ClientError as e:
        return "%s/%d" % (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
b = "boto-acl"
s3.create_bucket(Bucket=b, ACL="public-read")
s3.put_object(Bucket=b, Key="pub", Body=b"pub", ACL="public-read")
s3.put_object(Bucket=b, Key="priv", Body=b"priv")
out["anon_pub"] = anon.get_object(Bucket=b, Key="pub")["Body"].read().decode()
out["anon_priv"] = code(lambda: anon.get_object(Bucket=b, Key="priv"))
out["anon_list"] = [o["Key"] for o in anon.list_objects_v2(Bucket=b).get("Contents", [])]
acl = s3.get_bucket_acl(Bucket=b)
out["bucket_grants"] = sorted(g["Grantee"]["Type"] + ":" + g["Permission"] for g in acl["Grants"])
owner = acl["Owner"]
s3.put_object_acl(Bucket=b, Key="priv", AccessControlPolicy={"Owner": owner, "Grants": [
    {"Grantee": {"Type": "CanonicalUser", "ID": bob_id}, "Permission": "READ"}]})
out["obj_grants"] = [[g["Grantee"]["ID"], g["Permission"]] for g in s3.get_object_acl(Bucket=b, Key="priv")["Grants"]]
out["bad_canned"] = code(lambda: s3.put_bucket_acl(Bucket=b, ACL="everyone"))
out["bad_grant"] = code(lambda: s3.put_object_acl(Bucket=b, Key="priv", GrantRead='id="nope"'))
out["no_policy"] = code(lambda: s3.get_bucket_policy(Bucket=b))
out["bad_policy"] = code(lambda: s3.put_bucket_policy(Bucket=b, Policy='{"Statement":[{"Effect":"Allow"}]}'))
pol = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::boto-acl/pub"}]})
s3.put_bucket_policy(Bucket=b, Policy=pol)
out["policy_back"] = s3.get_bucket_policy(Bucket=b)["Policy"] == pol
out["anon_pub_denied"] = code(lambda: anon.get_object(Bucket=b, Key="pub"))
s3.delete_bucket_policy(Bucket=b)
out["no_pab"] = code(lambda: s3.get_public_access_block(Bucket=b))
s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True,
    "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
out["pab"] = s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
out["anon_pub_ignored"] = code(lambda: anon.get_object(Bucket=b, Key="pub"))
out["blocked_acl"] = code(lambda: s3.put_object_acl(Bucket=b, Key="priv", ACL="public-read"))
s3.delete_public_access_block(Bucket=b)
out["anon_pub_again"] = code(lambda: anon.get_object(Bucket=b, Key="pub"))
print(json.dumps(out))
`

func TestACLBoto3(t *testing.T) {
	e := newTestEnv(t)
	cmd := exec.Command("python3", "-c", boto3ACLScript, e.url, UserCanonicalID("bob"))
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
		AnonPub        string          `json:"anon_pub"`
		AnonPriv       string          `json:"anon_priv"`
		AnonList       []string        `json:"anon_list"`
		BucketGrants   []string        `json:"bucket_grants"`
		ObjGrants      [][]string      `json:"obj_grants"`
		BadCanned      string          `json:"bad_canned"`
		BadGrant       string          `json:"bad_grant"`
		NoPolicy       string          `json:"no_policy"`
		BadPolicy      string          `json:"bad_policy"`
		PolicyBack     bool            `json:"policy_back"`
		AnonPubDenied  string          `json:"anon_pub_denied"`
		NoPAB          string          `json:"no_pab"`
		PAB            map[string]bool `json:"pab"`
		AnonPubIgnored string          `json:"anon_pub_ignored"`
		BlockedACL     string          `json:"blocked_acl"`
		AnonPubAgain   string          `json:"anon_pub_again"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 output %s: %v", raw, err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"anonymous GET of public-read", out.AnonPub, "pub"},
		{"anonymous GET of private", out.AnonPriv, "AccessDenied/403"},
		{"bucket grants", fmt.Sprint(out.BucketGrants), "[CanonicalUser:FULL_CONTROL Group:READ]"},
		{"object grants", fmt.Sprint(out.ObjGrants), fmt.Sprint([][]string{{UserCanonicalID("bob"), "READ"}})},
		{"bad canned ACL", out.BadCanned, "InvalidArgument/400"},
		{"bad grant id", out.BadGrant, "InvalidArgument/400"},
		{"no policy", out.NoPolicy, "NoSuchBucketPolicy/404"},
		{"bad policy", out.BadPolicy, "MalformedPolicy/400"},
		{"policy read back", out.PolicyBack, true},
		{"Deny over public-read", out.AnonPubDenied, "AccessDenied/403"},
		{"no PAB", out.NoPAB, "NoSuchPublicAccessBlockConfiguration/404"},
		{"PAB", fmt.Sprint(out.PAB), "map[BlockPublicAcls:true BlockPublicPolicy:true IgnorePublicAcls:true RestrictPublicBuckets:true]"},
		{"IgnorePublicAcls", out.AnonPubIgnored, "AccessDenied/403"},
		{"BlockPublicAcls", out.BlockedACL, "AccessDenied/403"},
		{"PAB deleted", out.AnonPubAgain, "ok"},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if !slices.Equal(out.AnonList, []string{"priv", "pub"}) {
		t.Errorf("anonymous listing of a public-read bucket = %q", out.AnonList)
	}
}

func TestACLAWSCLI(t *testing.T) {
	e := newTestEnv(t)
	runCLI(t, e, alice, "s3api", "create-bucket", "--bucket", "cli-acl")
	runCLI(t, e, alice, "s3api", "put-object", "--bucket", "cli-acl", "--key", "k", "--acl", "public-read")
	var acl struct {
		Owner  struct{ ID, DisplayName string }
		Grants []struct {
			Grantee    struct{ Type, ID, URI string }
			Permission string
		}
	}
	if err := json.Unmarshal([]byte(runCLI(t, e, alice, "s3api", "get-object-acl", "--bucket", "cli-acl", "--key", "k")), &acl); err != nil {
		t.Fatal(err)
	}
	if acl.Owner.ID != ProjectCanonicalID("proj-a") || len(acl.Grants) != 2 || acl.Grants[1].Grantee.URI != groupAllUsers {
		t.Fatalf("get-object-acl = %+v", acl)
	}
	if out, err := cli(t, e, nobody, "--no-sign-request", "s3api", "head-object", "--bucket", "cli-acl", "--key", "k"); err != nil {
		t.Fatalf("anonymous head-object of public-read: %v\n%s", err, out)
	}
	runCLI(t, e, alice, "s3api", "put-object-acl", "--bucket", "cli-acl", "--key", "k", "--acl", "private")
	if out, err := cli(t, e, nobody, "--no-sign-request", "s3api", "get-object", "--bucket", "cli-acl", "--key", "k", t.TempDir()+"/k"); err == nil || !strings.Contains(out, CodeAccessDenied) {
		t.Fatalf("anonymous get-object of private = %v\n%s", err, out)
	}
	runCLI(t, e, alice, "s3api", "put-public-access-block", "--bucket", "cli-acl", "--public-access-block-configuration",
		"BlockPublicAcls=true,IgnorePublicAcls=false,BlockPublicPolicy=true,RestrictPublicBuckets=false")
	if out, err := cli(t, e, alice, "s3api", "put-bucket-policy", "--bucket", "cli-acl", "--policy", publicReadPolicy("cli-acl")); err == nil || !strings.Contains(out, CodeAccessDenied) {
		t.Fatalf("public policy under BlockPublicPolicy = %v\n%s", err, out)
	}
	if out, err := cli(t, e, alice, "s3api", "get-bucket-policy", "--bucket", "cli-acl"); err == nil || !strings.Contains(out, CodeNoSuchBucketPolicy) {
		t.Fatalf("get-bucket-policy with none = %v\n%s", err, out)
	}
	if out, err := cli(t, e, alice, "s3api", "put-bucket-acl", "--bucket", "cli-acl", "--acl", "public-everything"); err == nil || !strings.Contains(out, CodeInvalidArgument) {
		t.Fatalf("put-bucket-acl with a bad canned ACL = %v\n%s", err, out)
	}
	out := runCLI(t, e, alice, "s3api", "get-public-access-block", "--bucket", "cli-acl")
	if !strings.Contains(out, `"BlockPublicPolicy": true`) || !strings.Contains(out, `"IgnorePublicAcls": false`) {
		t.Fatalf("get-public-access-block = %s", out)
	}
}
