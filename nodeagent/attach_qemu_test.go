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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"pinet.io/pinet/internal/guestimage"
	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// qemuFixture is a real QEMU under libvirt's embedded driver (TCG) and a volume's chain: an AoE
// target in one namespace serving a sparse file, the agent's initiator in another, and the
// agent's NBD socket.
type qemuFixture struct {
	conn   *libvirt.Conn
	root   string
	chains *volumeChains
	chain  *volumeChain
}

const qemuVolumeSize = 32 << 20

func newQEMUFixture(t *testing.T) *qemuFixture {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("the embedded QEMU driver runs guests as root here")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("no qemu-system-x86_64")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
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
	t.Cleanup(conn.Close)

	pair := aoetest.NewPair(t, "pt-attq", 1500)
	backing, err := os.Create(filepath.Join(t.TempDir(), "vol.img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = backing.Close() })
	if err := backing.Truncate(qemuVolumeSize); err != nil {
		t.Fatal(err)
	}
	tconn := pair.ListenB(t)
	tctx, tcancel := context.WithCancel(ctx)
	tdone := make(chan struct{})
	go func() {
		defer close(tdone)
		_ = (&aoe.Target{Conn: tconn, Shelf: 4, Slot: 2, Backing: backing, Size: qemuVolumeSize}).Serve(tctx)
	}()
	t.Cleanup(func() { tcancel(); <-tdone })

	chains := newVolumeChains(ctx, Config{StateDir: t.TempDir(), StorageInterface: pair.IfaceA, StorageNetNS: pair.NSA, AttachTimeout: 5 * time.Second})
	t.Cleanup(chains.stopAll)
	c, err := chains.ensure(ctx, types.NamespacedName{Namespace: "p", Name: "v"}, "vol-0000000000000000a", aoeAddress{shelf: 4, slot: 2})
	if err != nil {
		t.Fatal(err)
	}
	return &qemuFixture{conn: conn, root: root, chains: chains, chain: c}
}

// run defines and starts a q35 domain from spec, removed when the test ends.
func (f *qemuFixture) run(t *testing.T, spec domainxml.Spec) {
	t.Helper()
	dom, err := domainxml.Convert(spec, domainxml.Host{DomainType: "qemu", Machine: "q35"})
	if err != nil {
		t.Fatal(err)
	}
	x, err := domainxml.Marshal(dom)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Define(x); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.conn.Destroy(spec.Name); _ = f.conn.Undefine(spec.Name) })
	if err := f.conn.Start(spec.Name); err != nil {
		t.Fatal(err)
	}
}

// plug hot-plugs the chain's volume as vdf and checks the live definition shows it.
func (f *qemuFixture) plug(t *testing.T, name string) {
	t.Helper()
	disk, err := domainxml.MarshalVolume(domainxml.Volume{Socket: f.chain.socket, Target: "vdf", Serial: "vol-0000000000000000a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.conn.AttachDevice(name, disk); err != nil {
		t.Fatalf("hot-plugging the volume: %v", err)
	}
	d, err := f.conn.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if sock, found, err := domainxml.DiskOf(d.XML, "vdf"); err != nil || !found || sock != f.chain.socket {
		t.Fatalf("live disk vdf: %q %v %v", sock, found, err)
	}
}

// TestQEMUHotplugsVolumeChain hot-plugs a volume's chain into a real QEMU (libvirt's embedded
// QEMU driver, TCG, a guest with no OS): QEMU's NBD client must complete its handshake with the
// agent's server, which reaches the AoE target over real frames, for the plug to succeed. An
// unplug is then left pending, as a guest that never answers the ACPI request leaves it.
//
// With the sample guest image it also boots a guest and checks that the guest sees the volume
// (guestSeesHotpluggedVolume). libvirt opens its embedded driver once per process, so both share
// one.
func TestQEMUHotplugsVolumeChain(t *testing.T) {
	f := newQEMUFixture(t)
	t.Run("no OS", func(t *testing.T) { noOSHoldsUnpluggedVolume(t, f) })
	t.Run("guest", func(t *testing.T) { guestSeesHotpluggedVolume(t, f) })
}

func noOSHoldsUnpluggedVolume(t *testing.T, f *qemuFixture) {
	spec := domainxml.Spec{Name: "i-qemu-hotplug", UUID: "0c6f3c1e-1d2a-4c55-9a55-2b0d1b8e6a01", VCPUs: 1, MemoryMiB: 64}
	f.run(t, spec)
	f.plug(t, spec.Name)

	// A socket nobody serves cannot be plugged: QEMU really connects.
	dead, err := domainxml.MarshalVolume(domainxml.Volume{Socket: filepath.Join(f.root, "none.sock"), Target: "vdg", Serial: "vol-dead"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.conn.AttachDevice(spec.Name, dead); err == nil {
		t.Fatal("plugging a disk whose socket nobody serves succeeded")
	}

	// The guest has no OS to acknowledge the unplug: the disk stays, and the attach reconciler
	// would report DetachPending rather than cut the chain under it.
	a := &volumeAttach{virt: f.conn, cfg: Config{DetachTimeout: 2 * time.Second}, clock: clock.RealClock{}}
	released, err := a.unplug(context.Background(), spec.Name, "/dev/sdf", f.chain.socket)
	if err != nil || released {
		t.Fatalf("unplug from a guest without an OS: released %v, %v", released, err)
	}
}

// guestSeesHotpluggedVolume boots the sample guest image (its kernel and initramfs; set
// PINET_GUESTIMAGE_DIR, else the repository's .cache/guestimage is used, and the test is skipped
// without it) and hot-plugs the volume: the guest kernel finds a disk of the volume's size, which it
// read over NBD and AoE, and releases it when asked.
func guestSeesHotpluggedVolume(t *testing.T, f *qemuFixture) {
	dir, err := guestimage.Dir("..")
	if err != nil {
		t.Fatal(err)
	}
	img := guestimage.In(dir)
	if _, err := os.Stat(img.Kernel); err != nil {
		t.Skipf("no guest image in %s (hack/guestimage/build.sh builds it)", dir)
	}
	kernel, initrd := img.Kernel, img.Initrd
	console := filepath.Join(t.TempDir(), "console.log")
	const id = "i-0123456789abcdef0"
	spec := domainxml.Spec{Name: id, UUID: "0c6f3c1e-1d2a-4c55-9a55-2b0d1b8e6a02", VCPUs: 1, MemoryMiB: 256,
		ConsoleLog: console, Kernel: kernel, Initrd: initrd, Cmdline: "console=ttyS0 no_timer_check pinet.instance_id=" + id,
		Owner: domainxml.Owner{InstanceID: id}}
	f.run(t, spec)
	waitConsole(t, console, "PiNet guest: instance "+id+" booted")

	f.plug(t, spec.Name)
	// virtio_blk announces the disk with its capacity in 512-byte sectors, and the guest program
	// reports its size. The kernel names virtio disks in the order it finds them (this guest has
	// no other disk: vda); libvirt's target vdf names the slot, the serial the volume.
	waitConsole(t, console, fmt.Sprintf("%d 512-byte logical blocks", qemuVolumeSize/512))
	waitConsole(t, console, fmt.Sprintf("PiNet guest: disk vda %d", qemuVolumeSize))

	a := &volumeAttach{virt: f.conn, cfg: Config{DetachTimeout: 2 * time.Minute}, clock: clock.RealClock{}}
	released, err := a.unplug(context.Background(), spec.Name, "/dev/sdf", f.chain.socket)
	if err != nil || !released {
		t.Fatalf("the guest did not release vdf: %v %v", released, err)
	}
}

// waitConsole waits (generously: TCG on a loaded machine) until the console log contains want.
func waitConsole(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console never showed %q:\n%s", want, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
