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
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// twoSegments is the desired state of a node serving segments 101 and 102 with one peer.
func twoSegments(self, peer net.IP, ports ...Port) Desired {
	return Desired{
		Mode:       ModeVXLAN,
		Underlay:   "ul0",
		UnderlayIP: self,
		Segments: []Segment{
			{ID: 101, GatewayCIDR: "10.128.1.1/24", Peers: []net.IP{peer}},
			{ID: 102, GatewayCIDR: "10.128.2.1/24", Peers: []net.IP{peer}},
		},
		Ports: ports,
	}
}

// TestTwoNodesOverVXLAN runs real packets between guests of two nodes: segment 101 spans both
// nodes, segment 102 is a separate L2 domain even when its guest takes an address in 101's subnet.
func TestTwoNodesOverVXLAN(t *testing.T) {
	needNetns(t)
	tag := randomTag(t)
	a, b := twoNodes(t, tag)
	// a1 and b1: segment 101 on each node. b2: segment 102 in its own subnet. a2: segment 102
	// with an address in segment 101's subnet.
	a1 := a.addGuest(t, tag, "a1", "tap-a1", "10.128.1.10/24", "10.128.1.1")
	a2 := a.addGuest(t, tag, "a2", "tap-a2", "10.128.1.12/24", "")
	b1 := b.addGuest(t, tag, "b1", "tap-b1", "10.128.1.11/24", "10.128.1.1")
	b2 := b.addGuest(t, tag, "b2", "tap-b2", "10.128.2.10/24", "10.128.2.1")
	wantA := twoSegments(a.ip, b.ip, Port{Name: "tap-a1", Segment: 101}, Port{Name: "tap-a2", Segment: 102})
	wantB := twoSegments(b.ip, a.ip, Port{Name: "tap-b1", Segment: 101}, Port{Name: "tap-b2", Segment: 102})
	resA := a.converge(t, wantA)
	b.converge(t, wantB)
	if resA.MTU != 1450 || len(resA.MissingPorts) != 0 {
		t.Fatalf("result MTU %d (want 1450), missing ports %v", resA.MTU, resA.MissingPorts)
	}
	checkSegmentDevices(t, a, wantA)

	t.Run("guests of one segment reach each other across nodes", func(t *testing.T) {
		mustReach(t, a1, "10.128.1.11")
		mustReach(t, b1, "10.128.1.10")
	})
	t.Run("guests reach their gateway", func(t *testing.T) {
		mustReach(t, a1, "10.128.1.1")
		mustReach(t, b1, "10.128.1.1")
		mustReach(t, b2, "10.128.2.1")
	})
	t.Run("segment 102 does not reach segment 101 through the node", func(t *testing.T) {
		// The node does not forward between its bridges (forwarding is off in a new namespace;
		// where the agent enables it, filtering between segments is the firewall's job).
		mustNotReach(t, b2, "10.128.1.11")
		mustNotReach(t, b2, "10.128.1.10")
	})
	t.Run("segment 102 with an address of 101's subnet is still another L2 domain", func(t *testing.T) {
		mustNotReach(t, a2, "10.128.1.10") // same node
		mustNotReach(t, a2, "10.128.1.11") // other node
	})
	t.Run("converging again changes nothing", func(t *testing.T) {
		for _, n := range []struct {
			node *testNode
			want Desired
		}{{a, wantA}, {b, wantB}} {
			before := snapshot(t, n.node.testNS)
			if res := n.node.converge(t, n.want); len(res.Changes) != 0 {
				t.Errorf("%s: second Converge made changes: %v", n.node.name, res.Changes)
			}
			if d := diffSnapshots(before, snapshot(t, n.node.testNS)); d != "" {
				t.Errorf("%s: devices changed:\n%s", n.node.name, d)
			}
		}
	})
	t.Run("a device deleted behind its back is restored", func(t *testing.T) {
		if err := a.h.LinkDel(a.link(t, "pvx101")); err != nil {
			t.Fatal(err)
		}
		mustNotReach(t, a1, "10.128.1.11")
		res := a.converge(t, wantA)
		if !hasChange(res, "pvx101", "create") {
			t.Errorf("Converge did not recreate pvx101: %v", res.Changes)
		}
		checkSegmentDevices(t, a, wantA)
		mustReach(t, a1, "10.128.1.11")
	})
	t.Run("a port moved to segment 101 joins it", func(t *testing.T) {
		moved := twoSegments(a.ip, b.ip, Port{Name: "tap-a1", Segment: 101}, Port{Name: "tap-a2", Segment: 101})
		res := a.converge(t, moved)
		if !hasChange(res, "tap-a2", "set master pbr101") {
			t.Errorf("Converge did not move tap-a2: %v", res.Changes)
		}
		mustReach(t, a2, "10.128.1.10")
		mustReach(t, a2, "10.128.1.11")
		wantA = moved
	})
	t.Run("a removed segment disappears and nothing else changes", func(t *testing.T) {
		before := snapshot(t, a.testNS)
		only101 := wantA
		only101.Segments = wantA.Segments[:1]
		res := a.converge(t, only101)
		after := snapshot(t, a.testNS)
		for _, gone := range []string{"pbr102", "pvx102"} {
			if _, ok := after[gone]; ok {
				t.Errorf("%s is still there", gone)
			}
			if !hasChange(res, gone, "delete") {
				t.Errorf("no delete of %s in %v", gone, res.Changes)
			}
			delete(before, gone)
		}
		if d := diffSnapshots(before, after); d != "" {
			t.Errorf("other devices changed:\n%s", d)
		}
		mustReach(t, a1, "10.128.1.11")
	})
}

func hasChange(res Result, device, actionPrefix string) bool {
	for _, c := range res.Changes {
		if c.Device == device && strings.HasPrefix(c.Action, actionPrefix) {
			return true
		}
	}
	return false
}

// checkSegmentDevices checks the kernel's view of every desired segment's devices.
func checkSegmentDevices(t *testing.T, n *testNode, d Desired) {
	t.Helper()
	state := snapshot(t, n.testNS)
	for _, s := range d.Segments {
		br, vx := BridgeName(s.ID), vxlanName(s.ID)
		bs, xs := state[br], state[vx]
		if bs.Kind != "bridge" || !bs.Up || bs.MTU != 1450 || bs.MAC != gatewayMAC(s.ID).String() ||
			bs.Alias != segmentAlias(s.ID) || !strings.Contains(strings.Join(bs.Addrs, " "), s.GatewayCIDR) {
			t.Errorf("%s: bridge %s is %+v", n.name, br, bs)
		}
		if xs.Kind != "vxlan" || !xs.Up || xs.MTU != 1450 || xs.Master != br || xs.Alias != segmentAlias(s.ID) {
			t.Errorf("%s: vxlan %s is %+v", n.name, vx, xs)
		}
		var peers []string
		for _, p := range s.Peers {
			peers = append(peers, p.String())
		}
		if strings.Join(xs.Peers, ",") != strings.Join(peers, ",") {
			t.Errorf("%s: %s peers %v, want %v", n.name, vx, xs.Peers, peers)
		}
		out, err := exec.Command("ip", "-n", n.name, "-d", "link", "show", vx).CombinedOutput()
		if err != nil {
			t.Fatalf("ip -d link show %s: %v: %s", vx, err, out)
		}
		for _, want := range []string{"vxlan id " + strconv.Itoa(int(s.ID)), "local " + n.ip.String(), "dev ul0", "dstport 4789"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: %q not in: %s", vx, want, out)
			}
		}
		if strings.Contains(string(out), "nolearning") {
			t.Errorf("%s: learning is off: %s", vx, out)
		}
	}
	for _, p := range d.Ports {
		if ps := state[p.Name]; ps.Master != BridgeName(p.Segment) || !ps.Up || ps.MTU != 1450 {
			t.Errorf("%s: port %s is %+v", n.name, p.Name, ps)
		}
	}
}
