/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMetaDisk(t *testing.T) {
	sys := t.TempDir()
	for dev, serial := range map[string]string{"vda": "root", "vdb": "ephemeral0", "vdd": "pinet-meta\n"} {
		if err := os.MkdirAll(filepath.Join(sys, dev), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sys, dev, "serial"), []byte(serial), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if dev, ok := findMetaDisk(sys); !ok || dev != "vdd" {
		t.Fatalf("meta disk %q %v", dev, ok)
	}
	if _, ok := findMetaDisk(t.TempDir()); ok {
		t.Fatal("found a meta disk where there is none")
	}

	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "meta-data", "public-keys", "0"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "meta-data", "instance-id"), []byte("i-0123456789abcdef0\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "meta-data", "public-keys", "0", "openssh-key"), []byte("ssh-ed25519 AAAA x"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "user-data"), []byte("#!/bin/sh\necho hi\n"), 0o644)
	md, err := readMetaDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if md.values["instance-id"] != "i-0123456789abcdef0" || md.values["public-keys/0/openssh-key"] != "ssh-ed25519 AAAA x" ||
		string(md.userData) != "#!/bin/sh\necho hi\n" {
		t.Fatalf("metadata %+v user data %q", md.values, md.userData)
	}
	if _, ok := md.values["local-ipv4"]; ok {
		t.Fatal("a missing entry was invented")
	}
	empty, err := readMetaDir(t.TempDir())
	if err != nil || empty.userData != nil || len(empty.values) != 0 {
		t.Fatalf("empty meta dir: %+v %v", empty, err)
	}
}

func TestMemTotal(t *testing.T) {
	f := filepath.Join(t.TempDir(), "meminfo")
	_ = os.WriteFile(f, []byte("MemTotal:        2041232 kB\nMemFree:  1 kB\n"), 0o644)
	if got := memTotalMiB(f); got != 1993 {
		t.Fatalf("MemTotal %d MiB", got)
	}
	if got := memTotalMiB(filepath.Join(t.TempDir(), "none")); got != 0 {
		t.Fatalf("missing file: %d", got)
	}
}
