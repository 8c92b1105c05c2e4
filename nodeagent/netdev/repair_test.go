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
	"net"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

func (n *testNS) bridge(t *testing.T, name, alias string) {
	t.Helper()
	b := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
	b.Name = name
	if err := n.h.LinkAdd(b); err != nil {
		t.Fatalf("add bridge %s: %v", name, err)
	}
	if alias != "" {
		// The kernel ignores an alias given at creation.
		check(t, "alias "+name, n.h.LinkSetAlias(b, alias))
	}
}

func (n *testNS) vxlan(t *testing.T, name string, vni int, learning bool) {
	t.Helper()
	v := &netlink.Vxlan{LinkAttrs: netlink.NewLinkAttrs(), VxlanId: vni, Port: VXLANPort, Learning: learning,
		VtepDevIndex: n.link(t, "ul0").Attrs().Index, SrcAddr: net.ParseIP("192.0.2.1")}
	v.Name = name
	if err := n.h.LinkAdd(v); err != nil {
		t.Fatalf("add vxlan %s: %v", name, err)
	}
}

func (n *testNS) master(t *testing.T, dev, master string) {
	t.Helper()
	if err := n.h.LinkSetMaster(n.link(t, dev), n.link(t, master)); err != nil {
		t.Fatalf("set master of %s to %s: %v", dev, master, err)
	}
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestConvergeRepairsAnyState: after a "crash" that left PiNet's devices wrong, stale or half
// made, one Converge restores exactly the desired state, and foreign devices stay as they were.
func TestConvergeRepairsAnyState(t *testing.T) {
	needNetns(t)
	a, _ := oneNode(t)
	for _, p := range []string{"p1", "p2", "fx0", "fx2"} {
		a.veth(t, p, nil, p+"g")
	}
	// Foreign devices, some with names close to PiNet's.
	a.bridge(t, "br-host", "")
	a.bridge(t, "pbrx", "")
	a.bridge(t, "br-meta", "pinet:metadata")
	a.master(t, "fx0", "br-host")
	a.addAddr(t, "br-host", "10.77.0.1/24")
	a.vxlan(t, "vx-host", 42, false)
	want := twoSegments(a.ip, net.ParseIP("192.0.2.2"), Port{Name: "p1", Segment: 101}, Port{Name: "p2", Segment: 102})
	a.converge(t, want)
	clean := snapshot(t, a.testNS)

	// The crash: every kind of wrong state.
	pbr101 := a.link(t, "pbr101")
	check(t, "down", a.h.LinkSetDown(pbr101))
	check(t, "mtu", a.h.LinkSetMTU(pbr101, 1300))
	check(t, "alias", a.h.LinkSetAlias(pbr101, "someone"))
	check(t, "mac", a.h.LinkSetHardwareAddr(pbr101, net.HardwareAddr{2, 0, 0, 0, 0, 0x99}))
	a.addAddr(t, "pbr101", "10.9.9.9/24")
	gw, _ := netlink.ParseAddr("10.128.1.1/24")
	check(t, "del gateway", a.h.AddrDel(pbr101, gw))
	check(t, "del pvx102", a.h.LinkDel(a.link(t, "pvx102")))
	a.vxlan(t, "pvx102", 999, false)
	pvx101 := a.link(t, "pvx101").Attrs().Index
	check(t, "del peer", a.h.NeighDel(peerEntry(pvx101, net.ParseIP("192.0.2.2"))))
	check(t, "stray peer", a.h.NeighAppend(peerEntry(pvx101, net.ParseIP("192.0.2.99"))))
	check(t, "nomaster p1", a.h.LinkSetNoMaster(a.link(t, "p1")))
	a.master(t, "p2", "pbr101")
	check(t, "mtu p2", a.h.LinkSetMTU(a.link(t, "p2"), 1500))
	a.master(t, "fx2", "pbr101")
	a.bridge(t, "pbr555", "")
	a.bridge(t, "old-br7", "pinet:segment:7")
	a.vxlan(t, "pvx777", 777, true)
	a.master(t, "pvx777", "pbr555")
	foreign := snapshot(t, a.testNS)

	res := a.converge(t, want)
	t.Logf("repair: %v", res.Changes)
	after := snapshot(t, a.testNS)
	for _, gone := range []string{"pbr555", "old-br7", "pvx777"} {
		if _, ok := after[gone]; ok {
			t.Errorf("stale %s is still there", gone)
		}
	}
	// PiNet's devices and the ports are as after the clean run (pvx102 was recreated).
	for name, c := range clean {
		if _, ok := foreign[name]; !ok {
			t.Errorf("%s missing before the repair", name)
		}
		got := after[name]
		if name == "pvx102" { // recreated: a new index and a new random MAC
			c.Index, got.Index, c.MAC, got.MAC = 0, 0, "", ""
		}
		if name == "fx2" || slices.Contains([]string{"br-host", "pbrx", "br-meta", "fx0", "vx-host", "lo", "ul0", "p1g", "p2g", "fx0g", "fx2g"}, name) {
			// Foreign: exactly as before the repair, except that fx2 left PiNet's bridge.
			f := foreign[name]
			if name == "fx2" {
				f.Master = ""
			}
			c = f
		}
		if d := diffSnapshots(map[string]devState{name: c}, map[string]devState{name: got}); d != "" {
			t.Errorf("after repair: %s", d)
		}
	}
	for _, change := range []string{"delete to recreate", "set mtu", "set up", "set alias", "set address",
		"add address", "delete address", "append peer", "delete peer", "set master", "release from", "delete"} {
		if !slices.ContainsFunc(res.Changes, func(c Change) bool { return len(c.Action) >= len(change) && c.Action[:len(change)] == change }) {
			t.Errorf("no %q among the changes", change)
		}
	}
	if res := a.converge(t, want); len(res.Changes) != 0 {
		t.Errorf("Converge after the repair made changes: %v", res.Changes)
	}
}

// TestMissingPortIsAWait: a desired port without a device is reported, not an error, and is
// attached once it appears.
func TestMissingPortIsAWait(t *testing.T) {
	needNetns(t)
	a, _ := oneNode(t)
	want := twoSegments(a.ip, net.ParseIP("192.0.2.2"), Port{Name: "tap-later", Segment: 102})
	res := a.converge(t, want)
	if !slices.Equal(res.MissingPorts, []string{"tap-later"}) {
		t.Fatalf("missing ports %v", res.MissingPorts)
	}
	a.veth(t, "tap-later", nil, "tap-laterg")
	res = a.converge(t, want)
	if len(res.MissingPorts) != 0 || !hasChange(res, "tap-later", "set master pbr102") {
		t.Fatalf("second Converge: %+v", res)
	}
	if s := snapshot(t, a.testNS)["tap-later"]; s.Master != "pbr102" || s.MTU != 1450 {
		t.Errorf("tap-later is %+v", s)
	}
}
