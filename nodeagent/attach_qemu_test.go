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

package nodeagent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// TestQEMUHotplugsVolumeChain hot-plugs a volume's chain into a real QEMU (libvirt's embedded
// QEMU driver, TCG, a guest with no OS): QEMU's NBD client must complete its handshake with the
// agent's server, which reaches the AoE target over real frames, for the plug to succeed. An
// unplug is then left pending, as a guest that never answers the ACPI request leaves it.
func TestQEMUHotplugsVolumeChain(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the embedded QEMU driver runs guests as root here")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("no qemu-system-x86_64")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "stdio_handler = \"file\"\nuser = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nsecurity_driver = \"none\"\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "qemu.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	conn, err := libvirt.Open(ctx, "qemu:///embed?root="+root)
	if err != nil {
		t.Skipf("no embedded QEMU driver: %v", err)
	}
	defer conn.Close()

	pair := aoetest.NewPair(t, "pt-attq", 1500)
	backing, err := os.Create(filepath.Join(t.TempDir(), "vol.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer backing.Close()
	const size = 32 << 20
	if err := backing.Truncate(size); err != nil {
		t.Fatal(err)
	}
	tconn := pair.ListenB(t)
	tctx, tcancel := context.WithCancel(ctx)
	tdone := make(chan struct{})
	go func() {
		defer close(tdone)
		_ = (&aoe.Target{Conn: tconn, Shelf: 4, Slot: 2, Backing: backing, Size: size}).Serve(tctx)
	}()
	defer func() { tcancel(); <-tdone }()

	chains := newVolumeChains(ctx, Config{StateDir: t.TempDir(), StorageInterface: pair.IfaceA, StorageNetNS: pair.NSA, AttachTimeout: 5 * time.Second})
	defer chains.stopAll()
	key := types.NamespacedName{Namespace: "p", Name: "v"}
	c, err := chains.ensure(ctx, key, "vol-0000000000000000a", aoeAddress{shelf: 4, slot: 2})
	if err != nil {
		t.Fatal(err)
	}

	spec := domainxml.Spec{Name: "i-qemu-hotplug", UUID: "0c6f3c1e-1d2a-4c55-9a55-2b0d1b8e6a01", VCPUs: 1, MemoryMiB: 64}
	dom, err := domainxml.Convert(spec, domainxml.Host{DomainType: "qemu", Machine: "q35"})
	if err != nil {
		t.Fatal(err)
	}
	x, err := domainxml.Marshal(dom)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Define(x); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Destroy(spec.Name); _ = conn.Undefine(spec.Name) }()
	if err := conn.Start(spec.Name); err != nil {
		t.Fatal(err)
	}

	disk, err := domainxml.MarshalVolume(domainxml.Volume{Socket: c.socket, Target: "vdf", Serial: "vol-0000000000000000a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.AttachDevice(spec.Name, disk); err != nil {
		t.Fatalf("hot-plugging the volume: %v", err)
	}
	d, err := conn.Lookup(spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if sock, found, err := domainxml.DiskOf(d.XML, "vdf"); err != nil || !found || sock != c.socket {
		t.Fatalf("live disk vdf: %q %v %v", sock, found, err)
	}

	// A socket nobody serves cannot be plugged: QEMU really connects.
	dead, err := domainxml.MarshalVolume(domainxml.Volume{Socket: filepath.Join(root, "none.sock"), Target: "vdg", Serial: "vol-dead"})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.AttachDevice(spec.Name, dead); err == nil {
		t.Fatal("plugging a disk whose socket nobody serves succeeded")
	}

	// The guest has no OS to acknowledge the unplug: the disk stays, and the attach reconciler
	// would report DetachPending rather than cut the chain under it.
	a := &volumeAttach{virt: conn, cfg: Config{DetachTimeout: 2 * time.Second}, clock: clock.RealClock{}}
	released, err := a.unplug(ctx, spec.Name, "/dev/sdf", c.socket)
	if err != nil || released {
		t.Fatalf("unplug from a guest without an OS: released %v, %v", released, err)
	}
}
