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

// Package netfilter renders a node's whole packet-filter and NAT policy (EC2-classic security
// groups, elastic-IP NAT and the metadata redirect) from a typed desired state and installs it in
// one nftables transaction inside a given network namespace.
//
// PiNet owns three tables and touches nothing else:
//
//	table bridge pinet      guest ports may send only IPv4 from their own address, and ARP for it
//	table inet pinet        ingress filtering of traffic forwarded to guests (security groups)
//	table ip pinet-nat      elastic-IP DNAT/SNAT and the 169.254.169.254:80 redirect
//
// Semantics: traffic forwarded to a guest's address is accepted when it belongs to a tracked
// connection (established or related) or when any rule of any of the guest's groups admits it;
// anything else new to the guest is dropped. Guests' own outbound traffic is not restricted.
// Revoking a rule stops new flows; flows already tracked go on, as in EC2. Traffic from a guest to
// the node itself (input) and the node's own traffic are not filtered.
//
// Chains: "forward" looks the destination up in the verdict map "ingress" (guest IP -> one chain
// per distinct combination of groups, "ingress_<n>"), which jumps to "group_<id>" for each group
// and then drops. Rules grow with groups and their rules, never with guests.
//
// What the node must provide (the datapath's job, not this package's):
//   - net.ipv4.ip_forward=1 in the namespace;
//   - bridged traffic through the IPv4 hooks: net.bridge.bridge-nf-call-iptables=1 in the
//     namespace (the kernel's default in a new namespace) or the bridge's nf_call_iptables option;
//     guest-to-guest traffic on one bridge is otherwise not filtered;
//   - public addresses routed (or answered by ARP) to the node on PublicInterface;
//   - a metadata listener on an address of the node (see Policy.MetadataListener).
//
// Guests are identified by address (the destination of ingress, members of source groups), which
// PiNet's address management keeps unique cloud-wide; the bridge table stops a guest from
// claiming another's.
package netfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
)

// Protocol is the protocol of a rule, spelled as in EC2 and the SecurityGroup API.
type Protocol string

// The protocols a rule may name; ProtocolAll ("-1") admits every protocol and ignores the ports.
const (
	ProtocolTCP  Protocol = "tcp"
	ProtocolUDP  Protocol = "udp"
	ProtocolICMP Protocol = "icmp"
	ProtocolAll  Protocol = "-1"
)

// MetadataAddr is the address guests call for their meta-data.
var MetadataAddr = netip.MustParseAddrPort("169.254.169.254:80")

// ErrInvalidPolicy is wrapped by every error about the policy's content (as opposed to failures
// talking to the kernel): the caller should report it rather than retry.
var ErrInvalidPolicy = errors.New("invalid packet-filter policy")

// Policy is the whole desired packet-filter state of one node.
type Policy struct {
	// Guests are the instances whose ports sit on this node's bridges.
	Guests []Guest
	// Groups are the security groups the guests belong to, and the groups their rules name as
	// sources (with their members on any node).
	Groups []Group
	// ElasticIPs are the public addresses NATed onto guests of this node.
	ElasticIPs []ElasticIP
	// PublicInterface is the node's interface facing the world (where public addresses arrive and
	// where a guest's traffic is given its public address). Required when ElasticIPs is not empty.
	PublicInterface string
	// MetadataListener is where the agent's metadata server listens; guest connections to
	// MetadataAddr are redirected there with their source address kept. The zero value means no
	// redirect. A loopback address needs net.ipv4.conf.<bridge>.route_localnet=1; prefer an address
	// of the node itself such as a bridge's gateway address.
	MetadataListener netip.AddrPort
}

// Guest is one instance on this node.
type Guest struct {
	// Port is the guest's bridge port (its tap), e.g. "vnet3".
	Port string
	// IP is the guest's private IPv4 address.
	IP netip.Addr
	// GroupIDs are the IDs of its security groups (entries of Policy.Groups). Ingress is allowed when
	// any rule of any of them allows it; with none, all new ingress is dropped.
	GroupIDs []string
}

// Group is a security group.
type Group struct {
	// ID identifies the group (its sg- id): letters, digits, '-', '_' and '.', at most 64.
	ID string
	// Members are the private addresses of every instance in the group, on any node; rules naming
	// this group as a source admit them.
	Members []netip.Addr
	// Rules are the ingress rules.
	Rules []Rule
}

// Rule admits ingress traffic, EC2-classic style.
type Rule struct {
	// Protocol is tcp, udp, icmp or -1 (all).
	Protocol Protocol
	// FromPort and ToPort are the port range for tcp and udp (0-65535, From <= To). For icmp they
	// are the ICMP type and code, -1 meaning all (all types need all codes). Ignored for -1.
	FromPort, ToPort int32
	// CIDRs are IPv4 source ranges ("0.0.0.0/0" is anyone).
	CIDRs []string
	// SourceGroupIDs admit the members of these groups (entries of Policy.Groups).
	SourceGroupIDs []string
}

// ElasticIP maps a public address onto a guest's private one.
type ElasticIP struct {
	Public  netip.Addr
	Private netip.Addr
}

var (
	groupIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	ifNamePattern  = regexp.MustCompile(`^[A-Za-z0-9_.@:+-]{1,15}$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPolicy, fmt.Sprintf(format, args...))
}

// validateGroups checks the groups and returns them by ID.
func validateGroups(groups []Group) (map[string]*Group, error) {
	byID := make(map[string]*Group, len(groups))
	for i := range groups {
		g := &groups[i]
		if !groupIDPattern.MatchString(g.ID) {
			return nil, invalid("group %d: id %q must be 1-64 letters, digits, '-', '_' or '.'", i, g.ID)
		}
		if byID[g.ID] != nil {
			return nil, invalid("group %q is listed twice", g.ID)
		}
		byID[g.ID] = g
		for _, m := range g.Members {
			if !m.Is4() {
				return nil, invalid("group %q: member %q is not an IPv4 address", g.ID, m)
			}
		}
	}
	for _, g := range groups {
		for i, r := range g.Rules {
			if err := validateRule(r, byID); err != nil {
				return nil, fmt.Errorf("group %q rule %d: %w", g.ID, i, err)
			}
		}
	}
	return byID, nil
}

func validateRule(r Rule, groups map[string]*Group) error {
	switch r.Protocol {
	case ProtocolTCP, ProtocolUDP:
		if r.FromPort < 0 || r.ToPort > 65535 || r.FromPort > r.ToPort {
			return invalid("%s port range %d-%d must lie within 0-65535 with from <= to", r.Protocol, r.FromPort, r.ToPort)
		}
	case ProtocolICMP:
		if r.FromPort < -1 || r.FromPort > 255 || r.ToPort < -1 || r.ToPort > 255 {
			return invalid("icmp type %d and code %d must be -1 (all) or 0-255", r.FromPort, r.ToPort)
		}
		if r.FromPort == -1 && r.ToPort != -1 {
			return invalid("icmp code %d needs a type (all types take all codes)", r.ToPort)
		}
	case ProtocolAll:
	default:
		return invalid("unknown protocol %q (want tcp, udp, icmp or -1)", r.Protocol)
	}
	if len(r.CIDRs) == 0 && len(r.SourceGroupIDs) == 0 {
		return invalid("a rule needs at least one CIDR or source group")
	}
	for _, c := range r.CIDRs {
		if _, err := parseCIDR(c); err != nil {
			return err
		}
	}
	for _, id := range r.SourceGroupIDs {
		if groups[id] == nil {
			return invalid("unknown source group %q", id)
		}
	}
	return nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, invalid("%q is not an IPv4 CIDR", s)
	}
	return p.Masked(), nil
}

func validateGuests(guests []Guest, groups map[string]*Group) error {
	ports := map[string]bool{}
	ips := map[netip.Addr]bool{}
	for i, g := range guests {
		if !ifNamePattern.MatchString(g.Port) {
			return invalid("guest %d: port %q is not an interface name", i, g.Port)
		}
		if !g.IP.Is4() {
			return invalid("guest %q: IP %q is not an IPv4 address", g.Port, g.IP)
		}
		if ports[g.Port] {
			return invalid("port %q is given to two guests", g.Port)
		}
		if ips[g.IP] {
			return invalid("IP %s is given to two guests", g.IP)
		}
		ports[g.Port], ips[g.IP] = true, true
		for _, id := range g.GroupIDs {
			if groups[id] == nil {
				return invalid("guest %q: unknown group %q", g.Port, id)
			}
		}
	}
	return nil
}

func validateNAT(p Policy) error {
	if len(p.ElasticIPs) > 0 && !ifNamePattern.MatchString(p.PublicInterface) {
		return invalid("elastic IPs need a public interface name, not %q", p.PublicInterface)
	}
	pub := map[netip.Addr]bool{}
	priv := map[netip.Addr]bool{}
	for _, e := range p.ElasticIPs {
		if !e.Public.Is4() || !e.Private.Is4() {
			return invalid("elastic IP %q -> %q: both must be IPv4 addresses", e.Public, e.Private)
		}
		if pub[e.Public] {
			return invalid("elastic IP %s is mapped twice", e.Public)
		}
		if priv[e.Private] {
			return invalid("private address %s has two elastic IPs", e.Private)
		}
		pub[e.Public], priv[e.Private] = true, true
	}
	if m := p.MetadataListener; m.IsValid() && (!m.Addr().Is4() || m.Port() == 0) {
		return invalid("metadata listener %s must be an IPv4 address and a port", m)
	}
	return nil
}
