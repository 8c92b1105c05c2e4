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

// Package guestimage finds and builds the sample guest image (hack/guestimage/build.sh) for the
// tests and benchmarks that boot real guests, so they all use one cache directory.
package guestimage

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// DirEnv overrides where the image is built and cached.
const DirEnv = "PINET_GUESTIMAGE_DIR"

// Files are a built image's kernel, initramfs and root filesystem.
type Files struct {
	Kernel, Initrd, Root string
}

// Dir is where the image is cached: $PINET_GUESTIMAGE_DIR, else .cache/guestimage in the
// repository whose root is repo (relative to the caller's working directory).
func Dir(repo string) (string, error) {
	dir := os.Getenv(DirEnv)
	if dir == "" {
		dir = filepath.Join(repo, ".cache", "guestimage")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("guest image directory %s: %w", dir, err)
	}
	return abs, nil
}

// In returns the image's files in dir, built or not.
func In(dir string) Files {
	return Files{
		Kernel: filepath.Join(dir, "vmlinuz"),
		Initrd: filepath.Join(dir, "initrd.img"),
		Root:   filepath.Join(dir, "root.img"),
	}
}

// Build runs hack/guestimage/build.sh into Dir(repo): quick when the image is up to date. It
// needs root (apt-get download, device nodes, an ext4 image owned by root).
func Build(repo string) (Files, error) {
	dir, err := Dir(repo)
	if err != nil {
		return Files{}, err
	}
	cmd := exec.Command("./build.sh", dir)
	cmd.Dir = filepath.Join(repo, "hack", "guestimage")
	if out, err := cmd.CombinedOutput(); err != nil {
		return Files{}, fmt.Errorf("hack/guestimage/build.sh %s: %w\n%s", dir, err, out)
	}
	return In(dir), nil
}
