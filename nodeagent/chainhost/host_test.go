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

package chainhost_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
	"pinet.io/pinet/nodeagent/chainhost"
)

// startHost runs a Host on dir until the test ends and returns its client.
func startHost(t testing.TB, cfg chainhost.Config) *chainhost.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := chainhost.New(cfg)
	ln, err := h.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return &chainhost.Client{Path: chainhost.ControlPath(cfg.Dir)}
}

// call sends raw bytes to the control socket and returns the answer.
func call(t *testing.T, path, raw string) string {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	b := make([]byte, 4096)
	n, _ := conn.Read(b)
	return string(b[:n])
}

// sockets lists the NBD sockets in dir.
func sockets(t *testing.T, dir string) []string {
	t.Helper()
	got, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOneHostPerDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nbd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// What a crashed host left: its sockets and its control socket, nobody listening.
	for _, name := range []string{"vol-0000000000000000a.sock", chainhost.ControlSocket} {
		ln, err := net.Listen("unix", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		_ = ln.Close()
	}
	cl := startHost(t, chainhost.Config{Dir: dir})
	if got := sockets(t, dir); len(got) != 0 {
		t.Fatalf("stale sockets left: %v", got)
	}
	fi, err := os.Stat(cl.Path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v %v", fi, err)
	}
	if _, err := chainhost.New(chainhost.Config{Dir: dir}).Listen(context.Background()); !errors.Is(err, chainhost.ErrHostRunning) {
		t.Fatalf("a second host on the same directory: %v, want ErrHostRunning", err)
	}
	if chains, err := cl.List(context.Background()); err != nil || len(chains) != 0 {
		t.Fatalf("the first host after the second was refused: %v %v", chains, err)
	}
	if _, err := (&chainhost.Client{Path: filepath.Join(t.TempDir(), "none.ctl")}).List(context.Background()); !errors.Is(err, chainhost.ErrNoHost) {
		t.Fatalf("a client with no host: %v, want ErrNoHost", err)
	}
}

func TestBadRequests(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nbd")
	cl := startHost(t, chainhost.Config{Dir: dir})
	for _, tc := range []struct{ raw, want string }{
		{"not json\n", "reading the request"},
		{`{"op":"ensure"` + "\n", "reading the request"},
		{`{"op":"list"}` + "\n", "different protocol versions: the request speaks 0, this host 1"},
		{`{"version":2,"op":"list"}` + "\n", "the request speaks 2"},
		{`{"op":"ensure"}`, "reading the request"}, // no end of line
		{strings.Repeat("x", 70<<10) + "\n", "reading the request"},
		{`{"version":1,"op":"format","chain":{"namespace":"p","name":"v"}}` + "\n", "unknown operation"},
		{`{"version":1,"op":"ensure","chain":{"name":"v","volumeID":"vol-1"}}` + "\n", "namespace and name"},
		{`{"version":1,"op":"ensure","chain":{"namespace":"p","name":"v","volumeID":"../../etc/x"}}` + "\n", "not a volume id"},
		{`{"version":1,"op":"ensure","chain":{"namespace":"p","name":"v","volumeID":".."}}` + "\n", "not a volume id"},
		{`{"version":1,"op":"ensure","chain":{"namespace":"p","name":"v"}}` + "\n", "not a volume id"},
	} {
		if got := call(t, cl.Path, tc.raw); !strings.Contains(got, tc.want) {
			t.Errorf("%.40q: answered %s, want %q", tc.raw, got, tc.want)
		}
	}
	// A host without a storage interface reaches no target.
	_, _, err := cl.Ensure(ctx, chainhost.Chain{Namespace: "p", Name: "v", VolumeID: "vol-1", Shelf: 1, Slot: 1})
	if !errors.Is(err, chainhost.ErrTargetUnreachable) || !strings.Contains(err.Error(), "no storage interface") {
		t.Fatalf("ensure without an interface: %v", err)
	}
	for name, err := range map[string]error{
		"grow":     func() error { _, err := cl.Grow(ctx, "p", "v", 1<<30); return err }(),
		"plugged":  cl.Plugged(ctx, "p", "v", "i-1", "/dev/sdf"),
		"announce": func() error { _, err := cl.Announce(ctx, "p", "v", 1<<30); return err }(),
	} {
		if !errors.Is(err, chainhost.ErrNoChain) {
			t.Errorf("%s of no chain: %v, want ErrNoChain", name, err)
		}
	}
	if err := cl.Stop(ctx, "p", "v"); err != nil {
		t.Errorf("stopping no chain: %v", err)
	}
	if got := sockets(t, dir); len(got) != 0 {
		t.Fatalf("bad requests left sockets: %v", got)
	}
	if chains, err := cl.List(ctx); err != nil || len(chains) != 0 {
		t.Fatalf("bad requests left chains: %v %v", chains, err)
	}
}

// A chain host refuses an agent started with other settings, making nothing, and a client
// refuses a host that speaks another protocol version.
func TestSettingsAndProtocol(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nbd")
	cl := startHost(t, chainhost.Config{Dir: dir, QEMUUser: "libvirt-qemu"})
	want := chainhost.Chain{Namespace: "p", Name: "v", VolumeID: "vol-1", Shelf: 1, Slot: 1}
	for _, other := range []chainhost.Settings{
		{StorageInterface: "store1", QEMUUser: "libvirt-qemu"},
		{StorageNetNS: "pinet-node", QEMUUser: "libvirt-qemu"},
		{},
	} {
		cl.Settings = &other
		_, _, err := cl.Ensure(ctx, want)
		if !errors.Is(err, chainhost.ErrSettingsDiffer) || !strings.Contains(err.Error(), `the agent has "`+other.StorageInterface+`"`) {
			t.Fatalf("ensure with %+v: %v, want ErrSettingsDiffer", other, err)
		}
	}
	if got := sockets(t, dir); len(got) != 0 {
		t.Fatalf("refused ensures left sockets: %v", got)
	}
	if chains, err := cl.List(ctx); err != nil || len(chains) != 0 {
		t.Fatalf("refused ensures left chains: %v %v", chains, err)
	}
	// The same settings pass the check (and this host, with no interface, reaches no target).
	cl.Settings = &chainhost.Settings{QEMUUser: "libvirt-qemu"}
	if _, _, err := cl.Ensure(ctx, want); !errors.Is(err, chainhost.ErrTargetUnreachable) {
		t.Fatalf("ensure with the host's settings: %v", err)
	}

	// A host of another version (here: one that answers without a version).
	old := filepath.Join(t.TempDir(), "old.ctl")
	ln, err := net.Listen("unix", old)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = conn.Write([]byte(`{"chains":[]}` + "\n"))
			_ = conn.Close()
		}
	}()
	if _, err := (&chainhost.Client{Path: old}).List(ctx); !errors.Is(err, chainhost.ErrProtocol) {
		t.Fatalf("a host without a version: %v, want ErrProtocol", err)
	}
}

// TestChains makes, finds, grows and ends chains to a real AoE target over a veth pair.
func TestChains(t *testing.T) {
	ctx := context.Background()
	pair := aoetest.NewPair(t, "pt-chost", 1500)
	backing, err := os.Create(filepath.Join(t.TempDir(), "vol.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer backing.Close()
	var stopTarget func()
	serve := func(size int64) {
		if stopTarget != nil {
			stopTarget()
		}
		if err := backing.Truncate(size); err != nil {
			t.Fatal(err)
		}
		conn := pair.ListenB(t)
		tctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = (&aoe.Target{Conn: conn, Shelf: 3, Slot: 1, Backing: backing, Size: size}).Serve(tctx)
		}()
		stopTarget = func() { cancel(); <-done; _ = conn.Close() }
	}
	serve(1 << 20)
	t.Cleanup(func() { stopTarget() })

	dir := filepath.Join(t.TempDir(), "nbd")
	hctx, cancel := context.WithCancel(ctx)
	h := chainhost.New(chainhost.Config{Dir: dir, Iface: pair.IfaceA, NetNS: pair.NSA, DialTimeout: 3 * time.Second})
	ln, err := h.Listen(hctx)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = h.Serve(hctx, ln) }()
	defer func() { cancel(); <-served }()
	cl := &chainhost.Client{Path: chainhost.ControlPath(dir)}

	want := chainhost.Chain{Namespace: "p", Name: "v", VolumeID: "vol-0000000000000000a", Shelf: 3, Slot: 1}
	c, made, err := cl.Ensure(ctx, want)
	if err != nil || !made || c.Size != 1<<20 || c.Socket != chainhost.SocketPath(dir, want.VolumeID) {
		t.Fatalf("first ensure: %+v made %v, %v", c, made, err)
	}
	if fi, err := os.Stat(c.Socket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the NBD socket: %v %v", fi, err)
	}
	if again, made, err := cl.Ensure(ctx, want); err != nil || made || again.Socket != c.Socket {
		t.Fatalf("second ensure: %+v made %v, %v", again, made, err)
	}
	// Where it is plugged and what its guest was told are kept with it.
	if err := cl.Plugged(ctx, "p", "v", "i-1", "/dev/sdf"); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		size int64
		news bool
	}{{2 << 20, true}, {2 << 20, false}, {1 << 20, false}, {4 << 20, true}} {
		if news, err := cl.Announce(ctx, "p", "v", tc.size); err != nil || news != tc.news {
			t.Fatalf("announcement %d of %d: news %v, %v", i, tc.size, news, err)
		}
	}
	chains, err := cl.List(ctx)
	if err != nil || len(chains) != 1 || chains[0].InstanceID != "i-1" || chains[0].Device != "/dev/sdf" || chains[0].Announced != 4<<20 {
		t.Fatalf("list: %+v %v", chains, err)
	}

	// Grown: refused until the target serves the size, then served on the same socket with what
	// the chain records.
	if _, err := cl.Grow(ctx, "p", "v", 2<<20); !errors.Is(err, chainhost.ErrNotGrownYet) {
		t.Fatalf("growing before the target serves it: %v", err)
	}
	serve(2 << 20)
	g, err := cl.Grow(ctx, "p", "v", 2<<20)
	if err != nil || g.Size != 2<<20 || g.Socket != c.Socket || g.InstanceID != "i-1" || g.Announced != 4<<20 {
		t.Fatalf("grown: %+v %v", g, err)
	}

	// Another volume id under the same Volume replaces the chain.
	other := want
	other.VolumeID = "vol-0000000000000000b"
	if o, made, err := cl.Ensure(ctx, other); err != nil || !made || o.InstanceID != "" {
		t.Fatalf("replacing: %+v made %v, %v", o, made, err)
	}
	if got := sockets(t, dir); len(got) != 1 || got[0] != chainhost.SocketPath(dir, other.VolumeID) {
		t.Fatalf("sockets after the replacement: %v", got)
	}

	// An address nothing serves: refused, nothing of it left.
	if _, _, err := cl.Ensure(ctx, chainhost.Chain{Namespace: "p", Name: "w", VolumeID: "vol-0000000000000000c", Shelf: 9, Slot: 9}); !errors.Is(err, chainhost.ErrTargetUnreachable) {
		t.Fatalf("an unserved address: %v", err)
	}
	if got := sockets(t, dir); len(got) != 1 {
		t.Fatalf("sockets after a failed ensure: %v", got)
	}

	if err := cl.Stop(ctx, "p", "v"); err != nil {
		t.Fatal(err)
	}
	if got := sockets(t, dir); len(got) != 0 {
		t.Fatalf("sockets after the stop: %v", got)
	}
	// The host stopping ends every chain and removes its control socket.
	if _, _, err := cl.Ensure(ctx, want); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-served
	if got, err := os.ReadDir(dir); err != nil || len(got) != 0 {
		t.Fatalf("left after the host stopped: %v %v", got, err)
	}
}
