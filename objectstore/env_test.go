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
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"pinet.io/pinet/internal/awsauth"
)

const testRegion = "us-east-1"

// testUser is an access key of the test credential store.
type testUser struct {
	ak, sk string
	p      awsauth.Principal
}

var (
	alice   = testUser{"AKIAALICE00000000001", "alice-secret-key-0000000000000000000000", awsauth.Principal{User: "alice", Project: "proj-a"}}
	carol   = testUser{"AKIACAROL00000000001", "carol-secret-key-0000000000000000000000", awsauth.Principal{User: "carol", Project: "proj-a"}}
	bob     = testUser{"AKIABOB0000000000001", "bob-secret-key-000000000000000000000000", awsauth.Principal{User: "bob", Project: "proj-b"}}
	admin   = testUser{"AKIAADMIN00000000001", "admin-secret-key-0000000000000000000000", awsauth.Principal{User: "image-controller", Project: "pinet-system", Admin: true}}
	retired = testUser{"AKIARETIRED000000001", "retired-secret-key-00000000000000000000", awsauth.Principal{User: "old", Project: "proj-a"}}
	// chaos's requests make the test authorizer panic.
	chaos    = testUser{"AKIACHAOS00000000001", "chaos-secret-key-0000000000000000000000", awsauth.Principal{User: "chaos", Project: "proj-a"}}
	stranger = testUser{"AKIANOBODY0000000001", "nobody-secret-key-000000000000000000000", awsauth.Principal{}}
	// sysop is a member of PiNet's own project who is not an admin.
	sysop = testUser{"AKIASYSOP00000000001", "sysop-secret-key-0000000000000000000000", awsauth.Principal{User: "sysop", Project: "pinet-system"}}
	// reader acts in no project; the store's Grants may let it reach objects.
	reader = testUser{"AKIAREADER0000000001", "reader-secret-key-000000000000000000000", awsauth.Principal{User: "image-reader"}}
)

// credentials is an in-memory awsauth.CredentialStore.
type credentials map[string]testUser

func (c credentials) Lookup(_ context.Context, id string) (awsauth.Credential, error) {
	u, ok := c[id]
	switch {
	case !ok:
		return awsauth.Credential{}, fmt.Errorf("%w: %s", awsauth.ErrUnknownKey, id)
	case id == retired.ak:
		return awsauth.Credential{}, fmt.Errorf("%w: %s", awsauth.ErrRetiredKey, id)
	}
	return awsauth.Credential{AccessKeyID: u.ak, SecretAccessKey: u.sk, Principal: u.p}, nil
}

// testAuthorizer is ProjectAuthorizer, except that it panics for chaos and fails for
// project "broken".
type testAuthorizer struct{ ProjectAuthorizer }

func (a testAuthorizer) Allowed(ctx context.Context, p awsauth.Principal, verb, project string) (bool, error) {
	if p.User == chaos.p.User {
		panic("authorizer exploded")
	}
	if project == "broken" {
		return false, fmt.Errorf("subject access review failed")
	}
	return a.ProjectAuthorizer.Allowed(ctx, p, verb, project)
}

// testEnv is a store behind a real HTTP listener, authenticating with the real verifier.
type testEnv struct {
	srv *Server
	// hashes records the x-amz-content-sha256 of every write, to see how clients sent them.
	hashes chan string
	http   *httptest.Server
	url    string
	host   string
	dir    string
}

// testAuthenticator is the real verifier over the test users' credentials.
func testAuthenticator() Authenticator {
	users := credentials{}
	for _, u := range []testUser{alice, carol, bob, admin, retired, chaos, stranger, reader, sysop} {
		users[u.ak] = u
	}
	return VerifierAuthenticator{Verifier: &awsauth.Verifier{Store: users, Service: awsauth.ServiceS3}}
}

func testLogger(t *testing.T) logr.Logger {
	if os.Getenv("PINET_TEST_LOG") != "" {
		return testr.NewWithOptions(t, testr.Options{Verbosity: 1})
	}
	return logr.Discard()
}

func newTestEnv(t *testing.T, mutate ...func(*Config)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		DataDir: dir,
		Auth:    testAuthenticator(),
		Authz:   testAuthorizer{},
		Region:  testRegion,
		Logger:  testLogger(t),
		// admin and sysop act in it.
		SystemProject: "pinet-system",
	}
	for _, m := range append([]func(*Config){backendFromEnv(t)}, mutate...) {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{srv: srv, dir: dir, hashes: make(chan string, 1000)}
	e.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			select {
			case e.hashes <- r.Header.Get("X-Amz-Content-Sha256"):
			default:
			}
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(e.http.Close)
	u, _ := url.Parse(e.http.URL)
	e.url, e.host = e.http.URL, u.Host
	return e
}

// sawPayloadHash reports whether a write so far was signed with payload hash h.
func (e *testEnv) sawPayloadHash(h string) bool {
	for {
		select {
		case got := <-e.hashes:
			if got == h {
				return true
			}
		default:
			return false
		}
	}
}

// rawRequest is a hand-made request, signed with SigV4 over its whole payload unless told
// otherwise.
type rawRequest struct {
	method string
	path   string
	query  url.Values
	header http.Header
	body   []byte
	// payloadHash overrides the signed x-amz-content-sha256.
	payloadHash string
	// unsigned sends no signature at all.
	unsigned bool
	// at signs as of this time instead of now.
	at time.Time
	// chunked sends the body with HTTP chunked transfer coding, with no Content-Length.
	chunked bool
	// presign puts the signature in the query, valid for this long, instead of a header.
	presign time.Duration
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as user u.
func (e *testEnv) do(t *testing.T, u testUser, rr rawRequest) rawResponse {
	t.Helper()
	req := e.request(t, u, rr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rr.method, rr.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response to %s %s: %v", rr.method, rr.path, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// request makes the request rr of user u, signed unless rr says otherwise.
func (e *testEnv) request(t *testing.T, u testUser, rr rawRequest) *http.Request {
	t.Helper()
	target := (&url.URL{Scheme: "http", Host: e.host, Path: rr.path, RawQuery: rr.query.Encode()}).String()
	req, err := http.NewRequest(rr.method, target, bytes.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case rr.chunked:
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(rr.body)), -1
	case rr.body == nil:
		req.Body = http.NoBody
	}
	for k, vs := range rr.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h // the client sends req.Host, not a Host header
	}
	if !rr.unsigned {
		hash := rr.payloadHash
		if hash == "" {
			sum := sha256.Sum256(rr.body)
			hash = hex.EncodeToString(sum[:])
		}
		at := rr.at
		if at.IsZero() {
			at = time.Now()
		}
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		creds := aws.Credentials{AccessKeyID: u.ak, SecretAccessKey: u.sk}
		if rr.presign > 0 {
			q := req.URL.Query()
			q.Set("X-Amz-Expires", fmt.Sprint(int(rr.presign.Seconds())))
			req.URL.RawQuery = q.Encode()
			signed, _, err := signer.PresignHTTP(context.Background(), creds, req, awsauth.UnsignedPayload, "s3", testRegion, at)
			if err != nil {
				t.Fatal(err)
			}
			req.URL, _ = url.Parse(signed)
		} else {
			req.Header.Set("X-Amz-Content-Sha256", hash)
			if err := signer.SignHTTP(context.Background(), creds, req, hash, "s3", testRegion, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	return req
}

// mustOK sends a request and fails the test unless it gets a 2xx answer.
func (e *testEnv) mustOK(t *testing.T, u testUser, rr rawRequest) rawResponse {
	t.Helper()
	res := e.do(t, u, rr)
	if res.status/100 != 2 {
		t.Fatalf("%s %s = %d %s", rr.method, rr.path, res.status, res.body)
	}
	return res
}

// expectError checks a response is the S3 error code with status, a well-formed error body
// (none for HEAD) and a request id.
func expectError(t *testing.T, res rawResponse, method string, status int, code string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status = %d, want %d (%s); body %s", res.status, status, code, res.body)
	}
	id := res.header.Get("x-amz-request-id")
	if id == "" {
		t.Fatalf("no x-amz-request-id on a %s answer", code)
	}
	if method == http.MethodHead {
		if len(res.body) != 0 {
			t.Fatalf("HEAD error has a body: %s", res.body)
		}
		return
	}
	var e errorResponse
	if err := xml.Unmarshal(res.body, &e); err != nil {
		t.Fatalf("error body %q is not S3 XML: %v", res.body, err)
	}
	if e.Code != code || e.Message == "" || e.RequestID != id || e.Resource == "" {
		t.Fatalf("error = %+v, want code %s with message, resource and request id %s", e, code, id)
	}
}
