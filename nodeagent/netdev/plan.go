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
	"fmt"
	"net"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Encapsulation overhead of VXLAN: outer Ethernet payload = IP + UDP (8) + VXLAN (8) + inner
// Ethernet header (14).
const (
	vxlanOverhead4 = 20 + 8 + 8 + 14
	vxlanOverhead6 = 40 + 8 + 8 + 14
	minMTU         = 1280
)

// underlay is what the plan needs to know about the node's underlay interface.
type underlay struct {
	Index int
	MTU   int
}

// plan is the complete set of netlink objects a desired state calls for on one node.
type plan struct {
	// Underlay is the underlay's name: never removed, whatever its alias.
	Underlay string
	MTU      int
	Segments []segmentPlan
	Ports    []portPlan
}

// segmentPlan holds the netlink objects of one segment.
type segmentPlan struct {
	ID     int32
	Bridge *netlink.Bridge
	// Uplink joins the bridge to the other nodes: a *netlink.Vxlan or a *netlink.Vlan.
	Uplink  netlink.Link
	Gateway *netlink.Addr
	// Peers are the FDB entries replicating BUM traffic (VXLAN only), sorted.
	Peers []*netlink.Neigh
}

// portPlan is one guest port and the bridge it belongs on.
type portPlan struct {
	Name   string
	Bridge string
}

// buildPlan computes the netlink objects for a valid desired state. It is pure: the objects are
// what Converge creates or compares against, and the VLAN mode can be checked without 802.1Q.
func buildPlan(d Desired, u underlay) (*plan, error) {
	mtu := u.MTU
	if d.Mode == ModeVXLAN {
		if d.UnderlayIP.To4() != nil {
			mtu -= vxlanOverhead4
		} else {
			mtu -= vxlanOverhead6
		}
	}
	if mtu < minMTU {
		return nil, fmt.Errorf("underlay MTU %d leaves %d for the segments, below the minimum %d", u.MTU, mtu, minMTU)
	}
	p := &plan{Underlay: d.Underlay, MTU: mtu}
	for _, s := range d.Segments {
		sp, err := buildSegment(d, s, u, mtu)
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", s.ID, err)
		}
		p.Segments = append(p.Segments, sp)
	}
	for _, port := range d.Ports {
		p.Ports = append(p.Ports, portPlan{Name: port.Name, Bridge: BridgeName(port.Segment)})
	}
	return p, nil
}

func buildSegment(d Desired, s Segment, u underlay, mtu int) (segmentPlan, error) {
	gw, err := netlink.ParseAddr(s.GatewayCIDR)
	if err != nil {
		return segmentPlan{}, fmt.Errorf("gateway %q: %w", s.GatewayCIDR, err)
	}
	bridge := &netlink.Bridge{LinkAttrs: linkAttrs(BridgeName(s.ID), s.ID, mtu)}
	bridge.HardwareAddr = gatewayMAC(s.ID)
	sp := segmentPlan{ID: s.ID, Bridge: bridge, Gateway: &netlink.Addr{IPNet: gw.IPNet}}
	switch d.Mode {
	case ModeVXLAN:
		sp.Uplink = &netlink.Vxlan{
			LinkAttrs:    linkAttrs(vxlanName(s.ID), s.ID, mtu),
			VxlanId:      int(s.ID),
			VtepDevIndex: u.Index,
			SrcAddr:      d.UnderlayIP,
			Port:         VXLANPort,
			Learning:     true,
		}
		sp.Peers = peerEntries(s.Peers)
	case ModeVLAN:
		sp.Uplink = &netlink.Vlan{
			LinkAttrs:    linkAttrs(vlanName(s.ID), s.ID, mtu),
			VlanId:       int(s.ID),
			VlanProtocol: netlink.VLAN_PROTOCOL_8021Q,
		}
		sp.Uplink.Attrs().ParentIndex = u.Index
	default:
		return segmentPlan{}, fmt.Errorf("mode %q is unknown", d.Mode)
	}
	return sp, nil
}

func linkAttrs(name string, segment int32, mtu int) netlink.LinkAttrs {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	attrs.MTU = mtu
	attrs.Alias = segmentAlias(segment)
	return attrs
}

// peerEntries returns the all-zero-MAC FDB entries (bridge fdb append 00:00:00:00:00:00 dst
// <peer>) that make a VXLAN device replicate BUM frames to every peer, sorted by address.
func peerEntries(peers []net.IP) []*netlink.Neigh {
	sorted := slices.Clone(peers)
	slices.SortFunc(sorted, func(a, b net.IP) int { return slices.Compare(a.To16(), b.To16()) })
	var out []*netlink.Neigh
	for _, ip := range sorted {
		out = append(out, peerEntry(0, ip))
	}
	return out
}

func peerEntry(linkIndex int, ip net.IP) *netlink.Neigh {
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	return &netlink.Neigh{
		LinkIndex:    linkIndex,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_PERMANENT | netlink.NUD_NOARP,
		Flags:        netlink.NTF_SELF,
		HardwareAddr: make(net.HardwareAddr, 6),
		IP:           ip,
	}
}
