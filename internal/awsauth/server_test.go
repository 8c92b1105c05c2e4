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

package awsauth

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// outcome is what the server made of one request.
type outcome struct {
	method, path, testCase string
	header                 http.Header
	id                     *Identity
	err                    error
	// body is the payload the handler read through Identity.Body (S3) or r.Body (EC2).
	body []byte
}

// authServer is a real HTTP server whose handler authenticates every request with a
// Verifier, as the EC2 shim and the S3 store will, and answers just enough of each API for
// the clients to be satisfied. It records every outcome.
type authServer struct {
	*httptest.Server
	v *Verifier

	mu       sync.Mutex
	outcomes []outcome
	objects  map[string][]byte
}

func newAuthServer(t *testing.T, service string, useTLS bool, configure ...func(*Verifier)) *authServer {
	t.Helper()
	s := &authServer{v: &Verifier{Store: testStore(), Service: service}, objects: map[string][]byte{}}
	for _, c := range configure {
		c(s.v)
	}
	handler := http.HandlerFunc(s.serveEC2)
	if service == ServiceS3 {
		handler = s.serveS3
	}
	if useTLS {
		s.Server = httptest.NewTLSServer(handler)
	} else {
		s.Server = httptest.NewServer(handler)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) record(o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes = append(s.outcomes, o)
}

// last returns the last outcome, failing the test if there is none.
func (s *authServer) last(t *testing.T) outcome {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outcomes) == 0 {
		t.Fatal("the server saw no request")
	}
	return s.outcomes[len(s.outcomes)-1]
}

// byCase returns the outcome of the request that named the test case in X-Test-Case.
func (s *authServer) byCase(t *testing.T, name string) outcome {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.outcomes {
		if o.testCase == name {
			return o
		}
	}
	t.Fatalf("the server saw no request of case %q", name)
	return outcome{}
}

func (s *authServer) serveEC2(w http.ResponseWriter, r *http.Request) {
	o := outcome{method: r.Method, path: r.URL.Path, testCase: r.Header.Get("X-Test-Case"), header: r.Header.Clone()}
	o.id, o.err = s.v.Verify(r)
	if o.err != nil {
		s.record(o)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>AuthFailure</Code><Message>%s</Message></Error></Errors><RequestID>req-1</RequestID></Response>`, xmlText(o.err.Error()))
		return
	}
	o.body, _ = io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(o.body))
	action := r.FormValue("Action")
	s.record(o)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<%sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>
<regionInfo><item><regionName>%s</regionName><regionEndpoint>pinet.test</regionEndpoint></item></regionInfo>
</%sResponse>`, action, testRegion, action)
}

func (s *authServer) serveS3(w http.ResponseWriter, r *http.Request) {
	o := outcome{method: r.Method, path: r.URL.Path, testCase: r.Header.Get("X-Test-Case"), header: r.Header.Clone()}
	o.id, o.err = s.v.Verify(r)
	if o.err != nil {
		s.record(o)
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", o.err)
		return
	}
	switch r.Method {
	case http.MethodPut:
		body, err := o.id.Body(r)
		if err == nil {
			o.body, err = io.ReadAll(body)
		}
		if err != nil {
			o.err = err
			s.record(o)
			s3Error(w, http.StatusBadRequest, "BadDigest", err)
			return
		}
		s.mu.Lock()
		s.objects[r.URL.Path] = o.body
		s.mu.Unlock()
		sum := md5.Sum(o.body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	case http.MethodGet, http.MethodHead:
		s.mu.Lock()
		data, ok := s.objects[r.URL.Path]
		s.mu.Unlock()
		if ok {
			sum := md5.Sum(data)
			w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
			w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Header().Set("Content-Type", "application/octet-stream")
			s.record(o)
			if r.Method == http.MethodGet {
				_, _ = w.Write(data)
			}
			return
		}
	}
	s.record(o)
}

func s3Error(w http.ResponseWriter, status int, code string, err error) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>%s</Message><RequestId>req-1</RequestId></Error>`, code, xmlText(err.Error()))
}

func xmlText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// overTheWire returns the request a server reads when a client sends r: it is written in
// HTTP/1.1 wire form and parsed back, as net/http's server does.
func overTheWire(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

// expectOK fails the test with the server's error for an outcome that should have passed.
func expectOK(t *testing.T, o outcome) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("%s %s: the server refused: %v", o.method, o.path, o.err)
	}
	if o.id.AccessKeyID != testKey || o.id.Principal != testPrincipal {
		t.Fatalf("%s %s: identity %+v", o.method, o.path, o.id)
	}
}

// expectKind fails the test unless the outcome failed with exactly the given kind.
func expectKind(t *testing.T, o outcome, kind error) {
	t.Helper()
	if o.err == nil {
		t.Fatalf("%s %s: accepted, want %v", o.method, o.path, kind)
	}
	if !errors.Is(o.err, kind) {
		t.Fatalf("%s %s: %v, want %v", o.method, o.path, o.err, kind)
	}
	assertKind(t, o.err, kind)
}
