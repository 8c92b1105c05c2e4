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
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// BOOTP operations and DHCP message types (RFC 2131 section 2, RFC 2132 section 9.6).
const (
	opRequest = 1
	opReply   = 2

	htypeEthernet = 1
)

// MessageType is the value of option 53.
type MessageType byte

// The DHCP message types.
const (
	Discover MessageType = 1
	Offer    MessageType = 2
	Request  MessageType = 3
	Decline  MessageType = 4
	Ack      MessageType = 5
	Nak      MessageType = 6
	Release  MessageType = 7
	Inform   MessageType = 8
)

var typeNames = map[MessageType]string{
	Discover: "DHCPDISCOVER", Offer: "DHCPOFFER", Request: "DHCPREQUEST", Decline: "DHCPDECLINE",
	Ack: "DHCPACK", Nak: "DHCPNAK", Release: "DHCPRELEASE", Inform: "DHCPINFORM",
}

func (t MessageType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("DHCP(%d)", byte(t))
}

// Option codes this package reads or writes (RFC 2132).
const (
	optPad          = 0
	optSubnetMask   = 1
	optRouter       = 3
	optDNS          = 6
	optHostname     = 12
	optDomainName   = 15
	optMTU          = 26
	optBroadcast    = 28
	optRequestedIP  = 50
	optLeaseTime    = 51
	optOverload     = 52
	optMessageType  = 53
	optServerID     = 54
	optMessage      = 56
	optRenewalTime  = 58
	optRebindTime   = 59
	optClientID     = 61
	optEnd          = 255
	flagBroadcast   = 0x8000
	fixedHeaderSize = 236
	// minReplySize is the BOOTP minimum message size; some clients drop shorter ones.
	minReplySize = 300
)

var magicCookie = [4]byte{99, 130, 83, 99}

// Message is a DHCPv4 message. Only Ethernet hardware addresses are supported.
type Message struct {
	Op     byte
	Hops   byte
	XID    uint32
	Secs   uint16
	Flags  uint16
	CIAddr netip.Addr // client's address, when it has one (renewing, informing)
	YIAddr netip.Addr // "your" address: what the server assigns
	SIAddr netip.Addr
	GIAddr netip.Addr // relay agent's address
	CHAddr net.HardwareAddr
	// Options holds every option but pad and end, in order, one entry per code: parts of
	// a split option (RFC 3396) are joined.
	Options []Option
}

// Option is one DHCP option.
type Option struct {
	Code byte
	Data []byte
}

var (
	errShort      = errors.New("message shorter than the BOOTP header")
	errCookie     = errors.New("no DHCP magic cookie")
	errHWType     = errors.New("hardware type is not Ethernet")
	errOptionTrun = errors.New("option runs past the end of the message")
	errNoEnd      = errors.New("options do not end with the end option")
)

// Parse decodes a DHCP message (RFC 2131 section 2, options per RFC 2132 including the
// overload of the file and sname fields).
func Parse(b []byte) (*Message, error) {
	if len(b) < fixedHeaderSize+len(magicCookie) {
		return nil, errShort
	}
	if [4]byte(b[fixedHeaderSize:fixedHeaderSize+4]) != magicCookie {
		return nil, errCookie
	}
	if b[1] != htypeEthernet || b[2] != 6 {
		return nil, errHWType
	}
	m := &Message{
		Op:     b[0],
		Hops:   b[3],
		XID:    binary.BigEndian.Uint32(b[4:8]),
		Secs:   binary.BigEndian.Uint16(b[8:10]),
		Flags:  binary.BigEndian.Uint16(b[10:12]),
		CIAddr: netip.AddrFrom4([4]byte(b[12:16])),
		YIAddr: netip.AddrFrom4([4]byte(b[16:20])),
		SIAddr: netip.AddrFrom4([4]byte(b[20:24])),
		GIAddr: netip.AddrFrom4([4]byte(b[24:28])),
		CHAddr: net.HardwareAddr(append([]byte(nil), b[28:34]...)),
	}
	opts := newOptionSet()
	overload, err := opts.parse(b[fixedHeaderSize+4:], true)
	if err != nil {
		return nil, err
	}
	// Option 52 says the file (1) and/or sname (2) fields carry options too; they are read
	// in that order (RFC 2131 section 4.1).
	if overload&1 != 0 {
		if _, err := opts.parse(b[108:236], false); err != nil {
			return nil, fmt.Errorf("file field: %w", err)
		}
	}
	if overload&2 != 0 {
		if _, err := opts.parse(b[44:108], false); err != nil {
			return nil, fmt.Errorf("sname field: %w", err)
		}
	}
	m.Options = opts.list
	return m, nil
}

// optionSet collects options, joining repeated codes.
type optionSet struct {
	list  []Option
	index map[byte]int
}

func newOptionSet() *optionSet { return &optionSet{index: map[byte]int{}} }

// parse reads options from b. In the options field the end option is required; in an
// overloaded field the rest of the field may be padding. It returns the overload value.
func (s *optionSet) parse(b []byte, needEnd bool) (byte, error) {
	var overload byte
	for i := 0; i < len(b); {
		code := b[i]
		switch code {
		case optPad:
			i++
			continue
		case optEnd:
			return overload, nil
		}
		if i+1 >= len(b) || i+2+int(b[i+1]) > len(b) {
			return 0, errOptionTrun
		}
		data := b[i+2 : i+2+int(b[i+1])]
		i += 2 + len(data)
		if code == optOverload {
			if len(data) == 1 {
				overload = data[0]
			}
			continue
		}
		if at, ok := s.index[code]; ok {
			s.list[at].Data = append(s.list[at].Data, data...)
			continue
		}
		s.index[code] = len(s.list)
		s.list = append(s.list, Option{Code: code, Data: append([]byte(nil), data...)})
	}
	if needEnd {
		return 0, errNoEnd
	}
	return overload, nil
}

// Option returns the data of the option with the code, or nil.
func (m *Message) Option(code byte) []byte {
	for _, o := range m.Options {
		if o.Code == code {
			return o.Data
		}
	}
	return nil
}

// Type returns the message type (option 53), or 0 when it is missing or malformed.
func (m *Message) Type() MessageType {
	if d := m.Option(optMessageType); len(d) == 1 {
		return MessageType(d[0])
	}
	return 0
}

// addrOption returns an option holding one IPv4 address, or the zero Addr.
func (m *Message) addrOption(code byte) netip.Addr {
	if d := m.Option(code); len(d) == 4 {
		return netip.AddrFrom4([4]byte(d))
	}
	return netip.Addr{}
}

// Marshal encodes the message, padded to the BOOTP minimum size. Options longer than 255
// bytes are split (RFC 3396).
func (m *Message) Marshal() ([]byte, error) {
	if len(m.CHAddr) != 6 {
		return nil, errHWType
	}
	b := make([]byte, fixedHeaderSize, minReplySize)
	b[0], b[1], b[2], b[3] = m.Op, htypeEthernet, 6, m.Hops
	binary.BigEndian.PutUint32(b[4:8], m.XID)
	binary.BigEndian.PutUint16(b[8:10], m.Secs)
	binary.BigEndian.PutUint16(b[10:12], m.Flags)
	for i, a := range []netip.Addr{m.CIAddr, m.YIAddr, m.SIAddr, m.GIAddr} {
		if a.IsValid() {
			if !a.Is4() {
				return nil, fmt.Errorf("address %s is not IPv4", a)
			}
			v := a.As4()
			copy(b[12+4*i:], v[:])
		}
	}
	copy(b[28:34], m.CHAddr)
	b = append(b, magicCookie[:]...)
	for _, o := range m.Options {
		if o.Code == optPad || o.Code == optEnd {
			return nil, fmt.Errorf("option code %d cannot carry data", o.Code)
		}
		data := o.Data
		for first := true; first || len(data) > 0; first = false {
			n := min(len(data), 255)
			b = append(b, o.Code, byte(n))
			b = append(b, data[:n]...)
			data = data[n:]
		}
	}
	b = append(b, optEnd)
	for len(b) < minReplySize {
		b = append(b, optPad)
	}
	return b, nil
}
