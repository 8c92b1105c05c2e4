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
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const (
	enableVersioning  = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`
	suspendVersioning = `<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`
	missingVersion    = "0123456789abcdef0123456789abcdef"
)

func versioningQuery() url.Values { return url.Values{"versioning": {""}} }

// versioningState reads a bucket's versioning document as sent.
func (e *testEnv) versioningState(t *testing.T, u testUser, bucket string) string {
	t.Helper()
	return string(e.mustOK(t, u, rawRequest{method: http.MethodGet, path: "/" + bucket, query: versioningQuery()}).body)
}

// TestVersioningWire checks the headers and documents S3 sends for versions and delete
// markers, byte for byte where S3 fixes them.
func TestVersioningWire(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/wire"})
	if got := e.versioningState(t, alice, "wire"); !strings.HasSuffix(got, `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>`) {
		t.Fatalf("a never versioned bucket's configuration = %s", got)
	}
	put := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/wire/k", body: []byte("null one")})
	if _, ok := put.header["X-Amz-Version-Id"]; ok {
		t.Fatal("a PUT into a never versioned bucket answered a version id")
	}
	if got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/wire/k"}); got.header.Get("x-amz-version-id") != "" {
		t.Fatal("a GET from a never versioned bucket answered a version id")
	}
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/wire", query: versioningQuery(), body: []byte(enableVersioning)})
	if got := e.versioningState(t, alice, "wire"); !strings.Contains(got, "<Status>Enabled</Status>") {
		t.Fatalf("configuration = %s", got)
	}
	put = e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/wire/k", body: []byte("two")})
	v2 := put.header.Get("x-amz-version-id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(v2) {
		t.Fatalf("version id %q", v2)
	}
	del := e.do(t, alice, rawRequest{method: http.MethodDelete, path: "/wire/k"})
	marker := del.header.Get("x-amz-version-id")
	if del.status != http.StatusNoContent || del.header.Get("x-amz-delete-marker") != "true" || marker == "" || marker <= v2 {
		t.Fatalf("DELETE = %d %v", del.status, del.header)
	}
	// Reading the key: 404 NoSuchKey, naming the marker.
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		res := e.do(t, alice, rawRequest{method: m, path: "/wire/k"})
		expectError(t, res, m, http.StatusNotFound, CodeNoSuchKey)
		if res.header.Get("x-amz-delete-marker") != "true" || res.header.Get("x-amz-version-id") != marker {
			t.Fatalf("%s behind a marker: headers %v", m, res.header)
		}
		// Reading the marker itself: 405, with the marker's headers.
		res = e.do(t, alice, rawRequest{method: m, path: "/wire/k", query: url.Values{"versionId": {marker}}})
		expectError(t, res, m, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
		if res.header.Get("x-amz-delete-marker") != "true" || res.header.Get("x-amz-version-id") != marker ||
			res.header.Get("Allow") != "DELETE" || res.header.Get("Last-Modified") == "" {
			t.Fatalf("%s of a marker: headers %v", m, res.header)
		}
		res = e.mustOK(t, alice, rawRequest{method: m, path: "/wire/k", query: url.Values{"versionId": {"null"}}})
		if res.header.Get("x-amz-version-id") != "null" || res.header.Get("Content-Length") != "8" {
			t.Fatalf("%s of the null version: %v", m, res.header)
		}
	}
	// ListObjectVersions keeps Version and DeleteMarker entries in one order, newest first.
	list := string(e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/wire", query: url.Values{"versions": {""}}}).body)
	order := regexp.MustCompile(`<(Version|DeleteMarker)><Key>k</Key><VersionId>([^<]+)</VersionId><IsLatest>(true|false)</IsLatest>`).FindAllStringSubmatch(list, -1)
	if len(order) != 3 || order[0][1] != "DeleteMarker" || order[0][2] != marker || order[0][3] != "true" ||
		order[1][1] != "Version" || order[1][2] != v2 || order[2][2] != "null" || order[2][3] != "false" {
		t.Fatalf("ListVersionsResult = %s", list)
	}
	if !strings.Contains(list, "<ListVersionsResult xmlns=") || !strings.Contains(list, "<DeleteMarker><Key>k</Key><VersionId>"+marker+"</VersionId><IsLatest>true</IsLatest><LastModified>") {
		t.Fatalf("ListVersionsResult = %s", list)
	}
	// DELETE of a version answers its id, and the delete marker flag when it was one.
	del = e.do(t, alice, rawRequest{method: http.MethodDelete, path: "/wire/k", query: url.Values{"versionId": {marker}}})
	if del.status != http.StatusNoContent || del.header.Get("x-amz-version-id") != marker || del.header.Get("x-amz-delete-marker") != "true" {
		t.Fatalf("DELETE of the marker = %d %v", del.status, del.header)
	}
	del = e.do(t, alice, rawRequest{method: http.MethodDelete, path: "/wire/k", query: url.Values{"versionId": {missingVersion}}})
	if del.status != http.StatusNoContent || del.header.Get("x-amz-version-id") != missingVersion {
		t.Fatalf("DELETE of a missing version = %d %v", del.status, del.header)
	}
	got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/wire/k"})
	if string(got.body) != "two" || got.header.Get("x-amz-version-id") != v2 {
		t.Fatalf("latest after removing the marker = %q %v", got.body, got.header)
	}
	// A suspended bucket's DELETE makes a null marker.
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/wire", query: versioningQuery(), body: []byte(suspendVersioning)})
	del = e.do(t, alice, rawRequest{method: http.MethodDelete, path: "/wire/k"})
	if del.header.Get("x-amz-delete-marker") != "true" || del.header.Get("x-amz-version-id") != "null" {
		t.Fatalf("suspended DELETE = %v", del.header)
	}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/wire/k", query: url.Values{"versionId": {"null"}}}), http.MethodGet, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	// Copying a marker by version id is refused; copying the latest (a marker) is NoSuchKey.
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodPut, path: "/wire/c", header: hdr("x-amz-copy-source", "/wire/k?versionId=null")}), http.MethodPut, http.StatusBadRequest, CodeInvalidRequest)
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodPut, path: "/wire/c", header: hdr("x-amz-copy-source", "/wire/k")}), http.MethodPut, http.StatusNotFound, CodeNoSuchKey)
	cp := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/wire/c", header: hdr("x-amz-copy-source", "/wire/k?versionId="+v2)})
	if cp.header.Get("x-amz-copy-source-version-id") != v2 || cp.header.Get("x-amz-version-id") != "" {
		t.Fatalf("copy of v2 into a suspended bucket: %v", cp.header)
	}
}

// TestVersioningBadInput sends every malformed versioning request and checks S3's code and
// that nothing changed.
func TestVersioningBadInput(t *testing.T) {
	e := newTestEnv(t)
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/bad"})
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/bad", query: versioningQuery(), body: []byte(enableVersioning)})
	v1 := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/bad/k", body: []byte("one")}).header.Get("x-amz-version-id")
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/bad/k", body: []byte("two")})
	before := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/bad", query: url.Values{"versions": {""}}}).body
	state := e.versioningState(t, alice, "bad")

	vq := versioningQuery()
	cases := []struct {
		name   string
		rr     rawRequest
		status int
		code   string
	}{
		{"versioning garbage", rawRequest{method: http.MethodPut, path: "/bad", query: vq, body: []byte("<VersioningConfiguration><Status>")}, 400, CodeMalformedXML},
		{"versioning empty body", rawRequest{method: http.MethodPut, path: "/bad", query: vq}, 400, CodeMalformedXML},
		{"versioning wrong root", rawRequest{method: http.MethodPut, path: "/bad", query: vq, body: []byte("<Versioning><Status>Suspended</Status></Versioning>")}, 400, CodeMalformedXML},
		{"versioning unknown status", rawRequest{method: http.MethodPut, path: "/bad", query: vq, body: []byte("<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>")}, 400, CodeMalformedXML},
		{"versioning lower-case status", rawRequest{method: http.MethodPut, path: "/bad", query: vq, body: []byte("<VersioningConfiguration><Status>suspended</Status></VersioningConfiguration>")}, 400, CodeMalformedXML},
		{"versioning without status", rawRequest{method: http.MethodPut, path: "/bad", query: vq, body: []byte("<VersioningConfiguration></VersioningConfiguration>")}, 400, CodeMalformedXML},
		{"MFA delete enabled", rawRequest{method: http.MethodPut, path: "/bad", query: vq, body: []byte("<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>")}, 501, CodeNotImplemented},
		{"MFA delete unknown", rawRequest{method: http.MethodPut, path: "/bad", query: vq, body: []byte("<VersioningConfiguration><Status>Suspended</Status><MfaDelete>On</MfaDelete></VersioningConfiguration>")}, 400, CodeMalformedXML},
		{"MFA header", rawRequest{method: http.MethodPut, path: "/bad", query: vq, header: hdr("x-amz-mfa", "SERIAL 123456"), body: []byte(suspendVersioning)}, 501, CodeNotImplemented},
		{"MFA header on delete", rawRequest{method: http.MethodDelete, path: "/bad/k", query: url.Values{"versionId": {v1}}, header: hdr("x-amz-mfa", "SERIAL 123456")}, 501, CodeNotImplemented},
		{"versioning DELETE", rawRequest{method: http.MethodDelete, path: "/bad", query: vq}, 405, CodeMethodNotAllowed},
		{"versioning of no bucket", rawRequest{method: http.MethodPut, path: "/no-bucket", query: vq, body: []byte(enableVersioning)}, 404, CodeNoSuchBucket},
		{"GET bad version id", rawRequest{method: http.MethodGet, path: "/bad/k", query: url.Values{"versionId": {"v1"}}}, 400, CodeInvalidArgument},
		{"GET empty version id", rawRequest{method: http.MethodGet, path: "/bad/k", query: url.Values{"versionId": {""}}}, 400, CodeInvalidArgument},
		{"GET upper-case version id", rawRequest{method: http.MethodGet, path: "/bad/k", query: url.Values{"versionId": {strings.ToUpper(v1)}}}, 400, CodeInvalidArgument},
		{"HEAD bad version id", rawRequest{method: http.MethodHead, path: "/bad/k", query: url.Values{"versionId": {"NULL"}}}, 400, CodeInvalidArgument},
		{"DELETE bad version id", rawRequest{method: http.MethodDelete, path: "/bad/k", query: url.Values{"versionId": {"../k"}}}, 400, CodeInvalidArgument},
		{"GET missing version", rawRequest{method: http.MethodGet, path: "/bad/k", query: url.Values{"versionId": {missingVersion}}}, 404, CodeNoSuchVersion},
		{"HEAD missing version", rawRequest{method: http.MethodHead, path: "/bad/k", query: url.Values{"versionId": {missingVersion}}}, 404, CodeNoSuchVersion},
		{"GET missing key's version", rawRequest{method: http.MethodGet, path: "/bad/nokey", query: url.Values{"versionId": {v1}}}, 404, CodeNoSuchVersion},
		{"GET version of no bucket", rawRequest{method: http.MethodGet, path: "/no-bucket/k", query: url.Values{"versionId": {v1}}}, 404, CodeNoSuchBucket},
		{"copy bad version id", rawRequest{method: http.MethodPut, path: "/bad/c", header: hdr("x-amz-copy-source", "/bad/k?versionId=xyz")}, 400, CodeInvalidArgument},
		{"copy missing version", rawRequest{method: http.MethodPut, path: "/bad/c", header: hdr("x-amz-copy-source", "/bad/k?versionId="+missingVersion)}, 404, CodeNoSuchVersion},
		{"version marker without key marker", rawRequest{method: http.MethodGet, path: "/bad", query: url.Values{"versions": {""}, "version-id-marker": {v1}}}, 400, CodeInvalidArgument},
		{"bad version marker", rawRequest{method: http.MethodGet, path: "/bad", query: url.Values{"versions": {""}, "key-marker": {"k"}, "version-id-marker": {"zz"}}}, 400, CodeInvalidArgument},
		{"versions negative max-keys", rawRequest{method: http.MethodGet, path: "/bad", query: url.Values{"versions": {""}, "max-keys": {"-1"}}}, 400, CodeInvalidArgument},
		{"versions bad encoding", rawRequest{method: http.MethodGet, path: "/bad", query: url.Values{"versions": {""}, "encoding-type": {"base64"}}}, 400, CodeInvalidArgument},
		{"versions POST", rawRequest{method: http.MethodPost, path: "/bad", query: url.Values{"versions": {""}}}, 405, CodeMethodNotAllowed},
		{"multi-delete garbage", rawRequest{method: http.MethodPost, path: "/bad", query: url.Values{"delete": {""}}, body: []byte("<Delete><Object><Key>k</Key><VersionId>")}, 400, CodeMalformedXML},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, e.do(t, alice, c.rr), c.rr.method, c.status, c.code)
		})
	}
	after := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/bad", query: url.Values{"versions": {""}}}).body
	if !bytes.Equal(before, after) {
		t.Fatalf("bad requests changed the versions:\n%s\n%s", before, after)
	}
	if got := e.versioningState(t, alice, "bad"); got != state {
		t.Fatalf("bad requests changed the configuration: %s", got)
	}
	// No refused copy wrote /bad/c (the listing above holds every key too).
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/bad/c"}), http.MethodGet, http.StatusNotFound, CodeNoSuchKey)
}
