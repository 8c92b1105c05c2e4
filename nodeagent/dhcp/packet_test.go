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

package dhcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"
)

// discover is a DHCPDISCOVER as udhcpc sends it, built by hand from RFC 2131's layout.
func discover() []byte {
	b := make([]byte, 236)
	b[0], b[1], b[2] = 1, 1, 6
	binary.BigEndian.PutUint32(b[4:], 0xdeadbeef)
	copy(b[28:], []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56})
	b = append(b, 99, 130, 83, 99)
	b = append(b, 53, 1, 1) // DISCOVER
	b = append(b, 0, 0)     // pads
	b = append(b, 61, 7, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56)
	b = append(b, 55, 3, 1, 3, 26) // parameter request list
	b = append(b, 255)
	return b
}

func TestParseDiscover(t *testing.T) {
	m, err := Parse(discover())
	if err != nil {
		t.Fatal(err)
	}
	if m.Op != 1 || m.XID != 0xdeadbeef || m.Type() != Discover || m.CHAddr.String() != "52:54:00:12:34:56" {
		t.Fatalf("parsed %+v", m)
	}
	if got := m.Option(55); !bytes.Equal(got, []byte{1, 3, 26}) {
		t.Fatalf("option 55 = %v", got)
	}
	if m.CIAddr != netip.IPv4Unspecified() {
		t.Fatalf("ciaddr %v", m.CIAddr)
	}
}

func TestParseJoinsSplitOptionsAndReadsOverload(t *testing.T) {
	b := discover()
	b = b[:len(b)-1]                              // drop end
	b = append(b, 12, 3, 'a', 'b', 'c')           // host name, first part
	b = append(b, 52, 1, 3)                       // overload: file and sname carry options
	b = append(b, 12, 2, 'd', 'e', 255)           // host name, second part
	copy(b[108:], []byte{12, 1, 'f', 255})        // file: third part
	copy(b[44:], []byte{50, 4, 10, 0, 0, 9, 255}) // sname: requested address
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.Option(12)); got != "abcdef" {
		t.Fatalf("host name %q, want the parts joined in order", got)
	}
	if got := m.addrOption(optRequestedIP); got != netip.MustParseAddr("10.0.0.9") {
		t.Fatalf("requested address from sname = %v", got)
	}
	if m.Option(optOverload) != nil {
		t.Fatal("the overload option is consumed, not kept")
	}
}

func TestParseRejectsBadMessages(t *testing.T) {
	good := discover()
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, errShort},
		{"header only", good[:236], errShort},
		{"bad cookie", mutate(func(b []byte) []byte { b[236] = 1; return b }), errCookie},
		{"token ring", mutate(func(b []byte) []byte { b[1] = 6; return b }), errHWType},
		{"long hardware address", mutate(func(b []byte) []byte { b[2] = 16; return b }), errHWType},
		{"no end", good[:len(good)-1], errNoEnd},
		{"option past the end", mutate(func(b []byte) []byte { return append(b[:len(b)-1], 12, 10, 'x') }), errOptionTrun},
		{"code without length", mutate(func(b []byte) []byte { return append(b[:len(b)-1], 12) }), errOptionTrun},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(c.b)
			if !errors.Is(err, c.want) || m != nil {
				t.Fatalf("Parse = %v, %v; want %v", m, err, c.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 300)
	m := &Message{
		Op: opReply, XID: 7, Secs: 3, Flags: flagBroadcast,
		CIAddr: netip.MustParseAddr("10.0.0.1"), YIAddr: netip.MustParseAddr("10.0.0.2"),
		SIAddr: netip.IPv4Unspecified(), GIAddr: netip.IPv4Unspecified(),
		CHAddr:  net.HardwareAddr{2, 0, 0, 0, 0, 1},
		Options: []Option{{optMessageType, []byte{byte(Ack)}}, {optHostname, long}, {optMTU, []byte{5, 0xaa}}},
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < minReplySize {
		t.Fatalf("%d bytes, shorter than the BOOTP minimum", len(b))
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, m)
	}
}

func TestMarshalRejects(t *testing.T) {
	for name, m := range map[string]*Message{
		"no MAC":      {Op: opReply},
		"IPv6":        {Op: opReply, CHAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, YIAddr: netip.MustParseAddr("::1")},
		"end as data": {Op: opReply, CHAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Options: []Option{{optEnd, []byte{1}}}},
	} {
		if b, err := m.Marshal(); err == nil {
			t.Errorf("%s: marshalled %d bytes", name, len(b))
		}
	}
}

func TestFrameChecksums(t *testing.T) {
	src, dst := netip.MustParseAddr("10.128.5.1"), netip.MustParseAddr("10.128.5.7")
	payload := []byte("odd-length payload")
	f := ipv4UDP(src, dst, payload)
	if c := checksum(0, f[:20]); c != 0xffff {
		t.Fatalf("IPv4 header does not check: %#x", c)
	}
	s, d := src.As4(), dst.As4()
	pseudo := append(append(append([]byte{}, s[:]...), d[:]...), 0, 17, 0, byte(len(f)-20))
	if c := checksum(uint32(checksum(0, pseudo)), f[20:]); c != 0xffff {
		t.Fatalf("UDP checksum does not check: %#x", c)
	}
	if binary.BigEndian.Uint16(f[20:]) != 67 || binary.BigEndian.Uint16(f[22:]) != 68 || !bytes.Equal(f[28:], payload) {
		t.Fatalf("frame % x", f)
	}
}

// FuzzParse: the parser never panics, and what it accepts survives a marshal/parse round
// trip with the same options.
func FuzzParse(f *testing.F) {
	f.Add(discover())
	f.Add(make([]byte, 240))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("a parsed message does not marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("a marshalled message does not parse: %v", err)
		}
		if len(again.Options) != len(m.Options) {
			t.Fatalf("options %v became %v", m.Options, again.Options)
		}
		for i := range m.Options {
			if m.Options[i].Code != again.Options[i].Code || !bytes.Equal(m.Options[i].Data, again.Options[i].Data) {
				t.Fatalf("option %d: %v became %v", i, m.Options[i], again.Options[i])
			}
		}
	})
}
