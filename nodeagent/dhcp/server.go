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

// Package dhcp is the node agent's DHCPv4 server (RFC 2131, options per RFC 2132): one server
// per segment bridge, static leases only. It answers a known MAC with the address assigned to
// it and stays silent for every other MAC.
package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultLeaseTime is the lease time when Config.LeaseTime is zero.
const DefaultLeaseTime = time.Hour

// Config describes one segment: its bridge and what its clients are told.
type Config struct {
	// Interface is the bridge the server listens and answers on.
	Interface string
	// NetNS is the path of the network namespace that holds Interface (e.g.
	// /run/netns/<name>); empty means the caller's namespace.
	NetNS string
	// ServerIP is the server identifier and the source address of replies: the node's address
	// on the segment (usually the gateway's). Clients renew by unicast to it; when no
	// interface holds it they fall back to broadcast when rebinding.
	ServerIP netip.Addr
	// Subnet is the segment's subnet; every lease must be inside it. Its mask is sent.
	Subnet netip.Prefix
	// Router is the default gateway sent to clients; optional.
	Router netip.Addr
	// DNS lists the name servers sent to clients; optional.
	DNS []netip.Addr
	// DomainName is sent as option 15 when set.
	DomainName string
	// MTU is the interface MTU sent to clients (1450 on VXLAN segments); 0 sends none.
	MTU int
	// LeaseTime is the lease time sent; zero means DefaultLeaseTime.
	LeaseTime time.Duration
}

// Lease is one static assignment.
type Lease struct {
	MAC net.HardwareAddr
	IP  netip.Addr
	// Hostname is sent as option 12; empty means Hostname(IP).
	Hostname string
}

// Hostname is the EC2-style host name of a private address: ip-10-128-5-7 for 10.128.5.7.
func Hostname(ip netip.Addr) string {
	return "ip-" + strings.ReplaceAll(ip.String(), ".", "-")
}

// Server answers the clients of one segment. Its lease table is replaced with SetLeases.
type Server struct {
	cfg    Config
	leases atomic.Pointer[leaseTable]
	conn   *conn // nil until Listen
}

type leaseTable struct {
	byMAC map[[6]byte]Lease
}

// New checks the configuration and returns a server with no leases that does not listen
// yet (see Listen).
func New(cfg Config) (*Server, error) {
	if cfg.Interface == "" {
		return nil, errors.New("dhcp: no interface")
	}
	if !cfg.Subnet.IsValid() || !cfg.Subnet.Addr().Is4() || cfg.Subnet.Bits() > 30 || cfg.Subnet.Bits() < 1 {
		return nil, fmt.Errorf("dhcp: subnet %q is not an IPv4 prefix of length 1 to 30", cfg.Subnet)
	}
	cfg.Subnet = cfg.Subnet.Masked()
	if !cfg.ServerIP.Is4() {
		return nil, fmt.Errorf("dhcp: server address %q is not IPv4", cfg.ServerIP)
	}
	if cfg.Router.IsValid() && !cfg.Subnet.Contains(cfg.Router) {
		return nil, fmt.Errorf("dhcp: router %s is outside subnet %s", cfg.Router, cfg.Subnet)
	}
	for _, d := range cfg.DNS {
		if !d.Is4() {
			return nil, fmt.Errorf("dhcp: DNS server %q is not IPv4", d)
		}
	}
	if cfg.MTU != 0 && (cfg.MTU < 68 || cfg.MTU > 65535) {
		return nil, fmt.Errorf("dhcp: MTU %d is outside 68..65535", cfg.MTU)
	}
	if len(cfg.DomainName) > 255 {
		return nil, errors.New("dhcp: domain name longer than 255 bytes")
	}
	if cfg.LeaseTime == 0 {
		cfg.LeaseTime = DefaultLeaseTime
	}
	if cfg.LeaseTime < 10*time.Second || cfg.LeaseTime > 0xfffffffe*time.Second {
		return nil, fmt.Errorf("dhcp: lease time %s is outside 10s..2^32-2s", cfg.LeaseTime)
	}
	s := &Server{cfg: cfg}
	s.leases.Store(&leaseTable{byMAC: map[[6]byte]Lease{}})
	return s, nil
}

// SetLeases replaces the lease table at once. A bad table (a MAC that is not Ethernet, an
// address outside the subnet or reserved in it, a MAC or address twice, a bad host name) is
// refused whole and the old table stays.
func (s *Server) SetLeases(leases []Lease) error {
	t := &leaseTable{byMAC: make(map[[6]byte]Lease, len(leases))}
	ips := make(map[netip.Addr]bool, len(leases))
	last := lastAddr(s.cfg.Subnet)
	for _, l := range leases {
		if len(l.MAC) != 6 || l.MAC[0]&1 != 0 {
			return fmt.Errorf("dhcp: %q is not a unicast Ethernet MAC", l.MAC)
		}
		switch {
		case !l.IP.Is4() || !s.cfg.Subnet.Contains(l.IP):
			return fmt.Errorf("dhcp: lease address %q of %s is outside subnet %s", l.IP, l.MAC, s.cfg.Subnet)
		case l.IP == s.cfg.Subnet.Addr() || l.IP == last || l.IP == s.cfg.ServerIP || l.IP == s.cfg.Router:
			return fmt.Errorf("dhcp: lease address %s of %s is reserved in subnet %s", l.IP, l.MAC, s.cfg.Subnet)
		case ips[l.IP]:
			return fmt.Errorf("dhcp: address %s is leased twice", l.IP)
		case !validHostname(l.Hostname):
			return fmt.Errorf("dhcp: host name %q of %s is not a DNS name", l.Hostname, l.MAC)
		}
		key := [6]byte(l.MAC)
		if _, dup := t.byMAC[key]; dup {
			return fmt.Errorf("dhcp: MAC %s is leased twice", l.MAC)
		}
		ips[l.IP] = true
		l.MAC = append(net.HardwareAddr(nil), l.MAC...)
		t.byMAC[key] = l
	}
	s.leases.Store(t)
	return nil
}

// validHostname accepts the empty name (derived from the address) and letters, digits,
// hyphens and dots up to 63 bytes.
func validHostname(h string) bool {
	if len(h) > 63 {
		return false
	}
	for _, c := range []byte(h) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Bits()) - 1)
	return netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, v)))
}

func (s *Server) lease(mac net.HardwareAddr) (Lease, bool) {
	if len(mac) != 6 {
		return Lease{}, false
	}
	l, ok := s.leases.Load().byMAC[[6]byte(mac)]
	return l, ok
}

// destination says where a reply goes (RFC 2131 section 4.1, no relay agents).
type destination struct {
	ip  netip.Addr
	mac net.HardwareAddr // nil: Ethernet broadcast
}

var broadcastIP = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Respond decides the reply to a client's message: nil means silence (an unknown MAC, a
// message for another server, a release or decline, anything malformed). note says why,
// for the log.
func (s *Server) respond(req *Message) (reply *Message, to destination, note string) {
	if req.Op != opRequest {
		return nil, to, "not a BOOTREQUEST"
	}
	if req.GIAddr.IsValid() && !req.GIAddr.IsUnspecified() {
		return nil, to, "relayed messages are not served"
	}
	l, known := s.lease(req.CHAddr)
	if !known {
		return nil, to, "unknown MAC"
	}
	serverID := req.addrOption(optServerID)
	forUs := !serverID.IsValid() || serverID == s.cfg.ServerIP
	switch req.Type() {
	case Discover:
		return s.reply(req, Offer, l), s.destination(req, Offer), ""
	case Request:
		if !forUs {
			return nil, to, "the client chose another server"
		}
		if want := requestedAddr(req); want != l.IP {
			nak := s.reply(req, Nak, l)
			nak.Options = append(nak.Options, Option{optMessage, []byte("requested address " + want.String() + " is not this client's")})
			return nak, s.destination(req, Nak), "wrong address requested"
		}
		return s.reply(req, Ack, l), s.destination(req, Ack), ""
	case Inform:
		return s.reply(req, Ack, l), s.destination(req, Inform), ""
	case Release:
		return nil, to, "released"
	case Decline:
		return nil, to, "declined: the address is in use by another host"
	}
	return nil, to, "not a client message type"
}

// requestedAddr is what a REQUEST asks for: option 50 when selecting or rebooting, ciaddr
// when renewing or rebinding.
func requestedAddr(req *Message) netip.Addr {
	if a := req.addrOption(optRequestedIP); a.IsValid() {
		return a
	}
	return req.CIAddr
}

// reply builds an OFFER, ACK or NAK for the lease.
func (s *Server) reply(req *Message, t MessageType, l Lease) *Message {
	m := &Message{
		Op: opReply, XID: req.XID, Flags: req.Flags, GIAddr: req.GIAddr,
		CHAddr: append(net.HardwareAddr(nil), req.CHAddr...),
	}
	m.Options = append(m.Options, Option{optMessageType, []byte{byte(t)}}, addrOpt(optServerID, s.cfg.ServerIP))
	if cid := req.Option(optClientID); cid != nil {
		m.Options = append(m.Options, Option{optClientID, cid}) // RFC 6842
	}
	if t == Nak {
		return m
	}
	informed := req.Type() == Inform
	if !informed {
		m.YIAddr = l.IP
		secs := uint32(s.cfg.LeaseTime / time.Second)
		m.Options = append(m.Options, u32Opt(optLeaseTime, secs), u32Opt(optRenewalTime, secs/2), u32Opt(optRebindTime, secs/8*7))
	}
	mask := net.CIDRMask(s.cfg.Subnet.Bits(), 32)
	m.Options = append(m.Options, Option{optSubnetMask, []byte(mask)}, addrOpt(optBroadcast, lastAddr(s.cfg.Subnet)))
	if s.cfg.Router.IsValid() {
		m.Options = append(m.Options, addrOpt(optRouter, s.cfg.Router))
	}
	if len(s.cfg.DNS) > 0 {
		var d []byte
		for _, a := range s.cfg.DNS {
			v := a.As4()
			d = append(d, v[:]...)
		}
		m.Options = append(m.Options, Option{optDNS, d})
	}
	host := l.Hostname
	if host == "" {
		host = Hostname(l.IP)
	}
	m.Options = append(m.Options, Option{optHostname, []byte(host)})
	if s.cfg.DomainName != "" {
		m.Options = append(m.Options, Option{optDomainName, []byte(s.cfg.DomainName)})
	}
	if s.cfg.MTU != 0 {
		m.Options = append(m.Options, Option{optMTU, binary.BigEndian.AppendUint16(nil, uint16(s.cfg.MTU))})
	}
	return m
}

// destination applies RFC 2131 section 4.1: a NAK is broadcast; a client that has an
// address (renewing, informing) gets unicast there; a client that asked for broadcast gets
// it; any other goes to its MAC and the address it is given.
func (s *Server) destination(req *Message, t MessageType) destination {
	hasAddr := req.CIAddr.IsValid() && !req.CIAddr.IsUnspecified()
	switch {
	case t == Nak:
		return destination{ip: broadcastIP}
	case hasAddr:
		return destination{ip: req.CIAddr, mac: req.CHAddr}
	case req.Flags&flagBroadcast != 0:
		return destination{ip: broadcastIP}
	}
	l, _ := s.lease(req.CHAddr)
	return destination{ip: l.IP, mac: req.CHAddr}
}

func addrOpt(code byte, a netip.Addr) Option {
	v := a.As4()
	return Option{code, v[:]}
}

func u32Opt(code byte, v uint32) Option {
	return Option{code, binary.BigEndian.AppendUint32(nil, v)}
}
