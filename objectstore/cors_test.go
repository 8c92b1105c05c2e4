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
	"github.com/minio/minio-go/v7/pkg/cors"
)

// preflight sends a browser's OPTIONS request (unsigned) for path.
func (e *testEnv) preflight(t *testing.T, path, origin, method, headers string) rawResponse {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if method != "" {
		h.Set("Access-Control-Request-Method", method)
	}
	if headers != "" {
		h.Set("Access-Control-Request-Headers", headers)
	}
	return e.do(t, alice, rawRequest{method: http.MethodOptions, path: path, header: h, unsigned: true})
}

func sdkCORS(t *testing.T, c *s3.Client, bucket string) *s3.GetBucketCorsOutput {
	t.Helper()
	out, err := c.GetBucketCors(context.Background(), &s3.GetBucketCorsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("GetBucketCors: %v", err)
	}
	return out
}

var webRules = []types.CORSRule{
	{
		ID: aws.String("app"), AllowedOrigins: []string{"https://*.example.com"}, AllowedMethods: []string{"GET", "PUT"},
		AllowedHeaders: []string{"Content-*", "x-amz-*"}, ExposeHeaders: []string{"ETag", "x-amz-request-id"}, MaxAgeSeconds: aws.Int32(600),
	},
	{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "HEAD"}},
}

func TestCORSConfigurationSDK(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "web-assets"
	mustCreate(t, c, bucket, "")
	if _, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)}); apiCode(err) != CodeNoSuchCORSConfiguration {
		t.Fatalf("GetBucketCors without a configuration = %v", err)
	}
	if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: webRules}}); err != nil {
		t.Fatalf("PutBucketCors: %v", err)
	}
	got := sdkCORS(t, c, bucket)
	if len(got.CORSRules) != 2 || aws.ToString(got.CORSRules[0].ID) != "app" || aws.ToInt32(got.CORSRules[0].MaxAgeSeconds) != 600 ||
		!slices.Equal(got.CORSRules[0].AllowedHeaders, webRules[0].AllowedHeaders) || !slices.Equal(got.CORSRules[1].AllowedMethods, []string{"GET", "HEAD"}) {
		t.Fatalf("GetBucketCors = %+v", got.CORSRules)
	}
	// Refusals change nothing.
	for _, bad := range []types.CORSRule{
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"PATCH"}},
		{AllowedOrigins: []string{"https://*.*.example.com"}, AllowedMethods: []string{"GET"}},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, AllowedHeaders: []string{"*-*"}},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, ExposeHeaders: []string{"*"}},
	} {
		_, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket),
			CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{bad}}})
		if apiCode(err) != CodeInvalidRequest {
			t.Fatalf("PutBucketCors %+v = %v, want InvalidRequest", bad, err)
		}
	}
	for _, body := range []string{"", "<CORSConfiguration/>", "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
		"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>",
		"<CORSConfiguration>" + strings.Repeat("<CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule>", 101) + "</CORSConfiguration>",
		"not xml"} {
		res := e.do(t, alice, rawRequest{method: "PUT", path: "/" + bucket, query: url.Values{"cors": {""}}, body: []byte(body)})
		expectError(t, res, "PUT", http.StatusBadRequest, CodeMalformedXML)
	}
	if _, err := sdkClient(e, bob).PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: webRules[1:]}}); apiCode(err) != "AccessDenied" {
		t.Fatalf("bob's PutBucketCors = %v", err)
	}
	if _, err := sdkClient(e, bob).DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(bucket)}); apiCode(err) != "AccessDenied" {
		t.Fatalf("bob's DeleteBucketCors = %v", err)
	}
	if got := sdkCORS(t, c, bucket); len(got.CORSRules) != 2 {
		t.Fatalf("rules after refusals = %+v", got.CORSRules)
	}
	if _, err := c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)}); apiCode(err) != CodeNoSuchCORSConfiguration {
		t.Fatalf("GetBucketCors after delete = %v", err)
	}
}

func TestCORSPreflight(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "web-app"
	mustCreate(t, c, bucket, "")
	mustPut(t, c, bucket, "index.html", "<html/>", "")

	// Without a configuration, every preflight is refused; so is one to a bucket that does
	// not exist, alike.
	expectError(t, e.preflight(t, "/"+bucket+"/index.html", "https://app.example.com", "GET", ""), "OPTIONS", 403, CodeAccessForbidden)
	expectError(t, e.preflight(t, "/no-such-bucket/x", "https://app.example.com", "GET", ""), "OPTIONS", 403, CodeAccessForbidden)

	if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: webRules}}); err != nil {
		t.Fatal(err)
	}
	res := e.preflight(t, "/"+bucket+"/upload/new.bin", "https://app.example.com", "PUT", "Content-Type, X-Amz-Date")
	if res.status != http.StatusOK {
		t.Fatalf("preflight = %d %s", res.status, res.body)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Methods":     "GET, PUT",
		"Access-Control-Allow-Headers":     "content-type, x-amz-date",
		"Access-Control-Expose-Headers":    "ETag, x-amz-request-id",
		"Access-Control-Max-Age":           "600",
		"Access-Control-Allow-Credentials": "true",
	}
	for k, v := range want {
		if got := res.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// The second rule answers any origin for GET, with "*".
	res = e.preflight(t, "/"+bucket+"/index.html", "https://elsewhere.test", "GET", "")
	if res.status != http.StatusOK || res.header.Get("Access-Control-Allow-Origin") != "*" || res.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight from elsewhere = %d %v", res.status, res.header)
	}
	for _, tc := range []struct {
		name, origin, method, headers string
		status                        int
		code                          string
	}{
		{"origin not allowed to PUT", "https://elsewhere.test", "PUT", "", 403, CodeAccessForbidden},
		{"header not allowed", "https://app.example.com", "PUT", "Authorization", 403, CodeAccessForbidden},
		{"method not allowed", "https://app.example.com", "DELETE", "", 403, CodeAccessForbidden},
		{"suffix only", "https://example.com", "PUT", "", 403, CodeAccessForbidden},
		{"no origin", "", "GET", "", 400, CodeBadRequest},
		{"no method", "https://app.example.com", "", "", 400, CodeBadRequest},
		{"unknown method", "https://app.example.com", "PATCH", "", 400, CodeBadRequest},
	} {
		res := e.preflight(t, "/"+bucket+"/index.html", tc.origin, tc.method, tc.headers)
		expectError(t, res, "OPTIONS", tc.status, tc.code)
		if res.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: refused preflight allows an origin", tc.name)
		}
	}

	// Actual requests from an allowed origin carry the headers, refusals included.
	res = e.do(t, alice, rawRequest{method: "GET", path: "/" + bucket + "/index.html", header: http.Header{"Origin": {"https://app.example.com"}}})
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || res.header.Get("Access-Control-Expose-Headers") != "ETag, x-amz-request-id" {
		t.Fatalf("GET with Origin = %d %v", res.status, res.header)
	}
	res = e.do(t, bob, rawRequest{method: "GET", path: "/" + bucket + "/index.html", header: http.Header{"Origin": {"https://app.example.com"}}})
	if res.status != 403 || res.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("bob's GET with Origin = %d %v", res.status, res.header)
	}
	res = e.do(t, alice, rawRequest{method: "DELETE", path: "/" + bucket + "/index.html", header: http.Header{"Origin": {"https://app.example.com"}}})
	if res.status != 204 || res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("DELETE from an origin no rule allows to = %d %v", res.status, res.header)
	}
}

func TestCORSMinio(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := minioClient(t, e, alice)
	const bucket = "minio-cors"
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	cfg := cors.NewConfig([]cors.Rule{{AllowedOrigin: []string{"http://localhost:*"}, AllowedMethod: []string{"GET"}, MaxAgeSeconds: 30}})
	if err := c.SetBucketCors(ctx, bucket, cfg); err != nil {
		t.Fatalf("SetBucketCors: %v", err)
	}
	got, err := c.GetBucketCors(ctx, bucket)
	if err != nil || len(got.CORSRules) != 1 || got.CORSRules[0].MaxAgeSeconds != 30 || got.CORSRules[0].AllowedOrigin[0] != "http://localhost:*" {
		t.Fatalf("GetBucketCors = %+v, %v", got, err)
	}
	res := e.preflight(t, "/"+bucket+"/k", "http://localhost:8080", "GET", "")
	if res.status != 200 || res.header.Get("Access-Control-Max-Age") != "30" {
		t.Fatalf("preflight = %d %v", res.status, res.header)
	}
	if err := c.SetBucketCors(ctx, bucket, nil); err != nil {
		t.Fatalf("removing CORS: %v", err)
	}
	expectError(t, e.preflight(t, "/"+bucket+"/k", "http://localhost:8080", "GET", ""), "OPTIONS", 403, CodeAccessForbidden)
}

const corsPython = `
import json, sys
import boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
out = {}
s3.create_bucket(Bucket="py-cors")
s3.put_bucket_cors(Bucket="py-cors", CORSConfiguration={"CORSRules": [
    {"AllowedOrigins": ["https://py.example"], "AllowedMethods": ["POST"], "ExposeHeaders": ["ETag"]}]})
out["rules"] = s3.get_bucket_cors(Bucket="py-cors")["CORSRules"]
try:
    s3.put_bucket_cors(Bucket="py-cors", CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["TRACE"]}]})
except ClientError as e:
    out["bad"] = e.response["Error"]["Code"]
print(json.dumps(out))
`

func TestCORSBoto3AndCLI(t *testing.T) {
	e := newTestEnv(t)
	cmd := exec.Command("python3", "-c", corsPython, e.url)
	cmd.Env = clientEnv(t, alice)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, raw)
	}
	var out struct {
		Rules []struct{ AllowedOrigins, AllowedMethods, ExposeHeaders []string }
		Bad   string
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 output %s: %v", raw, err)
	}
	if len(out.Rules) != 1 || out.Rules[0].AllowedMethods[0] != "POST" || out.Rules[0].ExposeHeaders[0] != "ETag" || out.Bad != CodeInvalidRequest {
		t.Fatalf("boto3 saw %+v", out)
	}
	got := runCLI(t, e, alice, "s3api", "get-bucket-cors", "--bucket", "py-cors")
	if !strings.Contains(got, "https://py.example") {
		t.Fatalf("aws s3api get-bucket-cors = %s", got)
	}
	runCLI(t, e, alice, "s3api", "delete-bucket-cors", "--bucket", "py-cors")
	if out, err := cli(t, e, alice, "s3api", "get-bucket-cors", "--bucket", "py-cors"); err == nil || !strings.Contains(out, CodeNoSuchCORSConfiguration) {
		t.Fatalf("get-bucket-cors after delete = %v %s", err, out)
	}
}
