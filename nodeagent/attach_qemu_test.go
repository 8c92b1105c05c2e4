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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
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
	key    types.NamespacedName

	// The AoE target: its backing file, and how to stop it.
	pair    *aoetest.Pair
	backing *os.File
	stop    func()
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
	f := &qemuFixture{conn: conn, root: root, key: types.NamespacedName{Namespace: "p", Name: "v"}, pair: pair, backing: backing}
	f.serveTarget(t, qemuVolumeSize)
	t.Cleanup(func() { f.stop() })

	f.chains = newVolumeChains(ctx, Config{StateDir: t.TempDir(), StorageInterface: pair.IfaceA, StorageNetNS: pair.NSA, AttachTimeout: 5 * time.Second})
	t.Cleanup(f.chains.stopAll)
	if f.chain, err = f.chains.ensure(ctx, f.key, "vol-0000000000000000a", aoeAddress{shelf: 4, slot: 2}); err != nil {
		t.Fatal(err)
	}
	return f
}

// serveTarget (re)starts the AoE target serving size bytes of the backing file, grown to that
// size first, as a storage node serves a volume it grew.
func (f *qemuFixture) serveTarget(t *testing.T, size int64) {
	t.Helper()
	if f.stop != nil {
		f.stop()
	}
	if err := f.backing.Truncate(size); err != nil {
		t.Fatal(err)
	}
	// Not tied to t: the target outlives the subtest that grew it.
	tconn, err := aoetest.ListenIn(f.pair.NSB, f.pair.IfaceB)
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithCancel(context.Background())
	tdone := make(chan struct{})
	go func() {
		defer close(tdone)
		_ = (&aoe.Target{Conn: tconn, Shelf: 4, Slot: 2, Backing: f.backing, Size: size}).Serve(tctx)
	}()
	f.stop = func() { tcancel(); <-tdone; _ = tconn.Close() }
}

// capacity is the size QEMU gives the domain's disk target.
func (f *qemuFixture) capacity(t *testing.T, name, target string) int64 {
	t.Helper()
	c, err := f.conn.DiskCapacity(name, target)
	if err != nil {
		t.Fatal(err)
	}
	return int64(c)
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
	t.Run("grown volume", func(t *testing.T) { grownVolumeReachesTheNextStart(t, f) })
	t.Run("agent restart", func(t *testing.T) { guestLosesVolumeWithTheAgent(t, f) })
}

// guestLosesVolumeWithTheAgent: a running guest's QEMU is connected to the volume's chain, which
// ends with the agent's process. The attach reconciler of the agent that comes back makes the
// chain again, but QEMU (no NBD reconnection with this libvirt) does not reach it, and the
// volume says so in a Warning event, once.
func guestLosesVolumeWithTheAgent(t *testing.T, f *qemuFixture) {
	const name = "i-qemu-restart"
	// The volume has 1 GiB, served so (as after "grown volume"), before any guest connects.
	f.serveTarget(t, 1<<30)
	if err := f.chains.grow(context.Background(), f.key, 1<<30); err != nil {
		t.Fatal(err)
	}
	spec := domainxml.Spec{Name: name, UUID: "0c6f3c1e-1d2a-4c55-9a55-2b0d1b8e6a04", VCPUs: 1, MemoryMiB: 64,
		Volumes: []domainxml.Volume{{Socket: f.chain.socket, Target: "vdf", Serial: "vol-0000000000000000a"}}}
	f.run(t, spec)
	rec := events.NewFakeRecorder(8)
	a := &volumeAttach{virt: f.conn, chains: f.chains, clock: clock.RealClock{}, recorder: rec}
	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: f.key.Name, Namespace: f.key.Namespace},
		Spec:   cloudv1.VolumeSpec{SizeGiB: 1, AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: name, Device: "/dev/sdf"}},
		Status: cloudv1.VolumeStatus{VolumeID: "vol-0000000000000000a", SizeGiB: 1, AoE: &cloudv1.AoEAddress{Shelf: 4, Slot: 2}}}
	conditions.MarkTrue(vol, cloudv1.VolumeExported, cloudv1.ReasonExported, "served", metav1.Now())
	attach := func() []string {
		t.Helper()
		if _, err := a.attach(context.Background(), &attachScope{key: f.key, vol: vol, now: metav1.Now()}); err != nil {
			t.Fatal(err)
		}
		if c := conditions.Get(vol, cloudv1.VolumeAttached); c == nil || c.Reason != cloudv1.ReasonVolumeAttached {
			t.Fatalf("Attached is %+v", c)
		}
		var got []string
		for {
			select {
			case e := <-rec.Events:
				got = append(got, e)
			default:
				return got
			}
		}
	}
	if got := attach(); len(got) != 0 {
		t.Fatalf("a guest whose chain runs was told %v", got)
	}
	f.chains.stop(f.key) // the agent's process ends, and its chains with it
	if got := attach(); len(got) != 1 || !strings.Contains(got[0], "Warning VolumeConnectionLost") || !strings.Contains(got[0], name) {
		t.Fatalf("after the chain was made again: events %v, want one VolumeConnectionLost", got)
	}
	if got := attach(); len(got) != 0 {
		t.Fatalf("told again: %v", got)
	}
}

// grownVolumeReachesTheNextStart gives the attached volume 1 GiB (ModifyVolume). While the domain
// runs, its chain is left as QEMU opened it (a running guest's NBD connection is not replaced);
// once the domain is stopped, the attach reconciler serves the chain at the new size as soon as
// the storage node does, and QEMU sees it at the next start.
func grownVolumeReachesTheNextStart(t *testing.T, f *qemuFixture) {
	const name = "i-qemu-grow"
	spec := domainxml.Spec{Name: name, UUID: "0c6f3c1e-1d2a-4c55-9a55-2b0d1b8e6a03", VCPUs: 1, MemoryMiB: 64,
		Volumes: []domainxml.Volume{{Socket: f.chain.socket, Target: "vdf", Serial: "vol-0000000000000000a"}}}
	f.run(t, spec)
	a := &volumeAttach{virt: f.conn, chains: f.chains, clock: clock.RealClock{}}
	sc := &attachScope{key: f.key, vol: &cloudv1.Volume{
		Spec:   cloudv1.VolumeSpec{SizeGiB: 1, AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: name, Device: "/dev/sdf"}},
		Status: cloudv1.VolumeStatus{VolumeID: "vol-0000000000000000a", SizeGiB: 1},
	}}
	resize := func() reconcile.Result {
		t.Helper()
		d, err := f.conn.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.resize(context.Background(), sc, d)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	chainSize := func() int64 { return f.chains.get(f.key).dev.Size() }

	// Stopped before the storage node serves the growth: the reconciler waits for it.
	if err := f.conn.Destroy(name); err != nil {
		t.Fatal(err)
	}
	if res := resize(); res.RequeueAfter == 0 || chainSize() != qemuVolumeSize {
		t.Fatalf("grew before the storage node served the growth: %+v, chain %d", res, chainSize())
	}
	if err := f.conn.Start(name); err != nil {
		t.Fatal(err)
	}
	// Served grown, but the guest runs: its disk stays as QEMU opened it.
	f.serveTarget(t, 1<<30)
	if res := resize(); res.RequeueAfter != 0 || chainSize() != qemuVolumeSize || f.capacity(t, name, "vdf") != qemuVolumeSize {
		t.Fatalf("a running guest's volume changed under it: %+v, chain %d, disk %d", res, chainSize(), f.capacity(t, name, "vdf"))
	}
	// Stopped: the chain grows, and the next start sees the size.
	if err := f.conn.Destroy(name); err != nil {
		t.Fatal(err)
	}
	if res := resize(); res.RequeueAfter != 0 || chainSize() != 1<<30 {
		t.Fatalf("the stopped instance's volume did not grow: %+v, chain %d", res, chainSize())
	}
	if err := f.conn.Start(name); err != nil {
		t.Fatal(err)
	}
	if got := f.capacity(t, name, "vdf"); got != 1<<30 {
		t.Fatalf("started again, the disk has %d bytes, want %d", got, 1<<30)
	}
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
