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
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/testenv"
)

// crashChildEnv names the data directory when the test binary runs as the store process.
const crashChildEnv = "PINET_OBJECTSTORE_CRASH_CHILD"

// TestCrashChild is the store process of TestCrashDuringPut: the test binary runs itself with
// only this test and crashChildEnv set.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the store process of TestCrashDuringPut")
	}
	srv, err := New(Config{DataDir: dir, Auth: testAuthenticator(), Authz: ProjectAuthorizer{}, Region: testRegion})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTENING %s\n", ln.Addr())
	if err := srv.Serve(context.Background(), ln); err != nil {
		t.Fatal(err)
	}
}

// startStoreProcess runs the store on dir in a child process and returns its address.
func startStoreProcess(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd, out := testenv.StartChild(t, "TestCrashChild", crashChildEnv+"="+dir)
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if err != nil || !ok {
		t.Fatalf("store process said %q: %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return cmd, addr
}

// stalledReader yields a pattern up to stallAt bytes, then blocks until release is closed and
// fails, like a client that hangs mid-upload.
type stalledReader struct {
	p       *patternReader
	stallAt int64
	release chan struct{}
}

func (s *stalledReader) Read(b []byte) (int, error) {
	if s.p.off >= s.stallAt {
		<-s.release
		return 0, errors.New("upload abandoned")
	}
	if rest := s.stallAt - s.p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	return s.p.Read(b)
}

// streamPut starts a signed PUT of size bytes from body (payload unsigned, so it streams),
// with the headers given as name, value pairs.
func streamPut(t *testing.T, addr, path string, body io.Reader, size int64, header ...string) <-chan error {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, (&url.URL{Scheme: "http", Host: addr, Path: path}).String(), body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", awsauth.UnsignedPayload)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: alice.ak, SecretAccessKey: alice.sk}, req, awsauth.UnsignedPayload, "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("upload finished with status %d", resp.StatusCode)
		}
		done <- err
	}()
	return done
}

// waitForTempFiles waits until n files in the store's tmp directory hold at least min bytes.
func waitForTempFiles(t *testing.T, dir string, n int, min int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		big := 0
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Size() >= min {
				big++
			}
		}
		if big >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the uploads never reached the store's temporary files (%d of %d)", big, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashDuringPut kills the store (SIGKILL) in the middle of two large uploads, one over an
// existing object and one of a new key, and checks that a restarted store shows the old object
// and no new one, with no temporary files left.
func TestCrashDuringPut(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("this is the child")
	}
	dir := t.TempDir()
	cmd, addr := startStoreProcess(t, dir)
	e := &testEnv{host: addr, url: "http://" + addr, dir: dir}
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/crash"})
	old, err := io.ReadAll(newPattern(1<<20, 1))
	if err != nil {
		t.Fatal(err)
	}
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/crash/over", body: old})

	const size, stallAt = 512 << 20, 24 << 20
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	uploads := []<-chan error{
		streamPut(t, addr, "/crash/over", &stalledReader{p: newPattern(size, 2), stallAt: stallAt, release: release}, size),
		streamPut(t, addr, "/crash/fresh", &stalledReader{p: newPattern(size, 3), stallAt: stallAt, release: release}, size),
	}
	waitForTempFiles(t, dir, 2, 1<<20)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	once.Do(func() { close(release) })
	for _, u := range uploads {
		if err := <-u; err == nil || strings.Contains(err.Error(), "status") {
			t.Fatalf("an upload survived the crash: %v", err)
		}
	}

	_, addr = startStoreProcess(t, dir)
	e = &testEnv{host: addr, url: "http://" + addr, dir: dir}
	got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/crash/over"})
	if sumOf(strings.NewReader(string(got.body))) != patternSum(1<<20, 1) {
		t.Fatal("the overwritten object is not the previous complete object")
	}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/crash/fresh"}), http.MethodGet, http.StatusNotFound, CodeNoSuchKey)
	list := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/crash", query: url.Values{"list-type": {"2"}}})
	var lr listObjectsV2Result
	if err := xml.Unmarshal(list.body, &lr); err != nil {
		t.Fatal(err)
	}
	if len(lr.Contents) != 1 || lr.Contents[0].Key != "over" || lr.Contents[0].Size != 1<<20 {
		t.Fatalf("listing after the crash = %+v", lr.Contents)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Fatalf("%d temporary files survived the restart", len(entries))
	}
}

// listVersionIDs lists a key's versions over raw HTTP as "id latest" strings, newest first.
func listVersionIDs(t *testing.T, e *testEnv, bucket string) []string {
	t.Helper()
	res := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/" + bucket, query: url.Values{"versions": {""}}})
	var doc struct {
		Entries []struct {
			XMLName  xml.Name
			Key      string `xml:"Key"`
			ID       string `xml:"VersionId"`
			IsLatest bool   `xml:"IsLatest"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range doc.Entries {
		if v.XMLName.Local == "Version" || v.XMLName.Local == "DeleteMarker" {
			out = append(out, fmt.Sprintf("%s %s %s %v", v.XMLName.Local, v.Key, v.ID, v.IsLatest))
		}
	}
	return out
}

// TestCrashDuringVersionedPut kills the store (SIGKILL) in the middle of uploads of a new
// version over a versioned key and of a new key, and checks that the restarted store keeps
// every previous version intact, the previous latest as the latest, and no half version.
func TestCrashDuringVersionedPut(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("this is the child")
	}
	dir := t.TempDir()
	cmd, addr := startStoreProcess(t, dir)
	e := &testEnv{host: addr, url: "http://" + addr, dir: dir}
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/vcrash"})
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/vcrash/over", body: []byte("null version")})
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/vcrash", query: url.Values{"versioning": {""}}, body: []byte(enableVersioning)})
	old, err := io.ReadAll(newPattern(1<<20, 4))
	if err != nil {
		t.Fatal(err)
	}
	v1 := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/vcrash/over", body: old}).header.Get("x-amz-version-id")
	before := listVersionIDs(t, e, "vcrash")
	if len(before) != 2 {
		t.Fatalf("versions before the crash = %q", before)
	}

	const size, stallAt = 256 << 20, 16 << 20
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	uploads := []<-chan error{
		streamPut(t, addr, "/vcrash/over", &stalledReader{p: newPattern(size, 5), stallAt: stallAt, release: release}, size),
		streamPut(t, addr, "/vcrash/fresh", &stalledReader{p: newPattern(size, 6), stallAt: stallAt, release: release}, size),
	}
	waitForTempFiles(t, dir, 2, 1<<20)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	once.Do(func() { close(release) })
	for _, u := range uploads {
		if err := <-u; err == nil || strings.Contains(err.Error(), "status") {
			t.Fatalf("an upload survived the crash: %v", err)
		}
	}

	_, addr = startStoreProcess(t, dir)
	e = &testEnv{host: addr, url: "http://" + addr, dir: dir}
	got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/vcrash/over"})
	if sumOf(strings.NewReader(string(got.body))) != patternSum(1<<20, 4) || got.header.Get("x-amz-version-id") != v1 {
		t.Fatal("the latest version is not the previous complete one")
	}
	got = e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/vcrash/over", query: url.Values{"versionId": {"null"}}})
	if string(got.body) != "null version" {
		t.Fatalf("the older null version reads %q", got.body)
	}
	if after := listVersionIDs(t, e, "vcrash"); !slices.Equal(after, before) {
		t.Fatalf("versions after the crash = %q, want %q", after, before)
	}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/vcrash/fresh"}), http.MethodGet, http.StatusNotFound, CodeNoSuchKey)
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Fatalf("%d temporary files survived the restart", len(entries))
	}
	// The key takes new versions again.
	v3 := e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/vcrash/over", body: []byte("three")}).header.Get("x-amz-version-id")
	if after := listVersionIDs(t, e, "vcrash"); len(after) != 3 || after[0] != "Version over "+v3+" true" || after[1] != "Version over "+v1+" false" {
		t.Fatalf("versions after a new PUT = %q", after)
	}
}
