// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//	http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package dhcp

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	knownMAC   = net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	unknownMAC = net.HardwareAddr{0x52, 0x54, 0, 0x65, 0x43, 0x21}
	otherIP    = netip.MustParseAddr("10.128.5.99")
)

func testServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Config{Interface: "br0", ServerIP: gateway, Subnet: subnet, Router: gateway,
		DNS: []netip.Addr{gateway}, DomainName: "pinet.internal", MTU: 1450})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetLeases([]Lease{{MAC: knownMAC, IP: assigned}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// msg builds a client message of type typ; opts are code/data pairs.
func msg(typ MessageType, mac net.HardwareAddr, ciaddr netip.Addr, opts ...Option) *Message {
	return &Message{
		Op: opRequest, XID: 42, CHAddr: mac, CIAddr: ciaddr, YIAddr: netip.IPv4Unspecified(),
		SIAddr: netip.IPv4Unspecified(), GIAddr: netip.IPv4Unspecified(),
		Options: append([]Option{{optMessageType, []byte{byte(typ)}}}, opts...),
	}
}

var zero = netip.IPv4Unspecified()

func TestRespond(t *testing.T) {
	s := testServer(t)
	unicastToLease := destination{ip: assigned, mac: knownMAC}
	bcast := destination{ip: broadcastIP}
	for _, c := range []struct {
		name     string
		req      *Message
		want     MessageType // 0: silence
		yiaddr   netip.Addr
		to       destination
		withTime bool
	}{
		{"discover", msg(Discover, knownMAC, zero), Offer, assigned, unicastToLease, true},
		{"discover asking for broadcast", func() *Message { m := msg(Discover, knownMAC, zero); m.Flags = flagBroadcast; return m }(), Offer, assigned, bcast, true},
		{"discover from an unknown MAC", msg(Discover, unknownMAC, zero), 0, netip.Addr{}, destination{}, false},
		{"request after our offer", msg(Request, knownMAC, zero, addrOpt(optServerID, gateway), addrOpt(optRequestedIP, assigned)), Ack, assigned, unicastToLease, true},
		{"request choosing another server", msg(Request, knownMAC, zero, addrOpt(optServerID, otherIP), addrOpt(optRequestedIP, assigned)), 0, netip.Addr{}, destination{}, false},
		{"request for a wrong address", msg(Request, knownMAC, zero, addrOpt(optServerID, gateway), addrOpt(optRequestedIP, otherIP)), Nak, netip.Addr{}, bcast, false},
		{"init-reboot with the right address", msg(Request, knownMAC, zero, addrOpt(optRequestedIP, assigned)), Ack, assigned, unicastToLease, true},
		{"init-reboot with a wrong address", msg(Request, knownMAC, zero, addrOpt(optRequestedIP, otherIP)), Nak, netip.Addr{}, bcast, false},
		{"renewing", msg(Request, knownMAC, assigned), Ack, assigned, unicastToLease, true},
		{"renewing a moved address", msg(Request, knownMAC, otherIP), Nak, netip.Addr{}, bcast, false},
		{"request from an unknown MAC", msg(Request, unknownMAC, zero, addrOpt(optRequestedIP, assigned)), 0, netip.Addr{}, destination{}, false},
		{"inform", msg(Inform, knownMAC, assigned), Ack, zero, unicastToLease, false},
		{"inform from an unknown MAC", msg(Inform, unknownMAC, otherIP), 0, netip.Addr{}, destination{}, false},
		{"release", msg(Release, knownMAC, assigned, addrOpt(optServerID, gateway)), 0, netip.Addr{}, destination{}, false},
		{"decline", msg(Decline, knownMAC, zero, addrOpt(optServerID, gateway), addrOpt(optRequestedIP, assigned)), 0, netip.Addr{}, destination{}, false},
		{"a server's message", func() *Message { m := msg(Discover, knownMAC, zero); m.Op = opReply; return m }(), 0, netip.Addr{}, destination{}, false},
		{"relayed", func() *Message { m := msg(Discover, knownMAC, zero); m.GIAddr = otherIP; return m }(), 0, netip.Addr{}, destination{}, false},
		{"no message type", &Message{Op: opRequest, CHAddr: knownMAC}, 0, netip.Addr{}, destination{}, false},
		{"an offer from a client", msg(Offer, knownMAC, zero), 0, netip.Addr{}, destination{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			reply, to, note := s.respond(c.req)
			if c.want == 0 {
				if reply != nil {
					t.Fatalf("answered %s, want silence", reply.Type())
				}
				if note == "" {
					t.Fatal("silence without a reason for the log")
				}
				return
			}
			if reply == nil {
				t.Fatalf("silent (%s), want %s", note, c.want)
			}
			if reply.Type() != c.want || reply.Op != opReply || reply.XID != c.req.XID || !bytes.Equal(reply.CHAddr, c.req.CHAddr) {
				t.Fatalf("reply %+v", reply)
			}
			if reply.YIAddr != c.yiaddr && !(c.yiaddr == zero && !reply.YIAddr.IsValid()) {
				t.Fatalf("yiaddr %v, want %v", reply.YIAddr, c.yiaddr)
			}
			if to.ip != c.to.ip || !bytes.Equal(to.mac, c.to.mac) {
				t.Fatalf("sent to %+v, want %+v", to, c.to)
			}
			if got := reply.addrOption(optServerID); got != gateway {
				t.Fatalf("server identifier %v", got)
			}
			if got := reply.Option(optLeaseTime) != nil; got != c.withTime {
				t.Fatalf("lease time present %v, want %v", got, c.withTime)
			}
			if c.want == Nak && !strings.Contains(string(reply.Option(optMessage)), "is not this client's") {
				t.Fatalf("NAK message %q", reply.Option(optMessage))
			}
			if _, err := reply.Marshal(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOfferOptions(t *testing.T) {
	s := testServer(t)
	reply, _, _ := s.respond(msg(Discover, knownMAC, zero, Option{optClientID, []byte{1, 2, 3}}))
	for _, c := range []struct {
		code byte
		want []byte
	}{
		{optSubnetMask, []byte{255, 255, 255, 0}},
		{optRouter, []byte{10, 128, 5, 1}},
		{optDNS, []byte{10, 128, 5, 1}},
		{optBroadcast, []byte{10, 128, 5, 255}},
		{optHostname, []byte("ip-10-128-5-7")},
		{optDomainName, []byte("pinet.internal")},
		{optMTU, []byte{0x05, 0xaa}},
		{optLeaseTime, []byte{0, 0, 0x0e, 0x10}},
		{optRenewalTime, []byte{0, 0, 0x07, 0x08}},
		{optRebindTime, []byte{0, 0, 0x0c, 0x4e}},
		{optClientID, []byte{1, 2, 3}},
	} {
		if got := reply.Option(c.code); !bytes.Equal(got, c.want) {
			t.Errorf("option %d = %v, want %v", c.code, got, c.want)
		}
	}
}

func TestSetLeasesReplacesWholeTables(t *testing.T) {
	s := testServer(t)
	named := Lease{MAC: unknownMAC, IP: otherIP, Hostname: "web-1"}
	if err := s.SetLeases([]Lease{named}); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := s.respond(msg(Discover, knownMAC, zero)); r != nil {
		t.Fatal("a MAC dropped from the table is still answered")
	}
	r, _, _ := s.respond(msg(Discover, unknownMAC, zero))
	if r == nil || r.YIAddr != otherIP || string(r.Option(optHostname)) != "web-1" {
		t.Fatalf("new lease answered %+v", r)
	}
}

func TestSetLeasesRefusesBadTables(t *testing.T) {
	mac2 := net.HardwareAddr{0x52, 0x54, 0, 0, 0, 2}
	for _, c := range []struct {
		name   string
		leases []Lease
		want   string
	}{
		{"short MAC", []Lease{{MAC: net.HardwareAddr{1, 2, 3}, IP: otherIP}}, "not a unicast Ethernet MAC"},
		{"multicast MAC", []Lease{{MAC: net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}, IP: otherIP}}, "not a unicast Ethernet MAC"},
		{"address outside the subnet", []Lease{{MAC: mac2, IP: netip.MustParseAddr("10.128.6.7")}}, "outside subnet"},
		{"IPv6 address", []Lease{{MAC: mac2, IP: netip.MustParseAddr("fd00::7")}}, "outside subnet"},
		{"no address", []Lease{{MAC: mac2}}, "outside subnet"},
		{"network address", []Lease{{MAC: mac2, IP: netip.MustParseAddr("10.128.5.0")}}, "reserved"},
		{"broadcast address", []Lease{{MAC: mac2, IP: netip.MustParseAddr("10.128.5.255")}}, "reserved"},
		{"the gateway", []Lease{{MAC: mac2, IP: gateway}}, "reserved"},
		{"address twice", []Lease{{MAC: mac2, IP: otherIP}, {MAC: unknownMAC, IP: otherIP}}, "leased twice"},
		{"MAC twice", []Lease{{MAC: mac2, IP: otherIP}, {MAC: mac2, IP: netip.MustParseAddr("10.128.5.98")}}, "leased twice"},
		{"bad host name", []Lease{{MAC: mac2, IP: otherIP, Hostname: "a b"}}, "not a DNS name"},
		{"long host name", []Lease{{MAC: mac2, IP: otherIP, Hostname: strings.Repeat("a", 64)}}, "not a DNS name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testServer(t)
			err := s.SetLeases(append([]Lease{{MAC: unknownMAC, IP: netip.MustParseAddr("10.128.5.50")}}, c.leases...))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("SetLeases: %v, want %q", err, c.want)
			}
			// Nothing of the refused table was taken: the old one answers as before.
			if r, _, _ := s.respond(msg(Discover, knownMAC, zero)); r == nil || r.YIAddr != assigned {
				t.Fatal("the old table is gone")
			}
			if r, _, _ := s.respond(msg(Discover, unknownMAC, zero)); r != nil {
				t.Fatal("part of a refused table is served")
			}
		})
	}
}

func TestNewRefusesBadConfigs(t *testing.T) {
	good := Config{Interface: "br0", ServerIP: gateway, Subnet: subnet}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no interface", func(c *Config) { c.Interface = "" }, "no interface"},
		{"no subnet", func(c *Config) { c.Subnet = netip.Prefix{} }, "not an IPv4 prefix"},
		{"IPv6 subnet", func(c *Config) { c.Subnet = netip.MustParsePrefix("fd00::/64") }, "not an IPv4 prefix"},
		{"a /31", func(c *Config) { c.Subnet = netip.MustParsePrefix("10.0.0.0/31") }, "not an IPv4 prefix"},
		{"no server address", func(c *Config) { c.ServerIP = netip.Addr{} }, "server address"},
		{"router outside", func(c *Config) { c.Router = netip.MustParseAddr("10.0.0.1") }, "outside subnet"},
		{"IPv6 DNS", func(c *Config) { c.DNS = []netip.Addr{netip.MustParseAddr("::1")} }, "DNS server"},
		{"tiny MTU", func(c *Config) { c.MTU = 60 }, "MTU"},
		{"huge MTU", func(c *Config) { c.MTU = 70000 }, "MTU"},
		{"short lease", func(c *Config) { c.LeaseTime = time.Second }, "lease time"},
		{"negative lease", func(c *Config) { c.LeaseTime = -time.Hour }, "lease time"},
		{"long domain", func(c *Config) { c.DomainName = strings.Repeat("a", 256) }, "domain name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			s, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) || s != nil {
				t.Fatalf("New: %v, %v; want %q", s, err, c.want)
			}
		})
	}
	if _, err := New(good); err != nil {
		t.Fatalf("the good config: %v", err)
	}
}

func TestListenErrors(t *testing.T) {
	s, err := New(Config{Interface: "pt-no-such-if", ServerIP: gateway, Subnet: subnet, NetNS: "/run/netns/pt-dhcp-does-not-exist"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err == nil || !strings.Contains(err.Error(), "pt-dhcp-does-not-exist") {
		t.Fatalf("Listen in a missing namespace: %v", err)
	}
	s, err = New(Config{Interface: "pt-no-such-if", ServerIP: gateway, Subnet: subnet})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err == nil || !strings.Contains(err.Error(), "pt-no-such-if") {
		t.Fatalf("Listen on a missing interface: %v", err)
	}
	if err := s.Serve(t.Context()); err == nil {
		t.Fatal("Serve without Listen worked")
	}
}

func TestHostname(t *testing.T) {
	if got := Hostname(netip.MustParseAddr("10.128.5.7")); got != "ip-10-128-5-7" {
		t.Fatal(got)
	}
}
