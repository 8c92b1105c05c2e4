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
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"pinet.io/pinet/internal/awsauth"
)

// serveWithTimeouts runs a store through Serve (the server's own timeouts) on a loopback port.
func serveWithTimeouts(t *testing.T, readTimeout, progress time.Duration) *testEnv {
	t.Helper()
	srv, err := New(Config{
		DataDir: t.TempDir(), Auth: testAuthenticator(), Authz: testAuthorizer{}, Region: testRegion,
		Logger: testLogger(t), ReadTimeout: readTimeout, BodyProgressTimeout: progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testEnv{srv: srv, host: ln.Addr().String(), url: "http://" + ln.Addr().String()}
}

// streamedPut starts an unsigned-payload PUT of size bytes as u whose body the caller writes.
func streamedPut(ctx context.Context, t *testing.T, e *testEnv, u testUser, path string, size int64) (*io.PipeWriter, <-chan *http.Response, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, e.url+path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", awsauth.UnsignedPayload)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: u.ak, SecretAccessKey: u.sk}
	if err := signer.SignHTTP(ctx, creds, req, awsauth.UnsignedPayload, "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resps, errs := make(chan *http.Response, 1), make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			errs <- err
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resps <- resp
	}()
	return pw, resps, errs
}

// TestStalledUploadIsCutOff: an authenticated upload whose body stops moving is ended by the
// server, and leaves no object behind.
func TestStalledUploadIsCutOff(t *testing.T) {
	e := serveWithTimeouts(t, time.Second, time.Second)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/stall"})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pw, resps, errs := streamedPut(ctx, t, e, alice, "/stall/object", 1<<20)
	go func() { _, _ = pw.Write(make([]byte, 10<<10)) }() // then nothing more
	defer pw.Close()
	select {
	case resp := <-resps:
		if resp.StatusCode/100 == 2 {
			t.Fatalf("a stalled upload succeeded: %d", resp.StatusCode)
		}
	case <-errs: // the server closed the connection
	case <-ctx.Done():
		t.Fatal("the server kept waiting for a stalled body")
	}
	if res := e.do(t, alice, rawRequest{method: http.MethodHead, path: "/stall/object"}); res.status != http.StatusNotFound {
		t.Errorf("HEAD of the stalled object = %d, want 404", res.status)
	}
}

// TestSlowUploadOutlastsTheReadTimeout: an authenticated upload that keeps moving may take far
// longer than the read timeout.
func TestSlowUploadOutlastsTheReadTimeout(t *testing.T) {
	e := serveWithTimeouts(t, 500*time.Millisecond, 30*time.Second)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/slow"})

	const chunks, chunk = 10, 4 << 10
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pw, resps, errs := streamedPut(ctx, t, e, alice, "/slow/object", chunks*chunk)
	go func() {
		for range chunks {
			time.Sleep(200 * time.Millisecond)
			if _, err := pw.Write(make([]byte, chunk)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	select {
	case resp := <-resps:
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("slow upload = %d", resp.StatusCode)
		}
	case err := <-errs:
		t.Fatalf("slow upload: %v", err)
	}
	res := e.mustOK(t, alice, rawRequest{method: http.MethodHead, path: "/slow/object"})
	if got := res.header.Get("Content-Length"); got != "40960" {
		t.Errorf("stored %s bytes, want 40960", got)
	}
}
