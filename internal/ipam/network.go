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

package ipam

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Pool labels of the tenant networks. Underscores keep them apart from address pools, whose
// names (DNS subdomains) never contain one.
const (
	SegmentsLabel = "net_segments"
	SubnetsLabel  = "net_subnets"
)

// MaxSegmentID is the largest segment id: a VXLAN VNI has 24 bits. Nodes in vlan mode need ids
// from 1 to 4094.
const MaxSegmentID = 1<<24 - 1

// MaxSubnetBits is the longest subnet prefix: a /30 has one address left for an instance once
// its network address, gateway and broadcast address are reserved.
const MaxSubnetBits = 30

// MinSubnetBits is the shortest subnet prefix: every instance of a project is a member of its
// default security group, whose status lists the members' addresses (at most 16,384 of them),
// and a /18 holds 16,381 instances.
const MinSubnetBits = 18

// Range is the segment ids projects are given, First to Last inclusive.
type Range struct {
	First, Last int32
}

// ParseRange parses "FIRST-LAST" (or a single id).
func ParseRange(s string) (Range, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		hi = lo
	}
	first, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
	last, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 32)
	switch {
	case err1 != nil || err2 != nil:
		return Range{}, fmt.Errorf("segment range %q is not FIRST-LAST", s)
	case first < 1 || last > MaxSegmentID:
		return Range{}, fmt.Errorf("segment range %q is outside 1-%d", s, MaxSegmentID)
	case first > last:
		return Range{}, fmt.Errorf("segment range %q is empty: %d is after %d", s, first, last)
	}
	return Range{First: int32(first), Last: int32(last)}, nil
}

// String is the range as ParseRange reads it.
func (r Range) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// Label is SegmentsLabel: every range shares the claims, so changing the range never hands out
// an id twice.
func (r Range) Label() string { return SegmentsLabel }

func (r Range) candidates(_ []string, _ string, fn func(name, value string) bool) {
	for n := int64(r.First); n <= int64(r.Last); n++ {
		v := strconv.FormatInt(n, 10)
		if !fn("segment-"+v, v) {
			return
		}
	}
}

// AllocateSegment returns the segment id holder (a project's UID) holds, claiming the lowest free
// one of the range if it holds none.
func (al *Allocator) AllocateSegment(ctx context.Context, r Range, holder string) (int32, error) {
	v, err := al.take(ctx, r, holder, false)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 1 || n > MaxSegmentID {
		return 0, fmt.Errorf("the segment claim of %s holds %q, not a segment id", holder, v)
	}
	return int32(n), nil
}

// Subnets are the subnets of one prefix length carved from a supernet.
type Subnets struct {
	Supernet netip.Prefix
	Bits     int
}

// NewSubnets parses the supernet and checks the prefix length.
func NewSubnets(supernet string, bits int) (Subnets, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(supernet))
	if err != nil || !p.Addr().Is4() {
		return Subnets{}, fmt.Errorf("tenant supernet %q is not an IPv4 CIDR", supernet)
	}
	if bits < max(p.Bits(), MinSubnetBits) || bits > MaxSubnetBits {
		return Subnets{}, fmt.Errorf("tenant subnet prefix /%d must be between /%d and /%d", bits, max(p.Bits(), MinSubnetBits), MaxSubnetBits)
	}
	return Subnets{Supernet: p.Masked(), Bits: bits}, nil
}

// Label is SubnetsLabel: every supernet shares the claims, and a candidate overlapping any
// claimed subnet is skipped, so changing the supernet or the prefix length never hands out an
// address range twice.
func (s Subnets) Label() string { return SubnetsLabel }

// Count is how many subnets the supernet holds.
func (s Subnets) Count() int64 { return 1 << (s.Bits - s.Supernet.Bits()) }

func (s Subnets) candidates(claimed []string, _ string, fn func(name, value string) bool) {
	// Claims of the same length are aligned and collide by name; others are checked for overlap.
	var other []netip.Prefix
	for _, c := range claimed {
		if p, err := netip.ParsePrefix(c); err == nil && p.Bits() != s.Bits {
			other = append(other, p)
		}
	}
	base := binary.BigEndian.Uint32(s.Supernet.Addr().AsSlice())
	step := uint64(1) << (32 - s.Bits)
	for i := int64(0); i < s.Count(); i++ {
		p := netip.PrefixFrom(addrOf(base+uint32(uint64(i)*step)), s.Bits)
		if overlapsAny(p, other) {
			continue
		}
		if !fn("subnet-"+dashed(p.Addr()), p.String()) {
			return
		}
	}
}

func overlapsAny(p netip.Prefix, others []netip.Prefix) bool {
	for _, o := range others {
		if p.Overlaps(o) {
			return true
		}
	}
	return false
}

// AllocateSubnet returns the subnet holder (a project's UID) holds, claiming the first free one
// if it holds none.
func (al *Allocator) AllocateSubnet(ctx context.Context, s Subnets, holder string) (netip.Prefix, error) {
	v, err := al.take(ctx, s, holder, false)
	if err != nil {
		return netip.Prefix{}, err
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("the subnet claim of %s holds %q, not a subnet", holder, v)
	}
	return p, nil
}

// Gateway is the subnet's gateway: its first host address.
func Gateway(subnet netip.Prefix) netip.Addr {
	return subnet.Masked().Addr().Next()
}

// Broadcast is the subnet's last address.
func Broadcast(subnet netip.Prefix) netip.Addr {
	base := binary.BigEndian.Uint32(subnet.Masked().Addr().AsSlice())
	return addrOf(base | (1<<(32-subnet.Bits()) - 1))
}

// HostSet is the set of addresses instances are given in a project's subnet. Three addresses are
// reserved and never handed out: the network address (.0 of a /24), the gateway (the first host,
// .1, which every node's bridge of the segment answers on) and the broadcast address (.255).
// Its claims are named after the subnet, so they belong to no project: a subnet, and so its
// addresses, is held by one project at a time.
func HostSet(subnet netip.Prefix) *Set {
	subnet = subnet.Masked()
	return &Set{
		Name:     "subnet-" + dashed(subnet.Addr()) + "-" + strconv.Itoa(subnet.Bits()),
		Prefixes: []netip.Prefix{subnet},
		Exclude:  map[netip.Addr]bool{subnet.Addr(): true, Gateway(subnet): true, Broadcast(subnet): true},
		// Many instances of a project are given addresses at once (a launch, the instance
		// controller's workers): each starts at its own place in the subnet.
		Spread:     true,
		HolderKind: HostHolderKind,
	}
}

// HostHolderKind is the kind of the holders of a HostSet's claims.
const HostHolderKind = "Instance"

// MAC is the MAC address of the instance with address ip on segment: locally administered and
// unicast (02), the segment's low byte, then the four bytes of ip. Addresses are unique within a
// segment's subnet, and subnets never overlap, so the MAC is unique within the segment (and the
// cloud) as long as its address is.
func MAC(segment int32, ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", byte(segment), b[0], b[1], b[2], b[3])
}
