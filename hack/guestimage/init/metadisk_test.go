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

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// Without a meta-data disk the guest relies on the metadata service alone and says so when that
// is not enough; with one, the disk fills in what the service could not give.
func TestGatherMetadata(t *testing.T) {
	service := &metadata{source: "metadata service", values: map[string]string{"instance-id": "i-1"}, userData: []byte("svc")}
	slow := &metadata{source: "metadata service", values: map[string]string{"instance-id": "i-1"}, userDataUnreadable: true}
	drive := &metadata{source: "meta-data disk", values: map[string]string{"instance-id": "i-1"}, userData: []byte("disk")}
	noDisk := func() *metadata { return nil }
	cases := []struct {
		name          string
		networked     bool
		service, disk *metadata
		wantSource    string
		wantUserData  string
		wantSaid      string
	}{
		{"service, no disk", true, service, nil, "metadata service", "svc", ""},
		{"service beats the disk", true, service, drive, "metadata service", "svc", ""},
		{"unreachable service, no disk", true, nil, nil, "", "", "the metadata service is unreachable and there is no meta-data disk"},
		{"unreachable service, disk", true, nil, drive, "meta-data disk", "disk", ""},
		{"slow user data, no disk", true, slow, nil, "metadata service", "", "no meta-data disk holds it"},
		{"slow user data, disk", true, slow, drive, "metadata service", "disk", "user-data from the meta-data disk"},
		{"no network, no disk", false, service, nil, "", "", "no network and no meta-data disk"},
		{"no network, disk", false, service, drive, "meta-data disk", "disk", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var said []string
			say := func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }
			copyOf := func(m *metadata) func() *metadata {
				if m == nil {
					return noDisk
				}
				return func() *metadata { c := *m; return &c }
			}
			serviceCalled := false
			svc := func() *metadata { serviceCalled = true; return copyOf(tc.service)() }
			md := gatherMetadata(tc.networked, svc, copyOf(tc.disk), say)
			if !tc.networked && serviceCalled {
				t.Error("asked the metadata service without a network")
			}
			switch {
			case tc.wantSource == "" && md != nil:
				t.Fatalf("got metadata %+v where there is none", md)
			case tc.wantSource != "" && (md == nil || md.source != tc.wantSource):
				t.Fatalf("metadata %+v, want it from the %s", md, tc.wantSource)
			}
			if md != nil && string(md.userData) != tc.wantUserData {
				t.Errorf("user data %q, want %q", md.userData, tc.wantUserData)
			}
			text := strings.Join(said, "\n")
			if tc.wantSaid == "" && text != "" || !strings.Contains(text, tc.wantSaid) {
				t.Errorf("console %q, want %q", text, tc.wantSaid)
			}
		})
	}
}
