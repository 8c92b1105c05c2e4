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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Test topology: every test makes its own network namespaces named pt-netdev-<random>-<role>
// and deletes them when it ends; nothing outside them is touched.

func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root")
	}
	for _, tool := range []string{"ip", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// testNS is a network namespace made by a test, with a netlink handle inside it.
type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func randomTag(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newNS makes a namespace with loopback up; tag groups a test's namespaces.
func newNS(t *testing.T, tag, role string) *testNS {
	t.Helper()
	name := "pt-netdev-" + tag + "-" + role
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	n := &testNS{name: name, ns: ns, h: h}
	n.up(t, "lo")
	return n
}

func (n *testNS) link(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := n.h.LinkByName(name)
	if err != nil {
		t.Fatalf("%s: find %s: %v", n.name, name, err)
	}
	return l
}

func (n *testNS) up(t *testing.T, name string) {
	t.Helper()
	if err := n.h.LinkSetUp(n.link(t, name)); err != nil {
		t.Fatalf("%s: set %s up: %v", n.name, name, err)
	}
}

func (n *testNS) addAddr(t *testing.T, dev, cidr string) {
	t.Helper()
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.h.AddrAdd(n.link(t, dev), a); err != nil {
		t.Fatalf("%s: add %s to %s: %v", n.name, cidr, dev, err)
	}
}

// veth makes a veth pair from n (end name) to peer (end peerName; n itself when peer is nil).
func (n *testNS) veth(t *testing.T, name string, peer *testNS, peerName string) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: peerName}
	v.Name = name
	if peer != nil {
		v.PeerNamespace = netlink.NsFd(int(peer.ns))
	}
	if err := n.h.LinkAdd(v); err != nil {
		t.Fatalf("%s: add veth %s/%s: %v", n.name, name, peerName, err)
	}
	n.up(t, name)
	if peer != nil {
		peer.up(t, peerName)
	} else {
		n.up(t, peerName)
	}
}

// testNode is a "node": a namespace with an underlay ul0 and a Manager bound to it.
type testNode struct {
	*testNS
	ip  net.IP
	mgr *Manager
}

func newNode(t *testing.T, n *testNS, ip string) *testNode {
	t.Helper()
	m, err := New(n.ns)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return &testNode{testNS: n, ip: net.ParseIP(ip).To4(), mgr: m}
}

// twoNodes makes nodes A (192.0.2.1) and B (192.0.2.2) joined by the underlay veth ul0.
func twoNodes(t *testing.T, tag string) (a, b *testNode) {
	t.Helper()
	na, nb := newNS(t, tag, "a"), newNS(t, tag, "b")
	na.veth(t, "ul0", nb, "ul0")
	na.addAddr(t, "ul0", "192.0.2.1/24")
	nb.addAddr(t, "ul0", "192.0.2.2/24")
	return newNode(t, na, "192.0.2.1"), newNode(t, nb, "192.0.2.2")
}

// addGuest makes a guest namespace joined to the node by a veth whose node end is port.
func (n *testNode) addGuest(t *testing.T, tag, role, port, cidr, gateway string) *testNS {
	t.Helper()
	g := newNS(t, tag, role)
	n.veth(t, port, g, "eth0")
	g.addAddr(t, "eth0", cidr)
	if gateway != "" {
		route := &netlink.Route{LinkIndex: g.link(t, "eth0").Attrs().Index, Gw: net.ParseIP(gateway)}
		if err := g.h.RouteAdd(route); err != nil {
			t.Fatalf("%s: default route via %s: %v", g.name, gateway, err)
		}
	}
	return g
}

func (n *testNode) converge(t *testing.T, d Desired) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := n.mgr.Converge(ctx, d)
	if err != nil {
		t.Fatalf("%s: Converge: %v", n.name, err)
	}
	return res
}

// ping sends count echo requests from the namespace; it reports whether a reply came.
func ping(n *testNS, addr string, count int) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", n.name,
		"busybox", "ping", "-c", strconv.Itoa(count), "-W", "2", "-w", strconv.Itoa(count*2+2), addr).CombinedOutput()
	return err == nil, string(out)
}

// mustReach waits (generously) until a ping from n to addr is answered.
func mustReach(t *testing.T, n *testNS, addr string) {
	t.Helper()
	var out string
	for range 20 {
		var ok bool
		if ok, out = ping(n, addr, 1); ok {
			return
		}
	}
	t.Fatalf("%s cannot reach %s: %s", n.name, addr, out)
}

// mustNotReach checks that no echo reply comes back from addr.
func mustNotReach(t *testing.T, n *testNS, addr string) {
	t.Helper()
	if ok, out := ping(n, addr, 3); ok {
		t.Fatalf("%s reaches %s, which it must not: %s", n.name, addr, out)
	}
}

// devState is what a test compares of a device.
type devState struct {
	Index  int
	Kind   string
	MTU    int
	MAC    string
	Alias  string
	Master string
	Up     bool
	Addrs  []string
	Peers  []string
}

// snapshot records every device in the namespace, by name.
func snapshot(t *testing.T, n *testNS) map[string]devState {
	t.Helper()
	links, err := n.h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	out := map[string]devState{}
	for _, l := range links {
		a := l.Attrs()
		s := devState{Index: a.Index, Kind: l.Type(), MTU: a.MTU, MAC: a.HardwareAddr.String(),
			Alias: a.Alias, Master: names[a.MasterIndex], Up: a.Flags&net.FlagUp != 0}
		addrs, err := n.h.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		for _, ad := range addrs {
			if ad.IP.To4() == nil && ad.IP.IsLinkLocalUnicast() {
				continue // the kernel adds these on its own time
			}
			s.Addrs = append(s.Addrs, ad.IPNet.String())
		}
		sort.Strings(s.Addrs)
		if l.Type() == "vxlan" {
			s.Peers = peerList(t, n, a.Index)
		}
		out[a.Name] = s
	}
	return out
}

func peerList(t *testing.T, n *testNS, index int) []string {
	entries, err := n.h.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	var peers []string
	for _, e := range entries {
		if e.IP != nil && isZeroMAC(e.HardwareAddr) {
			peers = append(peers, e.IP.String())
		}
	}
	slices.Sort(peers)
	return peers
}

// diffSnapshots describes how two snapshots differ ("" when equal).
func diffSnapshots(before, after map[string]devState) string {
	var diffs []string
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: removed (was %+v)", name, b))
		case fmt.Sprint(a) != fmt.Sprint(b):
			diffs = append(diffs, fmt.Sprintf("%s: %+v -> %+v", name, b, a))
		}
	}
	for name, a := range after {
		if _, ok := before[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: added %+v", name, a))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "\n")
}
