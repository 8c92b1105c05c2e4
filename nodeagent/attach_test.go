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

package nodeagent_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// attachAgent is a compute node (testcloud.AddComputeNode) whose storage interface is the
// initiators' end (B) of a storage node's veth pair; the A end is where the targets serve.
type attachAgent struct {
	*testcloud.Node
	conn *libvirt.Conn
	pair *aoetest.Pair
}

// startAttachAgent starts a compute node on the storage node's network pair.
func startAttachAgent(t *testing.T, c *testcloud.Cloud, name, zone string, pair *aoetest.Pair) *attachAgent {
	t.Helper()
	if _, err := exec.LookPath("qemu-io"); err != nil {
		t.Skip("qemu-io is not installed")
	}
	n := c.AddComputeNode(t, name, zone, pair)
	return &attachAgent{Node: n, conn: n.Conn, pair: pair}
}

func (n *attachAgent) start(*testing.T) { n.Start() }

func (n *attachAgent) stop() { n.Stop() }

func (n *attachAgent) socket(volID string) string {
	return filepath.Join(n.StateDir(), "nbd", volID+".sock")
}

// packetSockets counts the AoE (packet) sockets open in the agent's storage namespace.
func (n *attachAgent) packetSockets(t *testing.T) int {
	t.Helper()
	out, err := aoetest.Command(n.pair.NSB, "cat", "/proc/net/packet").Output()
	mustDo(t, "reading /proc/net/packet", err)
	return len(strings.Split(strings.TrimSpace(string(out)), "\n")) - 1
}

// newVolume creates a Volume in zone, attached (when at is set) to an instance; the volume
// controller places it on the zone's storage node, whose agent exports it, and labels it with
// the instance's node.
func newVolume(t *testing.T, ns, name, zone string, at *cloudv1.VolumeAttachTarget) *cloudv1.Volume {
	t.Helper()
	v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: zone, AttachTo: at}}
	mustDo(t, "creating volume "+name, env.Client.Create(context.Background(), v))
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

// nbdSize is the size the NBD server on socket serves (0 when none answers).
func nbdSize(t *testing.T, socket string) int64 {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "--output=json", "nbd+unix:///?socket="+socket).Output()
	if err != nil {
		return 0
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("qemu-img info: %v: %s", err, out)
	}
	return info.VirtualSize
}

// domainDisk returns the NBD socket of the domain's disk at target, and whether it has one.
func domainDisk(t *testing.T, n *attachAgent, instanceID, target string) (string, bool) {
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
	_, pair, dir := storageNode(t, c, "att-store", "zone-att-s", 10)
	n := startAttachAgent(t, c, "att-1", "zone-att", pair)
	ns := newProject(t, c, "agent-att")
	inst := waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "db", "m1.tiny", "zone-att")), cloudv1.InstanceStateRunning)
	id := inst.Status.InstanceID

	v := newVolume(t, ns, "data", "zone-att-s", &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdf"})
	v = waitAttached(t, v, cloudv1.ReasonVolumeAttached)
	volID := v.Status.VolumeID
	backing := backingFile(dir, v)
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
	// A simulated node has no QEMU whose connection the restart broke.
	list := &eventsv1.EventList{}
	mustDo(t, "listing events", env.Client.List(ctx, list, client.InNamespace(ns)))
	for _, e := range list.Items {
		if e.Reason == "VolumeConnectionLost" {
			t.Fatalf("a simulated guest was told it lost its volume: %s", e.Note)
		}
	}
	if !again.Status.Attachment.AttachTime.Equal(at.AttachTime) {
		t.Fatalf("attach time changed from %v to %v", at.AttachTime, again.Status.Attachment.AttachTime)
	}
	if got, found := domainDisk(t, n, id, "vdf"); !found || got != sock {
		t.Fatalf("after the restart, disk vdf: %q %v", got, found)
	}

	// Grown while its instance runs (ModifyVolume): the chain the guest's QEMU opened keeps its
	// size, and the volume says when the guest will see the new one; once the instance is
	// stopped, the chain serves the new size, which the next start sees, with the data kept.
	mustDo(t, "growing", testenv.Update(ctx, env.Client, again, func(v *cloudv1.Volume) { v.Spec.SizeGiB = 2 }))
	testenv.Eventually(t, longWait, "the growth to be given and announced", func() error {
		got := &cloudv1.Volume{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), got); err != nil {
			return err
		}
		if got.Status.SizeGiB != 2 {
			return fmt.Errorf("given %d GiB", got.Status.SizeGiB)
		}
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "ResizePending" && e.Regarding.Name == v.Name && strings.Contains(e.Note, id) {
				return nil
			}
		}
		return errors.New("no ResizePending event")
	})
	if got := nbdSize(t, sock); got != 1<<30 {
		t.Fatalf("the running guest's chain serves %d bytes, want the size it opened", got)
	}
	key := client.ObjectKeyFromObject(inst)
	update(t, key, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredStopped })
	waitState(t, key, cloudv1.InstanceStateStopped)
	testenv.Eventually(t, longWait, "the stopped instance's chain to serve 2 GiB", func() error {
		if got := nbdSize(t, sock); got != 2<<30 {
			return fmt.Errorf("%d bytes", got)
		}
		return nil
	})
	update(t, key, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredRunning })
	waitState(t, key, cloudv1.InstanceStateRunning)
	if out, err := qemuIO(t, sock, "read -P 0xab 1M 64k", "read -P 0 1G 64k"); err != nil {
		t.Fatalf("reading the grown volume: %v\n%s", err, out)
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
		if at := got.Status.Attachment; at != nil && at.State != cloudv1.AttachmentDetached {
			return fmt.Errorf("attachment %+v", at)
		}
		// Detached, the volume controller lets the volume go from this node.
		if got.Labels[cloudv1.LabelAttachNode] != "" {
			return fmt.Errorf("labels %v", got.Labels)
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
	store, pair, _ := storageNode(t, c, "att-store2", "zone-att2-s", 10)
	n := startAttachAgent(t, c, "att-2", "zone-att2", pair)
	ns := newProject(t, c, "agent-att2")
	inst := waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "app", "m1.tiny", "zone-att2")), cloudv1.InstanceStateRunning)
	id := inst.Status.InstanceID

	// Attached to an instance of another node: labelled for that node, never this one's.
	other := boundInstance(t, ns, "elsewhere", "att-elsewhere")
	testenv.Eventually(t, shortWait, "an instance id", func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(other), other); err != nil || other.Status.InstanceID == "" {
			return fmt.Errorf("no id yet (%v)", err)
		}
		return nil
	})
	foreign := newVolume(t, ns, "foreign", "zone-att2-s", &cloudv1.VolumeAttachTarget{InstanceID: other.Status.InstanceID, Device: "/dev/sdg"})

	checkNothingMade := func(v *cloudv1.Volume, target string) {
		t.Helper()
		mustDo(t, "reading "+v.Name, env.Client.Get(context.Background(), client.ObjectKeyFromObject(v), v))
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
	taken := newVolume(t, ns, "taken", "zone-att2-s", &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sda"})
	late := newVolume(t, ns, "late", "zone-att2-s", nil)
	lost := newVolume(t, ns, "lost", "zone-att2-s", nil)
	got := waitAttached(t, taken, cloudv1.ReasonDeviceInUse)
	if !strings.Contains(conditions.Get(got, cloudv1.VolumeAttached).Message, "/dev/sda") {
		t.Errorf("DeviceInUse message %q", conditions.Get(got, cloudv1.VolumeAttached).Message)
	}
	checkNothingMade(taken, "vda")

	// In a zone without a storage node: never exported.
	pending := newVolume(t, ns, "pending", "zone-att2-none", &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdj"})
	waitAttached(t, pending, cloudv1.ReasonNotExported)

	// The storage node goes away: its targets stop answering.
	waitVolume(t, late, cloudv1.VolumeStateAvailable)
	waitVolume(t, lost, cloudv1.VolumeStateAvailable)
	store.Stop()
	mustDo(t, "attaching lost", testenv.Update(context.Background(), env.Client, lost, func(v *cloudv1.Volume) {
		v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdh"}
	}))
	got = waitAttached(t, lost, cloudv1.ReasonTargetUnreachable)
	addr := fmt.Sprintf("e%d.%d", got.Status.AoE.Shelf, got.Status.AoE.Slot)
	if !strings.Contains(conditions.Get(got, cloudv1.VolumeAttached).Message, addr) || got.Status.Attachment == nil ||
		got.Status.Attachment.State != cloudv1.AttachmentAttaching {
		t.Errorf("unreachable target: %+v, attachment %+v", conditions.Get(got, cloudv1.VolumeAttached), got.Status.Attachment)
	}
	checkNothingMade(lost, "vdh")

	// By now the agent has handled every volume of its node; the foreign one was never one.
	f := &cloudv1.Volume{}
	mustDo(t, "reading foreign", env.Client.Get(context.Background(), client.ObjectKeyFromObject(foreign), f))
	if f.Labels[cloudv1.LabelAttachNode] != "att-elsewhere" {
		t.Fatalf("foreign volume labels %v", f.Labels)
	}
	if f.Status.Attachment != nil || conditions.Get(f, cloudv1.VolumeAttached) != nil {
		t.Fatalf("a volume labelled for another node was handled: %+v", f.Status)
	}
	checkNothingMade(foreign, "vdg")

	// A stopped instance gets no new volume.
	update(t, client.ObjectKeyFromObject(inst), func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredStopped })
	waitState(t, client.ObjectKeyFromObject(inst), cloudv1.InstanceStateStopped)
	mustDo(t, "attaching late", testenv.Update(context.Background(), env.Client, late, func(v *cloudv1.Volume) {
		v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdk"}
	}))
	waitAttached(t, late, cloudv1.ReasonInstanceNotRunning)
	checkNothingMade(late, "vdk")
}

// TestVolumeIsPluggedOnlyIntoItsProjectsGuests checks the agent's own guard: a volume of one
// project that names another project's instance on this node is not plugged into it, even when
// its labels say it is this node's to attach (admission lets no project set them, and the volume
// controller takes them off again: the label is forced here as only PiNet itself could).
func TestVolumeIsPluggedOnlyIntoItsProjectsGuests(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	_, pair, _ := storageNode(t, c, "att-store3", "zone-att3-s", 10)
	n := startAttachAgent(t, c, "att-3", "zone-att3", pair)
	nsA, nsB := newProject(t, c, "agent-att3-a"), newProject(t, c, "agent-att3-b")
	victim := waitState(t, client.ObjectKeyFromObject(newInstance(t, nsA, "victim", "m1.tiny", "zone-att3")), cloudv1.InstanceStateRunning)
	id := victim.Status.InstanceID

	vol := waitVolume(t, newVolume(t, nsB, "intruder", "zone-att3-s", nil), cloudv1.VolumeStateAvailable)
	mustDo(t, "naming A's instance", testenv.Update(ctx, env.Client, vol, func(v *cloudv1.Volume) {
		v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: id, Device: "/dev/sdz"}
	}))
	sock := n.socket(vol.Status.VolumeID)
	// The volume controller removes the label each time (the id is no instance of B's); the
	// agent sees it each time it is put back. Plugging took 0.3 s without the guard.
	refused := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !refused; time.Sleep(50 * time.Millisecond) {
		got := &cloudv1.Volume{}
		mustDo(t, "reading the volume", env.Client.Get(ctx, client.ObjectKeyFromObject(vol), got))
		if got.Labels[cloudv1.LabelAttachNode] != n.Name {
			before := got.DeepCopy()
			if got.Labels == nil {
				got.Labels = map[string]string{}
			}
			got.Labels[cloudv1.LabelAttachNode] = n.Name
			_ = env.Client.Patch(ctx, got, client.MergeFrom(before))
		}
		if disk, found := domainDisk(t, n, id, "vdz"); found {
			t.Fatalf("B's volume is in A's guest as vdz (%s)", disk)
		}
		if at := got.Status.Attachment; at != nil && at.InstanceID == id && at.State != cloudv1.AttachmentDetached {
			t.Fatalf("B's volume reports an attachment to A's instance: %+v", at)
		}
		c := conditions.Get(got, cloudv1.VolumeAttached)
		refused = c != nil && c.Reason == cloudv1.ReasonInstanceNotRunning
	}
	if !refused {
		t.Fatal("the agent never reported that B's volume has no running instance to go to")
	}
	if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket for B's volume: %v", err)
	}
	if disk, found := domainDisk(t, n, id, "vdz"); found {
		t.Fatalf("B's volume is in A's guest as vdz (%s)", disk)
	}
}

// TestNodeVolumeIdentity checks, with real requests as node agents, that a node writes the
// status of the Volumes it attaches and of no other, and never their labels or spec.
func TestNodeVolumeIdentity(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	c.AddProjectWithQuota(t, "pvol", testcloud.NoQuota())
	node1 := clientAs(t, testenv.NodeUser("vnode-1"), testenv.NodeAgentsGroup)
	node2 := clientAs(t, testenv.NodeUser("vnode-2"), testenv.NodeAgentsGroup)
	attachedTo := func(name, node string) *cloudv1.Volume {
		inst := boundInstance(t, "pvol", "vm-"+name, node)
		testenv.Eventually(t, shortWait, "an instance id", func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil || inst.Status.InstanceID == "" {
				return fmt.Errorf("no id yet (%v)", err)
			}
			return nil
		})
		v := newVolume(t, "pvol", name, "pvol-nowhere", &cloudv1.VolumeAttachTarget{InstanceID: inst.Status.InstanceID, Device: "/dev/sdf"})
		testenv.Eventually(t, shortWait, "the attach-node label", func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
				return err
			}
			if v.Labels[cloudv1.LabelAttachNode] != node {
				return fmt.Errorf("labels %v", v.Labels)
			}
			return nil
		})
		return v
	}
	mine, theirs := attachedTo("mine", "vnode-1"), attachedTo("theirs", "vnode-2")
	unlabelled := newVolume(t, "pvol", "unlabelled", "pvol-nowhere", nil)
	status := client.RawPatch("application/merge-patch+json", []byte(`{"status":{"attachment":{"instanceId":"i-00000000000000001","state":"attached"}}}`))
	mustDo(t, "vnode-1 reporting its volume", node1.Status().Patch(ctx, mine, status))
	mustDo(t, "vnode-2 reporting its volume", node2.Status().Patch(ctx, theirs.DeepCopy(), status))
	wantRefused(t, "vnode-1 writing vnode-2's volume", node1.Status().Patch(ctx, theirs, status), "may write only the status of Volumes")
	wantRefused(t, "vnode-1 writing an unlabelled volume", node1.Status().Patch(ctx, unlabelled, status), "may write only the status of Volumes")
	wantRefused(t, "vnode-1 taking vnode-2's volume", node1.Patch(ctx, theirs,
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"cloud.pinet.io/attach-node":"vnode-1"}}}`))),
		"cannot patch|may write only the status of Volumes")
	wantRefused(t, "vnode-1 changing its volume's spec", node1.Patch(ctx, mine,
		client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"attachTo":{"instanceId":"i-00000000000000002","device":"/dev/sdf"}}}`))),
		"cannot patch")
	wantRefused(t, "vnode-1 creating a volume", node1.Create(ctx, &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "made", Namespace: "pvol",
		Labels: map[string]string{cloudv1.LabelAttachNode: "vnode-1"}}, Spec: cloudv1.VolumeSpec{SizeGiB: 1}}), "cannot create|may write only the status of Volumes")
	got := &cloudv1.Volume{}
	mustDo(t, "reading theirs", env.Client.Get(ctx, client.ObjectKeyFromObject(theirs), got))
	if got.Status.Attachment == nil || got.Labels[cloudv1.LabelAttachNode] != "vnode-2" {
		t.Fatalf("vnode-2's volume changed: %+v %v", got.Status.Attachment, got.Labels)
	}

	// The role: read its node's volumes (lists and watches by its node's label: the node
	// authorizer), write their status; nothing else of them.
	for _, tc := range []struct {
		verb, sub, name, selector string
		allow                     bool
	}{
		{"get", "", "mine", "", true}, {"get", "", "theirs", "", false},
		{"list", "", "", "cloud.pinet.io/attach-node=vnode-1", true}, {"watch", "", "", "cloud.pinet.io/storage-node=vnode-1", true},
		{"list", "", "", "", false}, {"watch", "", "", "cloud.pinet.io/attach-node=vnode-2", false},
		{"patch", "status", "mine", "", true}, {"update", "status", "mine", "", true},
		{"update", "", "mine", "", false}, {"patch", "", "mine", "", false}, {"create", "", "", "", false}, {"delete", "", "mine", "", false},
	} {
		ra := &authorizationv1.ResourceAttributes{Verb: tc.verb, Group: cloudv1.GroupVersion.Group,
			Resource: "volumes", Subresource: tc.sub, Namespace: "pvol", Name: tc.name}
		if tc.selector != "" {
			ra.LabelSelector = &authorizationv1.LabelSelectorAttributes{RawSelector: tc.selector}
		}
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: testenv.NodeUser("vnode-1"), Groups: []string{testenv.NodeAgentsGroup, "system:authenticated"},
			ResourceAttributes: ra,
		}}
		mustDo(t, "reviewing", env.Client.Create(ctx, sar))
		if sar.Status.Allowed != tc.allow {
			t.Errorf("%s volumes/%s %s (selector %q): allowed %v, want %v", tc.verb, tc.sub, tc.name, tc.selector, sar.Status.Allowed, tc.allow)
		}
	}
}
