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

package fsstore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"pinet.io/pinet/internal/testmoto"
)

// backendEnv names the disk openStore's stores use: "fs" (the default) or "s3", which puts
// them on moto's moto_server (started once for the package, a backend bucket per store).
const backendEnv = "PINET_FSSTORE_TEST_BACKEND"

var moto struct {
	once    sync.Once
	server  *testmoto.Server
	err     error
	mu      sync.Mutex
	buckets map[string]string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if moto.server != nil {
		moto.server.Stop()
	}
	os.Exit(code)
}

// openAt opens the store whose data directory is dir, on the disk backendEnv names: on s3,
// the same backend bucket each time for one dir (files being written go to dir/tmp).
func openAt(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	if os.Getenv(backendEnv) != "s3" {
		s, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	moto.once.Do(func() { moto.server, moto.err = testmoto.Start(nil) })
	if moto.err != nil {
		t.Fatal(moto.err)
	}
	moto.mu.Lock()
	if moto.buckets == nil {
		moto.buckets = map[string]string{}
	}
	bucket, ok := moto.buckets[dir]
	if !ok {
		bucket = fmt.Sprintf("store-%d", len(moto.buckets))
		moto.buckets[dir] = bucket
	}
	moto.mu.Unlock()
	if !ok {
		if err := moto.server.NewBucket(context.Background(), bucket); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenS3(context.Background(), S3Config{
		Endpoint: moto.server.Endpoint, Bucket: bucket, Prefix: "p/", Region: testmoto.Region,
		AccessKey: testmoto.AccessKey, SecretKey: testmoto.SecretKey, TempDir: filepath.Join(dir, "tmp"),
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// localOnly skips a test that looks into the data directory when the stores are on S3.
func localOnly(t *testing.T, why string) {
	t.Helper()
	if os.Getenv(backendEnv) == "s3" {
		t.Skip("local disk only: " + why)
	}
}

// s3SkippedTests are left out of TestSuiteOnS3Disk: itself, the tests that are on S3 anyway,
// and the two randomized model tests, which take minutes through moto_server (they run with
// PINET_FSSTORE_TEST_BACKEND=s3 go test ./objectstore/fsstore/).
const s3SkippedTests = `^(TestSuiteOnS3Disk|TestS3.*|TestOpenS3.*|TestListMatchesReference|TestVersionsMatchModel)$`

// TestSuiteOnS3Disk runs the package's tests again with every store of openStore on the S3
// disk, against moto_server.
func TestSuiteOnS3Disk(t *testing.T) {
	if os.Getenv(backendEnv) != "" {
		t.Skipf("%s is set: this run is on that disk already", backendEnv)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^Test", "-test.skip", s3SkippedTests, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), backendEnv+"=s3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tests on the S3 disk failed: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\n--- PASS: "); n < 25 {
		t.Fatalf("only %d tests passed on the S3 disk:\n%s", n, out)
	}
}
