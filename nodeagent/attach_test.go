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

package nodeagent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// storageNode is a node agent whose storage interface is one end of a veth pair in a namespace
// of the test's own; the other end, in a second namespace, is the storage network where the
// test's AoE targets serve.
type storageNode struct {
	name   string
	cfg    nodeagent.Config
	conn   *libvirt.Conn
	pair   *aoetest.Pair
	cancel context.CancelFunc
	done   chan error
}

func startStorageNode(t *testing.T, c *testcloud.Cloud, name, zone string) *storageNode {
	t.Helper()
	if _, err := exec.LookPath("qemu-io"); err != nil {
		t.Skip("qemu-io is not installed")
	}
	pair := aoetest.NewPair(t, "pt-att", 1500)
	dir := t.TempDir()
	nodeXML := filepath.Join(dir, "node.xml")
	mustDo(t, "writing the node", os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644))
	conn, err := libvirt.Open(env.Ctx, "test://"+nodeXML)
	mustDo(t, "opening libvirt", err)
	t.Cleanup(conn.Close)
	n := &storageNode{name: name, conn: conn, pair: pair, cfg: nodeagent.Config{
		NodeName: name, LibvirtURI: conn.URI(), Zone: zone, VCPUs: 4, MemoryMiB: 8192,
		StateDir: dir, HeartbeatInterval: 5 * time.Second, MinReportInterval: 200 * time.Millisecond,
		FactsInterval: 500 * time.Millisecond, ResyncInterval: 3 * time.Second, ShutdownGrace: 2 * time.Second,
		ObjectStoreURL: c.S3URL, Region: testcloud.Region, SystemNamespace: testenv.SystemNamespace,
		StorageInterface: pair.IfaceA, StorageNetNS: pair.NSA, AttachTimeout: 3 * time.Second, DetachTimeout: 5 * time.Second,
	}}
	n.start(t)
	t.Cleanup(n.stop)
	testenv.Eventually(t, longWait, "hypervisor "+name+" to be ready", func() error {
		hv := &cloudv1.Hypervisor{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, hv); err != nil {
			return err
		}
		if !conditions.IsTrue(hv, cloudv1.ReadyCondition) {
			return errors.New("not ready")
		}
		return nil
	})
	return n
}

func (n *storageNode) start(t *testing.T) {
	rest, err := env.AddUser(testenv.NodeUser(n.name), testenv.NodeAgentsGroup)
	mustDo(t, "node credentials", err)
	ctx, cancel := context.WithCancel(env.Ctx)
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- nodeagent.RunWith(ctx, n.cfg, rest, n.conn) }()
}

func (n *storageNode) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

func (n *storageNode) socket(volID string) string {
	return filepath.Join(n.cfg.StateDir, "volumes", volID+".sock")
}

// packetSockets counts the AoE (packet) sockets open in the agent's storage namespace.
func (n *storageNode) packetSockets(t *testing.T) int {
	t.Helper()
	out, err := aoetest.Command(n.pair.NSA, "cat", "/proc/net/packet").Output()
	mustDo(t, "reading /proc/net/packet", err)
	return len(strings.Split(strings.TrimSpace(string(out)), "\n")) - 1
}

// serveTarget exports a sparse file of size bytes as e<shelf>.<slot> on the storage network.
func serveTarget(t *testing.T, n *storageNode, shelf uint16, slot uint8, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("e%d.%d.img", shelf, slot))
	f, err := os.Create(path)
	mustDo(t, "creating the backing file", err)
	t.Cleanup(func() { _ = f.Close() })
	mustDo(t, "sizing the backing file", f.Truncate(size))
	conn, err := aoetest.ListenIn(n.pair.NSB, n.pair.IfaceB)
	mustDo(t, "opening the target's socket", err)
	ctx, cancel := context.WithCancel(env.Ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tg := &aoe.Target{Conn: conn, Shelf: shelf, Slot: slot, Backing: f, Size: size}
		if err := tg.Serve(ctx); err != nil {
			t.Errorf("target e%d.%d: %v", shelf, slot, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

// newVolume creates a Volume labelled for node, waits for its id and then, as the storage agent,
// reports it exported at shelf.slot.
func newVolume(t *testing.T, ns, name, node string, at *cloudv1.VolumeAttachTarget, shelf, slot int32) *cloudv1.Volume {
	t.Helper()
	ctx := context.Background()
	v := &cloudv1.Volume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{cloudv1.LabelAttachNode: node}},
		Spec:       cloudv1.VolumeSpec{SizeGiB: 1, AttachTo: at},
	}
	mustDo(t, "creating volume "+name, env.Client.Create(ctx, v))
	testenv.Eventually(t, shortWait, "volume "+name+" to get its id", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
			return err
		}
		if v.Status.VolumeID == "" {
			return errors.New("no id yet")
		}
		return nil
	})
	mustDo(t, "exporting "+name, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
			return err
		}
		v.Status.AoE = &cloudv1.AoEAddress{Shelf: shelf, Slot: slot, Node: "storage-1"}
		conditions.MarkTrue(v, cloudv1.VolumeExported, "Exported", "", metav1.Now())
		return env.Client.Status().Update(ctx, v)
	}))
	return v
}

// waitAttached waits for the volume's Attached condition to have reason and returns the volume.
func waitAttached(t *testing.T, v *cloudv1.Volume, reason string) *cloudv1.Volume {
	t.Helper()
	got := &cloudv1.Volume{}
	testenv.Eventually(t, longWait, fmt.Sprintf("volume %s to be %s", v.Name, reason), func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(v), got); err != nil {
			return err
		}
		if c := conditions.Get(got, cloudv1.VolumeAttached); c == nil || c.Reason != reason {
			return fmt.Errorf("Attached is %+v, attachment %+v", c, got.Status.Attachment)
		}
		return nil
	})
	return got
}

// qemuIO runs qemu-io commands on an NBD unix socket.
func qemuIO(t *testing.T, socket string, cmds ...string) (string, error) {
	t.Helper()
	args := []string{"-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("qemu-io", append(args, "nbd+unix:///?socket="+socket)...).CombinedOutput()
	if err == nil && (strings.Contains(string(out), "failed") || strings.Contains(string(out), "Pattern verification")) {
		err = errors.New("qemu-io reported a failure")
	}
	return string(out), err
}

// domainDisk returns the NBD socket of the domain's disk at target, and whether it has one.
func domainDisk(t *testing.T, n *storageNode, instanceID, target string) (string, bool) {
	t.Helper()
	d, err := n.conn.Lookup(instanceID)
	mustDo(t, "looking up "+instanceID, err)
	sock, found, err := domainxml.DiskOf(d.XML, target)
	mustDo(t, "reading the domain's disks", err)
	return sock, found
}

func fileBytes(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	mustDo(t, "opening "+path, err)
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, off)
	mustDo(t, "reading "+path, err)
	return b
}

// TestVolumeAttachOverAoE attaches a volume exported over AoE (real frames between two network
// namespaces) to a running instance: the domain gets a virtio disk reading the agent's NBD socket,
// and qemu-io through that socket reaches the target's backing file. The chain comes back after
// the agent restarts; detaching removes the disk and the socket.
func TestVolumeAttachOverAoE(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	n := startStorageNode(t, c, "att-1", "zone-att")
	ns := newProject(t, c, "agent-att")
	inst := waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "db", "m1.tiny", "zone-att")), cloudv1.InstanceStateRunning)
	id := inst.Status.InstanceID
	backing := serveTarget(t, n, 7, 3, 64<<20)

	v := newVolume(t, ns, "data", n.name, &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdf"}, 7, 3)
	v = waitAttached(t, v, cloudv1.ReasonVolumeAttached)
	volID := v.Status.VolumeID
	at := v.Status.Attachment
	if at == nil || at.State != cloudv1.AttachmentAttached || at.InstanceID != id || at.Device != "/dev/sdf" || at.AttachTime == nil {
		t.Fatalf("attachment %+v", at)
	}
	sock := n.socket(volID)
	if got, found := domainDisk(t, n, id, "vdf"); !found || got != sock {
		t.Fatalf("domain disk vdf: socket %q (found %v), want %q", got, found, sock)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: %v %v", sock, fi, err)
	}

	// The guest's path: NBD socket → agent's AoE initiator → frames → target → backing file.
	if out, err := qemuIO(t, sock, "write -P 0xab 1M 64k", "flush"); err != nil {
		t.Fatalf("writing through %s: %v\n%s", sock, err, out)
	}
	if b := fileBytes(t, backing, 1<<20, 64<<10); !bytes.Equal(b, bytes.Repeat([]byte{0xab}, 64<<10)) {
		t.Fatal("the backing file does not hold what was written through the socket")
	}
	f, err := os.OpenFile(backing, os.O_WRONLY, 0)
	mustDo(t, "opening the backing file", err)
	_, err = f.WriteAt(bytes.Repeat([]byte{0x5c}, 4096), 8<<20)
	_ = f.Close()
	mustDo(t, "writing the backing file", err)
	if out, err := qemuIO(t, sock, "read -P 0x5c 8M 4k"); err != nil {
		t.Fatalf("reading through %s: %v\n%s", sock, err, out)
	}

	// The instance shows it among its block devices.
	testenv.Eventually(t, shortWait, "the instance's block device mapping", func() error {
		got, err := get(t, client.ObjectKeyFromObject(inst))
		if err != nil {
			return err
		}
		bd := got.Status.BlockDevices
		if len(bd) != 1 || bd[0].DeviceName != "/dev/sdf" || bd[0].VolumeID != volID || bd[0].Status != cloudv1.AttachmentAttached {
			return fmt.Errorf("block devices %+v", bd)
		}
		return nil
	})

	// The agent restarts: its chain ends with it and comes back from the Volume.
	n.stop()
	if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket after the agent stopped: %v", err)
	}
	n.start(t)
	testenv.Eventually(t, longWait, "the chain to come back", func() error {
		out, err := qemuIO(t, sock, "read -P 0xab 1M 64k")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	again := waitAttached(t, v, cloudv1.ReasonVolumeAttached)
	if !again.Status.Attachment.AttachTime.Equal(at.AttachTime) {
		t.Fatalf("attach time changed from %v to %v", at.AttachTime, again.Status.Attachment.AttachTime)
	}
	if got, found := domainDisk(t, n, id, "vdf"); !found || got != sock {
		t.Fatalf("after the restart, disk vdf: %q %v", got, found)
	}

	// Moved to a second instance as /dev/xvdg: unplugged from the first, plugged into the second.
	inst2 := waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "db2", "m1.tiny", "zone-att")), cloudv1.InstanceStateRunning)
	id2 := inst2.Status.InstanceID
	mustDo(t, "moving", testenv.Update(ctx, env.Client, again, func(v *cloudv1.Volume) {
		v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: id2, Device: "/dev/xvdg"}
	}))
	testenv.Eventually(t, longWait, "the volume to move", func() error {
		got := &cloudv1.Volume{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), got); err != nil {
			return err
		}
		if at := got.Status.Attachment; at == nil || at.InstanceID != id2 || at.State != cloudv1.AttachmentAttached ||
			!conditions.IsTrue(got, cloudv1.VolumeAttached) {
			return fmt.Errorf("attachment %+v", at)
		}
		return nil
	})
	if _, found := domainDisk(t, n, id, "vdf"); found {
		t.Fatal("the first instance still has vdf")
	}
	if got, found := domainDisk(t, n, id2, "vdg"); !found || got != sock {
		t.Fatalf("second instance's vdg: %q %v", got, found)
	}
	if out, err := qemuIO(t, sock, "read -P 0x5c 8M 4k"); err != nil {
		t.Fatalf("reading after the move: %v\n%s", err, out)
	}
	id = id2
	inst = inst2

	// Detach: the disk, the socket and the AoE socket go.
	mustDo(t, "detaching", testenv.Update(ctx, env.Client, v, func(v *cloudv1.Volume) { v.Spec.AttachTo = nil }))
	testenv.Eventually(t, longWait, "the volume to be detached", func() error {
		got := &cloudv1.Volume{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), got); err != nil {
			return err
		}
		if c := conditions.Get(got, cloudv1.VolumeAttached); c == nil || c.Reason != cloudv1.ReasonVolumeDetached {
			return fmt.Errorf("Attached %+v", c)
		}
		if got.Status.Attachment != nil {
			return fmt.Errorf("attachment %+v not cleared", got.Status.Attachment)
		}
		return nil
	})
	if _, found := domainDisk(t, n, id, "vdg"); found {
		t.Fatal("the domain still has vdg")
	}
	if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket after detach: %v", err)
	}
	if got := n.packetSockets(t); got != 0 {
		t.Fatalf("%d AoE sockets left open after detach", got)
	}
	testenv.Eventually(t, shortWait, "the block device mapping to go", func() error {
		got, err := get(t, client.ObjectKeyFromObject(inst))
		if err != nil {
			return err
		}
		if len(got.Status.BlockDevices) != 0 {
			return fmt.Errorf("block devices %+v", got.Status.BlockDevices)
		}
		return nil
	})
}

// TestVolumeAttachRefusals checks the reasons of attachments that cannot be made, that nothing
// of them is left behind (no NBD socket, no AoE socket, no disk), and that a volume labelled for
// another node is not touched.
func TestVolumeAttachRefusals(t *testing.T) {
	c := startCloud(t)
	n := startStorageNode(t, c, "att-2", "zone-att2")
	ns := newProject(t, c, "agent-att2")
	inst := waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "app", "m1.tiny", "zone-att2")), cloudv1.InstanceStateRunning)
	id := inst.Status.InstanceID
	serveTarget(t, n, 9, 1, 16<<20)

	// Labelled for another node: this agent never sees it, though it names this node's instance.
	foreign := newVolume(t, ns, "foreign", "att-elsewhere", &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdg"}, 9, 1)

	checkNothingMade := func(v *cloudv1.Volume, target string) {
		t.Helper()
		if _, err := os.Stat(n.socket(v.Status.VolumeID)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: socket %v", v.Name, err)
		}
		if sock, found := domainDisk(t, n, id, target); found && sock == n.socket(v.Status.VolumeID) {
			t.Errorf("%s: plugged as %s", v.Name, target)
		}
		// A retry may be dialling right now; none stays open.
		testenv.Eventually(t, shortWait, v.Name+": no AoE socket open", func() error {
			if got := n.packetSockets(t); got != 0 {
				return fmt.Errorf("%d AoE sockets open", got)
			}
			return nil
		})
	}

	// /dev/sda is the guest's vda, the root disk.
	taken := newVolume(t, ns, "taken", n.name, &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sda"}, 9, 1)
	got := waitAttached(t, taken, cloudv1.ReasonDeviceInUse)
	if !strings.Contains(conditions.Get(got, cloudv1.VolumeAttached).Message, "/dev/sda") {
		t.Errorf("DeviceInUse message %q", conditions.Get(got, cloudv1.VolumeAttached).Message)
	}
	checkNothingMade(taken, "vda")

	// Nobody serves e9.2.
	lost := newVolume(t, ns, "lost", n.name, &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdh"}, 9, 2)
	got = waitAttached(t, lost, cloudv1.ReasonTargetUnreachable)
	if !strings.Contains(conditions.Get(got, cloudv1.VolumeAttached).Message, "e9.2") || got.Status.Attachment == nil ||
		got.Status.Attachment.State != cloudv1.AttachmentAttaching {
		t.Errorf("unreachable target: %+v, attachment %+v", conditions.Get(got, cloudv1.VolumeAttached), got.Status.Attachment)
	}
	checkNothingMade(lost, "vdh")

	// No such instance on this node.
	nowhere := newVolume(t, ns, "nowhere", n.name, &cloudv1.VolumeAttachTarget{InstanceID: "i-00000000000000001", Device: "/dev/sdi"}, 9, 1)
	waitAttached(t, nowhere, cloudv1.ReasonInstanceNotRunning)
	checkNothingMade(nowhere, "vdi")

	// Not exported yet.
	pending := &cloudv1.Volume{
		ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: ns, Labels: map[string]string{cloudv1.LabelAttachNode: n.name}},
		Spec:       cloudv1.VolumeSpec{SizeGiB: 1, AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdj"}},
	}
	mustDo(t, "creating pending", env.Client.Create(context.Background(), pending))
	waitAttached(t, pending, cloudv1.ReasonNotExported)

	// By now the agent has handled every volume of its node; the foreign one was never one.
	f := &cloudv1.Volume{}
	mustDo(t, "reading foreign", env.Client.Get(context.Background(), client.ObjectKeyFromObject(foreign), f))
	if f.Status.Attachment != nil || conditions.Get(f, cloudv1.VolumeAttached) != nil {
		t.Fatalf("a volume labelled for another node was handled: %+v", f.Status)
	}
	checkNothingMade(foreign, "vdg")

	// A stopped instance gets no new volume.
	update(t, client.ObjectKeyFromObject(inst), func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredStopped })
	waitState(t, client.ObjectKeyFromObject(inst), cloudv1.InstanceStateStopped)
	late := newVolume(t, ns, "late", n.name, &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdk"}, 9, 1)
	waitAttached(t, late, cloudv1.ReasonInstanceNotRunning)
	checkNothingMade(late, "vdk")
}

// TestNodeVolumeIdentity checks, with real requests as node agents, that a node writes the
// status of the Volumes it attaches and of no other, and never their labels or spec.
func TestNodeVolumeIdentity(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	c.AddProject(t, "pvol")
	node1 := clientAs(t, testenv.NodeUser("vnode-1"), testenv.NodeAgentsGroup)
	mine := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "pvol",
		Labels: map[string]string{cloudv1.LabelAttachNode: "vnode-1"}}, Spec: cloudv1.VolumeSpec{SizeGiB: 1}}
	theirs := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: "pvol",
		Labels: map[string]string{cloudv1.LabelAttachNode: "vnode-2"}}, Spec: cloudv1.VolumeSpec{SizeGiB: 1}}
	unlabelled := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "unlabelled", Namespace: "pvol"}, Spec: cloudv1.VolumeSpec{SizeGiB: 1}}
	for _, v := range []*cloudv1.Volume{mine, theirs, unlabelled} {
		mustDo(t, "creating "+v.Name, env.Client.Create(ctx, v))
	}
	status := client.RawPatch("application/merge-patch+json", []byte(`{"status":{"attachment":{"instanceId":"i-00000000000000001","state":"attached"}}}`))
	mustDo(t, "vnode-1 reporting its volume", node1.Status().Patch(ctx, mine, status))
	wantRefused(t, "vnode-1 writing vnode-2's volume", node1.Status().Patch(ctx, theirs, status), "may write only Volumes it attaches")
	wantRefused(t, "vnode-1 writing an unlabelled volume", node1.Status().Patch(ctx, unlabelled, status), "may write only Volumes it attaches")
	wantRefused(t, "vnode-1 taking vnode-2's volume", node1.Patch(ctx, theirs,
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"cloud.pinet.io/attach-node":"vnode-1"}}}`))),
		"cannot patch|may write only Volumes")
	wantRefused(t, "vnode-1 changing its volume's spec", node1.Patch(ctx, mine,
		client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"attachTo":{"instanceId":"i-00000000000000002","device":"/dev/sdf"}}}`))),
		"cannot patch")
	wantRefused(t, "vnode-1 creating a volume", node1.Create(ctx, &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "made", Namespace: "pvol",
		Labels: map[string]string{cloudv1.LabelAttachNode: "vnode-1"}}, Spec: cloudv1.VolumeSpec{SizeGiB: 1}}), "cannot create|may write only Volumes")
	got := &cloudv1.Volume{}
	mustDo(t, "reading theirs", env.Client.Get(ctx, client.ObjectKeyFromObject(theirs), got))
	if got.Status.Attachment != nil || got.Labels[cloudv1.LabelAttachNode] != "vnode-2" {
		t.Fatalf("vnode-2's volume changed: %+v %v", got.Status.Attachment, got.Labels)
	}

	// The role: read volumes, write their status; nothing else of them.
	for _, tc := range []struct {
		verb, sub string
		allow     bool
	}{
		{"get", "", true}, {"list", "", true}, {"watch", "", true},
		{"patch", "status", true}, {"update", "status", true},
		{"update", "", false}, {"patch", "", false}, {"create", "", false}, {"delete", "", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: testenv.NodeUser("vnode-1"), Groups: []string{testenv.NodeAgentsGroup, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: tc.verb, Group: cloudv1.GroupVersion.Group,
				Resource: "volumes", Subresource: tc.sub, Namespace: "pvol", Name: "mine"},
		}}
		mustDo(t, "reviewing", env.Client.Create(ctx, sar))
		if sar.Status.Allowed != tc.allow {
			t.Errorf("%s volumes/%s: allowed %v, want %v", tc.verb, tc.sub, sar.Status.Allowed, tc.allow)
		}
	}
}
