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
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/go-logr/logr/funcr"
)

// logLines collects the JSON log lines of a server.
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (l *logLines) add(args string) {
	var m map[string]any
	if err := json.Unmarshal([]byte(args), &m); err != nil {
		panic("log line is not JSON: " + args)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, m)
}

// byID returns the request lines with request id id.
func (l *logLines) byID(id string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, m := range l.lines {
		if m["msg"] == "S3 request" && m["requestID"] == id {
			out = append(out, m)
		}
	}
	return out
}

// oneLine checks there is exactly one request line for id, with the fields of want.
func (l *logLines) oneLine(t *testing.T, id string, want map[string]any) {
	t.Helper()
	got := l.byID(id)
	if len(got) != 1 {
		t.Fatalf("%d request lines for request %s, want 1", len(got), id)
	}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("request %s: %s = %v (%T), want %v; line %v", id, k, got[0][k], got[0][k], v, got[0])
		}
	}
	if lat, _ := got[0]["latency"].(string); lat == "" {
		t.Errorf("request %s: no latency in %v", id, got[0])
	}
}

func TestRequestLog(t *testing.T) {
	lines := &logLines{}
	e := newTestEnv(t, func(c *Config) { c.Logger = funcr.NewJSON(lines.add, funcr.Options{}) })
	ctx := context.Background()
	c := sdkClient(e, alice)
	bucket := aws.String("logged")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("dir/k"), Body: strings.NewReader("hello")})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(put.ResultMetadata)
	lines.oneLine(t, id, map[string]any{"operation": "PutObject", "user": "alice", "project": "proj-a",
		"bucket": "logged", "key": "dir/k", "status": float64(200), "bytesIn": float64(5), "bytesOut": float64(0), "anonymous": false})

	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("dir/k")})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(get.Body)
	get.Body.Close()
	id, _ = awsmiddleware.GetRequestIDMetadata(get.ResultMetadata)
	lines.oneLine(t, id, map[string]any{"operation": "GetObject", "user": "alice", "status": float64(200), "bytesOut": float64(5), "method": "GET"})

	// A refusal is logged too, with the caller it refused.
	_, err = sdkClient(e, bob).GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("dir/k")})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || apiCode(err) != "AccessDenied" {
		t.Fatalf("bob's GetObject = %v, want AccessDenied", err)
	}
	lines.oneLine(t, re.ServiceRequestID(), map[string]any{"operation": "GetObject", "user": "bob", "project": "proj-b", "status": float64(403)})

	// So is an anonymous one, and one that never got as far as an operation.
	res := e.do(t, alice, rawRequest{method: "GET", path: "/logged/dir/k", unsigned: true})
	lines.oneLine(t, res.header.Get("x-amz-request-id"), map[string]any{"anonymous": true, "user": "", "status": float64(403)})
	res = e.do(t, alice, rawRequest{method: "GET", path: "/Bad_Bucket"})
	expectError(t, res, "GET", 400, CodeInvalidBucketName)
	lines.oneLine(t, res.header.Get("x-amz-request-id"), map[string]any{"operation": "", "user": "alice", "status": float64(400)})
}
