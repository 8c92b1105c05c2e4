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

package chainhost

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/disks"
	"pinet.io/pinet/nodeagent/nbd"
)

// Config is what a Host needs to make chains.
type Config struct {
	// Dir holds the control socket and the volumes' NBD sockets.
	Dir string
	// Iface is the storage interface, in network namespace NetNS ("" for the host's own);
	// Listen, when set, opens AoE sockets instead (tests).
	Iface, NetNS string
	Listen       func(iface string) (*aoe.Conn, error)
	// QEMUUser may connect to the NBD sockets (libvirt-qemu); "" or unknown leaves them to root.
	QEMUUser string
	// DialTimeout bounds reaching a volume's AoE target (default 10 s).
	DialTimeout time.Duration
	// Observer counts the initiators' I/O; nil counts nothing.
	Observer aoe.IOObserver
	Log      logr.Logger
}

// Host makes, serves and ends chains on request over its control socket.
type Host struct {
	cfg Config

	mu sync.Mutex
	m  map[key]*chain
}

// chain is one running chain.
type chain struct {
	Chain
	dev    *aoe.Device
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Host of cfg.
func New(cfg Config) *Host {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	return &Host{cfg: cfg, m: map[key]*chain{}}
}

// Run listens on the control socket (Listen) and serves it until ctx ends (Serve).
func (h *Host) Run(ctx context.Context) error {
	ln, err := h.Listen(ctx)
	if err != nil {
		return err
	}
	return h.Serve(ctx, ln)
}

// Serve answers requests on ln, the control socket Listen opened, until ctx ends, then ends
// every chain and removes the socket.
func (h *Host) Serve(ctx context.Context, ln net.Listener) error {
	h.cfg.Log.Info("Serving volume chains", "control", ln.Addr().String(), "interface", h.cfg.Iface, "netns", h.cfg.NetNS)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		_ = ln.Close()
	}()
	var wg sync.WaitGroup
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// Out of descriptors, say: the chains keep serving, and the control socket is tried
			// again (giving up would leave the agent no way to reach them).
			h.cfg.Log.Error(err, "Accepting on the control socket")
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.handle(ctx, conn)
		}()
	}
	<-stopped
	wg.Wait()
	h.stopAll()
	if err := os.Remove(ControlPath(h.cfg.Dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		h.cfg.Log.Error(err, "Removing the control socket")
	}
	return nil
}

// Listen opens the control socket, root's alone (mode 0600): whoever may talk to it may serve
// any volume the node reaches. It refuses (ErrHostRunning) while another Host answers there;
// otherwise the sockets an earlier Host left (it crashed, and its chains with it) are removed.
func (h *Host) Listen(ctx context.Context) (net.Listener, error) {
	if err := os.MkdirAll(h.cfg.Dir, disks.DirMode); err != nil {
		return nil, fmt.Errorf("creating %s: %w", h.cfg.Dir, err)
	}
	path := ControlPath(h.cfg.Dir)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := (&Client{Path: path}).List(pctx)
	cancel()
	if err == nil {
		return nil, fmt.Errorf("%w: %s", ErrHostRunning, path)
	}
	stale, err := filepath.Glob(filepath.Join(h.cfg.Dir, "*.sock"))
	if err != nil {
		return nil, err
	}
	for _, p := range append(stale, path) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("removing the stale socket %s: %w", p, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("restricting %s: %w", path, err)
	}
	return ln, nil
}

// handle answers the one request of a connection.
func (h *Host) handle(ctx context.Context, conn net.Conn) {
	defer func() { _ = conn.Close() }()
	var req request
	line, err := bufio.NewReader(io.LimitReader(conn, maxRequest)).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	var resp response
	if err != nil {
		resp.Error = fmt.Sprintf("reading the request: %v", err)
	} else {
		resp = h.do(ctx, req)
	}
	resp.Version = ProtocolVersion
	b, _ := json.Marshal(resp)
	_, _ = conn.Write(append(b, '\n'))
}

// settings are the Host's own Settings.
func (h *Host) settings() Settings {
	return Settings{StorageInterface: h.cfg.Iface, StorageNetNS: h.cfg.NetNS, QEMUUser: h.cfg.QEMUUser}
}

// do carries out one request.
func (h *Host) do(ctx context.Context, req request) response {
	var resp response
	var err error
	c := req.Chain
	if req.Version != ProtocolVersion {
		return response{Code: "Protocol", Error: fmt.Sprintf("%v: the request speaks %d, this host %d", ErrProtocol, req.Version, ProtocolVersion)}
	}
	if req.Op != opList && (c.Namespace == "" || c.Name == "") {
		return response{Error: fmt.Sprintf("%s: the chain's volume (namespace and name) is required", req.Op)}
	}
	switch req.Op {
	case opEnsure:
		if mine := h.settings(); req.Settings != nil && *req.Settings != mine {
			return response{Code: "SettingsDiffer", Error: fmt.Sprintf("%v: it serves storage interface %q in namespace %q for QEMU user %q, the agent has %q in %q for %q",
				ErrSettingsDiffer, mine.StorageInterface, mine.StorageNetNS, mine.QEMUUser,
				req.Settings.StorageInterface, req.Settings.StorageNetNS, req.Settings.QEMUUser)}
		}
		var got Chain
		got, resp.Made, err = h.ensure(ctx, c)
		resp.Chain = &got
	case opGrow:
		var got Chain
		got, err = h.grow(ctx, c.key(), req.Size)
		resp.Chain = &got
	case opStop:
		h.stop(c.key())
	case opList:
		resp.Chains = h.list()
	case opPlugged:
		err = h.update(c.key(), func(ch *chain) { ch.InstanceID, ch.Device = c.InstanceID, c.Device })
	case opAnnounce:
		err = h.update(c.key(), func(ch *chain) {
			if req.Size > ch.Announced {
				ch.Announced, resp.News = req.Size, true
			}
		})
	default:
		err = fmt.Errorf("unknown operation %q", req.Op)
	}
	if err != nil {
		resp = response{Error: err.Error()}
		for code, known := range codes {
			if errors.Is(err, known) {
				resp.Code = code
			}
		}
	}
	return resp
}

// ensure returns the volume's chain, making it if none runs: it dials the AoE target and serves
// it on the volume's socket. A chain of another volume id or address is replaced. On failure
// nothing of the new chain is left: no AoE socket, no NBD socket.
func (h *Host) ensure(ctx context.Context, want Chain) (Chain, bool, error) {
	if want.VolumeID == "" || filepath.Base(want.VolumeID) != want.VolumeID || want.VolumeID == "." || want.VolumeID == ".." {
		return Chain{}, false, fmt.Errorf("ensure: %q is not a volume id", want.VolumeID)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := want.key()
	if c := h.m[k]; c != nil {
		if c.VolumeID == want.VolumeID && c.Shelf == want.Shelf && c.Slot == want.Slot {
			return c.Chain, false, nil
		}
		h.stopLocked(k)
	}
	if h.cfg.Iface == "" {
		return Chain{}, false, fmt.Errorf("%w: the node has no storage interface (--storage-interface)", ErrTargetUnreachable)
	}
	h.cfg.Log.Info("Connecting volume", "volume", want.VolumeID, "aoe", want.Address(), "interface", h.cfg.Iface)
	dev, err := h.dial(ctx, want)
	if err != nil {
		return Chain{}, false, err
	}
	c, err := h.serve(Chain{Namespace: want.Namespace, Name: want.Name, VolumeID: want.VolumeID, Shelf: want.Shelf, Slot: want.Slot}, dev)
	if err != nil {
		_ = dev.Close()
		return Chain{}, false, err
	}
	h.m[k] = c
	return c.Chain, true, nil
}

// dial reaches the chain's AoE target on the storage interface: the device, with the size the
// target reports now.
func (h *Host) dial(ctx context.Context, c Chain) (*aoe.Device, error) {
	listen := h.cfg.Listen
	if listen == nil {
		listen = func(iface string) (*aoe.Conn, error) { return aoe.ListenIn(h.cfg.NetNS, iface) }
	}
	conn, err := listen(h.cfg.Iface)
	if err != nil {
		return nil, fmt.Errorf("opening the storage interface %s: %w", h.cfg.Iface, err)
	}
	dctx, cancel := context.WithTimeout(ctx, h.cfg.DialTimeout)
	defer cancel()
	dev, err := (&aoe.Dialer{Conn: conn, Observer: h.cfg.Observer}).Dial(dctx, h.cfg.Iface, c.Shelf, c.Slot)
	if err != nil {
		// Dial closes the socket it was given when it fails.
		return nil, fmt.Errorf("%w: %s on %s: %v", ErrTargetUnreachable, c.Address(), h.cfg.Iface, err)
	}
	return dev, nil
}

// grow serves the volume's chain at want bytes or more, once the AoE target serves that: a new
// device is dialled and served on the same socket, and the old server's connections end, so
// it is for a chain no running guest reads. A chain already that large is left alone.
func (h *Host) grow(ctx context.Context, k key, want int64) (Chain, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.m[k]
	if c == nil {
		return Chain{}, fmt.Errorf("%w: %s/%s", ErrNoChain, k.namespace, k.name)
	}
	if c.Size >= want {
		return c.Chain, nil
	}
	dev, err := h.dial(ctx, c.Chain)
	if err != nil {
		return Chain{}, err
	}
	if dev.Size() < want {
		_ = dev.Close()
		return Chain{}, fmt.Errorf("%w: %s serves %d bytes, the volume has %d", ErrNotGrownYet, c.Address(), dev.Size(), want)
	}
	h.cfg.Log.Info("Serving the grown volume", "volume", c.VolumeID, "bytes", dev.Size())
	h.stopLocked(k)
	n, err := h.serve(c.Chain, dev)
	if err != nil {
		_ = dev.Close()
		return Chain{}, err
	}
	h.m[k] = n
	return n.Chain, nil
}

// serve starts the NBD server of a dialled device; the chain keeps what it records besides.
func (h *Host) serve(c Chain, dev *aoe.Device) (*chain, error) {
	path := SocketPath(h.cfg.Dir, c.VolumeID)
	ln, err := nbd.ListenUnix(path)
	if err != nil {
		return nil, err
	}
	if err := h.openToQEMU(path); err != nil {
		_ = ln.Close()
		_ = os.Remove(path)
		return nil, err
	}
	c.Socket, c.Size = path, dev.Size()
	ctx, cancel := context.WithCancel(context.Background())
	n := &chain{Chain: c, dev: dev, cancel: cancel, done: make(chan struct{})}
	srv := &nbd.Server{Exports: map[string]nbd.Device{c.VolumeID: dev}}
	go func() {
		defer close(n.done)
		if err := srv.Serve(ctx, ln); err != nil {
			h.cfg.Log.Error(err, "Serving volume over NBD", "volume", c.VolumeID)
		}
	}()
	return n, nil
}

// openToQEMU makes the socket the QEMU user's alone (mode 0600): QEMU connects to it, no one
// else on the node may.
func (h *Host) openToQEMU(path string) error {
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("restricting %s: %w", path, err)
	}
	if h.cfg.QEMUUser == "" {
		return nil
	}
	u, err := user.Lookup(h.cfg.QEMUUser)
	if err != nil {
		return nil //nolint:nilerr // no such user on this node (a simulated one): QEMU runs as root
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("giving %s to %s: %w", path, h.cfg.QEMUUser, err)
	}
	return nil
}

// update changes what a running chain records.
func (h *Host) update(k key, fn func(*chain)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.m[k]
	if c == nil {
		return fmt.Errorf("%w: %s/%s", ErrNoChain, k.namespace, k.name)
	}
	fn(c)
	return nil
}

// list returns every running chain.
func (h *Host) list() []Chain {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Chain, 0, len(h.m))
	for _, c := range h.m {
		out = append(out, c.Chain)
	}
	return out
}

// stop ends a volume's chain: the NBD server, its socket and the AoE device.
func (h *Host) stop(k key) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopLocked(k)
}

func (h *Host) stopLocked(k key) {
	c := h.m[k]
	if c == nil {
		return
	}
	delete(h.m, k)
	c.cancel()
	<-c.done
	_ = c.dev.Close()
	if err := os.Remove(c.Socket); err != nil && !errors.Is(err, fs.ErrNotExist) {
		h.cfg.Log.Error(err, "Removing a volume socket", "socket", c.Socket)
	}
}

// stopAll ends every chain (the Host is stopping).
func (h *Host) stopAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.m {
		h.stopLocked(k)
	}
}
