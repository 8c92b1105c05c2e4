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
	"encoding/binary"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The tables PiNet owns; Apply replaces them and nothing else.
const (
	// TableName names the security-group table (family inet) and the anti-spoofing table
	// (family bridge).
	TableName = "pinet"
	// NATTableName names the elastic-IP and metadata NAT table (family ip).
	NATTableName = "pinet-nat"
)

// Ruleset is a rendered policy: PiNet's tables with every chain, set and rule, ready to install.
type Ruleset struct {
	tables []*nftables.Table
	chains []*nftables.Chain
	sets   []renderedSet
	rules  []*nftables.Rule
}

// Rules is the number of rules in the ruleset (set elements are not rules).
func (rs *Ruleset) Rules() int { return len(rs.rules) }

type renderedSet struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

type setRef struct {
	name string
	id   uint32
}

// Render turns a policy into the ruleset Apply installs. It touches nothing; a policy it rejects
// yields an error wrapping ErrInvalidPolicy.
func Render(p Policy) (*Ruleset, error) {
	groups, err := validateGroups(p.Groups)
	if err != nil {
		return nil, err
	}
	if err := validateGuests(p.Guests, groups); err != nil {
		return nil, err
	}
	if err := validateNAT(p); err != nil {
		return nil, err
	}
	guests := slices.Clone(p.Guests)
	slices.SortFunc(guests, func(a, b Guest) int { return a.IP.Compare(b.IP) })
	b := &builder{rs: &Ruleset{}}
	b.renderBridge(guests)
	b.renderFilter(guests, groups)
	b.renderNAT(p, guests)
	return b.rs, nil
}

type builder struct {
	rs    *Ruleset
	table *nftables.Table
}

func (b *builder) addTable(family nftables.TableFamily, name string) {
	b.table = &nftables.Table{Family: family, Name: name}
	b.rs.tables = append(b.rs.tables, b.table)
}

func (b *builder) addSet(s *nftables.Set, elems []nftables.SetElement) setRef {
	s.Table = b.table
	s.ID = uint32(len(b.rs.sets) + 1)
	b.rs.sets = append(b.rs.sets, renderedSet{set: s, elems: elems})
	return setRef{name: s.Name, id: s.ID}
}

// addChain adds a regular chain, or a base chain when hook is not nil.
func (b *builder) addChain(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio nftables.ChainPriority) *nftables.Chain {
	c := &nftables.Chain{Name: name, Table: b.table}
	if hook != nil {
		accept := nftables.ChainPolicyAccept
		c.Type, c.Hooknum, c.Priority, c.Policy = typ, hook, nftables.ChainPriorityRef(prio), &accept
	}
	b.rs.chains = append(b.rs.chains, c)
	return c
}

func (b *builder) addRule(c *nftables.Chain, parts ...[]expr.Any) {
	var exprs []expr.Any
	for _, p := range parts {
		exprs = append(exprs, p...)
	}
	b.rs.rules = append(b.rs.rules, &nftables.Rule{Table: b.table, Chain: c, Exprs: exprs})
}

// renderBridge pins each guest port to its guest's address. A guest port may send only IPv4 from
// the guest's address (or DHCP from 0.0.0.0) and ARP for that address (or a 0.0.0.0 probe);
// everything else it sends, IPv6 included, is dropped. So source-group and CIDR rules can trust
// source addresses, and no guest reaches another past its security groups by another protocol.
func (b *builder) renderBridge(guests []Guest) {
	b.addTable(nftables.TableFamilyBridge, TableName)
	var portElems, bindElems []nftables.SetElement
	for _, g := range guests {
		portElems = append(portElems, nftables.SetElement{Key: ifName(g.Port)})
		bindElems = append(bindElems, nftables.SetElement{Key: append(ifName(g.Port), ip4(g.IP)...)})
	}
	ports := b.addSet(&nftables.Set{Name: "guest_ports", KeyType: nftables.TypeIFName,
		KeyByteOrder: binaryutil.NativeEndian}, portElems)
	bindings := b.addSet(&nftables.Set{
		Name: "guest_addrs", Concatenation: true,
		KeyType: nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr),
	}, bindElems)
	c := b.addChain("prerouting", nftables.ChainTypeFilter, nftables.ChainHookPrerouting, -200)

	fromGuest := []expr.Any{metaLoad(expr.MetaKeyIIFNAME, reg1), lookup(reg1, ports, false)}
	accept := []expr.Any{verdict(expr.VerdictAccept)}
	unspecified := []byte{0, 0, 0, 0}
	bound := func(offset uint32) []expr.Any {
		return []expr.Any{metaLoad(expr.MetaKeyIIFNAME, reg1), networkLoad(offset, 4, reg32at4), lookup(reg1, bindings, false)}
	}
	b.addRule(c, fromGuest, matchEtherType(etherTypeIP),
		[]expr.Any{networkLoad(offIPSaddr, 4, reg1), cmpEq(reg1, unspecified)},
		matchL4(unix.IPPROTO_UDP), []expr.Any{transportLoad(offDport, 2), cmpEq(reg1, be16(67))}, accept)
	b.addRule(c, fromGuest, matchEtherType(etherTypeIP), bound(offIPSaddr), accept)
	b.addRule(c, fromGuest, matchEtherType(etherTypeARP),
		[]expr.Any{networkLoad(offARPSpa, 4, reg1), cmpEq(reg1, unspecified)}, accept)
	b.addRule(c, fromGuest, matchEtherType(etherTypeARP), bound(offARPSpa), accept)
	b.addRule(c, fromGuest, []expr.Any{verdict(expr.VerdictDrop)})
}

// renderFilter compiles the security groups. Traffic forwarded to a guest's address jumps, through
// one verdict map, to the chain of the guest's combination of groups, which jumps to each group's
// chain (its rules accept) and drops what none accepted. Rules scale with groups, not guests.
func (b *builder) renderFilter(guests []Guest, groups map[string]*Group) {
	b.addTable(nftables.TableFamilyINet, TableName)

	combos := map[string][]string{}
	used := map[string]bool{}
	for _, g := range guests {
		ids := slices.Compact(slices.Sorted(slices.Values(g.GroupIDs)))
		combos[strings.Join(ids, ",")] = ids
		for _, id := range ids {
			used[id] = true
		}
	}
	sources := map[string]bool{}
	for id := range used {
		for _, r := range groups[id].Rules {
			for _, src := range r.SourceGroupIDs {
				sources[src] = true
			}
		}
	}
	members := map[string]setRef{}
	for _, id := range slices.Sorted(maps.Keys(sources)) {
		members[id] = b.addSet(&nftables.Set{Name: "members_" + id, KeyType: nftables.TypeIPAddr},
			addrElems(groups[id].Members))
	}
	for _, id := range slices.Sorted(maps.Keys(used)) {
		b.renderGroup(groups[id], members)
	}

	comboChain := map[string]string{}
	for i, key := range slices.Sorted(maps.Keys(combos)) {
		c := b.addChain("ingress_"+strconv.Itoa(i), "", nil, 0)
		comboChain[key] = c.Name
		for _, id := range combos[key] {
			b.addRule(c, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "group_" + id}})
		}
		b.addRule(c, []expr.Any{verdict(expr.VerdictDrop)})
	}
	var ingressElems []nftables.SetElement
	for _, g := range guests {
		key := strings.Join(slices.Compact(slices.Sorted(slices.Values(g.GroupIDs))), ",")
		ingressElems = append(ingressElems, nftables.SetElement{
			Key: ip4(g.IP), VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: comboChain[key]},
		})
	}
	ingress := b.addSet(&nftables.Set{Name: "ingress", IsMap: true,
		KeyType: nftables.TypeIPAddr, DataType: nftables.TypeVerdict}, ingressElems)

	fwd := b.addChain("forward", nftables.ChainTypeFilter, nftables.ChainHookForward, 0)
	b.addRule(fwd, matchEstablished(), []expr.Any{verdict(expr.VerdictAccept)})
	b.addRule(fwd, matchIPv4(), []expr.Any{networkLoad(offIPDaddr, 4, reg1), mapLookup(reg1, 0, ingress)})
}

// renderGroup adds chain group_<id>: one accepting rule per rule and source; a rule's CIDRs form
// one interval set cidrs_<id>_<rule index>, a source group's members the set members_<id>.
func (b *builder) renderGroup(g *Group, members map[string]setRef) {
	c := b.addChain("group_"+g.ID, "", nil, 0)
	for i, r := range g.Rules {
		var srcs [][]expr.Any
		if len(r.CIDRs) > 0 {
			ranges := mergeCIDRs(r.CIDRs)
			if len(ranges) == 1 && ranges[0] == (addrRange{0, 0xffffffff}) {
				srcs = append(srcs, nil) // anyone
			} else {
				set := b.addSet(&nftables.Set{Name: "cidrs_" + g.ID + "_" + strconv.Itoa(i),
					KeyType: nftables.TypeIPAddr, Interval: true, KeyByteOrder: binaryutil.BigEndian},
					intervalElems(ranges))
				srcs = append(srcs, fromSet(set))
			}
		}
		for _, id := range r.SourceGroupIDs {
			srcs = append(srcs, fromSet(members[id]))
		}
		for _, src := range srcs {
			b.addRule(c, src, matchProtocol(r), []expr.Any{verdict(expr.VerdictAccept)})
		}
	}
}

// fromSet is "ip saddr @set" (with the IPv4 check that lets nft print it so).
func fromSet(set setRef) []expr.Any {
	return append(matchIPv4(), networkLoad(offIPSaddr, 4, reg1), lookup(reg1, set, false))
}

// renderNAT adds elastic-IP DNAT (inbound and from the node itself), SNAT of a guest's traffic
// leaving through the public interface, and the metadata redirect.
func (b *builder) renderNAT(p Policy, guests []Guest) {
	b.addTable(nftables.TableFamilyIPv4, NATTableName)
	eips := slices.Clone(p.ElasticIPs)
	slices.SortFunc(eips, func(a, b ElasticIP) int { return a.Public.Compare(b.Public) })
	var dnatElems, snatElems []nftables.SetElement
	for _, e := range eips {
		dnatElems = append(dnatElems, nftables.SetElement{Key: ip4(e.Public), Val: ip4(e.Private)})
		snatElems = append(snatElems, nftables.SetElement{Key: ip4(e.Private), Val: ip4(e.Public)})
	}
	natMap := func(name string, elems []nftables.SetElement) setRef {
		return b.addSet(&nftables.Set{Name: name, IsMap: true,
			KeyType: nftables.TypeIPAddr, DataType: nftables.TypeIPAddr}, elems)
	}
	dnat := natMap("eip_dnat", dnatElems)
	snat := natMap("eip_snat", snatElems)

	pre := b.addChain("prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, -100)
	out := b.addChain("output", nftables.ChainTypeNAT, nftables.ChainHookOutput, -100)
	post := b.addChain("postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, 100)

	if m := p.MetadataListener; m.IsValid() {
		var elems []nftables.SetElement
		for _, g := range guests {
			elems = append(elems, nftables.SetElement{Key: ip4(g.IP)})
		}
		guestSet := b.addSet(&nftables.Set{Name: "guests", KeyType: nftables.TypeIPAddr}, elems)
		b.addRule(pre,
			[]expr.Any{networkLoad(offIPDaddr, 4, reg1), cmpEq(reg1, ip4(MetadataAddr.Addr()))},
			matchL4(unix.IPPROTO_TCP),
			[]expr.Any{transportLoad(offDport, 2), cmpEq(reg1, be16(MetadataAddr.Port()))},
			[]expr.Any{networkLoad(offIPSaddr, 4, reg1), lookup(reg1, guestSet, false)},
			[]expr.Any{
				&expr.Immediate{Register: reg1, Data: ip4(m.Addr())},
				&expr.Immediate{Register: reg2, Data: be16(m.Port())},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
					RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
			})
	}
	eipDNAT := func() []expr.Any {
		return []expr.Any{
			networkLoad(offIPDaddr, 4, reg1), mapLookup(reg1, reg1, dnat),
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1},
		}
	}
	b.addRule(pre, eipDNAT())
	b.addRule(out, eipDNAT())
	if p.PublicInterface != "" {
		b.addRule(post,
			[]expr.Any{metaLoad(expr.MetaKeyOIFNAME, reg1), cmpEq(reg1, ifName(p.PublicInterface))},
			[]expr.Any{
				networkLoad(offIPSaddr, 4, reg1), mapLookup(reg1, reg1, snat),
				&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1},
			})
	}
}

func addrElems(addrs []netip.Addr) []nftables.SetElement {
	sorted := slices.Compact(slices.SortedFunc(slices.Values(addrs), netip.Addr.Compare))
	elems := make([]nftables.SetElement, 0, len(sorted))
	for _, a := range sorted {
		elems = append(elems, nftables.SetElement{Key: ip4(a)})
	}
	return elems
}

// addrRange is an inclusive range of IPv4 addresses as numbers.
type addrRange struct{ first, last uint32 }

// mergeCIDRs turns validated CIDRs into sorted, disjoint, non-adjacent ranges (an interval set
// refuses overlapping elements).
func mergeCIDRs(cidrs []string) []addrRange {
	var ranges []addrRange
	for _, c := range cidrs {
		p, _ := parseCIDR(c)
		first := binary.BigEndian.Uint32(ip4(p.Addr()))
		size := uint64(1) << (32 - p.Bits())
		ranges = append(ranges, addrRange{first, uint32(uint64(first) + size - 1)})
	}
	slices.SortFunc(ranges, func(a, b addrRange) int { return int(int64(a.first) - int64(b.first)) })
	merged := ranges[:1]
	for _, r := range ranges[1:] {
		last := &merged[len(merged)-1]
		if uint64(r.first) <= uint64(last.last)+1 {
			last.last = max(last.last, r.last)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// intervalElems encodes ranges the way nft does: each range opens with its first address and
// closes with an interval-end element at the address after it (none after 255.255.255.255), and a
// leading interval end at 0.0.0.0 when the first range starts later.
func intervalElems(ranges []addrRange) []nftables.SetElement {
	var elems []nftables.SetElement
	if ranges[0].first != 0 {
		elems = append(elems, nftables.SetElement{Key: make([]byte, 4), IntervalEnd: true})
	}
	for _, r := range ranges {
		elems = append(elems, nftables.SetElement{Key: binary.BigEndian.AppendUint32(nil, r.first)})
		if r.last != 0xffffffff {
			elems = append(elems, nftables.SetElement{Key: binary.BigEndian.AppendUint32(nil, r.last+1), IntervalEnd: true})
		}
	}
	return elems
}
