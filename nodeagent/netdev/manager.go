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

package netdev

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// socketTimeout bounds every netlink request, so a wedged kernel call cannot hang the agent.
const socketTimeout = 30 * time.Second

// Manager converges the tenant devices of one network namespace. Its methods are safe for
// concurrent use; Converge calls are serialised.
type Manager struct {
	mu sync.Mutex
	h  *netlink.Handle
}

// Open returns a Manager for the network namespace at nsPath (e.g. /run/netns/node-a or
// /proc/<pid>/ns/net), or for the process's own namespace when nsPath is empty.
func Open(nsPath string) (*Manager, error) {
	if nsPath == "" {
		return New(netns.None())
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	return New(ns)
}

// New returns a Manager whose netlink sockets live in the namespace ns (netns.None() for the
// caller's own). The handle ns may be closed once New returns.
func New(ns netns.NsHandle) (*Manager, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("open netlink handle in network namespace %s: %w", ns, err)
	}
	if err := h.SetSocketTimeout(socketTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("set netlink socket timeout: %w", err)
	}
	return &Manager{h: h}, nil
}

// Close releases the netlink sockets.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.h.Close()
}

// Converge makes the namespace's PiNet devices match want: it creates what is missing, fixes
// what differs (kind and VXLAN/VLAN parameters by recreating the device; MTU, MAC, alias,
// master, up state, addresses and peers in place), removes PiNet devices that are not desired
// and releases foreign members of PiNet bridges. A desired state that fails Validate, or whose
// underlay is missing, changes nothing. Otherwise Converge does all it can and returns every
// failure joined; calling it again retries what failed. A desired port without a device is
// reported in Result.MissingPorts, not as an error.
func (m *Manager) Converge(ctx context.Context, want Desired) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := want.Validate(); err != nil {
		return Result{}, err
	}
	u, err := m.resolveUnderlay(want)
	if err != nil {
		return Result{}, err
	}
	p, err := buildPlan(want, u)
	if err != nil {
		return Result{}, err
	}
	c := &converger{ctx: ctx, h: m.h, res: Result{MTU: p.MTU}}
	errs := []error{c.removeStale(p)}
	for i := range p.Segments {
		if err := ctx.Err(); err != nil {
			return c.res, errors.Join(append(errs, err)...)
		}
		errs = append(errs, c.segment(&p.Segments[i]))
	}
	for _, port := range p.Ports {
		errs = append(errs, c.port(port, p.MTU))
	}
	errs = append(errs, c.releaseStrays(p))
	return c.res, errors.Join(errs...)
}

// resolveUnderlay finds the underlay and, in VXLAN mode, checks that it holds the node's IP.
func (m *Manager) resolveUnderlay(want Desired) (underlay, error) {
	link, err := m.h.LinkByName(want.Underlay)
	if err != nil {
		return underlay{}, fmt.Errorf("find underlay %q: %w", want.Underlay, err)
	}
	attrs := link.Attrs()
	if want.Mode != ModeVXLAN {
		return underlay{Index: attrs.Index, MTU: attrs.MTU}, nil
	}
	addrs, err := m.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return underlay{}, fmt.Errorf("list addresses of underlay %q: %w", want.Underlay, err)
	}
	if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.Equal(want.UnderlayIP) }) {
		return underlay{}, fmt.Errorf("underlay %q does not hold the node's underlay IP %s", want.Underlay, want.UnderlayIP)
	}
	return underlay{Index: attrs.Index, MTU: attrs.MTU}, nil
}

// converger carries one Converge run's state.
type converger struct {
	ctx context.Context
	h   *netlink.Handle
	res Result
}

// act logs and performs one change, and records it if it succeeded.
func (c *converger) act(device, action string, do func() error) error {
	log.FromContext(c.ctx).Info("Changing network device", "device", device, "action", action)
	if err := do(); err != nil {
		return fmt.Errorf("%s: %s: %w", device, action, err)
	}
	c.res.Changes = append(c.res.Changes, Change{Device: device, Action: action})
	return nil
}

// removeStale deletes PiNet devices the plan does not call for (never the underlay or a desired
// port). Bridges go first, so their members are released before their uplinks disappear.
func (c *converger) removeStale(p *plan) error {
	links, err := c.h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	wanted := map[string]bool{p.Underlay: true}
	for _, port := range p.Ports {
		wanted[port.Name] = true
	}
	for _, s := range p.Segments {
		wanted[s.Bridge.Name] = true
		wanted[s.Uplink.Attrs().Name] = true
	}
	slices.SortStableFunc(links, func(a, b netlink.Link) int {
		return boolRank(a.Type() != "bridge") - boolRank(b.Type() != "bridge")
	})
	var errs []error
	for _, l := range links {
		attrs := l.Attrs()
		if wanted[attrs.Name] || !ownedDevice(attrs.Name, attrs.Alias) {
			continue
		}
		errs = append(errs, c.act(attrs.Name, "delete", func() error { return c.h.LinkDel(l) }))
	}
	return errors.Join(errs...)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// linkByName returns the named link, or nil if there is none.
func (c *converger) linkByName(name string) (netlink.Link, error) {
	l, err := c.h.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find link %s: %w", name, err)
	}
	return l, nil
}

func hwEqual(a, b net.HardwareAddr) bool { return slices.Equal(a, b) }
