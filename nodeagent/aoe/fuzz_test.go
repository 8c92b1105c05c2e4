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
	"context"
	"testing"
)

// memBacking is an in-memory Backing for driving the target's request
// handling directly with decoded frames.
type memBacking struct{ b []byte }

func (m *memBacking) ReadAt(p []byte, off int64) (int, error)  { return copy(p, m.b[off:]), nil }
func (m *memBacking) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }

// FuzzDecode feeds arbitrary bytes to the frame decoder and to the target's
// request handling: neither may panic, a decoded frame re-encodes to a frame
// that decodes the same, and no answer exceeds the link's frame size.
func FuzzDecode(f *testing.F) {
	seeds := []*Frame{
		{Header: Header{Dst: macA, Src: macB, Version: 1, Shelf: 1, Slot: 1, Command: CommandATA},
			ATA: &ATAArg{Extended: true, SectorCount: 2, CmdStatus: ataReadSectorsExt, LBA: 6}},
		{Header: Header{Dst: macA, Src: macB, Version: 1, Shelf: 1, Slot: 1, Command: CommandATA},
			ATA: &ATAArg{Write: true, SectorCount: 1, CmdStatus: ataWriteSectors, LBA: LBA28(3), Data: make([]byte, 512)}},
		{Header: Header{Dst: macA, Src: macB, Version: 1, Shelf: 1, Slot: 1, Command: CommandATA},
			ATA: &ATAArg{SectorCount: 1, CmdStatus: ataIdentifyDevice}},
		{Header: Header{Dst: broadcastMAC, Src: macB, Version: 1, Shelf: BroadcastShelf, Slot: BroadcastSlot, Command: CommandQueryConfig},
			Config: &ConfigArg{Command: ConfigSet, Config: []byte("cfg")}},
	}
	for _, s := range seeds {
		b, err := s.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			return
		}
		again, err := fr.Marshal()
		if err != nil {
			if len(fr.Dst) == 6 {
				t.Fatalf("re-encoding a decoded frame: %v", err)
			}
			return
		}
		fr2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if fr2.Command != fr.Command || fr2.Tag != fr.Tag || fr2.Shelf != fr.Shelf {
			t.Fatalf("header changed in a round trip: %+v vs %+v", fr2.Header, fr.Header)
		}

		s := &server{
			mac: macA, shelf: 1, slot: 1, backing: &memBacking{b: make([]byte, 64*512)},
			sectors: 64, maxSectors: 2, bufcnt: 16, ident: identify(64, "s", "f", "m"),
		}
		resp := &Frame{Header: Header{Dst: fr.Src, Src: macA, Version: Version, Response: true, Shelf: 1, Slot: 1, Command: fr.Command, Tag: fr.Tag}}
		switch fr.Command {
		case CommandATA:
			if code := s.ata(context.Background(), fr.ATA, resp); code != 0 {
				resp.ATA = nil
			}
		case CommandQueryConfig:
			s.queryConfig(fr.Config, resp)
		}
		out, err := resp.Marshal()
		if err != nil {
			t.Fatalf("encoding the answer: %v", err)
		}
		if len(out) > 1500+ethernetHeaderLen {
			t.Fatalf("answer of %d bytes exceeds a 1500-byte MTU", len(out))
		}
		if !bytes.Equal(out[0:6], fr.Src) {
			t.Fatalf("answer not addressed to the sender")
		}
	})
}
