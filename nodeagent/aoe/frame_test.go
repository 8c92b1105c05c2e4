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

package aoe

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"testing"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func TestFrameRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte{0x5a}, 1024)
	cases := map[string]*Frame{
		"ata read ext request": {
			Header: Header{Dst: macA, Src: macB, Version: 1, Shelf: 7, Slot: 3, Command: CommandATA, Tag: 0xdeadbeef},
			ATA:    &ATAArg{Extended: true, SectorCount: 2, CmdStatus: ataReadSectorsExt, LBA: 1<<40 + 5},
		},
		"ata write 28-bit with data": {
			Header: Header{Dst: macA, Src: macB, Version: 1, Shelf: 1, Slot: 1, Command: CommandATA, Tag: 1},
			ATA:    &ATAArg{Write: true, Async: true, Device: true, SectorCount: 2, CmdStatus: ataWriteSectors, LBA: LBA28(0x0abcdef1), Data: data},
		},
		"config response": {
			Header: Header{Dst: macB, Src: macA, Version: 1, Response: true, Shelf: 65534, Slot: 254, Command: CommandQueryConfig, Tag: 9},
			Config: &ConfigArg{BufferCount: 16, Firmware: 0x4019, SectorCount: 2, Version: 1, Command: ConfigSet, Config: []byte("hello")},
		},
		"error response": {
			Header: Header{Dst: macB, Src: macA, Version: 1, Response: true, Error: true, Code: ErrorUnrecognizedCommand, Shelf: 2, Slot: 2, Command: 9, Tag: 3},
			Arg:    make([]byte, 36),
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := f.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < minFrameLen {
				t.Fatalf("frame of %d bytes is not padded to %d", len(b), minFrameLen)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.ATA != nil && f.ATA != nil && len(f.ATA.Data) == 0 {
				got.ATA.Data = nil // Ethernet padding
			}
			if !reflect.DeepEqual(got, f) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, f)
			}
		})
	}
}

// TestFrameWire pins the wire layout against hand-assembled bytes.
func TestFrameWire(t *testing.T) {
	f := &Frame{
		Header: Header{Dst: macA, Src: macB, Version: 1, Shelf: 0x0102, Slot: 3, Command: CommandATA, Tag: 0x0a0b0c0d},
		ATA:    &ATAArg{Extended: true, Write: true, SectorCount: 1, CmdStatus: 0x34, LBA: 0x060504030201},
	}
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x02, 0, 0, 0, 0, 0x0a, 0x02, 0, 0, 0, 0, 0x0b, 0x88, 0xa2,
		0x10, 0, 0x01, 0x02, 3, 0, 0x0a, 0x0b, 0x0c, 0x0d,
		0x41, 0, 1, 0x34, 1, 2, 3, 4, 5, 6, 0, 0,
	}
	if !bytes.Equal(b[:len(want)], want) {
		t.Errorf("wire bytes\n% x\nwant\n% x", b[:len(want)], want)
	}
	if got := LBA28(0x0fedcba9); got != 0xefedcba9 {
		t.Errorf("LBA28 = %#x", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := (&Frame{
		Header: Header{Dst: macA, Src: macB, Version: 1, Command: CommandQueryConfig},
		Config: &ConfigArg{Config: []byte("abc")},
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	notAoE := bytes.Clone(good)
	notAoE[12] = 0x08
	longConfig := bytes.Clone(good)
	longConfig[HeaderLen+6], longConfig[HeaderLen+7] = 0xff, 0xff
	shortATA := bytes.Clone(good[:HeaderLen+ataArgLen-1])
	shortATA[19] = byte(CommandATA)
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"empty":                     {nil, errShortFrame},
		"header cut":                {good[:HeaderLen-1], errShortFrame},
		"other ethertype":           {notAoE, errNotAoE},
		"config string past end":    {longConfig, errConfigLength},
		"config argument cut":       {good[:HeaderLen+configArgLen-1], errShortArg},
		"ata argument cut":          {shortATA, errShortArg},
		"config length beyond data": {good[:HeaderLen+configArgLen+2], errConfigLength},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(c.b); !errors.Is(err, c.want) {
				t.Errorf("Decode error %v, want %v", err, c.want)
			}
		})
	}
	if _, err := (&Frame{Header: Header{Dst: macA[:5], Src: macB}}).Marshal(); err == nil {
		t.Error("Marshal accepted a 5-byte address")
	}
	if _, err := (&Frame{Header: Header{Dst: macA, Src: macB}, Config: &ConfigArg{Config: make([]byte, MaxConfigLength+1)}}).Marshal(); err == nil {
		t.Error("Marshal accepted an oversized config string")
	}
}

func TestIdentifyRoundTrip(t *testing.T) {
	cases := []struct {
		sectors   uint64
		wantLBA28 uint32
	}{
		{2048, 2048},
		{1 << 28, maxLBA28},
		{1<<40 + 3, maxLBA28},
	}
	for _, c := range cases {
		b := identify(c.sectors, "pinet-e1.2", "PiNet1", "PiNet AoE target")
		id, err := ParseIdentity(b)
		if err != nil {
			t.Fatal(err)
		}
		want := Identity{
			Serial: "pinet-e1.2", Firmware: "PiNet1", Model: "PiNet AoE target",
			LBA28Sectors: c.wantLBA28, LBA48: true, LBA48Sectors: c.sectors, FlushCache: true, FlushCacheExt: true,
		}
		if id != want {
			t.Errorf("identity of %d sectors: %+v, want %+v", c.sectors, id, want)
		}
		if id.Sectors() != c.sectors {
			t.Errorf("Sectors() = %d, want %d", id.Sectors(), c.sectors)
		}
	}
	// ATA strings are stored with each word's two characters swapped.
	b := identify(8, "AB", "", "")
	if b[2*idWordSerial] != 'B' || b[2*idWordSerial+1] != 'A' {
		t.Errorf("serial bytes %q", b[2*idWordSerial:2*idWordSerial+2])
	}
	if _, err := ParseIdentity(b[:511]); err == nil {
		t.Error("ParseIdentity accepted 511 bytes")
	}
}

func TestMaxSectors(t *testing.T) {
	for mtu, want := range map[int]int{1500: 2, 9000: 17, 533: 0, 534: 1, 1 << 20: 255} {
		if got := MaxSectors(mtu); got != want {
			t.Errorf("MaxSectors(%d) = %d, want %d", mtu, got, want)
		}
	}
}
