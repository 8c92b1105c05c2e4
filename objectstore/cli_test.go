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
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// clientEnv is the environment of a Python client process acting as u, with no configuration
// from the machine it runs on.
func clientEnv(t *testing.T, u testUser) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + u.ak,
		"AWS_SECRET_ACCESS_KEY=" + u.sk,
		"AWS_DEFAULT_REGION=" + testRegion,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// runCLI runs the AWS CLI against the store as u and returns its standard output.
func runCLI(t *testing.T, e *testEnv, u testUser, args ...string) string {
	t.Helper()
	out, err := cli(t, e, u, args...)
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func cli(t *testing.T, e *testEnv, u testUser, args ...string) (string, error) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI is not on PATH: %v", err)
	}
	cmd := exec.Command(aws, append([]string{"--endpoint-url", e.url, "--region", testRegion}, args...)...)
	cmd.Env = clientEnv(t, u)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("large upload")
	}
	e := newTestEnv(t)
	const size = 200 << 20
	src := patternFile(t, size, 42)
	runCLI(t, e, alice, "s3", "mb", "s3://cli-bucket")
	// 200 MiB is over the CLI's multipart threshold: it uploads 8 MiB parts in parallel.
	runCLI(t, e, alice, "s3", "cp", src, "s3://cli-bucket/disk/big.img")
	runCLI(t, e, alice, "s3", "cp", src, "s3://cli-bucket/weird key/+plus & ü.txt", "--content-type", "text/plain")

	ls := runCLI(t, e, alice, "s3", "ls", "s3://cli-bucket/")
	if !strings.Contains(ls, "PRE disk/") || !strings.Contains(ls, "PRE weird key/") {
		t.Fatalf("aws s3 ls = %q", ls)
	}
	ls = runCLI(t, e, alice, "s3", "ls", "--recursive", "s3://cli-bucket/")
	if !strings.Contains(ls, "209715200 disk/big.img") || !strings.Contains(ls, "weird key/+plus & ü.txt") {
		t.Fatalf("aws s3 ls --recursive = %q", ls)
	}
	buckets := runCLI(t, e, alice, "s3", "ls")
	if !strings.Contains(buckets, "cli-bucket") {
		t.Fatalf("aws s3 ls (buckets) = %q", buckets)
	}

	var head struct {
		ContentLength int64
		ETag          string
		ContentType   string
		LastModified  string
	}
	out := runCLI(t, e, alice, "s3api", "head-object", "--bucket", "cli-bucket", "--key", "disk/big.img")
	if err := json.Unmarshal([]byte(out), &head); err != nil {
		t.Fatalf("head-object output %q: %v", out, err)
	}
	if head.ContentLength != size || !strings.HasSuffix(head.ETag, `-25"`) || head.LastModified == "" {
		t.Fatalf("head-object = %+v", head)
	}

	dst := filepath.Join(t.TempDir(), "back.img")
	runCLI(t, e, alice, "s3", "cp", "s3://cli-bucket/disk/big.img", dst)
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if sumOf(f) != patternSum(size, 42) {
		t.Fatal("the downloaded file differs from the uploaded one")
	}

	if out, err := cli(t, e, bob, "s3", "ls", "s3://cli-bucket/"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Fatalf("another project's aws s3 ls = %v %q", err, out)
	}
	runCLI(t, e, alice, "s3", "rm", "s3://cli-bucket/disk/big.img")
	runCLI(t, e, alice, "s3", "rm", "--recursive", "s3://cli-bucket/")
	if ls := runCLI(t, e, alice, "s3", "ls", "--recursive", "s3://cli-bucket/"); strings.TrimSpace(ls) != "" {
		t.Fatalf("bucket after aws s3 rm = %q", ls)
	}
	runCLI(t, e, alice, "s3", "rb", "s3://cli-bucket")
}
