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
	"errors"
	"net/url"
	"testing"
)

func TestRouteRequest(t *testing.T) {
	cases := []struct {
		method, path, query string
		copySource          bool
		want                Operation
		bucket, key         string
	}{
		{"GET", "/", "", false, OpListBuckets, "", ""},
		{"PUT", "/bkt", "", false, OpCreateBucket, "bkt", ""},
		{"PUT", "/bkt/", "", false, OpCreateBucket, "bkt", ""},
		{"DELETE", "/bkt", "", false, OpDeleteBucket, "bkt", ""},
		{"HEAD", "/bkt", "", false, OpHeadBucket, "bkt", ""},
		{"GET", "/bkt", "location", false, OpGetBucketLocation, "bkt", ""},
		{"GET", "/bkt", "uploads&prefix=a", false, OpListMultipartUploads, "bkt", ""},
		{"GET", "/bkt", "list-type=2&prefix=a", false, OpListObjectsV2, "bkt", ""},
		{"GET", "/bkt", "prefix=a&x-id=ListObjects", false, OpListObjects, "bkt", ""},
		{"POST", "/bkt", "delete", false, OpDeleteObjects, "bkt", ""},
		{"PUT", "/bkt/a/b", "x-id=PutObject", false, OpPutObject, "bkt", "a/b"},
		{"PUT", "/bkt/a", "", true, OpCopyObject, "bkt", "a"},
		{"GET", "/bkt//a/../b", "versionId=null", false, OpGetObject, "bkt", "/a/../b"},
		{"HEAD", "/bkt/a", "", false, OpHeadObject, "bkt", "a"},
		{"DELETE", "/bkt/a", "", false, OpDeleteObject, "bkt", "a"},
		{"POST", "/bkt/a", "uploads", false, OpCreateMultipartUpload, "bkt", "a"},
		{"PUT", "/bkt/a", "partNumber=1&uploadId=x", false, OpUploadPart, "bkt", "a"},
		{"PUT", "/bkt/a", "partNumber=1&uploadId=x", true, OpUploadPartCopy, "bkt", "a"},
		{"POST", "/bkt/a", "uploadId=x", false, OpCompleteMultipartUpload, "bkt", "a"},
		{"DELETE", "/bkt/a", "uploadId=x", false, OpAbortMultipartUpload, "bkt", "a"},
		{"GET", "/bkt/a", "uploadId=x", false, OpListParts, "bkt", "a"},
		{"GET", "/bkt", "versioning", false, OpGetBucketVersioning, "bkt", ""},
		{"PUT", "/bkt/", "versioning", false, OpPutBucketVersioning, "bkt", ""},
		{"GET", "/bkt", "versions&prefix=a&key-marker=b", false, OpListObjectVersions, "bkt", ""},
		{"GET", "/bkt/a", "versionId=0123456789abcdef0123456789abcdef", false, OpGetObject, "bkt", "a"},
		{"DELETE", "/bkt/a", "versionId=abc", false, OpDeleteObject, "bkt", "a"},
		{"GET", "/bkt", "acl", false, OpGetBucketACL, "bkt", ""},
		{"PUT", "/bkt/", "acl", false, OpPutBucketACL, "bkt", ""},
		{"GET", "/bkt/a", "acl&versionId=null", false, OpGetObjectACL, "bkt", "a"},
		{"PUT", "/bkt/a", "acl", false, OpPutObjectACL, "bkt", "a"},
		{"GET", "/bkt", "policy", false, OpGetBucketPolicy, "bkt", ""},
		{"PUT", "/bkt", "policy", false, OpPutBucketPolicy, "bkt", ""},
		{"DELETE", "/bkt", "policy", false, OpDeleteBucketPolicy, "bkt", ""},
		{"GET", "/bkt", "publicAccessBlock", false, OpGetPublicAccessBlock, "bkt", ""},
		{"PUT", "/bkt", "publicAccessBlock", false, OpPutPublicAccessBlock, "bkt", ""},
		{"DELETE", "/bkt", "publicAccessBlock", false, OpDeletePublicAccessBlock, "bkt", ""},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.query)
		r, err := routeRequest(c.method, c.path, q, c.copySource)
		if err != nil || r.Op != c.want || r.Bucket != c.bucket || r.Key != c.key {
			t.Errorf("routeRequest(%s %s?%s) = %+v, %v; want %s %q %q", c.method, c.path, c.query, r, err, c.want, c.bucket, c.key)
		}
	}
}

func TestRouteRequestErrors(t *testing.T) {
	cases := []struct {
		method, path, query string
		code                string
	}{
		{"PUT", "/", "", CodeMethodNotAllowed},
		{"PATCH", "/bkt", "", CodeMethodNotAllowed},
		{"OPTIONS", "/", "", CodeMethodNotAllowed},
		{"POST", "/bkt", "cors", CodeMethodNotAllowed},
		{"POST", "/bkt/k", "tagging", CodeMethodNotAllowed},
		{"POST", "/bkt/k", "", CodeMethodNotAllowed},
		{"GET", "/BKT", "", CodeInvalidBucketName},
		{"GET", "bkt", "", CodeInvalidRequest},
		{"DELETE", "/bkt", "versioning", CodeMethodNotAllowed},
		{"POST", "/bkt", "versions", CodeMethodNotAllowed},
		{"PUT", "/bkt", "logging", CodeNotImplemented},
		{"GET", "/bkt/k", "legal-hold", CodeNotImplemented},
		{"DELETE", "/bkt", "acl", CodeMethodNotAllowed},
		{"DELETE", "/bkt/k", "acl", CodeMethodNotAllowed},
		{"POST", "/bkt", "publicAccessBlock", CodeMethodNotAllowed},
		{"POST", "/bkt/k", "restore", CodeNotImplemented},
		{"POST", "/bkt", "", CodeNotImplemented},
		{"PUT", "/bkt/k", "attributes", CodeMethodNotAllowed},
		{"GET", "/bkt", "list-type=3", CodeInvalidArgument},
		{"PUT", "/bkt/k", "uploadId=x", CodeInvalidArgument},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.query)
		_, err := routeRequest(c.method, c.path, q, false)
		var ae *apiError
		if !errors.As(err, &ae) || ae.code != c.code {
			t.Errorf("routeRequest(%s %s?%s) = %v, want %s", c.method, c.path, c.query, err, c.code)
		}
	}
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		h             string
		size          int64
		start, length int64
		partial, bad  bool
	}{
		{"", 10, 0, 10, false, false},
		{"bytes=0-0", 10, 0, 1, true, false},
		{"bytes=3-", 10, 3, 7, true, false},
		{"bytes=-3", 10, 7, 3, true, false},
		{"bytes=-30", 10, 0, 10, true, false},
		{"bytes=5-100", 10, 5, 5, true, false},
		{"bytes=10-", 10, 0, 0, false, true},
		{"bytes=-0", 10, 0, 0, false, true},
		{"bytes=0-", 0, 0, 0, false, true},
		{"bytes=-1", 0, 0, 0, false, true},
		{"bytes=5-2", 10, 0, 10, false, false},
		{"bytes=a-b", 10, 0, 10, false, false},
		{"bytes=1-2,4-5", 10, 0, 10, false, false},
		{"pages=1-2", 10, 0, 10, false, false},
		{"bytes=--1", 10, 0, 10, false, false},
	}
	for _, c := range cases {
		start, length, partial, err := parseRange(c.h, c.size)
		if (err != nil) != c.bad || (!c.bad && (start != c.start || length != c.length || partial != c.partial)) {
			t.Errorf("parseRange(%q, %d) = %d %d %v %v", c.h, c.size, start, length, partial, err)
		}
	}
}

func TestParseCopySource(t *testing.T) {
	for v, want := range map[string]target{
		"bkt/key":                   {Bucket: "bkt", Key: "key"},
		"/bkt/a%2Fb%20c":            {Bucket: "bkt", Key: "a/b c"},
		"/bkt/k%3Fx?versionId=null": {Bucket: "bkt", Key: "k?x", Version: "null"},
		"bkt/k?versionId=0123456789abcdef0123456789abcdef": {Bucket: "bkt", Key: "k", Version: "0123456789abcdef0123456789abcdef"},
	} {
		got, err := parseCopySource(v)
		if err != nil || got != want {
			t.Errorf("parseCopySource(%q) = %+v, %v", v, got, err)
		}
	}
	for v, code := range map[string]string{
		"bkt":                  CodeInvalidArgument,
		"/bkt/":                CodeInvalidArgument,
		"/b%zz/k":              CodeInvalidArgument,
		"/BKT/k":               CodeInvalidBucketName,
		"/bkt/k?versionId=abc": CodeInvalidArgument,
		"/bkt/k?versionId=":    CodeInvalidArgument,
	} {
		_, err := parseCopySource(v)
		var ae *apiError
		if !errors.As(err, &ae) || ae.code != code {
			t.Errorf("parseCopySource(%q) = %v, want %s", v, err, code)
		}
	}
}

func TestParseBodies(t *testing.T) {
	parts, err := parseCompleteMultipartUpload([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part><Part><PartNumber>3</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`))
	if err != nil || len(parts) != 2 || parts[0].Number != 1 || parts[0].ETag != `"a"` || parts[1].Number != 3 {
		t.Fatalf("ParseCompleteMultipartUpload = %+v, %v", parts, err)
	}
	for _, bad := range []string{"", "<CompleteMultipartUpload/>", "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>", "<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>", "<Other/>"} {
		if _, err := parseCompleteMultipartUpload([]byte(bad)); err == nil {
			t.Errorf("parseCompleteMultipartUpload(%q) accepted", bad)
		}
	}
	keys, quiet, err := parseDeleteObjects([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a &amp; b</Key></Object><Object><Key></Key><VersionId>null</VersionId></Object></Delete>`))
	if err != nil || !quiet || len(keys) != 2 || keys[0] != (objectToDelete{Key: "a & b"}) || keys[1] != (objectToDelete{VersionID: "null"}) {
		t.Fatalf("ParseDeleteObjects = %q %v %v", keys, quiet, err)
	}
	many := "<Delete>"
	for range 1001 {
		many += "<Object><Key>k</Key></Object>"
	}
	for _, bad := range []string{"", "<Delete/>", "<Delete><Object/></Delete>", "<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>", many + "</Delete>"} {
		if _, _, err := parseDeleteObjects([]byte(bad)); err == nil {
			t.Errorf("parseDeleteObjects(%.60q) accepted", bad)
		}
	}
	if loc, err := parseCreateBucketConfiguration([]byte(" \n")); err != nil || loc != "" {
		t.Fatalf("empty CreateBucketConfiguration = %q, %v", loc, err)
	}
	if loc, err := parseCreateBucketConfiguration([]byte(`<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`)); err != nil || loc != "us-east-1" {
		t.Fatalf("CreateBucketConfiguration = %q, %v", loc, err)
	}
	if _, err := parseCreateBucketConfiguration([]byte(`<Bucket/>`)); err == nil {
		t.Fatal("a CreateBucketConfiguration with the wrong root was accepted")
	}
}
