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

package bundle

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// referenceTools finds a reference bundler's commands: on PATH, or for ec2-ami-tools under
// $EC2_AMITOOL_HOME/bin. Neither is packaged for Debian 12, so the test skips without them.
func referenceTools(t *testing.T, bundle, unbundle string) (bundlePath, unbundlePath string) {
	t.Helper()
	var found []string
	for _, name := range []string{bundle, unbundle} {
		path, err := exec.LookPath(name)
		if home := os.Getenv("EC2_AMITOOL_HOME"); err != nil && home != "" {
			path, err = exec.LookPath(filepath.Join(home, "bin", name))
		}
		if err != nil {
			t.Skipf("%s is not installed (on PATH, or for ec2-ami-tools under $EC2_AMITOOL_HOME/bin)", name)
		}
		found = append(found, path)
	}
	return found[0], found[1]
}

func runTool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestReferenceBundlers bundles with euca-bundle-image or ec2-bundle-image and unbundles with
// this package, then the reverse with euca-unbundle or ec2-unbundle. For ec2-ami-tools it also
// checks this package's signature with that tool's own verifier.
func TestReferenceBundlers(t *testing.T) {
	for _, tools := range [][2]string{{"euca-bundle-image", "euca-unbundle"}, {"ec2-bundle-image", "ec2-unbundle"}} {
		t.Run(tools[0], func(t *testing.T) {
			bundleTool, unbundleTool := referenceTools(t, tools[0], tools[1])
			dir := t.TempDir()
			writePEMs(t, dir)
			for _, sub := range []string{"image", "theirs", "ours", "unbundled"} {
				if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// 21 MiB of noise and 3 MiB of hole: three parts.
			imagePath := writeRandomFile(t, filepath.Join(dir, "image"), "disk.img", 21<<20, 31)
			if err := os.Truncate(imagePath, 24<<20); err != nil {
				t.Fatal(err)
			}
			image, err := os.ReadFile(imagePath)
			if err != nil {
				t.Fatal(err)
			}

			// Theirs to ours.
			runTool(t, dir, bundleTool, "-i", imagePath, "-r", "x86_64", "-u", "123456789012",
				"-c", "user.crt", "-k", "user.key", "--ec2cert", "cloud.crt", "-d", "theirs")
			data, err := os.ReadFile(filepath.Join(dir, "theirs", "disk.img.manifest.xml"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseManifest(data)
			if err != nil {
				t.Fatalf("ParseManifest: %v\n%s", err, data)
			}
			if len(m.Parts) != 3 {
				t.Errorf("%s made %d parts, the test expects 3", tools[0], len(m.Parts))
			}
			if err := m.VerifySignature(ident(t, "user").cert); err != nil {
				t.Fatalf("VerifySignature: %v", err)
			}
			key, iv, err := m.DecryptKey(ident(t, "cloud").key)
			if err != nil {
				t.Fatalf("DecryptKey: %v", err)
			}
			var buf bytes.Buffer
			if size, _, err := Unbundle(m, key, iv, dirOpener(filepath.Join(dir, "theirs")), &buf); err != nil ||
				size != int64(len(image)) || !bytes.Equal(buf.Bytes(), image) {
				t.Fatalf("Unbundle = %d, %v; image equal: %v", size, err, bytes.Equal(buf.Bytes(), image))
			}

			// Ours to theirs.
			manifestPath, _, err := Create(testParams(t, imagePath), filepath.Join(dir, "ours"))
			if err != nil {
				t.Fatal(err)
			}
			runTool(t, dir, unbundleTool, "-m", manifestPath, "-s", "ours", "-d", "unbundled", "-k", "user.key")
			got, err := os.ReadFile(filepath.Join(dir, "unbundled", "disk.img"))
			if err != nil || !bytes.Equal(got, image) {
				t.Fatalf("%s wrote %d bytes (%v); image equal: %v", tools[1], len(got), err, bytes.Equal(got, image))
			}

			if tools[0] == "ec2-bundle-image" {
				// ec2-ami-tools' manifest class, verifying our signature its own way.
				home := filepath.Dir(filepath.Dir(bundleTool))
				out := runTool(t, dir, "ruby", "-I", filepath.Join(home, "lib"), "-e",
					`require "ec2/amitools/manifestv20071010"
m = ManifestV20071010.new(File.read(ARGV[0]))
puts "authentic=#{m.authenticate(File.read(ARGV[1]))} digest=#{m.digest} parts=#{m.parts.size}"`,
					manifestPath, "user.crt")
				ours, _ := ParseManifest(mustRead(t, manifestPath))
				want := "authentic=true digest=" + hexString(ours.Digest) + " parts=3"
				if !strings.Contains(out, want) {
					t.Errorf("ec2-ami-tools says %q, want %q", out, want)
				}
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
