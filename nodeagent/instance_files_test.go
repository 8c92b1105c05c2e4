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

package nodeagent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"pinet.io/pinet/nodeagent/libvirt"
)

// The agent binds what it keeps by instance id to the Instance's UID: asked to remove an
// instance's domain and files, it leaves a domain or directory of that name owned by another
// object alone, and it never takes over another object's directory.
func TestRemoveLeavesAnotherObjectsDomainAndFiles(t *testing.T) {
	dir := t.TempDir()
	conn := testDriverNode(t, dir)
	ctx := context.Background()
	s := &instanceSync{virt: conn, cloudID: "cloud-1", cfg: Config{StateDir: dir}}

	const id, owner, intruder = "i-0123456789abcdef0", "aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"
	x := `<domain type="test"><name>` + id + `</name>
<metadata><instance xmlns="https://pinet.io/xmlns/domain/1"><cloud>cloud-1</cloud><namespace>p1</namespace>
<name>` + id + `</name><uid>` + owner + `</uid><instanceId>` + id + `</instanceId></instance></metadata>
<memory unit="MiB">64</memory><os><type arch="x86_64">hvm</type></os></domain>`
	if err := conn.Define(x); err != nil {
		t.Fatal(err)
	}
	files := s.instanceDir(id)
	if err := ensureInstanceDir(files, owner); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "root.qcow2"), []byte("p1's disk"), 0o640); err != nil {
		t.Fatal(err)
	}

	if err := ensureInstanceDir(files, intruder); !errors.Is(err, errNotOwner) {
		t.Fatalf("another object took over the directory: %v", err)
	}
	if err := s.removeDomain(ctx, id, intruder); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Lookup(id); err != nil {
		t.Fatalf("removing for another object touched the domain: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(files, "root.qcow2")); err != nil || string(data) != "p1's disk" {
		t.Fatalf("removing for another object touched the files: %q %v", data, err)
	}
	if ok, _ := ownedBy(files, intruder); ok {
		t.Fatal("the files are served to another object")
	}

	if err := s.removeDomain(ctx, id, owner); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Lookup(id); !errors.Is(err, libvirt.ErrNotFound) {
		t.Fatalf("the owner's domain was not removed: %v", err)
	}
	if _, err := os.Stat(files); !os.IsNotExist(err) {
		t.Fatalf("the owner's files were not removed: %v", err)
	}
}

// testDriverNode opens a libvirt test-driver connection of its own (an empty node described in
// dir), closed when the test ends.
func testDriverNode(t *testing.T, dir string) *libvirt.Conn {
	t.Helper()
	nodeXML := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conn, err := libvirt.Open(context.Background(), "test://"+nodeXML)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}
