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
	"syscall"
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
	"pinet.io/pinet/nodeagent/chainhost"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// qemuFixture is a real QEMU under libvirt's embedded driver (TCG) and a volume's chain: an AoE
// target in one namespace serving a sparse file, the initiator in another, and the NBD socket,
// held by a chain host in a process of its own (the test binary as `nodeagent volume-chains`),
// as a node runs it.
type qemuFixture struct {
	conn   *libvirt.Conn
	root   string
	state  string
	chains *volumeChains
	chain  chainhost.Chain
	key    types.NamespacedName
	host   *exec.Cmd

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
	f := &qemuFixture{conn: conn, root: root, state: t.TempDir(), key: types.NamespacedName{Namespace: "p", Name: "v"}, pair: pair, backing: backing}
	f.serveTarget(t, qemuVolumeSize)
	t.Cleanup(func() { f.stop() })

	f.chains = newVolumeChains(Config{StateDir: f.state})
	f.startHost(t)
	t.Cleanup(func() { f.stopHost(t, syscall.SIGTERM) })
	if f.chain, _, err = f.chains.ensure(ctx, f.key, "vol-0000000000000000a", aoeAddress{shelf: 4, slot: 2}); err != nil {
		t.Fatal(err)
	}
	return f
}

// startHost starts the chain host, a process of its own, and waits until it answers.
func (f *qemuFixture) startHost(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(f.state, "chains.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logf.Close() }()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), ChainHostArgsEnv+"=--state-dir "+f.state+" --storage-interface "+f.pair.IfaceA+
		" --storage-netns "+f.pair.NSA+" --qemu-user= --attach-timeout 5s")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.host = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := f.chains.client.List(context.Background()); err == nil {
			return
		} else if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("the chain host never answered: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopHost ends the chain host's process with sig (SIGKILL: a crash).
func (f *qemuFixture) stopHost(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if f.host == nil {
		return
	}
	_ = f.host.Process.Signal(sig)
	_ = f.host.Wait()
	f.host = nil
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

// plug hot-plugs the chain's volume as vdf, throttled as a gp2 volume of 1 GiB, and checks the
// live definition shows it with QEMU's throttle.
func (f *qemuFixture) plug(t *testing.T, name string) {
	t.Helper()
	gp2 := &cloudv1.Volume{Spec: cloudv1.VolumeSpec{SizeGiB: 1}}
	disk, err := domainxml.MarshalVolume(domainxml.Volume{Socket: f.chain.Socket, Target: "vdf", Serial: "vol-0000000000000000a",
		IOTune: volumeIOTune(gp2)})
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
	if sock, found, err := domainxml.DiskOf(d.XML, "vdf"); err != nil || !found || sock != f.chain.Socket {
		t.Fatalf("live disk vdf: %q %v %v", sock, found, err)
	}
	for _, want := range []string{"<total_iops_sec>100</total_iops_sec>", "<total_iops_sec_max>3000</total_iops_sec_max>", "<size_iops_sec>262144</size_iops_sec>"} {
		if !strings.Contains(d.XML, want) {
			t.Fatalf("live disk vdf lacks QEMU's throttle %s:\n%s", want, d.XML)
		}
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
	t.Run("agent restart", func(t *testing.T) { guestKeepsVolumeThroughAgentRestart(t, f) })
}

// guestKeepsVolumeThroughAgentRestart: a running guest's QEMU reads and writes the volume
// through its chain, which the chain host holds, not the agent. An agent that restarts (a new
// one, with nothing of the earlier process) finds the chain where it was: the guest's I/O goes
// on, and nothing is said. The chain host restarting ends the chain under QEMU, which (no NBD
// reconnection with this libvirt) fails from then on, and the volume says so in a Warning event,
// once.
func guestKeepsVolumeThroughAgentRestart(t *testing.T, f *qemuFixture) {
	const name = "i-qemu-restart"
	// The volume has 1 GiB, served so (as after "grown volume"), before any guest connects.
	f.serveTarget(t, 1<<30)
	if err := f.chains.grow(context.Background(), f.key, 1<<30); err != nil {
		t.Fatal(err)
	}
	spec := domainxml.Spec{Name: name, UUID: "0c6f3c1e-1d2a-4c55-9a55-2b0d1b8e6a04", VCPUs: 1, MemoryMiB: 64,
		Volumes: []domainxml.Volume{{Socket: f.chain.Socket, Target: "vdf", Serial: "vol-0000000000000000a"}}}
	f.run(t, spec)
	rec := events.NewFakeRecorder(8)
	agent := func() *volumeAttach {
		return &volumeAttach{virt: f.conn, chains: newVolumeChains(Config{StateDir: f.state}), clock: clock.RealClock{}, recorder: rec}
	}
	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: f.key.Name, Namespace: f.key.Namespace},
		Spec:   cloudv1.VolumeSpec{SizeGiB: 1, AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: name, Device: "/dev/sdf"}},
		Status: cloudv1.VolumeStatus{VolumeID: "vol-0000000000000000a", SizeGiB: 1, AoE: &cloudv1.AoEAddress{Shelf: 4, Slot: 2}}}
	conditions.MarkTrue(vol, cloudv1.VolumeExported, cloudv1.ReasonExported, "served", metav1.Now())
	attach := func(a *volumeAttach) []string {
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
	// qemuIO runs a qemu-io command on the guest's disk inside its QEMU (the guest's own path to
	// it) and returns what it printed: QEMU writes that to its log, not to the monitor.
	qemuLog := filepath.Join(f.root, "log", "qemu", name+".log")
	qemuIO := func(cmd string) string {
		t.Helper()
		before, _ := os.ReadFile(qemuLog)
		out, err := f.conn.MonitorCommand(name, `qemu-io -d /machine/peripheral/virtio-disk5/virtio-backend "`+cmd+`"`)
		if err != nil {
			t.Fatalf("qemu-io %s: %v", cmd, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, _ := os.ReadFile(qemuLog)
			if len(b) >= len(before) {
				if added := out + string(b[len(before):]); strings.Contains(added, " bytes at offset") || strings.Contains(added, "failed") {
					return added
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("qemu-io %s printed nothing in %s:\n%s", cmd, qemuLog, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if got := attach(agent()); len(got) != 0 {
		t.Fatalf("a guest whose chain runs was told %v", got)
	}
	if out := qemuIO("write -P 0x5a 0 64k"); !strings.Contains(out, "wrote 65536/65536 bytes") {
		t.Fatalf("the guest's write before the restart: %s", out)
	}

	// The agent restarts: its successor knows the chain from the chain host alone.
	a := agent()
	if got := attach(a); len(got) != 0 {
		t.Fatalf("after the agent restarted, the guest was told %v", got)
	}
	if out := qemuIO("read -P 0x5a 0 64k"); !strings.Contains(out, "read 65536/65536 bytes") {
		t.Fatalf("the guest's read after the agent restarted: %s", out)
	}
	if out := qemuIO("write -P 0xa5 64k 64k"); !strings.Contains(out, "wrote 65536/65536 bytes") {
		t.Fatalf("the guest's write after the agent restarted: %s", out)
	}
	got := make([]byte, 64<<10)
	if _, err := f.backing.ReadAt(got, 64<<10); err != nil || got[0] != 0xa5 || got[len(got)-1] != 0xa5 {
		t.Fatalf("the storage node's file does not hold the guest's write: %x...%x %v", got[0], got[len(got)-1], err)
	}

	// The chain host crashes and starts again: the chain under QEMU ended with it.
	f.stopHost(t, syscall.SIGKILL)
	f.startHost(t)
	if got := attach(a); len(got) != 1 || !strings.Contains(got[0], "Warning VolumeConnectionLost") || !strings.Contains(got[0], name) {
		t.Fatalf("after the chain was made again: events %v, want one VolumeConnectionLost", got)
	}
	if out := qemuIO("read -P 0x5a 0 64k"); !strings.Contains(out, "read failed") {
		t.Fatalf("QEMU read through a chain made after its connection broke (it reconnects: the event is wrong): %s", out)
	}
	if got := attach(a); len(got) != 0 {
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
		Volumes: []domainxml.Volume{{Socket: f.chain.Socket, Target: "vdf", Serial: "vol-0000000000000000a"}}}
	f.run(t, spec)
	a := &volumeAttach{virt: f.conn, chains: f.chains, clock: clock.RealClock{}}
	sc := &attachScope{key: f.key, vol: &cloudv1.Volume{
		Spec:   cloudv1.VolumeSpec{SizeGiB: 1, AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: name, Device: "/dev/sdf"}},
		Status: cloudv1.VolumeStatus{VolumeID: "vol-0000000000000000a", SizeGiB: 1},
	}}
	chainSize := func() int64 {
		t.Helper()
		c, err := f.chains.get(context.Background(), f.key)
		if err != nil || c == nil {
			t.Fatalf("the volume's chain: %v %v", c, err)
		}
		return c.Size
	}
	resize := func() reconcile.Result {
		t.Helper()
		d, err := f.conn.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.resize(context.Background(), sc, d, chainSize())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

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
	released, err := a.unplug(context.Background(), spec.Name, "/dev/sdf", f.chain.Socket)
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
	released, err := a.unplug(context.Background(), spec.Name, "/dev/sdf", f.chain.Socket)
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
