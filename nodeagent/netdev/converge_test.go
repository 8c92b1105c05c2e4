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
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// oneNode makes node A with its underlay ul0 (192.0.2.1) to a second namespace (192.0.2.2).
func oneNode(t *testing.T) (*testNode, string) {
	t.Helper()
	tag := randomTag(t)
	a, _ := twoNodes(t, tag)
	return a, tag
}

// TestConvergeRejectsBadInput: every bad desired state gets a clear error and changes nothing,
// even when most of it is valid.
func TestConvergeRejectsBadInput(t *testing.T) {
	needNetns(t)
	a, _ := oneNode(t)
	a.veth(t, "p1", nil, "p1peer")
	// small0 holds an address but its MTU leaves too little room for VXLAN.
	a.veth(t, "small0", nil, "small0peer")
	if err := a.h.LinkSetMTU(a.link(t, "small0"), 1300); err != nil {
		t.Fatal(err)
	}
	a.addAddr(t, "small0", "198.51.100.1/24")
	valid := func() Desired {
		return twoSegments(a.ip, net.ParseIP("192.0.2.2"), Port{Name: "p1", Segment: 101})
	}
	cases := []struct {
		name   string
		change func(d *Desired)
		want   string
	}{
		{"unknown mode", func(d *Desired) { d.Mode = "gre" }, `mode "gre" is neither`},
		{"no underlay", func(d *Desired) { d.Underlay = "" }, "underlay: interface name is empty"},
		{"long underlay", func(d *Desired) { d.Underlay = "a-very-long-name0" }, "longer than 15 bytes"},
		{"reserved underlay", func(d *Desired) { d.Underlay = "pbr3" }, "form of a PiNet device name"},
		{"missing underlay", func(d *Desired) { d.Underlay = "eth9" }, `find underlay "eth9"`},
		{"no underlay IP", func(d *Desired) { d.UnderlayIP = nil }, "underlay IP is required"},
		{"foreign underlay IP", func(d *Desired) { d.UnderlayIP = net.ParseIP("192.0.2.7") }, "does not hold the node's underlay IP 192.0.2.7"},
		{"small underlay MTU", func(d *Desired) {
			d.Underlay, d.UnderlayIP = "small0", net.ParseIP("198.51.100.1")
		}, "below the minimum 1280"},
		{"segment 0", func(d *Desired) { d.Segments[1].ID = 0 }, "segment 0 (index 1): id out of range"},
		{"segment too big", func(d *Desired) { d.Segments[1].ID = 1 << 24 }, "id out of range 1..16777215"},
		{"vlan id too big", func(d *Desired) { d.Mode = ModeVLAN; d.Segments[1].ID = 4095 }, "id out of range 1..4094 for vlan mode"},
		{"segment twice", func(d *Desired) { d.Segments[1].ID = 101 }, "segment 101 is listed twice"},
		{"bad gateway", func(d *Desired) { d.Segments[1].GatewayCIDR = "10.128.2.1" }, `gateway "10.128.2.1" is not an address/prefix-length`},
		{"network address gateway", func(d *Desired) { d.Segments[1].GatewayCIDR = "10.128.2.0/24" }, "network address"},
		{"loopback gateway", func(d *Desired) { d.Segments[1].GatewayCIDR = "127.0.0.1/8" }, "not a unicast address"},
		{"overlapping subnets", func(d *Desired) { d.Segments[1].GatewayCIDR = "10.128.0.1/16" }, "overlaps 10.128.1.0/24"},
		{"peer is self", func(d *Desired) { d.Segments[1].Peers = []net.IP{a.ip} }, "is this node's own underlay IP"},
		{"peer twice", func(d *Desired) {
			d.Segments[1].Peers = []net.IP{net.ParseIP("192.0.2.2"), net.ParseIP("192.0.2.2")}
		}, "peer 192.0.2.2 is listed twice"},
		{"IPv6 peer", func(d *Desired) { d.Segments[1].Peers = []net.IP{net.ParseIP("2001:db8::2")} }, "not of the underlay IP's family"},
		{"unspecified peer", func(d *Desired) { d.Segments[1].Peers = []net.IP{net.IPv4zero} }, "is not a unicast address"},
		{"port on unknown segment", func(d *Desired) { d.Ports[0].Segment = 7 }, "segment 7 is not a desired segment"},
		{"port with reserved name", func(d *Desired) { d.Ports[0].Name = "pvx101" }, `port "pvx101" has the form`},
		{"port is the underlay", func(d *Desired) { d.Ports[0].Name = "ul0" }, `port "ul0" is the underlay`},
		{"port twice", func(d *Desired) { d.Ports = append(d.Ports, d.Ports[0]) }, `port "p1" is listed twice`},
		{"port name with slash", func(d *Desired) { d.Ports[0].Name = "a/b" }, "contains '/'"},
	}
	before := snapshot(t, a.testNS)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := valid()
			c.change(&d)
			res, err := a.mgr.Converge(context.Background(), d)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if len(res.Changes) != 0 {
				t.Errorf("changes made: %v", res.Changes)
			}
			if diff := diffSnapshots(before, snapshot(t, a.testNS)); diff != "" {
				t.Errorf("devices changed:\n%s", diff)
			}
		})
	}
	// The valid state itself converges: the cases failed for their one fault.
	if res := a.converge(t, valid()); len(res.Changes) == 0 {
		t.Error("the valid desired state made no changes")
	}
}

// vlanSupported reports whether the kernel can make an 802.1Q device, trying in a scratch namespace.
func vlanSupported(t *testing.T, n *testNS) bool {
	t.Helper()
	v := &netlink.Vlan{LinkAttrs: netlink.NewLinkAttrs(), VlanId: 5, VlanProtocol: netlink.VLAN_PROTOCOL_8021Q}
	n.veth(t, "pp0", nil, "pp1")
	v.Name, v.ParentIndex = "pp0.5", n.link(t, "pp0").Attrs().Index
	err := n.h.LinkAdd(v)
	if err == nil {
		_ = n.h.LinkDel(v)
		return true
	}
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("probe 802.1Q: %v", err)
	}
	return false
}

// TestVLANModeOnThisKernel: without 802.1Q, VLAN mode fails with a clear error and makes
// nothing; with it, the VLAN devices are made as planned.
func TestVLANModeOnThisKernel(t *testing.T) {
	needNetns(t)
	a, tag := oneNode(t)
	a.veth(t, "p1", nil, "p1peer")
	d := Desired{Mode: ModeVLAN, Underlay: "ul0",
		Segments: []Segment{{ID: 101, GatewayCIDR: "10.128.1.1/24"}, {ID: 102, GatewayCIDR: "10.128.2.1/24"}},
		Ports:    []Port{{Name: "p1", Segment: 101}}}
	before := snapshot(t, a.testNS)
	res, err := a.mgr.Converge(context.Background(), d)
	if vlanSupported(t, newNS(t, tag, "probe")) {
		if err != nil {
			t.Fatalf("Converge: %v", err)
		}
		state := snapshot(t, a.testNS)
		if s := state["pvl101"]; s.Kind != "vlan" || s.Master != "pbr101" || s.MTU != 1500 {
			t.Errorf("pvl101 is %+v", s)
		}
		return
	}
	if err == nil {
		t.Fatalf("Converge in VLAN mode succeeded on a kernel without 802.1Q: %v", res.Changes)
	}
	for _, want := range []string{"segment 101: pvl101: create vlan id 101", "no 802.1Q VLAN device support", "segment 102: pvl102"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("error %v does not wrap EOPNOTSUPP", err)
	}
	if len(res.Changes) != 0 {
		t.Errorf("changes made: %v", res.Changes)
	}
	if diff := diffSnapshots(before, snapshot(t, a.testNS)); diff != "" {
		t.Errorf("devices changed:\n%s", diff)
	}
}
