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

package libvirt

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testDisk = `<disk type="network" device="disk"><driver name="qemu" type="raw"></driver>` +
	`<source protocol="nbd"><host transport="unix" socket="/run/vol-1.sock"></host></source>` +
	`<target dev="vdf" bus="virtio"></target><serial>vol-1</serial></disk>`

// TestDevicesOnTestDriver plugs and unplugs a disk on a simulated node, running and stopped.
func TestDevicesOnTestDriver(t *testing.T) {
	dir := t.TempDir()
	nodeXML := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := Open(ctx, "test://"+nodeXML)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dom := `<domain type="test"><name>d1</name><memory unit="MiB">64</memory><vcpu>1</vcpu>` +
		`<os><type arch="x86_64">hvm</type></os><devices></devices></domain>`
	if err := c.Define(dom); err != nil {
		t.Fatal(err)
	}
	if err := c.Start("d1"); err != nil {
		t.Fatal(err)
	}
	has := func() bool {
		d, err := c.Lookup("d1")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(d.XML, `<target dev='vdf' bus='virtio'/>`) && strings.Contains(d.XML, "/run/vol-1.sock")
	}
	if err := c.AttachDevice("d1", testDisk); err != nil {
		t.Fatalf("attaching: %v", err)
	}
	if !has() {
		t.Fatal("the running domain does not show the disk")
	}
	if d, _ := c.Lookup("d1"); d.State != "running" {
		t.Fatalf("domain %s after the attach", d.State)
	}
	if err := c.AttachDevice("d1", testDisk); err == nil {
		t.Fatal("attaching vdf twice: no error")
	}
	if err := c.DetachDevice("d1", testDisk); err != nil {
		t.Fatalf("detaching: %v", err)
	}
	if has() {
		t.Fatal("the disk is still there")
	}
	if err := c.DetachDevice("d1", testDisk); err == nil {
		t.Fatal("detaching a missing disk: no error")
	}
	// A stopped domain: only its definition changes.
	if err := c.Destroy("d1"); err != nil {
		t.Fatal(err)
	}
	if err := c.AttachDevice("d1", testDisk); err != nil || !has() {
		t.Fatalf("attaching to a stopped domain: %v", err)
	}
	if err := c.AttachDevice("nope", testDisk); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("attaching to a missing domain: %v", err)
	}
}
