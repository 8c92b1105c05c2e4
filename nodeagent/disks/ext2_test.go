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

package disks

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func noise(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	_, _ = r.Read(b)
	return b
}

// TestMetaDiskReadsBackWithE2fsprogs writes meta-data disks and has e2fsprogs judge them:
// e2fsck finds nothing to fix, debugfs reads back exactly the files written (and lost+found,
// nothing else), and the label is the one the guest's disk has.
func TestMetaDiskReadsBackWithE2fsprogs(t *testing.T) {
	need(t, "e2fsck", "debugfs", "blkid")
	many := map[string][]byte{}
	for i := range 300 { // a directory of several blocks
		many[fmt.Sprintf("meta-data/many/a-rather-long-file-name-to-fill-blocks-%03d", i)] = []byte(fmt.Sprint(i))
	}
	many["user-data"] = noise(1, 16<<10)
	for name, files := range map[string]map[string][]byte{
		"instance": {
			"meta-data/instance-id":                 []byte("i-0123456789abcdef0"),
			"meta-data/placement/availability-zone": []byte("pinet-1a"),
			"meta-data/public-keys/0/openssh-key":   []byte("ssh-ed25519 AAAA test\n"),
			"user-data":                             []byte("#!/bin/sh\necho hello\n"),
		},
		"only-an-id": {"meta-data/instance-id": []byte("i-1")},
		"empty-file": {"meta-data/instance-id": []byte("i-2"), "meta-data/empty": nil},
		"direct":     {"user-data": noise(2, 12*extBlockSize)},   // every direct block
		"indirect":   {"user-data": noise(3, 12*extBlockSize+1)}, // and the indirect block
		"largest":    {"user-data": noise(4, extMaxFileBlocks*extBlockSize)},
		"big-dir":    many,
		"nothing":    {},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			img, err := WriteMeta(dir, files)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
				t.Fatalf("e2fsck: %v\n%s", err, out)
			}
			if out, err := exec.Command("blkid", "-o", "value", "-s", "LABEL", img).Output(); err != nil ||
				strings.TrimSpace(string(out)) != MetaLabel {
				t.Fatalf("blkid label %q: %v", out, err)
			}
			got := filepath.Join(dir, "read")
			if err := os.Mkdir(got, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("debugfs", "-R", "rdump / "+got, img).CombinedOutput(); err != nil {
				t.Fatalf("debugfs: %v\n%s", err, out)
			}
			read := map[string][]byte{}
			err = filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(got, p)
				data, err := os.ReadFile(p)
				read[filepath.ToSlash(rel)] = data
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(got, "lost+found")); err != nil {
				t.Errorf("no lost+found: %v", err)
			}
			for name, want := range files {
				if !bytes.Equal(read[name], want) {
					t.Errorf("%s: read %d bytes, wrote %d (equal: %v)", name, len(read[name]), len(want), bytes.Equal(read[name], want))
				}
				delete(read, name)
			}
			for name := range read {
				t.Errorf("the disk holds %s, which was not written", name)
			}
		})
	}
}

// TestMetaDiskRefusesWhatItCannotHold: names that are no file's, a path that is a file and a
// directory, a file past one indirect block; nothing is written.
func TestMetaDiskRefusesWhatItCannotHold(t *testing.T) {
	for name, files := range map[string]map[string][]byte{
		"dot-dot":        {"meta-data/../x": []byte("x")},
		"empty part":     {"meta-data//x": []byte("x")},
		"long name":      {strings.Repeat("n", 256): []byte("x")},
		"file and dir":   {"meta-data": []byte("x"), "meta-data/instance-id": []byte("i-1")},
		"too big a file": {"user-data": make([]byte, extMaxFileBlocks*extBlockSize+1)},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := WriteMeta(dir, files); err == nil {
				t.Fatal("written")
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("left %v", left)
			}
		})
	}
}
