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
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Registers: reg1 is the first 16-byte register; reg32at4 is the 32-bit register right after the
// 16 bytes of reg1, where the second field of an "ifname . ipv4_addr" concatenation goes.
const (
	reg1     = 1
	reg2     = 2
	reg32at4 = 12
	ifNameSz = 16
)

// Offsets in the IPv4 and ARP headers and in TCP/UDP/ICMP headers.
const (
	offIPSaddr   = 12
	offIPDaddr   = 16
	offARPSpa    = 14
	offDport     = 2
	offICMPType  = 0
	offICMPCode  = 1
	etherTypeIP  = 0x0800
	etherTypeARP = 0x0806
)

func ifName(name string) []byte {
	b := make([]byte, ifNameSz)
	copy(b, name)
	return b
}

func ip4(a netip.Addr) []byte {
	b := a.As4()
	return b[:]
}

func be16(v uint16) []byte { return binaryutil.BigEndian.PutUint16(v) }

func cmpEq(reg uint32, data []byte) expr.Any {
	return &expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: data}
}

func metaLoad(key expr.MetaKey, reg uint32) expr.Any { return &expr.Meta{Key: key, Register: reg} }

func networkLoad(offset, length, reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: length}
}

func transportLoad(offset, length uint32) expr.Any {
	return &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: length}
}

func lookup(reg uint32, set setRef, invert bool) expr.Any {
	return &expr.Lookup{SourceRegister: reg, SetName: set.name, SetID: set.id, Invert: invert}
}

// mapLookup looks reg up in a map and puts the value in dreg (0 = the verdict register).
func mapLookup(reg, dreg uint32, set setRef) expr.Any {
	return &expr.Lookup{SourceRegister: reg, DestRegister: dreg, IsDestRegSet: true, SetName: set.name, SetID: set.id}
}

func verdict(kind expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: kind} }

// matchIPv4 is "meta nfproto ipv4", needed before IPv4 payload in an inet table.
func matchIPv4() []expr.Any {
	return []expr.Any{metaLoad(expr.MetaKeyNFPROTO, reg1), cmpEq(reg1, []byte{unix.NFPROTO_IPV4})}
}

// matchEtherType is "meta protocol <type>" in a bridge table.
func matchEtherType(t uint16) []expr.Any {
	return []expr.Any{metaLoad(expr.MetaKeyPROTOCOL, reg1), cmpEq(reg1, be16(t))}
}

func matchL4(proto byte) []expr.Any {
	return []expr.Any{metaLoad(expr.MetaKeyL4PROTO, reg1), cmpEq(reg1, []byte{proto})}
}

// matchEstablished is "ct state established,related".
func matchEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
		&expr.Bitwise{
			SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0),
		},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// matchProtocol matches a rule's protocol and its ports or ICMP type and code.
func matchProtocol(r Rule) []expr.Any {
	switch r.Protocol {
	case ProtocolTCP, ProtocolUDP:
		proto := byte(unix.IPPROTO_TCP)
		if r.Protocol == ProtocolUDP {
			proto = unix.IPPROTO_UDP
		}
		out := append(matchL4(proto), transportLoad(offDport, 2))
		if r.FromPort == r.ToPort {
			return append(out, cmpEq(reg1, be16(uint16(r.FromPort))))
		}
		return append(out, &expr.Range{Op: expr.CmpOpEq, Register: reg1,
			FromData: be16(uint16(r.FromPort)), ToData: be16(uint16(r.ToPort))})
	case ProtocolICMP:
		out := matchL4(unix.IPPROTO_ICMP)
		if r.FromPort >= 0 {
			out = append(out, transportLoad(offICMPType, 1), cmpEq(reg1, []byte{byte(r.FromPort)}))
		}
		if r.ToPort >= 0 {
			out = append(out, transportLoad(offICMPCode, 1), cmpEq(reg1, []byte{byte(r.ToPort)}))
		}
		return out
	}
	return nil
}
