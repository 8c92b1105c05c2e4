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
	"hash/fnv"
	"net/netip"
	"strings"
)

// Set is a set of IPv4 addresses to allocate from: an address pool's ranges, or the host
// addresses of a project's subnet.
type Set struct {
	// Name identifies the set (a pool's name, a project's subnet); it prefixes the claims.
	Name     string
	Prefixes []netip.Prefix
	Exclude  map[netip.Addr]bool
	// Spread starts each holder's search for a free address at an offset derived from the
	// holder (then on, wrapping around) instead of at the lowest address, so allocators
	// working for different holders at once seldom reach for the same address: the API
	// server's create of the claim still decides, and a loser takes the next free one.
	Spread bool
	// HolderKind is the kind of the objects that hold the set's claims, written on each claim
	// (LabelHolderKind) so that a Sweeper can find them; empty: not written.
	HolderKind string
}

// NewSet parses CIDRs and excluded addresses.
func NewSet(name string, cidrs, exclude []string) (*Set, error) {
	s := &Set{Name: name, Exclude: map[netip.Addr]bool{}}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("range %q is not an IPv4 CIDR", c)
		}
		s.Prefixes = append(s.Prefixes, p.Masked())
	}
	for _, e := range exclude {
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("excluded address %q is not an IP address", e)
		}
		s.Exclude[a] = true
	}
	return s, nil
}

// Label is the set's name.
func (s *Set) Label() string { return s.Name }

func (s *Set) holderKind() string { return s.HolderKind }

// probes says the set is searched from each holder's own offset, so claims are probed first.
func (s *Set) probes() bool { return s.Spread }

func (s *Set) candidates(_ []string, holder string, fn func(name, value string) bool) {
	visit := func(a netip.Addr) bool { return fn(ClaimName(s.Name, a), a.String()) }
	if !s.Spread {
		s.each(visit)
		return
	}
	s.eachFrom(s.offset(holder), visit)
}

// offset is where holder's search starts: a hash of the holder, modulo the set's span.
func (s *Set) offset(holder string) uint64 {
	span := s.span()
	if span == 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(holder))
	return h.Sum64() % span
}

// span is the number of addresses of the set's prefixes, excluded ones included.
func (s *Set) span() uint64 {
	var n uint64
	for _, p := range s.Prefixes {
		n += uint64(1) << (32 - p.Bits())
	}
	return n
}

// eachFrom calls fn for every allocatable address, starting at the start-th address of the
// prefixes and wrapping around to the first, until fn returns false.
func (s *Set) eachFrom(start uint64, fn func(netip.Addr) bool) {
	span := s.span()
	for k := uint64(0); k < span; k++ {
		a := s.addrAt((start + k) % span)
		if s.Exclude[a] {
			continue
		}
		if !fn(a) {
			return
		}
	}
}

// addrAt is the i-th address of the prefixes, in order.
func (s *Set) addrAt(i uint64) netip.Addr {
	for _, p := range s.Prefixes {
		count := uint64(1) << (32 - p.Bits())
		if i < count {
			return addrOf(binary.BigEndian.Uint32(p.Addr().AsSlice()) + uint32(i))
		}
		i -= count
	}
	return netip.Addr{}
}

// Size is how many addresses the set can hand out.
func (s *Set) Size() int64 {
	var n int64
	s.each(func(netip.Addr) bool { n++; return true })
	return n
}

// each calls fn for every allocatable address in order until fn returns false.
func (s *Set) each(fn func(netip.Addr) bool) {
	for _, p := range s.Prefixes {
		first := binary.BigEndian.Uint32(p.Addr().AsSlice())
		count := uint64(1) << (32 - p.Bits())
		for i := uint64(0); i < count; i++ {
			a := addrOf(first + uint32(i))
			if s.Exclude[a] {
				continue
			}
			if !fn(a) {
				return
			}
		}
	}
}

// Contains reports whether a is in the set.
func (s *Set) Contains(a netip.Addr) bool {
	if s.Exclude[a] {
		return false
	}
	for _, p := range s.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClaimName is the name of the claim on address a in set.
func ClaimName(set string, a netip.Addr) string {
	return "ip-" + set + "-" + dashed(a)
}

// Allocate returns the address held by holder (a UID) in the set, claiming a free one if it holds
// none. It returns an error wrapping ErrExhausted when every address is claimed.
func (al *Allocator) Allocate(ctx context.Context, s *Set, holder string) (netip.Addr, error) {
	return al.allocate(ctx, s, holder, false)
}

// AllocateNew is Allocate for a holder that believes it holds no address of the set (its object
// records none): it claims one without first listing the holder's claims, a list the API server
// answers by looking at every claim of every pool, so that per launched instance it grew with the
// fleet. In a spread set it lists nothing while one of the first addresses from the holder's
// offset is free: an address found claimed costs a read of that claim, and one the holder claimed
// before (a call that failed after its create) is taken back.
func (al *Allocator) AllocateNew(ctx context.Context, s *Set, holder string) (netip.Addr, error) {
	return al.allocate(ctx, s, holder, true)
}

func (al *Allocator) allocate(ctx context.Context, s *Set, holder string, fresh bool) (netip.Addr, error) {
	v, err := al.take(ctx, s, holder, fresh)
	if err != nil {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("the claim of %s in %s holds %q, not an address", holder, s.Name, v)
	}
	return a, nil
}

func addrOf(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}

func dashed(a netip.Addr) string { return strings.ReplaceAll(a.String(), ".", "-") }
