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
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/chainhost"
)

// nbdClient is a qemu-io process holding one NBD connection open, as a guest's QEMU does.
type nbdClient struct {
	in  io.WriteCloser
	mu  sync.Mutex
	out strings.Builder
}

func openNBD(t *testing.T, socket string) *nbdClient {
	t.Helper()
	cmd := exec.Command("qemu-io", "-f", "raw", "nbd+unix:///?socket="+socket)
	in, err := cmd.StdinPipe()
	mustDo(t, "qemu-io's input", err)
	outR, err := cmd.StdoutPipe()
	mustDo(t, "qemu-io's output", err)
	cmd.Stderr = cmd.Stdout
	mustDo(t, "starting qemu-io", cmd.Start())
	c := &nbdClient{in: in}
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			c.mu.Lock()
			c.out.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return c
}

// do sends a qemu-io command and returns what it printed for it.
func (c *nbdClient) do(t *testing.T, cmd string) string {
	t.Helper()
	c.mu.Lock()
	from := c.out.Len()
	c.mu.Unlock()
	_, err := io.WriteString(c.in, cmd+"\n")
	mustDo(t, "writing to qemu-io", err)
	var got string
	testenv.Eventually(t, shortWait, "qemu-io to answer "+cmd, func() error {
		c.mu.Lock()
		got = c.out.String()[from:]
		c.mu.Unlock()
		if strings.Contains(got, " bytes at offset") || strings.Contains(got, "failed") {
			return nil
		}
		return fmt.Errorf("printed %q", got)
	})
	return got
}

// TestVolumeChainsOutliveTheAgent runs a compute node whose volumes' chains are another
// process's (a chain host, as `nodeagent volume-chains` runs it; here in the test's process).
// Until the host runs, an attachment waits, saying why; then an NBD connection open to an attached volume, as a running guest's QEMU holds one, keeps
// working through the agent's restart. A chain the host kept for a volume that is no longer
// the node's is ended once the agent is back; detaching ends the volume's own.
func TestVolumeChainsOutliveTheAgent(t *testing.T) {
	if _, err := exec.LookPath("qemu-io"); err != nil {
		t.Skip("qemu-io is not installed")
	}
	ctx := context.Background()
	c := startCloud(t)
	_, pair, _ := storageNode(t, c, "outl-store", "zone-outl-s", 10)
	n := c.AddNodeWith(t, "outl-1", "zone-outl", 4, 8192, func(cfg *nodeagent.Config) {
		// The agent itself is given no storage interface: the chain host reaches the targets.
		cfg.AttachTimeout, cfg.DetachTimeout = 3*time.Second, 5*time.Second
		cfg.ExternalVolumeChains = true
	})
	dir := chainhost.Dir(n.StateDir())
	host := &chainhost.Client{Path: chainhost.ControlPath(dir)}
	ns := newProject(t, c, "agent-outl")
	inst := waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "db", "m1.tiny", "zone-outl")), cloudv1.InstanceStateRunning)
	v := newVolume(t, ns, "data", "zone-outl-s", &cloudv1.VolumeAttachTarget{InstanceID: inst.Status.InstanceID, Device: "/dev/sdf"})

	// No chain host runs yet: the volume says so, and is attached soon after one starts.
	waitAttached(t, v, cloudv1.ReasonVolumeChainsUnavailable)
	t.Cleanup(runChainHost(t, chainhost.Config{Dir: dir, Iface: pair.IfaceB, NetNS: pair.NSB, DialTimeout: 3 * time.Second}))
	v = waitAttached(t, v, cloudv1.ReasonVolumeAttached)
	sock := chainhost.SocketPath(chainhost.Dir(n.StateDir()), v.Status.VolumeID)
	guest := openNBD(t, sock)
	if out := guest.do(t, "write -P 0xcd 0 64k"); !strings.Contains(out, "wrote 65536/65536 bytes") {
		t.Fatalf("writing before the restart: %s", out)
	}

	n.Stop()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the volume's socket went with the agent: %v", err)
	}
	// Meanwhile, the host holds a chain for a volume that is not (or no longer) this node's.
	stray, made, err := host.Ensure(ctx, chainhost.Chain{Namespace: ns, Name: "gone", VolumeID: "vol-0ffffffffffffff01",
		Shelf: uint16(v.Status.AoE.Shelf), Slot: uint8(v.Status.AoE.Slot)})
	if err != nil || !made {
		t.Fatalf("a stray chain: made %v, %v", made, err)
	}
	n.Start()

	testenv.Eventually(t, longWait, "the stray chain to end", func() error {
		chains, err := host.List(ctx)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Name == "gone" {
				return fmt.Errorf("chains %+v", chains)
			}
		}
		if _, err := os.Stat(stray.Socket); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("its socket: %v", err)
		}
		return nil
	})
	waitAttached(t, v, cloudv1.ReasonVolumeAttached)
	if out := guest.do(t, "read -P 0xcd 0 64k"); !strings.Contains(out, "read 65536/65536 bytes") {
		t.Fatalf("the connection opened before the agent restarted: %s", out)
	}
	if out := guest.do(t, "write -P 0xdc 64k 64k"); !strings.Contains(out, "wrote 65536/65536 bytes") {
		t.Fatalf("writing after the restart: %s", out)
	}

	// Detached: the chain ends, its socket with it.
	mustDo(t, "detaching", testenv.Update(ctx, env.Client, v, func(v *cloudv1.Volume) { v.Spec.AttachTo = nil }))
	testenv.Eventually(t, longWait, "the chain to end", func() error {
		chains, err := host.List(ctx)
		if err != nil {
			return err
		}
		if len(chains) != 0 {
			return fmt.Errorf("chains %+v", chains)
		}
		if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("the socket: %v", err)
		}
		return nil
	})
}

// An agent given a storage interface refuses a chain host started with other settings: the
// volume says so (not "target unreachable" for every volume), and is attached once the host is
// started again with the agent's.
func TestVolumeChainsHostWithOtherSettings(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	_, pair, _ := storageNode(t, c, "sett-store", "zone-sett-s", 10)
	n := c.AddNodeWith(t, "sett-1", "zone-sett", 4, 8192, func(cfg *nodeagent.Config) {
		cfg.StorageInterface, cfg.StorageNetNS = pair.IfaceB, pair.NSB
		cfg.AttachTimeout, cfg.DetachTimeout = 3*time.Second, 5*time.Second
		cfg.ExternalVolumeChains = true
	})
	dir := chainhost.Dir(n.StateDir())
	runHost := func(qemuUser string) func() {
		return runChainHost(t, chainhost.Config{Dir: dir, Iface: pair.IfaceB, NetNS: pair.NSB, QEMUUser: qemuUser, DialTimeout: 3 * time.Second})
	}
	stop := runHost("nobody")
	ns := newProject(t, c, "agent-sett")
	inst := waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "db", "m1.tiny", "zone-sett")), cloudv1.InstanceStateRunning)
	v := newVolume(t, ns, "data", "zone-sett-s", &cloudv1.VolumeAttachTarget{InstanceID: inst.Status.InstanceID, Device: "/dev/sdf"})
	got := waitAttached(t, v, cloudv1.ReasonVolumeChainsUnavailable)
	if msg := conditions.Get(got, cloudv1.VolumeAttached).Message; !strings.Contains(msg, "was started with other settings than its node agent") {
		t.Fatalf("Attached says %q", msg)
	}
	if chains, err := (&chainhost.Client{Path: chainhost.ControlPath(dir)}).List(ctx); err != nil || len(chains) != 0 {
		t.Fatalf("the refused host holds chains: %+v %v", chains, err)
	}
	stop()
	t.Cleanup(runHost(""))
	waitAttached(t, v, cloudv1.ReasonVolumeAttached)
}

// runChainHost runs a chain host in the test process (as `nodeagent volume-chains` would) until
// the returned function stops it.
func runChainHost(t *testing.T, cfg chainhost.Config) func() {
	t.Helper()
	h := chainhost.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := h.Listen(ctx)
	mustDo(t, "listening as the chain host", err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Serve(ctx, ln)
	}()
	return func() { cancel(); <-done }
}
