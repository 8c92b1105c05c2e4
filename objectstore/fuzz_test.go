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
	"errors"
	"net/url"
	"strings"
	"testing"

	"pinet.io/pinet/objectstore/fsstore"
)

// knownError fails the test unless err is nil or an S3 error with a known code.
func knownError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an S3 error", err)
	}
	if _, ok := codes[ae.code]; !ok {
		t.Fatalf("unknown error code %q", ae.code)
	}
}

func FuzzRouteRequest(f *testing.F) {
	f.Add("GET", "/", "", false)
	f.Add("PUT", "/bucket/a/b", "partNumber=1&uploadId=abc", true)
	f.Add("POST", "/bucket", "delete", false)
	f.Add("GET", "/bucket", "list-type=2&continuation-token=x", false)
	f.Add("PUT", "/bucket", "versioning", false)
	f.Add("GET", "/bucket/", "versions&key-marker=a&version-id-marker=null", false)
	f.Add("DELETE", "/bucket/k", "versionId=0123456789abcdef0123456789abcdef", false)
	f.Add("OPTIONS", "/bucket/k", "", false)
	f.Add("PUT", "/bucket", "cors", false)
	f.Add("GET", "/bucket/k", "tagging&versionId=null", false)
	f.Add("DELETE", "/bucket", "lifecycle", false)
	f.Fuzz(func(t *testing.T, method, path, rawQuery string, copySource bool) {
		q, _ := url.ParseQuery(rawQuery)
		r, err := routeRequest(method, path, q, copySource)
		knownError(t, err)
		if err != nil {
			return
		}
		if r.Op == "" {
			t.Fatal("a route without an operation")
		}
		if r.Op == OpListBuckets {
			if r.Bucket != "" || r.Key != "" {
				t.Fatalf("ListBuckets with bucket %q key %q", r.Bucket, r.Key)
			}
			return
		}
		if fsstore.ValidBucketName(r.Bucket) != nil {
			t.Fatalf("routed to invalid bucket %q", r.Bucket)
		}
		if "/"+r.Bucket+"/"+r.Key != path && "/"+r.Bucket != path {
			t.Fatalf("route %+v does not rebuild path %q", r, path)
		}
		objectOp := r.Key != ""
		switch r.Op {
		case OpCreateBucket, OpDeleteBucket, OpHeadBucket, OpGetBucketLocation, OpListObjects, OpListObjectsV2, OpListMultipartUploads, OpDeleteObjects,
			OpGetBucketVersioning, OpPutBucketVersioning, OpListObjectVersions,
			OpGetBucketACL, OpPutBucketACL, OpGetBucketPolicy, OpPutBucketPolicy, OpDeleteBucketPolicy,
			OpGetPublicAccessBlock, OpPutPublicAccessBlock, OpDeletePublicAccessBlock,
			OpGetBucketTagging, OpPutBucketTagging, OpDeleteBucketTagging, OpGetBucketCors, OpPutBucketCors, OpDeleteBucketCors,
			OpGetBucketLifecycle, OpPutBucketLifecycle, OpDeleteBucketLifecycle,
			OpGetBucketEncryption, OpPutBucketEncryption, OpDeleteBucketEncryption:
			if objectOp {
				t.Fatalf("bucket operation %s on key %q", r.Op, r.Key)
			}
		case OpPreflight:
			// Of a bucket or an object.
		default:
			if !objectOp {
				t.Fatalf("object operation %s without a key", r.Op)
			}
		}
		if r.Op.verb() == "" {
			t.Fatalf("operation %s has no verb", r.Op)
		}
	})
}

func FuzzParseCompleteMultipartUpload(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		parts, err := parseCompleteMultipartUpload(body)
		knownError(t, err)
		if err == nil && (len(parts) == 0 || len(parts) > fsstore.MaxPartNumber) {
			t.Fatalf("accepted %d parts", len(parts))
		}
	})
}

func FuzzParseDeleteObjects(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>`))
	f.Add([]byte(`<Delete><Object><Key>a</Key><VersionId>null</VersionId></Object><Object><Key>b</Key></Object></Delete>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, _, err := parseDeleteObjects(body)
		knownError(t, err)
		if err == nil && (len(keys) == 0 || len(keys) > maxDeleteObjects) {
			t.Fatalf("accepted %d keys", len(keys))
		}
	})
}

func FuzzParseCreateBucketConfiguration(f *testing.F) {
	f.Add([]byte(`<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := parseCreateBucketConfiguration(body)
		knownError(t, err)
	})
}

func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-10", int64(100))
	f.Add("bytes=-5", int64(3))
	f.Add("bytes=7-", int64(0))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		start, length, partial, err := parseRange(h, size)
		knownError(t, err)
		if err != nil {
			return
		}
		if start < 0 || length < 0 || start+length > size || (!partial && (start != 0 || length != size)) {
			t.Fatalf("parseRange(%q, %d) = %d+%d partial %v", h, size, start, length, partial)
		}
	})
}

func FuzzParseCopySource(f *testing.F) {
	f.Add("/bucket/key")
	f.Add("bucket/a%2Fb?versionId=null")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := parseCopySource(v)
		knownError(t, err)
		if err == nil && (r.Key == "" || fsstore.ValidBucketName(r.Bucket) != nil || strings.Contains(r.Bucket, "/")) {
			t.Fatalf("parseCopySource(%q) = %+v", v, r)
		}
	})
}

// FuzzParseVersioningConfiguration checks that any body is either refused with an S3 error or
// read as one of the two states, and that the state read survives a round trip.
func FuzzParseVersioningConfiguration(f *testing.F) {
	f.Add([]byte(enableVersioning))
	f.Add([]byte(suspendVersioning))
	f.Add([]byte(`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`))
	f.Add([]byte(`<VersioningConfiguration/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		state, err := parseVersioningConfiguration(body)
		knownError(t, err)
		if err != nil {
			if state != "" {
				t.Fatalf("a refused body gave state %q", state)
			}
			return
		}
		if state != fsstore.VersioningEnabled && state != fsstore.VersioningSuspended {
			t.Fatalf("accepted state %q", state)
		}
		doc, err := xml.Marshal(versioningConfiguration{Xmlns: s3Namespace, Status: string(state)})
		if err != nil {
			t.Fatal(err)
		}
		if again, err := parseVersioningConfiguration(doc); err != nil || again != state {
			t.Fatalf("round trip of %q = %q, %v", state, again, err)
		}
	})
}
