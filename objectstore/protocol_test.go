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
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestReadsAndConditions(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/reads",
		body: []byte("<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>")})
	put := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/reads/k", body: []byte("0123456789"),
		header: hdr("Content-MD5", b64md5("0123456789"), "Content-Type", "text/digits", "x-amz-meta-Color", "blue", "Cache-Control", "no-store")})
	etag := put.header.Get("ETag")
	if etag != `"781e5e245d69b566979b86e28d23f2c7"` || put.header.Get("x-amz-request-id") == "" {
		t.Fatalf("PutObject answer headers %v", put.header)
	}

	get := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/reads/k"})
	h := get.header
	if string(get.body) != "0123456789" || h.Get("ETag") != etag || h.Get("Content-Type") != "text/digits" ||
		h.Get("x-amz-meta-color") != "blue" || h.Get("Cache-Control") != "no-store" || h.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("GetObject = %q %v", get.body, h)
	}
	if _, err := http.ParseTime(h.Get("Last-Modified")); err != nil {
		t.Fatalf("Last-Modified %q: %v", h.Get("Last-Modified"), err)
	}

	for _, rc := range []struct{ rng, body, contentRange string }{
		{"bytes=2-4", "234", "bytes 2-4/10"},
		{"bytes=7-", "789", "bytes 7-9/10"},
		{"bytes=-4", "6789", "bytes 6-9/10"},
		{"bytes=-40", "0123456789", "bytes 0-9/10"},
		{"bytes=8-100", "89", "bytes 8-9/10"},
	} {
		res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/reads/k", header: hdr("Range", rc.rng)})
		if res.status != http.StatusPartialContent || string(res.body) != rc.body || res.header.Get("Content-Range") != rc.contentRange {
			t.Fatalf("Range %s = %d %q %q", rc.rng, res.status, res.body, res.header.Get("Content-Range"))
		}
	}
	for _, ignored := range []string{"bytes=4-2", "items=0-1", "bytes=0-1,3-4", "bytes=x-"} {
		res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/reads/k", header: hdr("Range", ignored)})
		if res.status != http.StatusOK || string(res.body) != "0123456789" {
			t.Fatalf("Range %s = %d %q, want the whole object", ignored, res.status, res.body)
		}
	}
	head := e.do(t, alice, rawRequest{method: http.MethodHead, path: "/reads/k", header: hdr("Range", "bytes=0-0")})
	if head.status != http.StatusPartialContent || head.header.Get("Content-Length") != "1" || len(head.body) != 0 {
		t.Fatalf("HEAD with range = %d %v", head.status, head.header)
	}

	nm := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/reads/k", header: hdr("If-None-Match", etag)})
	if nm.status != http.StatusNotModified || nm.header.Get("ETag") != etag || len(nm.body) != 0 {
		t.Fatalf("If-None-Match = %d %v", nm.status, nm.header)
	}
	later := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/reads/k", header: hdr("If-Modified-Since", later)}); res.status != http.StatusNotModified {
		t.Fatalf("If-Modified-Since the future = %d", res.status)
	}
	if res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/reads/k", header: hdr("If-Match", etag, "If-Unmodified-Since", "Mon, 02 Jan 2006 15:04:05 GMT")}); res.status != http.StatusOK {
		t.Fatalf("If-Match wins over If-Unmodified-Since, got %d", res.status)
	}
	over := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/reads/k", query: url.Values{"response-content-disposition": {"attachment"}, "response-cache-control": {"max-age=1"}}})
	if over.header.Get("Content-Disposition") != "attachment" || over.header.Get("Cache-Control") != "max-age=1" {
		t.Fatalf("response overrides = %v", over.header)
	}

	// DeleteObject is idempotent.
	for range 2 {
		if res := e.do(t, alice, rawRequest{method: http.MethodDelete, path: "/reads/k"}); res.status != http.StatusNoContent {
			t.Fatalf("DeleteObject = %d %s", res.status, res.body)
		}
	}
	loc := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/reads", query: url.Values{"location": {""}}})
	var lr locationResult
	if err := xml.Unmarshal(loc.body, &lr); err != nil || lr.Region != "" {
		t.Fatalf("GetBucketLocation = %s, %v", loc.body, err)
	}
}

func TestKeysThatAreNotFileNames(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/keys"})
	keys := []string{"..", "../escape", "a/./b", "a//b", "/lead", "trail/", "%2F", "sp ace", "q?x", "h#x", "ünï", "tab\tkey", strings.Repeat("x", 900)}
	for _, k := range keys {
		e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/keys/" + k, body: []byte(k)})
	}
	for _, k := range keys {
		res := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/keys/" + k})
		if string(res.body) != k {
			t.Fatalf("key %q read back %q", k, res.body)
		}
	}
	res := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/keys", query: url.Values{"encoding-type": {"url"}}})
	var lr listObjectsResult
	if err := xml.Unmarshal(res.body, &lr); err != nil {
		t.Fatal(err)
	}
	if len(lr.Contents) != len(keys) {
		t.Fatalf("listed %d keys, want %d", len(lr.Contents), len(keys))
	}
	prev := ""
	for _, c := range lr.Contents {
		k, err := url.QueryUnescape(c.Key)
		if err != nil || k <= prev {
			t.Fatalf("listing is not in key order at %q (after %q): %v", k, prev, err)
		}
		prev = k
	}
	// Nothing escaped the data directory.
	if _, err := e.srv.store.StatObject("keys", "../escape"); err != nil {
		t.Fatal(err)
	}
}

func TestUploadPartCopy(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/upc"})
	src := strings.Repeat("s", 6<<20)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/upc/src", body: []byte(src)})
	id := startUpload(t, e, alice, "upc", "dst")
	res := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/upc/dst", query: url.Values{"uploadId": {id}, "partNumber": {"1"}},
		header: hdr("x-amz-copy-source", "/upc/src")})
	var cp copyPartResult
	if err := xml.Unmarshal(res.body, &cp); err != nil || cp.ETag == "" {
		t.Fatalf("UploadPartCopy = %s, %v", res.body, err)
	}
	res = e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/upc/dst", query: url.Values{"uploadId": {id}, "partNumber": {"2"}},
		header: hdr("x-amz-copy-source", "upc/src", "x-amz-copy-source-range", "bytes=0-2")})
	var cp2 copyPartResult
	_ = xml.Unmarshal(res.body, &cp2)
	e.mustOK(t, alice, rawRequest{method: http.MethodPost, path: "/upc/dst", query: url.Values{"uploadId": {id}}, body: completeBody(1, cp.ETag, 2, cp2.ETag)})
	got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/upc/dst"})
	if string(got.body) != src+"sss" {
		t.Fatalf("object from copied parts has %d bytes", len(got.body))
	}
}

func TestVirtualHostStyleIsRefused(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Domain = "s3.pinet.test" })
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/vhost"})
	res := e.do(t, alice, rawRequest{method: http.MethodGet, path: "/key", header: hdr("Host", "vhost.s3.pinet.test:3333")})
	expectError(t, res, http.MethodGet, http.StatusBadRequest, CodeInvalidRequest)
	if !strings.Contains(string(res.body), "path-style") {
		t.Fatalf("refusal does not say why: %s", res.body)
	}
	// Path-style requests to the domain itself are served.
	e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/vhost", header: hdr("Host", "s3.pinet.test:3333")})
}
