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
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/disks"
	"pinet.io/pinet/nodeagent/nbd"
)

// errTargetUnreachable: the volume's AoE target did not answer on the storage interface.
var errTargetUnreachable = errors.New("the volume's AoE target is not reachable")

// aoeAddress is where a volume is exported.
type aoeAddress struct {
	shelf uint16
	slot  uint8
}

func (a aoeAddress) String() string { return fmt.Sprintf("e%d.%d", a.shelf, a.slot) }

// volumeChain is one attached volume's path from QEMU to the storage node: an NBD server on a
// unix socket, serving the AoE device the agent's user-space initiator reaches over the storage
// network. (A host with the kernel's aoe driver could hand QEMU /dev/etherd/eX.Y instead; this
// machine has none.)
type volumeChain struct {
	volumeID string
	addr     aoeAddress
	socket   string
	dev      *aoe.Device
	cancel   context.CancelFunc
	done     chan struct{}

	// The instance and device the disk was plugged into, once it was, and the largest size a
	// running guest was told it would see later (announce).
	mu                 sync.Mutex
	instanceID, device string
	announced          int64
}

// announce reports whether size is news: larger than any size announced for the chain before.
func (c *volumeChain) announce(size int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if size <= c.announced {
		return false
	}
	c.announced = size
	return true
}

// pluggedInto is the instance and device the chain's disk was plugged into ("" before).
func (c *volumeChain) pluggedInto() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instanceID, c.device
}

// markPlugged records that the volume's disk is in the instance's domain as device.
func (vc *volumeChains) markPlugged(key types.NamespacedName, instanceID, device string) {
	if c := vc.get(key); c != nil {
		c.mu.Lock()
		c.instanceID, c.device = instanceID, device
		c.mu.Unlock()
	}
}

// volumeChains holds the chains of the volumes attached on this node, by Volume.
type volumeChains struct {
	// base outlives reconciles: the chains serve until the agent stops.
	base context.Context
	dir  string
	// iface is the storage interface, in network namespace netns ("" for the agent's own);
	// listen, when set, opens AoE sockets instead.
	iface, netns string
	listen       func(iface string) (*aoe.Conn, error)
	// qemuUser may connect to the sockets (libvirt-qemu); "" or unknown leaves them to root.
	qemuUser    string
	dialTimeout time.Duration
	// observer counts the initiators' I/O; nil counts nothing.
	observer *metrics.NodeAgent

	mu sync.Mutex
	m  map[types.NamespacedName]*volumeChain
}

func newVolumeChains(base context.Context, cfg Config) *volumeChains {
	return &volumeChains{
		base: base, dir: filepath.Join(cfg.StateDir, "nbd"),
		iface: cfg.StorageInterface, netns: cfg.StorageNetNS, listen: cfg.ListenAoE, qemuUser: cfg.QEMUUser,
		dialTimeout: cfg.AttachTimeout, observer: cfg.metrics,
		m: map[types.NamespacedName]*volumeChain{},
	}
}

// removeStale removes the sockets a previous run of the agent left (a crash leaves them): no
// chain runs yet, and each attached volume's is rebuilt from its Volume.
func (vc *volumeChains) removeStale() error {
	stale, err := filepath.Glob(filepath.Join(vc.dir, "*.sock"))
	if err != nil {
		return err
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the stale socket %s: %w", p, err)
		}
	}
	return nil
}

// socketPath is where the NBD socket of a volume lives.
func (vc *volumeChains) socketPath(volumeID string) string {
	return filepath.Join(vc.dir, volumeID+".sock")
}

// get returns the running chain of a volume, or nil.
func (vc *volumeChains) get(key types.NamespacedName) *volumeChain {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	return vc.m[key]
}

// ensure returns the volume's chain, making it if it does not run: it dials the AoE target and
// serves it on the volume's socket. A chain to another address is replaced. On failure nothing
// of the new chain is left: no AoE socket, no NBD socket.
func (vc *volumeChains) ensure(ctx context.Context, key types.NamespacedName, volumeID string, addr aoeAddress) (*volumeChain, error) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if c := vc.m[key]; c != nil {
		if c.addr == addr && c.volumeID == volumeID {
			return c, nil
		}
		vc.stopLocked(key)
	}
	if vc.iface == "" {
		return nil, fmt.Errorf("%w: the agent has no storage interface (--storage-interface)", errTargetUnreachable)
	}
	log.FromContext(ctx).Info("Connecting volume", "volume", volumeID, "aoe", addr.String(), "interface", vc.iface)
	dev, err := vc.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	c, err := vc.serve(key, volumeID, addr, dev)
	if err != nil {
		_ = dev.Close()
		return nil, err
	}
	vc.m[key] = c
	return c, nil
}

// dial reaches the AoE target at addr on the storage interface: the device, with the size the
// target reports now.
func (vc *volumeChains) dial(ctx context.Context, addr aoeAddress) (*aoe.Device, error) {
	listen := vc.listen
	if listen == nil {
		listen = func(iface string) (*aoe.Conn, error) { return aoe.ListenIn(vc.netns, iface) }
	}
	conn, err := listen(vc.iface)
	if err != nil {
		return nil, fmt.Errorf("opening the storage interface %s: %w", vc.iface, err)
	}
	dctx, cancel := context.WithTimeout(ctx, vc.dialTimeout)
	defer cancel()
	dev, err := (&aoe.Dialer{Conn: conn, Observer: vc.observer}).Dial(dctx, vc.iface, addr.shelf, addr.slot)
	if err != nil {
		// Dial closes the socket it was given when it fails.
		return nil, fmt.Errorf("%w: %s on %s: %v", errTargetUnreachable, addr, vc.iface, err)
	}
	return dev, nil
}

// errNotGrownYet: the volume was given more room than its AoE target serves so far (the storage
// node grows the file and serves it anew).
var errNotGrownYet = errors.New("the storage node does not serve the volume's new size yet")

// grow serves the volume's chain at its new size, want bytes, once the AoE target serves at
// least that: a new device is dialled and served on the same socket, and the old server's
// connections end, so it is for a chain no running guest reads. A chain already that large is
// left alone.
func (vc *volumeChains) grow(ctx context.Context, key types.NamespacedName, want int64) error {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	c := vc.m[key]
	if c == nil {
		return fmt.Errorf("volume %s has no chain to grow", key)
	}
	if c.dev.Size() >= want {
		return nil
	}
	dev, err := vc.dial(ctx, c.addr)
	if err != nil {
		return err
	}
	if dev.Size() < want {
		_ = dev.Close()
		return fmt.Errorf("%w: %s serves %d bytes, the volume has %d", errNotGrownYet, c.addr, dev.Size(), want)
	}
	log.FromContext(ctx).Info("Serving the grown volume", "volume", c.volumeID, "bytes", dev.Size())
	instanceID, device := c.pluggedInto()
	vc.stopLocked(key)
	n, err := vc.serve(key, c.volumeID, c.addr, dev)
	if err != nil {
		_ = dev.Close()
		return err
	}
	n.instanceID, n.device = instanceID, device
	vc.m[key] = n
	return nil
}

// serve starts the NBD server of a dialled device.
func (vc *volumeChains) serve(key types.NamespacedName, volumeID string, addr aoeAddress, dev *aoe.Device) (*volumeChain, error) {
	if err := os.MkdirAll(vc.dir, disks.DirMode); err != nil {
		return nil, fmt.Errorf("creating %s: %w", vc.dir, err)
	}
	path := vc.socketPath(volumeID)
	ln, err := nbd.ListenUnix(path)
	if err != nil {
		return nil, err
	}
	if err := vc.openToQEMU(path); err != nil {
		_ = ln.Close()
		_ = os.Remove(path)
		return nil, err
	}
	ctx, cancel := context.WithCancel(vc.base)
	ctx = log.IntoContext(ctx, log.FromContext(vc.base).WithValues("volume", volumeID, "namespace", key.Namespace))
	c := &volumeChain{volumeID: volumeID, addr: addr, socket: path, dev: dev, cancel: cancel, done: make(chan struct{})}
	srv := &nbd.Server{Exports: map[string]nbd.Device{volumeID: dev}}
	go func() {
		defer close(c.done)
		if err := srv.Serve(ctx, ln); err != nil {
			log.FromContext(ctx).Error(err, "Serving volume over NBD")
		}
	}()
	return c, nil
}

// openToQEMU makes the socket the QEMU user's alone (mode 0600): QEMU connects to it, no one
// else on the node may.
func (vc *volumeChains) openToQEMU(path string) error {
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("restricting %s: %w", path, err)
	}
	if vc.qemuUser == "" {
		return nil
	}
	u, err := user.Lookup(vc.qemuUser)
	if err != nil {
		return nil //nolint:nilerr // no such user on this node (a simulated one): QEMU runs as root
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("giving %s to %s: %w", path, vc.qemuUser, err)
	}
	return nil
}

// stop ends a volume's chain: the NBD server, its socket and the AoE device.
func (vc *volumeChains) stop(key types.NamespacedName) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	vc.stopLocked(key)
}

func (vc *volumeChains) stopLocked(key types.NamespacedName) {
	c := vc.m[key]
	if c == nil {
		return
	}
	delete(vc.m, key)
	c.cancel()
	<-c.done
	_ = c.dev.Close()
	if err := os.Remove(c.socket); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.FromContext(vc.base).Error(err, "Removing a volume socket", "socket", c.socket)
	}
}

// stopAll ends every chain (the agent is stopping).
func (vc *volumeChains) stopAll() {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	for key := range vc.m {
		vc.stopLocked(key)
	}
}

// keys lists the volumes with a chain.
func (vc *volumeChains) keys() []types.NamespacedName {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	out := make([]types.NamespacedName, 0, len(vc.m))
	for k := range vc.m {
		out = append(out, k)
	}
	return out
}
