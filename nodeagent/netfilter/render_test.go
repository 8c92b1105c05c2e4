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
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
)

func TestRenderRefusesBadPolicies(t *testing.T) {
	rule := func(r Rule) Policy { return withRules(basePolicy(), "sg-web", r) }
	anyone := []string{"0.0.0.0/0"}
	cases := []struct {
		name   string
		policy Policy
		want   string
	}{
		{"unknown protocol", rule(Rule{Protocol: "sctp", FromPort: 1, ToPort: 2, CIDRs: anyone}), `unknown protocol "sctp"`},
		{"empty protocol", rule(Rule{CIDRs: anyone}), `unknown protocol ""`},
		{"inverted port range", rule(Rule{Protocol: ProtocolTCP, FromPort: 90, ToPort: 80, CIDRs: anyone}), "tcp port range 90-80"},
		{"port past 65535", rule(Rule{Protocol: ProtocolUDP, FromPort: 1, ToPort: 70000, CIDRs: anyone}), "udp port range 1-70000"},
		{"negative port", rule(Rule{Protocol: ProtocolTCP, FromPort: -1, ToPort: 22, CIDRs: anyone}), "tcp port range -1-22"},
		{"icmp type out of range", rule(Rule{Protocol: ProtocolICMP, FromPort: 256, ToPort: -1, CIDRs: anyone}), "icmp type 256"},
		{"icmp code without type", rule(Rule{Protocol: ProtocolICMP, FromPort: -1, ToPort: 0, CIDRs: anyone}), "icmp code 0 needs a type"},
		{"bad CIDR", rule(Rule{Protocol: ProtocolTCP, FromPort: 1, ToPort: 2, CIDRs: []string{"10.0.0.0/33"}}), `"10.0.0.0/33" is not an IPv4 CIDR`},
		{"not a CIDR", rule(Rule{Protocol: ProtocolTCP, FromPort: 1, ToPort: 2, CIDRs: []string{"anywhere"}}), `"anywhere" is not an IPv4 CIDR`},
		{"IPv6 CIDR", rule(Rule{Protocol: ProtocolTCP, FromPort: 1, ToPort: 2, CIDRs: []string{"::/0"}}), `"::/0" is not an IPv4 CIDR`},
		{"rule with no source", rule(Rule{Protocol: ProtocolTCP, FromPort: 1, ToPort: 2}), "at least one CIDR or source group"},
		{"unknown source group", rule(Rule{Protocol: ProtocolAll, SourceGroupIDs: []string{"sg-nope"}}), `unknown source group "sg-nope"`},
		{"unknown guest group", func() Policy {
			p := basePolicy()
			p.Guests[0].GroupIDs = []string{"sg-nope"}
			return p
		}(), `unknown group "sg-nope"`},
		{"bad group id", func() Policy {
			p := basePolicy()
			p.Groups = append(p.Groups, Group{ID: "sg x"})
			return p
		}(), `id "sg x"`},
		{"duplicate group", func() Policy {
			p := basePolicy()
			p.Groups = append(p.Groups, Group{ID: "sg-b"})
			return p
		}(), `group "sg-b" is listed twice`},
		{"IPv6 member", func() Policy {
			p := basePolicy()
			p.Groups[1].Members = []netip.Addr{netip.MustParseAddr("fe80::1")}
			return p
		}(), `member "fe80::1"`},
		{"guest without IP", func() Policy {
			p := basePolicy()
			p.Guests[1].IP = netip.Addr{}
			return p
		}(), `guest "tapB": IP "invalid IP"`},
		{"bad port name", func() Policy {
			p := basePolicy()
			p.Guests[1].Port = "a-name-far-too-long"
			return p
		}(), `port "a-name-far-too-long"`},
		{"two guests on one port", func() Policy {
			p := basePolicy()
			p.Guests[1].Port = "tapA"
			return p
		}(), `port "tapA" is given to two guests`},
		{"two guests with one IP", func() Policy {
			p := basePolicy()
			p.Guests[1].IP = p.Guests[0].IP
			return p
		}(), "IP 10.0.0.10 is given to two guests"},
		{"elastic IP without public interface", func() Policy {
			p := basePolicy()
			p.PublicInterface = ""
			return p
		}(), "elastic IPs need a public interface"},
		{"elastic IP mapped twice", func() Policy {
			p := basePolicy()
			p.ElasticIPs = append(p.ElasticIPs, ElasticIP{Public: p.ElasticIPs[0].Public, Private: netip.MustParseAddr(guestBIP)})
			return p
		}(), "elastic IP 198.51.100.10 is mapped twice"},
		{"two elastic IPs for one guest", func() Policy {
			p := basePolicy()
			p.ElasticIPs = append(p.ElasticIPs, ElasticIP{Public: netip.MustParseAddr("198.51.100.11"), Private: p.ElasticIPs[0].Private})
			return p
		}(), "private address 10.0.0.10 has two elastic IPs"},
		{"IPv6 metadata listener", func() Policy {
			p := basePolicy()
			p.MetadataListener = netip.MustParseAddrPort("[::1]:8775")
			return p
		}(), "metadata listener [::1]:8775"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Render(tc.policy)
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Render = %v, want an error wrapping ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if rs != nil {
				t.Errorf("Render returned a ruleset with its error")
			}
		})
	}
}

// describe prints a ruleset's content (tables, chains, sets with elements, rules) for comparison.
func describe(rs *Ruleset) string {
	var b strings.Builder
	for _, t := range rs.tables {
		fmt.Fprintf(&b, "table %d %s\n", t.Family, t.Name)
	}
	for _, c := range rs.chains {
		fmt.Fprintf(&b, "chain %s %s\n", c.Table.Name, c.Name)
	}
	for _, s := range rs.sets {
		fmt.Fprintf(&b, "set %s %s %d:", s.set.Table.Name, s.set.Name, s.set.ID)
		for _, e := range s.elems {
			fmt.Fprintf(&b, " %x:%x:%v:%+v", e.Key, e.Val, e.IntervalEnd, e.VerdictData)
		}
		b.WriteString("\n")
	}
	for _, r := range rs.rules {
		fmt.Fprintf(&b, "rule %s %s:", r.Table.Name, r.Chain.Name)
		for _, e := range r.Exprs {
			fmt.Fprintf(&b, " %T%+v", e, e)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func guestsInGroups(n int, groups ...string) []Guest {
	var guests []Guest
	for i := range n {
		guests = append(guests, Guest{
			Port: fmt.Sprintf("vnet%d", i), IP: netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(1 + i%250)}),
			GroupIDs: []string{groups[i%len(groups)]},
		})
	}
	return guests
}

func TestRenderScalesWithGroupsNotGuests(t *testing.T) {
	p := withRules(basePolicy(), "sg-b", Rule{Protocol: ProtocolAll, SourceGroupIDs: []string{"sg-b"}})
	p.ElasticIPs = nil
	p.Guests = guestsInGroups(2, "sg-web", "sg-b")
	few, err := Render(p)
	must(t, err)
	p.Guests = guestsInGroups(500, "sg-web", "sg-b")
	many, err := Render(p)
	must(t, err)
	if few.Rules() != many.Rules() {
		t.Errorf("2 guests render %d rules, 500 guests %d: rules must not grow with guests", few.Rules(), many.Rules())
	}
	if len(few.sets) != len(many.sets) || len(few.chains) != len(many.chains) {
		t.Errorf("sets %d/%d, chains %d/%d: must not grow with guests", len(few.sets), len(many.sets), len(few.chains), len(many.chains))
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	p := basePolicy()
	p.Guests = guestsInGroups(20, "sg-web", "sg-b")
	want, err := Render(p)
	must(t, err)
	slices.Reverse(p.Guests)
	slices.Reverse(p.Groups)
	got, err := Render(p)
	must(t, err)
	if describe(got) != describe(want) {
		t.Errorf("reordered input rendered differently:\n%s\n---\n%s", describe(want), describe(got))
	}
}

func TestRenderCIDRSets(t *testing.T) {
	cases := []struct {
		name  string
		cidrs []string
		want  []string // elements as "key" or "key end"; nil = no set (anyone)
	}{
		{"anyone", []string{"0.0.0.0/0"}, nil},
		{"anyone among others", []string{"10.0.0.0/8", "0.0.0.0/0"}, nil},
		{"one host", []string{"192.0.2.7/32"}, []string{"00000000 end", "c0000207", "c0000208 end"}},
		{"host bits masked", []string{"10.1.2.3/8"}, []string{"00000000 end", "0a000000", "0b000000 end"}},
		{"overlap and adjacency merged", []string{"10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "10.0.3.0/24"},
			[]string{"00000000 end", "0a000000", "0a000200 end", "0a000300", "0a000400 end"}},
		{"range from zero", []string{"0.0.0.0/8"}, []string{"00000000", "01000000 end"}},
		{"range to the top", []string{"255.0.0.0/8"}, []string{"00000000 end", "ff000000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := withRules(basePolicy(), "sg-b", Rule{Protocol: ProtocolUDP, FromPort: 53, ToPort: 53, CIDRs: tc.cidrs})
			rs, err := Render(p)
			must(t, err)
			var got []string
			found := false
			for _, s := range rs.sets {
				if s.set.Name != "cidrs_sg-b_0" {
					continue
				}
				found = true
				if !s.set.Interval {
					t.Errorf("set %s is not an interval set", s.set.Name)
				}
				for _, e := range s.elems {
					el := fmt.Sprintf("%x", e.Key)
					if e.IntervalEnd {
						el += " end"
					}
					got = append(got, el)
				}
			}
			if tc.want == nil && found {
				t.Errorf("a rule from anyone got a source set %v", got)
			}
			if tc.want != nil && !slices.Equal(got, tc.want) {
				t.Errorf("elements %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRenderGroupChains(t *testing.T) {
	p := basePolicy()
	p.Guests = append(p.Guests,
		Guest{Port: "tapC", IP: netip.MustParseAddr("10.0.0.12"), GroupIDs: []string{"sg-web", "sg-b", "sg-web"}},
		Guest{Port: "tapD", IP: netip.MustParseAddr("10.0.0.13"), GroupIDs: []string{"sg-b", "sg-web"}},
		Guest{Port: "tapE", IP: netip.MustParseAddr("10.0.0.14")})
	rs, err := Render(p)
	must(t, err)
	var chains []string
	for _, c := range rs.chains {
		if c.Table.Family == nftables.TableFamilyINet {
			chains = append(chains, c.Name)
		}
	}
	// One chain per group, one per distinct combination of groups (the empty one for a guest in no
	// group), and the base chain.
	want := []string{"group_sg-b", "group_sg-web", "ingress_0", "ingress_1", "ingress_2", "ingress_3", "forward"}
	if !slices.Equal(chains, want) {
		t.Errorf("chains %v, want %v", chains, want)
	}
	jumps := map[string]int{}
	for _, r := range rs.rules {
		if strings.HasPrefix(r.Chain.Name, "ingress_") {
			jumps[r.Chain.Name]++
		}
	}
	// Combinations sorted: "" (only the final drop), "sg-b", "sg-b,sg-web" (two jumps and the
	// drop; C's repeated group counts once), "sg-web".
	if want := map[string]int{"ingress_0": 1, "ingress_1": 2, "ingress_2": 3, "ingress_3": 2}; !maps.Equal(jumps, want) {
		t.Errorf("rules per combination chain %v, want %v", jumps, want)
	}
}
