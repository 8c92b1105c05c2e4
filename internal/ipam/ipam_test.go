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
	"fmt"
	"net/netip"
	"testing"
)

func TestSet(t *testing.T) {
	s, err := NewSet("p", []string{"10.0.0.0/30", "10.0.1.5/32"}, []string{"10.0.0.0", "10.0.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	s.each(func(a netip.Addr) bool { got = append(got, a.String()); return true })
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.1.5"}
	if len(got) != len(want) {
		t.Fatalf("addresses %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("addresses %v, want %v", got, want)
		}
	}
	if s.Size() != 3 {
		t.Fatalf("size %d", s.Size())
	}
	for addr, in := range map[string]bool{"10.0.0.1": true, "10.0.0.0": false, "10.0.1.5": true, "10.0.1.6": false} {
		if s.Contains(netip.MustParseAddr(addr)) != in {
			t.Errorf("Contains(%s) != %v", addr, in)
		}
	}
	if ClaimName("pool", netip.MustParseAddr("10.0.0.1")) != "ip-pool-10-0-0-1" {
		t.Fatal("claim name")
	}
	for _, bad := range [][]string{{"10.0.0.0/33"}, {"2001:db8::/64"}, {"nonsense"}} {
		if _, err := NewSet("x", bad, nil); err == nil {
			t.Errorf("accepted range %v", bad)
		}
	}
	if _, err := NewSet("x", []string{"10.0.0.0/24"}, []string{"10.0.0.300"}); err == nil {
		t.Error("accepted a bad excluded address")
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]Range{"100-4000": {100, 4000}, " 5 - 5 ": {5, 5}, "42": {42, 42}, "1-16777215": {1, MaxSegmentID}} {
		if got, err := ParseRange(in); err != nil || got != want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a-b", "0-10", "10-5", "1-16777216", "-5", "100-", "1-2-3"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) accepted", bad)
		}
	}
}

func TestNewSubnets(t *testing.T) {
	s, err := NewSubnets("10.128.0.0/10", 24)
	if err != nil || s.Count() != 16384 || s.Supernet.String() != "10.128.0.0/10" {
		t.Fatalf("%+v %v", s, err)
	}
	var got []string
	s.candidates(nil, "", func(name, v string) bool { got = append(got, name+"="+v); return len(got) < 2 })
	if got[0] != "subnet-10-128-0-0=10.128.0.0/24" || got[1] != "subnet-10-128-1-0=10.128.1.0/24" {
		t.Fatalf("candidates %v", got)
	}
	// A supernet given with host bits is masked.
	if s, err := NewSubnets("10.1.2.3/18", 18); err != nil || s.Supernet.String() != "10.1.0.0/18" || s.Count() != 1 {
		t.Fatalf("%+v %v", s, err)
	}
	// A subnet larger than a /18 holds more instances than a security group's member list.
	for _, bad := range []struct {
		net  string
		bits int
	}{{"10.0.0.0/24", 23}, {"10.0.0.0/24", 31}, {"10.0.0.0/16", 16}, {"10.0.0.0/10", 17}, {"fd00::/64", 80}, {"nonsense", 24}, {"10.0.0.0", 24}} {
		if _, err := NewSubnets(bad.net, bad.bits); err == nil {
			t.Errorf("NewSubnets(%q, %d) accepted", bad.net, bad.bits)
		}
	}
}

// The network address, the gateway (first host) and the broadcast address are never handed out.
func TestHostSetReservesThreeAddresses(t *testing.T) {
	subnet := netip.MustParsePrefix("10.128.3.0/29")
	s := HostSet(subnet)
	var got []string
	s.each(func(a netip.Addr) bool { got = append(got, a.String()); return true })
	want := []string{"10.128.3.2", "10.128.3.3", "10.128.3.4", "10.128.3.5", "10.128.3.6"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hosts %v, want %v", got, want)
	}
	if Gateway(subnet).String() != "10.128.3.1" || Broadcast(subnet).String() != "10.128.3.7" {
		t.Fatalf("gateway %s broadcast %s", Gateway(subnet), Broadcast(subnet))
	}
	if s.Name != "subnet-10-128-3-0-29" || ClaimName(s.Name, netip.MustParseAddr("10.128.3.2")) != "ip-subnet-10-128-3-0-29-10-128-3-2" {
		t.Fatalf("names %s", s.Name)
	}
	if HostSet(netip.MustParsePrefix("10.0.0.0/30")).Size() != 1 || HostSet(netip.MustParsePrefix("10.0.0.0/24")).Size() != 253 {
		t.Fatal("sizes")
	}
}

func TestMAC(t *testing.T) {
	if got := MAC(0x1234, netip.MustParseAddr("10.128.0.5")); got != "02:34:0a:80:00:05" {
		t.Fatalf("MAC %s", got)
	}
	// Locally administered and unicast, whatever the segment.
	for _, seg := range []int32{1, 255, 4000, MaxSegmentID} {
		m := MAC(seg, netip.MustParseAddr("10.0.0.2"))
		if m[:2] != "02" || len(m) != 17 {
			t.Fatalf("MAC %s", m)
		}
	}
}

// A spread set starts each holder at its own place and still offers every address once.
func TestSpreadSetOffersEveryAddressOnce(t *testing.T) {
	s := HostSet(netip.MustParsePrefix("10.0.0.0/26"))
	starts := map[string]bool{}
	for i := range 8 {
		var all []string
		s.candidates(nil, fmt.Sprintf("holder-%d", i), func(_, v string) bool { all = append(all, v); return true })
		if len(all) != int(s.Size()) {
			t.Fatalf("holder-%d was offered %d addresses, want %d", i, len(all), s.Size())
		}
		seen := map[string]bool{}
		for _, v := range all {
			if seen[v] || !s.Contains(netip.MustParseAddr(v)) {
				t.Fatalf("holder-%d was offered %s twice or outside the set: %v", i, v, all)
			}
			seen[v] = true
		}
		starts[all[0]] = true
	}
	if len(starts) < 4 {
		t.Fatalf("8 holders start at only %d addresses: %v", len(starts), starts)
	}
	// A holder starts where it started before: a retried allocation looks in the same place.
	first := func() string {
		var v string
		s.candidates(nil, "holder-0", func(_, a string) bool { v = a; return false })
		return v
	}
	if a, b := first(), first(); a != b {
		t.Fatalf("holder-0 started at %s, then at %s", a, b)
	}
}
