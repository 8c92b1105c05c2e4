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
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// segment converges one segment: the uplink first (so a kernel that cannot make it leaves
// nothing half-made), then the bridge with its gateway, then the uplink's membership and peers.
func (c *converger) segment(s *segmentPlan) error {
	up, err := c.ensureLink(s.Uplink)
	if err != nil {
		return fmt.Errorf("segment %d: %w", s.ID, err)
	}
	br, err := c.ensureLink(s.Bridge)
	if err != nil {
		return fmt.Errorf("segment %d: %w", s.ID, err)
	}
	errs := []error{
		c.fixLink(br, linkWant{MTU: s.Bridge.MTU, MAC: s.Bridge.HardwareAddr, Alias: s.Bridge.Alias}),
		c.ensureGateway(br, s.Gateway),
		c.fixLink(up, linkWant{MTU: s.Uplink.Attrs().MTU, Alias: s.Uplink.Attrs().Alias,
			Master: br.Attrs().Index, MasterName: s.Bridge.Name}),
	}
	if vx, ok := up.(*netlink.Vxlan); ok {
		errs = append(errs, c.ensurePeers(vx, s.Peers))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("segment %d: %w", s.ID, err)
	}
	return nil
}

// ensureLink returns the device want names, creating it, or recreating it when its kind or
// its creation-time parameters differ.
func (c *converger) ensureLink(want netlink.Link) (netlink.Link, error) {
	name := want.Attrs().Name
	have, err := c.linkByName(name)
	if err != nil {
		return nil, err
	}
	if have != nil && !sameDevice(have, want) {
		err := c.act(name, "delete to recreate ("+describe(have)+" differs from "+describe(want)+")",
			func() error { return c.h.LinkDel(have) })
		if err != nil {
			return nil, err
		}
		have = nil
	}
	if have == nil {
		err := c.act(name, "create "+describe(want), func() error {
			err := c.h.LinkAdd(cloneLink(want))
			if errors.Is(err, unix.EOPNOTSUPP) {
				return fmt.Errorf("%w: this kernel has no %s", err, kindName(want))
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if have, err = c.linkByName(name); err != nil || have == nil {
			return nil, fmt.Errorf("find %s after creating it: %w", name, err)
		}
	}
	return have, nil
}

// sameDevice reports whether have is want's kind with want's creation-time parameters (those
// the kernel cannot change in place).
func sameDevice(have, want netlink.Link) bool {
	switch w := want.(type) {
	case *netlink.Bridge:
		_, ok := have.(*netlink.Bridge)
		return ok
	case *netlink.Vxlan:
		h, ok := have.(*netlink.Vxlan)
		return ok && h.VxlanId == w.VxlanId && h.VtepDevIndex == w.VtepDevIndex &&
			h.SrcAddr.Equal(w.SrcAddr) && h.Port == w.Port && h.Learning == w.Learning
	case *netlink.Vlan:
		h, ok := have.(*netlink.Vlan)
		return ok && h.VlanId == w.VlanId && h.ParentIndex == w.ParentIndex && h.VlanProtocol == w.VlanProtocol
	}
	return false
}

func cloneLink(l netlink.Link) netlink.Link {
	switch v := l.(type) {
	case *netlink.Bridge:
		c := *v
		return &c
	case *netlink.Vxlan:
		c := *v
		return &c
	case *netlink.Vlan:
		c := *v
		return &c
	}
	return l
}

func kindName(l netlink.Link) string {
	if _, ok := l.(*netlink.Vlan); ok {
		return "802.1Q VLAN device support (use vxlan mode)"
	}
	return l.Type() + " device support"
}

// describe names a device's kind and creation-time parameters for logs and changes.
func describe(l netlink.Link) string {
	switch v := l.(type) {
	case *netlink.Vxlan:
		return fmt.Sprintf("vxlan vni %d local %s dev #%d dstport %d learning %t",
			v.VxlanId, v.SrcAddr, v.VtepDevIndex, v.Port, v.Learning)
	case *netlink.Vlan:
		return fmt.Sprintf("vlan id %d parent #%d protocol %s", v.VlanId, v.ParentIndex, v.VlanProtocol)
	}
	return l.Type()
}

// linkWant are the attributes fixed in place; zero values are left alone.
type linkWant struct {
	MTU        int
	MAC        net.HardwareAddr
	Alias      string
	Master     int
	MasterName string
}

// fixLink sets the attributes that differ and brings the device up.
func (c *converger) fixLink(l netlink.Link, want linkWant) error {
	attrs := l.Attrs()
	name := attrs.Name
	var errs []error
	if want.MTU != 0 && attrs.MTU != want.MTU {
		errs = append(errs, c.act(name, "set mtu "+strconv.Itoa(want.MTU),
			func() error { return c.h.LinkSetMTU(l, want.MTU) }))
	}
	if want.MAC != nil && !hwEqual(attrs.HardwareAddr, want.MAC) {
		errs = append(errs, c.act(name, "set address "+want.MAC.String(),
			func() error { return c.h.LinkSetHardwareAddr(l, want.MAC) }))
	}
	if want.Alias != "" && attrs.Alias != want.Alias {
		errs = append(errs, c.act(name, "set alias "+want.Alias,
			func() error { return c.h.LinkSetAlias(l, want.Alias) }))
	}
	if want.Master != 0 && attrs.MasterIndex != want.Master {
		errs = append(errs, c.act(name, "set master "+want.MasterName,
			func() error { return c.h.LinkSetMasterByIndex(l, want.Master) }))
	}
	if attrs.Flags&net.FlagUp == 0 {
		errs = append(errs, c.act(name, "set up", func() error { return c.h.LinkSetUp(l) }))
	}
	return errors.Join(errs...)
}

// ensureGateway leaves exactly the gateway address on the bridge (IPv6 link-local addresses,
// which the kernel manages, are kept).
func (c *converger) ensureGateway(br netlink.Link, gw *netlink.Addr) error {
	name := br.Attrs().Name
	addrs, err := c.h.AddrList(br, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", name, err)
	}
	var errs []error
	found := false
	for _, a := range addrs {
		switch {
		case a.IPNet.String() == gw.IPNet.String():
			found = true
		case a.IP.To4() == nil && a.IP.IsLinkLocalUnicast():
		default:
			a := a
			errs = append(errs, c.act(name, "delete address "+a.IPNet.String(),
				func() error { return c.h.AddrDel(br, &a) }))
		}
	}
	if !found {
		errs = append(errs, c.act(name, "add address "+gw.IPNet.String(),
			func() error { return c.h.AddrAdd(br, &netlink.Addr{IPNet: gw.IPNet}) }))
	}
	return errors.Join(errs...)
}

// ensurePeers leaves exactly the desired all-zero-MAC FDB entries on a VXLAN device.
func (c *converger) ensurePeers(vx *netlink.Vxlan, want []*netlink.Neigh) error {
	name, index := vx.Attrs().Name, vx.Attrs().Index
	entries, err := c.h.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("list forwarding entries of %s: %w", name, err)
	}
	have := map[string]bool{}
	var errs []error
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w.IP.String()] = true
	}
	for _, e := range entries {
		if e.IP == nil || !isZeroMAC(e.HardwareAddr) {
			continue
		}
		have[e.IP.String()] = true
		if !wanted[e.IP.String()] {
			stale := peerEntry(index, e.IP)
			errs = append(errs, c.act(name, "delete peer "+e.IP.String(),
				func() error { return c.h.NeighDel(stale) }))
		}
	}
	for _, w := range want {
		if have[w.IP.String()] {
			continue
		}
		entry := peerEntry(index, w.IP)
		errs = append(errs, c.act(name, "append peer "+w.IP.String(),
			func() error { return c.h.NeighAppend(entry) }))
	}
	return errors.Join(errs...)
}

func isZeroMAC(mac net.HardwareAddr) bool {
	for _, b := range mac {
		if b != 0 {
			return false
		}
	}
	return len(mac) == 6
}

// port puts one guest port on its bridge with the segment MTU, and up.
func (c *converger) port(p portPlan, mtu int) error {
	l, err := c.linkByName(p.Name)
	if err != nil {
		return fmt.Errorf("port %s: %w", p.Name, err)
	}
	if l == nil {
		c.res.MissingPorts = append(c.res.MissingPorts, p.Name)
		return nil
	}
	br, err := c.linkByName(p.Bridge)
	if err != nil {
		return fmt.Errorf("port %s: %w", p.Name, err)
	}
	if br == nil {
		return fmt.Errorf("port %s: bridge %s is not there", p.Name, p.Bridge)
	}
	if err := c.fixLink(l, linkWant{MTU: mtu, Master: br.Attrs().Index, MasterName: p.Bridge}); err != nil {
		return fmt.Errorf("port %s: %w", p.Name, err)
	}
	return nil
}

// releaseStrays takes every device that is neither the segment's uplink nor one of its desired
// ports off a PiNet bridge (a port moved to another segment, a tap nobody wants any more).
func (c *converger) releaseStrays(p *plan) error {
	members := map[string]string{}
	bridges := map[string]bool{}
	for _, s := range p.Segments {
		bridges[s.Bridge.Name] = true
		members[s.Uplink.Attrs().Name] = s.Bridge.Name
	}
	for _, port := range p.Ports {
		members[port.Name] = port.Bridge
	}
	links, err := c.h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	byIndex := map[int]string{}
	for _, l := range links {
		byIndex[l.Attrs().Index] = l.Attrs().Name
	}
	var errs []error
	for _, l := range links {
		master := byIndex[l.Attrs().MasterIndex]
		if l.Attrs().MasterIndex == 0 || !bridges[master] || members[l.Attrs().Name] == master {
			continue
		}
		errs = append(errs, c.act(l.Attrs().Name, "release from "+master,
			func() error { return c.h.LinkSetNoMaster(l) }))
	}
	return errors.Join(errs...)
}
