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

package netfilter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The echo servers' addresses: guest A's ports, directly and through its elastic IP.
const (
	a22     = guestAIP + ":22"
	a8080   = guestAIP + ":8080"
	pub22   = publicIP + ":22"
	pub8080 = publicIP + ":8080"
)

// basePolicy: guest A in sg-web (tcp 22 and 80 from anywhere) with elastic IP publicIP, guest B in
// sg-b (no rules), the metadata server at the gateway's port 8775.
func basePolicy() Policy {
	return Policy{
		Guests: []Guest{
			{Port: "tapA", IP: netip.MustParseAddr(guestAIP), GroupIDs: []string{"sg-web"}},
			{Port: "tapB", IP: netip.MustParseAddr(guestBIP), GroupIDs: []string{"sg-b"}},
		},
		Groups: []Group{
			{ID: "sg-web", Members: []netip.Addr{netip.MustParseAddr(guestAIP)}, Rules: []Rule{
				{Protocol: ProtocolTCP, FromPort: 22, ToPort: 22, CIDRs: []string{"0.0.0.0/0"}},
				{Protocol: ProtocolTCP, FromPort: 80, ToPort: 80, CIDRs: []string{"0.0.0.0/0"}},
			}},
			{ID: "sg-b", Members: []netip.Addr{netip.MustParseAddr(guestBIP)}},
		},
		ElasticIPs:       []ElasticIP{{Public: netip.MustParseAddr(publicIP), Private: netip.MustParseAddr(guestAIP)}},
		PublicInterface:  publicIF,
		MetadataListener: netip.MustParseAddrPort(gatewayIP + ":8775"),
	}
}

func withRules(p Policy, group string, rules ...Rule) Policy {
	groups := make([]Group, len(p.Groups))
	for i, g := range p.Groups {
		groups[i] = g
		if g.ID == group {
			groups[i].Rules = append(append([]Rule(nil), g.Rules...), rules...)
		}
	}
	p.Groups = groups
	return p
}

func apply(t *testing.T, f *Filter, p Policy) {
	t.Helper()
	if err := f.Apply(context.Background(), p); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// expectReach waits until a connection from ns to addr reaches the echo server, and returns the
// server's view of the connection.
func expectReach(t *testing.T, ns netns.NsHandle, addr, from string) (local, remote string) {
	t.Helper()
	eventually(t, "connecting to "+addr, func() error {
		var err error
		local, remote, err = probe(ns, addr, from)
		return err
	})
	return local, remote
}

// expectDropped checks that a connection from ns to addr times out: the SYN was dropped (a
// refusal would mean the packet got through to a port with no listener).
func expectDropped(t *testing.T, ns netns.NsHandle, addr, from string) {
	t.Helper()
	_, _, err := probe(ns, addr, from)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("connection to %s from %s: got %v, want a timeout (dropped)", addr, from, err)
	}
}

func expectPingDropped(t *testing.T, ns netns.NsHandle, dst string) {
	t.Helper()
	err := ping(ns, dst)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("ping %s: got %v, want a timeout (dropped)", dst, err)
	}
}

func TestDatapath(t *testing.T) {
	n := newTestNet(t)
	serveEcho(t, n.guestA, ":22")
	serveEcho(t, n.guestA, ":8080")
	serveEcho(t, n.world, ":9000")
	f := New(int(n.node))
	ctx := context.Background()
	t.Cleanup(func() { _ = f.Delete(ctx) })
	apply(t, f, basePolicy())

	for _, tc := range []struct {
		name string
		run  func(*testing.T, *testNet, *Filter)
	}{
		{"a group's port is open, another is not", testGroupPorts},
		{"authorize opens a port, revoke closes it", testAuthorizeRevoke},
		{"a source group admits its members only", testSourceGroup},
		{"a guest cannot send from another address", testAntiSpoofing},
		{"a guest's outbound traffic carries its elastic IP", testElasticIPOutbound},
		{"icmp type and code", testICMP},
		{"guests cannot reach each other over IPv6", testNoIPv6},
		{"metadata reaches the node's listener with the guest's address", testMetadata},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, n, f) })
	}
}

func testGroupPorts(t *testing.T, n *testNet, f *Filter) {
	if local, _ := expectReach(t, n.guestB, a22, ""); local != a22 {
		t.Errorf("guest B reached %s, want %s", local, a22)
	}
	expectDropped(t, n.guestB, a8080, "")
	if local, remote := expectReach(t, n.world, pub22, ""); local != a22 || hostOf(remote) != worldIP {
		t.Errorf("world via the elastic IP: server saw local %s remote %s, want %s from %s", local, remote, a22, worldIP)
	}
	expectDropped(t, n.world, pub8080, "")
}

func testAuthorizeRevoke(t *testing.T, n *testNet, f *Filter) {
	apply(t, f, withRules(basePolicy(), "sg-web",
		Rule{Protocol: ProtocolTCP, FromPort: 8000, ToPort: 8100, CIDRs: []string{"192.0.2.0/30"}}))
	expectReach(t, n.world, pub8080, "")
	expectDropped(t, n.guestB, a8080, "") // 10.0.0.11 is outside 192.0.2.0/30
	apply(t, f, withRules(basePolicy(), "sg-web",
		Rule{Protocol: ProtocolTCP, FromPort: 8000, ToPort: 8100, CIDRs: []string{"10.0.0.0/24", "192.0.2.0/30"}}))
	expectReach(t, n.guestB, a8080, "")
	expectReach(t, n.world, pub8080, "")
	apply(t, f, basePolicy())
	expectDropped(t, n.guestB, a8080, "")
	expectDropped(t, n.world, pub8080, "")
}

func testSourceGroup(t *testing.T, n *testNet, f *Filter) {
	p := withRules(basePolicy(), "sg-web",
		Rule{Protocol: ProtocolTCP, FromPort: 8080, ToPort: 8080, SourceGroupIDs: []string{"sg-b"}})
	apply(t, f, p)
	expectReach(t, n.guestB, a8080, "")
	expectDropped(t, n.world, pub8080, "") // the world is no member of sg-b
	p.Groups[1].Members = nil              // B leaves sg-b's member list
	apply(t, f, p)
	expectDropped(t, n.guestB, a8080, "")
}

func testAntiSpoofing(t *testing.T, n *testNet, f *Filter) {
	apply(t, f, withRules(basePolicy(), "sg-web",
		Rule{Protocol: ProtocolTCP, FromPort: 8080, ToPort: 8080, CIDRs: []string{"10.0.0.12/32", guestBIP + "/32"}}))
	expectReach(t, n.guestB, a8080, "")
	b := nlHandle(t, n.guestB)
	bEth := mustLink(t, b, "eth0")
	must(t, b.AddrAdd(bEth, mustAddr(t, "10.0.0.12/24")))
	// A knows 10.0.0.12 at B's MAC without asking, so only the IPv4 source check can stop it.
	a := nlHandle(t, n.guestA)
	must(t, a.NeighAdd(&netlink.Neigh{LinkIndex: mustLink(t, a, "eth0").Attrs().Index,
		State: netlink.NUD_PERMANENT, IP: net.ParseIP("10.0.0.12"), HardwareAddr: bEth.Attrs().HardwareAddr}))
	expectDropped(t, n.guestB, a8080, "10.0.0.12")
}

func testElasticIPOutbound(t *testing.T, n *testNet, f *Filter) {
	apply(t, f, basePolicy())
	if _, remote := expectReach(t, n.guestA, worldIP+":9000", ""); hostOf(remote) != publicIP {
		t.Errorf("the world saw guest A as %s, want %s", remote, publicIP)
	}
	// B has no elastic IP: its traffic leaves unchanged and the world has no route back.
	expectDropped(t, n.guestB, worldIP+":9000", "")
}

func testICMP(t *testing.T, n *testNet, f *Filter) {
	fromB := []string{guestBIP + "/32"}
	apply(t, f, withRules(basePolicy(), "sg-web", Rule{Protocol: ProtocolICMP, FromPort: 8, ToPort: 0, CIDRs: fromB}))
	eventually(t, "ping with echo-request code 0 allowed", func() error { return ping(n.guestB, guestAIP) })
	apply(t, f, withRules(basePolicy(), "sg-web", Rule{Protocol: ProtocolICMP, FromPort: 0, ToPort: -1, CIDRs: fromB}))
	expectPingDropped(t, n.guestB, guestAIP) // only echo-reply admitted
	apply(t, f, withRules(basePolicy(), "sg-web", Rule{Protocol: ProtocolICMP, FromPort: 8, ToPort: 3, CIDRs: fromB}))
	expectPingDropped(t, n.guestB, guestAIP) // echo-request, but code 3
	apply(t, f, withRules(basePolicy(), "sg-web", Rule{Protocol: ProtocolICMP, FromPort: -1, ToPort: -1, CIDRs: fromB}))
	eventually(t, "ping with all icmp allowed", func() error { return ping(n.guestB, guestAIP) })
	apply(t, f, withRules(basePolicy(), "sg-web", Rule{Protocol: ProtocolAll, CIDRs: fromB}))
	eventually(t, "ping with every protocol allowed", func() error { return ping(n.guestB, guestAIP) })
	apply(t, f, basePolicy())
	expectPingDropped(t, n.guestB, guestAIP)
}

func testNoIPv6(t *testing.T, n *testNet, f *Filter) {
	serveEcho(t, n.guestA, "[::]:2222")
	addrA := "[" + linkLocal(t, n.guestA) + "%eth0]:2222"
	linkLocal(t, n.guestB)
	apply(t, f, Policy{}) // no guests: nothing filtered, the path works
	expectReach(t, n.guestB, addrA, "")
	apply(t, f, basePolicy())
	expectDropped(t, n.guestB, addrA, "")
}

func testMetadata(t *testing.T, n *testNet, f *Filter) {
	apply(t, f, basePolicy())
	serveMetadata(t, n.node, gatewayIP+":8775")
	for _, g := range []struct {
		ns netns.NsHandle
		ip string
	}{{n.guestA, guestAIP}, {n.guestB, guestBIP}} {
		var got string
		eventually(t, "GET from "+g.ip, func() error {
			var err error
			got, err = httpGet(g.ns, "http://169.254.169.254/latest/meta-data/instance-id")
			return err
		})
		if hostOf(got) != g.ip {
			t.Errorf("metadata server saw %s, want %s", got, g.ip)
		}
	}
}

// serveMetadata runs an HTTP server inside ns answering every request with its remote address.
func serveMetadata(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	var l net.Listener
	must(t, inNS(ns, func() error {
		var err error
		l, err = net.Listen("tcp4", addr)
		return err
	}))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, r.RemoteAddr)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func httpGet(ns netns.NsHandle, url string) (string, error) {
	client := &http.Client{Timeout: 5 * dialTimeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := inNS(ns, func() error {
				var err error
				c, err = (&net.Dialer{Timeout: dialTimeout}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}
