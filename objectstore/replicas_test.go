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
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// TestReplicasShareS3Backend runs two stores on one S3 backend (moto_server) and checks that
// each sees what the other writes: buckets and their settings, objects, deletions, multipart
// uploads begun on one and finished on the other, and that versions written to one key from
// both at once are all kept.
func TestReplicasShareS3Backend(t *testing.T) {
	backend := testS3Backend(t)
	a := newTestEnv(t, func(c *Config) { c.S3 = backend })
	b := newTestEnv(t, func(c *Config) { c.S3 = backend })

	a.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/shared"})
	a.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/shared/dir/one", body: []byte("from a")})
	if got := b.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/shared/dir/one"}); string(got.body) != "from a" {
		t.Fatalf("replica b reads %q", got.body)
	}
	// Ownership is the store's: bob's project sees nothing through either replica.
	expectError(t, b.do(t, bob, rawRequest{method: http.MethodGet, path: "/shared/dir/one"}), http.MethodGet, http.StatusForbidden, CodeAccessDenied)
	b.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/shared/dir/two", body: []byte("from b")})
	list := a.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/shared", query: url.Values{"list-type": {"2"}, "prefix": {"dir/"}}})
	if !bytes.Contains(list.body, []byte("<Key>dir/one</Key>")) || !bytes.Contains(list.body, []byte("<Key>dir/two</Key>")) {
		t.Fatalf("replica a lists %s", list.body)
	}
	b.mustOK(t, alice, rawRequest{method: http.MethodDelete, path: "/shared/dir/one"})
	expectError(t, a.do(t, alice, rawRequest{method: http.MethodGet, path: "/shared/dir/one"}), http.MethodGet, http.StatusNotFound, CodeNoSuchKey)
	// Re-creating one's own bucket through the other replica answers as us-east-1 does (200)
	// and keeps what the bucket holds.
	b.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/shared"})
	if got := a.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/shared/dir/two"}); string(got.body) != "from b" {
		t.Fatalf("after re-creating the bucket replica a reads %q", got.body)
	}

	// A multipart upload begun on a, its parts sent to both, completed on b.
	id := startUpload(t, a, alice, "shared", "big")
	part1 := bytes.Repeat([]byte("1"), 5<<20)
	e1 := uploadPart(t, b, "shared", "big", id, 1, part1)
	e2 := uploadPart(t, a, "shared", "big", id, 2, []byte("end"))
	b.mustOK(t, alice, rawRequest{method: http.MethodPost, path: "/shared/big", query: url.Values{"uploadId": {id}}, body: completeBody(1, e1, 2, e2)})
	if got := a.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/shared/big"}); !bytes.Equal(got.body, append(part1, "end"...)) {
		t.Fatalf("replica a reads %d bytes of the object completed on b", len(got.body))
	}

	// Versioning is enabled through a; both write one key at once; every version is kept.
	a.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/shared", query: versioningQuery(), body: []byte(enableVersioning)})
	const perReplica = 6
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica)
	for _, e := range []*testEnv{a, b} {
		for i := range perReplica {
			req := e.request(t, alice, rawRequest{method: http.MethodPut, path: "/shared/hot", body: []byte(fmt.Sprintf("%s-%d", e.url, i))})
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- sendOK(req)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	res := b.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/shared", query: url.Values{"versions": {""}, "prefix": {"hot"}}})
	var vs listVersionsResult
	if err := xml.Unmarshal(res.body, &vs); err != nil {
		t.Fatal(err)
	}
	latest := 0
	for _, v := range vs.Entries {
		if v.IsLatest {
			latest++
		}
	}
	if len(vs.Entries) != 2*perReplica || latest != 1 {
		t.Fatalf("%d versions (%d latest) after %d concurrent writes: %s", len(vs.Entries), latest, 2*perReplica, res.body)
	}
}

// sendOK sends a request and says why it did not succeed.
func sendOK(req *http.Request) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s = %d %s", req.Method, req.URL, resp.StatusCode, body)
	}
	return nil
}
