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
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"pinet.io/pinet/nodeagent/dhcp"
	"pinet.io/pinet/nodeagent/metadata"
	"pinet.io/pinet/nodeagent/netdev"
)

// inNetNS runs fn on a thread in the network namespace at path (the caller's own when empty),
// e.g. to open a socket there; sockets keep their namespace afterwards.
func inNetNS[T any](path string, fn func() (T, error)) (T, error) {
	if path == "" {
		return fn()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var zero T
		// The thread is left locked (and so discarded by the runtime) unless it is back in its
		// own namespace.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- result{zero, fmt.Errorf("opening this thread's network namespace: %w", err)}
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{zero, fmt.Errorf("opening network namespace %s: %w", path, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- result{zero, fmt.Errorf("entering network namespace %s: %w", path, err)}
			return
		}
		v, err := fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}

// sameNetNS reports whether two namespace paths (empty: the caller's own) are one namespace.
func sameNetNS(a, b string) (bool, error) {
	id := func(p string) (unix.Stat_t, error) {
		if p == "" {
			p = "/proc/thread-self/ns/net"
		}
		var st unix.Stat_t
		err := unix.Stat(p, &st)
		return st, err
	}
	sa, err := id(a)
	if err != nil {
		return false, fmt.Errorf("network namespace %s: %w", a, err)
	}
	sb, err := id(b)
	if err != nil {
		return false, fmt.Errorf("network namespace %s: %w", b, err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// prepareDatapathNS makes the namespace route and filter guests' traffic: IPv4 forwarding on,
// and bridged IPv4 through the netfilter hooks, which the security groups rely on.
func prepareDatapathNS(path string) error {
	_, err := inNetNS(path, func() (struct{}, error) {
		for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables"} {
			if err := os.WriteFile(f, []byte("1\n"), 0o644); err != nil {
				return struct{}{}, fmt.Errorf("setting %s: %w", filepath.Base(f), err)
			}
		}
		return struct{}{}, nil
	})
	return err
}

// tapMover moves guests' taps from libvirt's namespace into the datapath's. A tap can change
// namespace while QEMU holds it open; QEMU keeps reading and writing frames through its fd.
type tapMover struct {
	from *netlink.Handle
	to   netns.NsHandle
}

func newTapMover(libvirtNS, datapathNS string) (*tapMover, error) {
	same, err := sameNetNS(libvirtNS, datapathNS)
	if err != nil || same {
		return nil, err
	}
	from := netns.None()
	if libvirtNS != "" {
		if from, err = netns.GetFromPath(libvirtNS); err != nil {
			return nil, fmt.Errorf("opening libvirt's network namespace %s: %w", libvirtNS, err)
		}
		defer from.Close()
	}
	h, err := netlink.NewHandleAt(from)
	if err != nil {
		return nil, fmt.Errorf("netlink in libvirt's network namespace: %w", err)
	}
	to, err := netns.GetFromPath(datapathNS)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("opening the datapath's network namespace %s: %w", datapathNS, err)
	}
	return &tapMover{from: h, to: to}, nil
}

// move moves the named taps that are in libvirt's namespace; it returns the ones it moved.
func (m *tapMover) move(taps []string) ([]string, error) {
	if m == nil {
		return nil, nil
	}
	var moved []string
	var errs []error
	for _, name := range taps {
		l, err := m.from.LinkByName(name)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if !errors.As(err, &nf) {
				errs = append(errs, fmt.Errorf("looking up tap %s: %w", name, err))
			}
			continue
		}
		if l.Type() != "tuntap" {
			errs = append(errs, fmt.Errorf("%s in libvirt's namespace is a %s, not a tap; left alone", name, l.Type()))
			continue
		}
		if err := m.from.LinkSetNsFd(l, int(m.to)); err != nil {
			errs = append(errs, fmt.Errorf("moving tap %s into the datapath's namespace: %w", name, err))
			continue
		}
		moved = append(moved, name)
	}
	return moved, errors.Join(errs...)
}

func (m *tapMover) close() {
	if m != nil {
		m.from.Close()
		m.to.Close()
	}
}

// dhcpServers runs one DHCP server per segment bridge, restarted when its configuration changes.
type dhcpServers struct {
	netNS string
	ctx   context.Context
	wg    *sync.WaitGroup
	run   map[int32]*runningDHCP
}

type runningDHCP struct {
	cfg    dhcp.Config
	srv    *dhcp.Server
	cancel context.CancelFunc
}

// sync makes the servers match the segments: new ones listen, changed ones restart, gone ones stop.
func (d *dhcpServers) sync(ctx context.Context, segs map[int32]*segmentNet, mtu int) error {
	var errs []error
	for id, r := range d.run {
		if _, ok := segs[id]; !ok {
			r.cancel()
			delete(d.run, id)
		}
	}
	for id, seg := range segs {
		cfg := dhcp.Config{
			Interface: netdev.BridgeName(id), NetNS: d.netNS, ServerIP: seg.gateway, Subnet: seg.subnet,
			Router: seg.gateway, MTU: mtu,
		}
		r := d.run[id]
		if r != nil && !sameDHCPConfig(r.cfg, cfg) {
			r.cancel()
			delete(d.run, id)
			r = nil
		}
		if r == nil {
			var err error
			if r, err = d.start(ctx, cfg); err != nil {
				errs = append(errs, err)
				continue
			}
			d.run[id] = r
		}
		if err := r.srv.SetLeases(seg.leases); err != nil {
			errs = append(errs, fmt.Errorf("DHCP leases of segment %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func sameDHCPConfig(a, b dhcp.Config) bool {
	return a.Interface == b.Interface && a.NetNS == b.NetNS && a.ServerIP == b.ServerIP &&
		a.Subnet == b.Subnet && a.Router == b.Router && a.MTU == b.MTU
}

func (d *dhcpServers) start(ctx context.Context, cfg dhcp.Config) (*runningDHCP, error) {
	srv, err := dhcp.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("DHCP server of %s: %w", cfg.Interface, err)
	}
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	log.FromContext(ctx).Info("Serving DHCP", "bridge", cfg.Interface, "subnet", cfg.Subnet.String())
	sctx, cancel := context.WithCancel(d.ctx)
	sctx = log.IntoContext(sctx, log.FromContext(ctx).WithValues("bridge", cfg.Interface))
	d.wg.Go(func() {
		if err := srv.Serve(sctx); err != nil {
			log.FromContext(sctx).Error(err, "DHCP server stopped")
		}
	})
	return &runningDHCP{cfg: cfg, srv: srv, cancel: cancel}, nil
}

// guestDirectory answers the metadata server's lookups from the node's guests, by address.
type guestDirectory struct {
	mu     sync.RWMutex
	byAddr map[netip.Addr]*metadata.Instance
}

// Lookup returns the instance on this node whose private address is remote.
func (g *guestDirectory) Lookup(_ context.Context, remote netip.Addr) (*metadata.Instance, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if m, ok := g.byAddr[remote.Unmap()]; ok {
		return m, nil
	}
	return nil, metadata.ErrUnknownCaller
}

func (g *guestDirectory) set(m map[netip.Addr]*metadata.Instance) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byAddr = m
}

// listenMetadata opens the metadata server's listener on every address of the datapath's
// namespace; callers that are not guests of this node get 403.
func listenMetadata(netNS string, port int) (net.Listener, error) {
	return inNetNS(netNS, func() (net.Listener, error) {
		return net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
	})
}
