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
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// keepAliveTestInterval is short so that a held assembly sends whitespace soon; nothing
// depends on its timing.
const keepAliveTestInterval = 20 * time.Millisecond

// heldCompletionTimeout bounds a raw completion request, generously: the machine is loaded.
const heldCompletionTimeout = 2 * time.Minute

// slowCompletion sends CompleteMultipartUpload of upload id over a raw connection while the
// assembly is held, reads the status line, the headers and then the body byte by byte until
// it has seen the XML declaration and three keep-alive spaces, and only then lets the assembly
// run. It returns the response and the whole body.
func slowCompletion(t *testing.T, e *testEnv, key, id string, body []byte, whileHeld func()) (*http.Response, []byte) {
	t.Helper()
	release := make(chan struct{})
	e.srv.beforeAssembly = func() { <-release }
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	req := e.request(t, alice, rawRequest{method: http.MethodPost, path: "/slow/" + key, query: url.Values{"uploadId": {id}}, body: body})
	conn, err := net.Dial("tcp", e.host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A store without keep-alive would say nothing while the assembly is held.
	if err := conn.SetDeadline(time.Now().Add(heldCompletionTimeout)); err != nil {
		t.Fatal(err)
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("held completion answered %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got bytes.Buffer
	one := make([]byte, 1)
	for !strings.HasPrefix(got.String(), xml.Header+"   ") {
		if _, err := io.ReadFull(resp.Body, one); err != nil {
			t.Fatalf("reading the body of a held completion after %q: %v", got.String(), err)
		}
		got.WriteByte(one[0])
		if !strings.HasPrefix(xml.Header+"   ", got.String()) {
			t.Fatalf("held completion sent %q, want the XML declaration and spaces", got.String())
		}
	}
	whileHeld()
	close(release)
	released = true
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got.Write(rest)
	return resp, got.Bytes()
}

// TestCompleteSendsKeepAlive holds the assembly of a multipart upload and checks, as a raw HTTP
// client, that CompleteMultipartUpload answers 200 at once, sends whitespace while it works and
// then the result; and that a failure after the 200 arrives as an Error document.
func TestCompleteSendsKeepAlive(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.CompleteKeepAlive = keepAliveTestInterval })
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/slow"})
	big := bytes.Repeat([]byte("k"), 5<<20)

	id := startUpload(t, e, alice, "slow", "obj")
	p1 := uploadPart(t, e, "slow", "obj", id, 1, big)
	p2 := uploadPart(t, e, "slow", "obj", id, 2, []byte("tail"))
	_, body := slowCompletion(t, e, "obj", id, completeBody(1, p1, 2, p2), func() {
		// Still assembling: the object is not there yet.
		expectError(t, e.do(t, alice, rawRequest{method: http.MethodHead, path: "/slow/obj"}), http.MethodHead, http.StatusNotFound, CodeNoSuchKey)
	})
	var res completeUploadResult
	if err := xml.Unmarshal(bytes.TrimLeft(bytes.TrimPrefix(body, []byte(xml.Header)), " "), &res); err != nil || res.Key != "obj" || !strings.HasSuffix(res.ETag, `-2"`) {
		t.Fatalf("completion body %q: %+v, %v", body, res, err)
	}
	got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/slow/obj"})
	if !bytes.Equal(got.body, append(big, "tail"...)) || got.header.Get("ETag") != res.ETag {
		t.Fatalf("assembled object: %d bytes, ETag %s; want %d bytes, ETag %s", len(got.body), got.header.Get("ETag"), len(big)+4, res.ETag)
	}

	// The upload is aborted while its assembly is held: the 200 is sent, the error follows.
	id = startUpload(t, e, alice, "slow", "gone")
	p1 = uploadPart(t, e, "slow", "gone", id, 1, big)
	_, body = slowCompletion(t, e, "gone", id, completeBody(1, p1), func() {
		e.mustOK(t, alice, rawRequest{method: http.MethodDelete, path: "/slow/gone", query: url.Values{"uploadId": {id}}})
	})
	var fail errorResponse
	if err := xml.Unmarshal(bytes.TrimLeft(bytes.TrimPrefix(body, []byte(xml.Header)), " "), &fail); err != nil || fail.Code != CodeNoSuchUpload || fail.RequestID == "" {
		t.Fatalf("failed completion body %q: %+v, %v", body, fail, err)
	}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodHead, path: "/slow/gone"}), http.MethodHead, http.StatusNotFound, CodeNoSuchKey)
}
