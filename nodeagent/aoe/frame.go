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

// Package aoe speaks ATA over Ethernet, revision 11 of the protocol: the frame
// encoding, a target that exports a file or block device on an interface, and a
// user-space initiator for hosts without the kernel's aoe driver.
//
// Every value in a frame is in network byte order except the LBA of an ATA
// command and the IDENTIFY DEVICE data, which follow ATA's little-endian layout.
package aoe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// EtherType is the registered Ethernet type of AoE frames.
const EtherType = 0x88a2

// Version is the protocol version this package speaks.
const Version = 1

// Broadcast addresses: a request to shelf BroadcastShelf and slot
// BroadcastSlot reaches every target on the segment.
const (
	BroadcastShelf = 0xffff
	BroadcastSlot  = 0xff
)

// SectorSize is the size of an ATA sector in bytes.
const SectorSize = 512

// MaxConfigLength bounds the config string of Query Config Information.
const MaxConfigLength = 1024

// Sizes of the parts of a frame.
const (
	ethernetHeaderLen = 14
	aoeHeaderLen      = 10
	ataArgLen         = 12
	configArgLen      = 8
	minFrameLen       = 60
	// HeaderLen is the length of the Ethernet and AoE headers together.
	HeaderLen = ethernetHeaderLen + aoeHeaderLen
)

// Command is the AoE command code of a frame.
type Command uint8

// AoE command codes.
const (
	CommandATA         Command = 0
	CommandQueryConfig Command = 1
	CommandMACMask     Command = 2
	CommandReserve     Command = 3
)

// ErrorCode is the AoE error of a response whose error flag is set.
type ErrorCode uint8

// AoE error codes.
const (
	ErrorUnrecognizedCommand ErrorCode = 1
	ErrorBadArgument         ErrorCode = 2
	ErrorDeviceUnavailable   ErrorCode = 3
	ErrorConfigStringPresent ErrorCode = 4
	ErrorUnsupportedVersion  ErrorCode = 5
	ErrorTargetReserved      ErrorCode = 6
)

func (e ErrorCode) String() string {
	switch e {
	case ErrorUnrecognizedCommand:
		return "unrecognized command code"
	case ErrorBadArgument:
		return "bad argument parameter"
	case ErrorDeviceUnavailable:
		return "device unavailable"
	case ErrorConfigStringPresent:
		return "config string present"
	case ErrorUnsupportedVersion:
		return "unsupported version"
	case ErrorTargetReserved:
		return "target is reserved"
	}
	return fmt.Sprintf("error %d", uint8(e))
}

// Header flags (the low nibble of the version byte).
const (
	flagResponse = 0x08
	flagError    = 0x04
)

// ATA argument flags (AFlags).
const (
	aflagExtended = 0x40
	aflagDevice   = 0x10
	aflagAsync    = 0x02
	aflagWrite    = 0x01
)

// Query Config Information sub-commands (CCmd).
const (
	ConfigRead       = 0
	ConfigTestExact  = 1
	ConfigTestPrefix = 2
	ConfigSet        = 3
	ConfigForceSet   = 4
)

// broadcastMAC is the Ethernet broadcast address.
var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Decoding errors.
var (
	errShortFrame   = errors.New("frame too short")
	errNotAoE       = errors.New("not an AoE frame")
	errShortArg     = errors.New("argument too short for its command")
	errConfigLength = errors.New("config string length out of range")
)

// Header is the Ethernet and AoE header common to every frame.
type Header struct {
	Dst, Src net.HardwareAddr
	// Version is the protocol version, 1 for every frame this package sends.
	Version uint8
	// Response marks a frame sent by a target.
	Response bool
	// Error marks a response reporting Code.
	Error bool
	Code  ErrorCode
	Shelf uint16
	Slot  uint8
	// Command selects the argument: ATA or Config.
	Command Command
	// Tag is chosen by the initiator and copied into the response.
	Tag uint32
}

// ATAArg is the argument of an ATA command frame.
type ATAArg struct {
	// Extended selects 48-bit LBA; Write marks data flowing to the target;
	// Async asks for an asynchronous write; Device is the device register flag.
	Extended, Device, Async, Write bool
	// ErrFeature is the feature register in a request and the error register in
	// a response.
	ErrFeature uint8
	// SectorCount is the number of sectors of the command.
	SectorCount uint8
	// CmdStatus is the command register in a request and the status register in
	// a response.
	CmdStatus uint8
	// LBA holds the six LBA bytes as sent (for 28-bit commands the fourth byte
	// is the device/head register; see LBA28).
	LBA uint64
	// Data is the sector data after the argument (possibly with Ethernet padding
	// in a received frame).
	Data []byte
}

// ConfigArg is the argument of a Query Config Information frame.
type ConfigArg struct {
	// BufferCount is how many requests the target can have in flight.
	BufferCount uint16
	// Firmware is the target's firmware version.
	Firmware uint16
	// SectorCount is the largest number of sectors in one ATA command.
	SectorCount uint8
	// Version is the AoE version the target speaks (the high nibble).
	Version uint8
	// Command is the sub-command: ConfigRead … ConfigForceSet.
	Command uint8
	// Config is the config string.
	Config []byte
}

// Frame is one decoded AoE frame.
type Frame struct {
	Header
	// ATA is set for CommandATA frames, Config for CommandQueryConfig frames.
	ATA    *ATAArg
	Config *ConfigArg
	// Arg is the raw argument of any other command (and of an error response
	// whose argument is not decoded).
	Arg []byte
}

// Decode parses a whole Ethernet frame. The returned frame's byte slices alias b.
func Decode(b []byte) (*Frame, error) {
	if len(b) < HeaderLen {
		return nil, errShortFrame
	}
	if binary.BigEndian.Uint16(b[12:14]) != EtherType {
		return nil, errNotAoE
	}
	f := &Frame{Header: decodeHeader(b)}
	arg := b[HeaderLen:]
	switch f.Command {
	case CommandATA:
		a, err := decodeATA(arg)
		if err != nil {
			return nil, err
		}
		f.ATA = a
	case CommandQueryConfig:
		c, err := decodeConfig(arg)
		if err != nil {
			return nil, err
		}
		f.Config = c
	default:
		f.Arg = arg
	}
	return f, nil
}

func decodeHeader(b []byte) Header {
	h := Header{
		Dst:      net.HardwareAddr(b[0:6]),
		Src:      net.HardwareAddr(b[6:12]),
		Version:  b[14] >> 4,
		Response: b[14]&flagResponse != 0,
		Error:    b[14]&flagError != 0,
		Code:     ErrorCode(b[15]),
		Shelf:    binary.BigEndian.Uint16(b[16:18]),
		Slot:     b[18],
		Command:  Command(b[19]),
		Tag:      binary.BigEndian.Uint32(b[20:24]),
	}
	return h
}

func decodeATA(arg []byte) (*ATAArg, error) {
	if len(arg) < ataArgLen {
		return nil, errShortArg
	}
	var lba uint64
	for i := 5; i >= 0; i-- {
		lba = lba<<8 | uint64(arg[4+i])
	}
	return &ATAArg{
		Extended:    arg[0]&aflagExtended != 0,
		Device:      arg[0]&aflagDevice != 0,
		Async:       arg[0]&aflagAsync != 0,
		Write:       arg[0]&aflagWrite != 0,
		ErrFeature:  arg[1],
		SectorCount: arg[2],
		CmdStatus:   arg[3],
		LBA:         lba,
		Data:        arg[ataArgLen:],
	}, nil
}

func decodeConfig(arg []byte) (*ConfigArg, error) {
	if len(arg) < configArgLen {
		return nil, errShortArg
	}
	n := int(binary.BigEndian.Uint16(arg[6:8]))
	if n > MaxConfigLength || n > len(arg)-configArgLen {
		return nil, errConfigLength
	}
	return &ConfigArg{
		BufferCount: binary.BigEndian.Uint16(arg[0:2]),
		Firmware:    binary.BigEndian.Uint16(arg[2:4]),
		SectorCount: arg[4],
		Version:     arg[5] >> 4,
		Command:     arg[5] & 0x0f,
		Config:      arg[configArgLen : configArgLen+n],
	}, nil
}

// Append encodes f as a whole Ethernet frame appended to b, padded to the
// Ethernet minimum of 60 bytes.
func (f *Frame) Append(b []byte) ([]byte, error) {
	start := len(b)
	b, err := f.Header.append(b)
	if err != nil {
		return nil, err
	}
	switch {
	case f.ATA != nil:
		b = f.ATA.append(b)
	case f.Config != nil:
		if len(f.Config.Config) > MaxConfigLength {
			return nil, errConfigLength
		}
		b = f.Config.append(b)
	default:
		b = append(b, f.Arg...)
	}
	for len(b)-start < minFrameLen {
		b = append(b, 0)
	}
	return b, nil
}

// Marshal encodes f as a new Ethernet frame.
func (f *Frame) Marshal() ([]byte, error) {
	return f.Append(nil)
}

func (h *Header) append(b []byte) ([]byte, error) {
	if len(h.Dst) != 6 || len(h.Src) != 6 {
		return nil, errors.New("aoe: frame needs 6-byte source and destination addresses")
	}
	b = append(b, h.Dst...)
	b = append(b, h.Src...)
	b = binary.BigEndian.AppendUint16(b, EtherType)
	v := h.Version << 4
	if h.Response {
		v |= flagResponse
	}
	if h.Error {
		v |= flagError
	}
	b = append(b, v, byte(h.Code))
	b = binary.BigEndian.AppendUint16(b, h.Shelf)
	b = append(b, h.Slot, byte(h.Command))
	return binary.BigEndian.AppendUint32(b, h.Tag), nil
}

func (a *ATAArg) append(b []byte) []byte {
	var fl byte
	if a.Extended {
		fl |= aflagExtended
	}
	if a.Device {
		fl |= aflagDevice
	}
	if a.Async {
		fl |= aflagAsync
	}
	if a.Write {
		fl |= aflagWrite
	}
	b = append(b, fl, a.ErrFeature, a.SectorCount, a.CmdStatus)
	for i := 0; i < 6; i++ {
		b = append(b, byte(a.LBA>>(8*i)))
	}
	b = append(b, 0, 0)
	return append(b, a.Data...)
}

func (c *ConfigArg) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, c.BufferCount)
	b = binary.BigEndian.AppendUint16(b, c.Firmware)
	b = append(b, c.SectorCount, c.Version<<4|c.Command&0x0f)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Config)))
	return append(b, c.Config...)
}

// LBA28 encodes a 28-bit LBA in the six LBA bytes of an ATA argument: the
// fourth byte is the device register, with the LBA and obsolete bits set.
func LBA28(lba uint64) uint64 {
	return lba&0x00ffffff | (0xe0|(lba>>24)&0x0f)<<24
}

// MaxSectors is the number of sectors that fit in one ATA frame on a link of
// the given MTU.
func MaxSectors(mtu int) int {
	n := (mtu - aoeHeaderLen - ataArgLen) / SectorSize
	return max(0, min(n, 255))
}
