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

package aoe_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
)

// rawPeer speaks frames to a target by hand.
type rawPeer struct {
	t      *testing.T
	conn   *aoe.Conn
	target net.HardwareAddr
	tag    uint32
}

func newRawPeer(t *testing.T, p *aoetest.Pair) *rawPeer {
	conn := p.ListenB(t)
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	var found []aoe.Announcement
	for len(found) == 0 && ctx.Err() == nil {
		var err error
		if found, err = aoe.Discover(ctx, conn, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if len(found) != 1 {
		t.Fatalf("found %d targets, want 1", len(found))
	}
	return &rawPeer{t: t, conn: conn, target: found[0].Addr, tag: 1000}
}

func (r *rawPeer) frame(shelf uint16, slot uint8, cmd aoe.Command) *aoe.Frame {
	r.tag++
	return &aoe.Frame{Header: aoe.Header{
		Dst: r.target, Src: r.conn.HardwareAddr(), Version: aoe.Version,
		Shelf: shelf, Slot: slot, Command: cmd, Tag: r.tag,
	}}
}

func (r *rawPeer) send(f *aoe.Frame) {
	b, err := f.Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendRaw(b)
}

func (r *rawPeer) sendRaw(b []byte) {
	if err := r.conn.WriteFrame(b); err != nil {
		r.t.Fatal(err)
	}
}

// next is the next response to any tag.
func (r *rawPeer) next() *aoe.Frame {
	r.t.Helper()
	if err := r.conn.SetReadDeadline(time.Now().Add(dialTimeout)); err != nil {
		r.t.Fatal(err)
	}
	buf := make([]byte, 9100)
	for {
		n, err := r.conn.ReadFrame(buf)
		if err != nil {
			r.t.Fatalf("waiting for an answer: %v", err)
		}
		f, err := aoe.Decode(buf[:n])
		if err == nil && f.Response {
			return f
		}
	}
}

// nextOr is the next response, calling retry each time none came for wait.
func (r *rawPeer) nextOr(wait time.Duration, retry func()) *aoe.Frame {
	r.t.Helper()
	buf := make([]byte, 9100)
	for tries := 0; ; tries++ {
		if err := r.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
			r.t.Fatal(err)
		}
		n, err := r.conn.ReadFrame(buf)
		if err != nil {
			if tries > int(dialTimeout/wait) {
				r.t.Fatalf("waiting for an answer: %v", err)
			}
			retry()
			continue
		}
		if f, err := aoe.Decode(buf[:n]); err == nil && f.Response {
			return f
		}
	}
}

// exchange sends f and returns its answer. The target under test has one
// worker, so it answers in order, and an answer to an earlier tag here
// means a request that should have gone unanswered was answered.
func (r *rawPeer) exchange(f *aoe.Frame) *aoe.Frame {
	r.t.Helper()
	r.send(f)
	resp := r.next()
	if resp.Tag != f.Tag {
		r.t.Fatalf("answer to tag %d while waiting for %d", resp.Tag, f.Tag)
	}
	return resp
}

func TestTargetBadInputs(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-bad", 1500)
	const size = 1 << 20
	file := sparseFile(t, size)
	serve(t, p, &aoe.Target{Shelf: 6, Slot: 1, Backing: file, Size: size, Workers: 1, Config: []byte("pinet")})
	r := newRawPeer(t, p)
	ata := func(a *aoe.ATAArg) *aoe.Frame {
		f := r.frame(6, 1, aoe.CommandATA)
		f.ATA = a
		return f
	}
	aoeError := func(name string, f *aoe.Frame, want aoe.ErrorCode) {
		t.Helper()
		resp := r.exchange(f)
		if !resp.Error || resp.Code != want {
			t.Errorf("%s: error flag %v code %v, want %v", name, resp.Error, resp.Code, want)
		}
	}
	ataStatus := func(name string, f *aoe.Frame, status, errReg uint8) {
		t.Helper()
		resp := r.exchange(f)
		if resp.Error || resp.ATA == nil || resp.ATA.CmdStatus != status || resp.ATA.ErrFeature != errReg {
			t.Errorf("%s: answer %+v %+v, want status %#x error %#x", name, resp.Header, resp.ATA, status, errReg)
		}
	}

	v2 := ata(&aoe.ATAArg{SectorCount: 1, CmdStatus: 0xec})
	v2.Version = 2
	aoeError("version 2", v2, aoe.ErrorUnsupportedVersion)
	aoeError("unknown command", r.frame(6, 1, 9), aoe.ErrorUnrecognizedCommand)
	aoeError("write with short data", ata(&aoe.ATAArg{Write: true, Extended: true, SectorCount: 2, CmdStatus: 0x34, Data: bytes.Repeat([]byte{1}, 100)}), aoe.ErrorBadArgument)
	aoeError("read of more sectors than a frame holds", ata(&aoe.ATAArg{Extended: true, SectorCount: 3, CmdStatus: 0x24}), aoe.ErrorBadArgument)
	aoeError("identify of 0 sectors", ata(&aoe.ATAArg{CmdStatus: 0xec}), aoe.ErrorBadArgument)
	if !bytes.Equal(fileBytes(t, file, 0, 1024), make([]byte, 1024)) {
		t.Error("a refused write changed the file")
	}
	ataStatus("read beyond the end", ata(&aoe.ATAArg{Extended: true, SectorCount: 2, CmdStatus: 0x24, LBA: size/512 - 1}), 0x41, 0x10)
	ataStatus("28-bit write beyond the end", ata(&aoe.ATAArg{Write: true, SectorCount: 1, CmdStatus: 0x30, LBA: aoe.LBA28(size / 512), Data: make([]byte, 512)}), 0x41, 0x10)
	ataStatus("unknown ATA command", ata(&aoe.ATAArg{CmdStatus: 0xb0}), 0x41, 0x04)
	ataStatus("check power mode", ata(&aoe.ATAArg{CmdStatus: 0xe5}), 0x40, 0)

	// Requests for other addresses and truncated frames go unanswered;
	// random frames for our address may be answered (they can be valid
	// requests) but must not stop the target.
	unanswered := map[uint32]bool{}
	for _, addr := range []struct {
		shelf uint16
		slot  uint8
	}{{6, 2}, {7, 1}, {aoe.BroadcastShelf, 1}, {6, aoe.BroadcastSlot}} {
		f := ata(&aoe.ATAArg{SectorCount: 1, CmdStatus: 0xec})
		f.Shelf, f.Slot = addr.shelf, addr.slot
		unanswered[f.Tag] = true
		r.send(f)
	}
	good, err := ata(&aoe.ATAArg{SectorCount: 1, CmdStatus: 0xec}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	unanswered[r.tag] = true
	for n := 14; n < aoe.HeaderLen+12; n++ {
		r.sendRaw(append([]byte(nil), good[:n]...))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		junk := make([]byte, 24+rng.IntN(1500-10))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		copy(junk, good[:14])
		junk[14] = 0x10 | junk[14]&0x07        // a request, not a response
		junk[16], junk[17], junk[18] = 0, 6, 1 // our address, so it is parsed
		junk[20], junk[21], junk[22], junk[23] = 0xee, 0, byte(i>>8), byte(i)
		r.sendRaw(junk)
	}
	// The burst overflows the target's 16 buffers, so frames are dropped, as
	// on a busy network: the last request is retransmitted like an
	// initiator's.
	final := ata(&aoe.ATAArg{SectorCount: 1, CmdStatus: 0xec})
	r.send(final)
	for {
		resp := r.nextOr(time.Second, func() { r.send(final) })
		if unanswered[resp.Tag] {
			t.Fatalf("tag %d was answered: %+v", resp.Tag, resp.Header)
		}
		if resp.Tag != final.Tag {
			continue
		}
		if identity, err := aoe.ParseIdentity(resp.ATA.Data); err != nil || identity.LBA48Sectors != size/512 {
			t.Errorf("identify after garbage: %+v, %v", identity, err)
		}
		break
	}
}

// TestTargetQueryConfig: the config string sub-commands of r11.
func TestTargetQueryConfig(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-cfg", 1500)
	file := sparseFile(t, 1<<20)
	serve(t, p, &aoe.Target{Shelf: 6, Slot: 2, Backing: file, Size: 1 << 20, Workers: 1, Config: []byte("pinet-vol")})
	r := newRawPeer(t, p)
	query := func(cmd uint8, s string) *aoe.Frame {
		f := r.frame(aoe.BroadcastShelf, aoe.BroadcastSlot, aoe.CommandQueryConfig)
		f.Config = &aoe.ConfigArg{Command: cmd, Config: []byte(s)}
		return f
	}
	check := func(name string, f *aoe.Frame, wantErr bool, wantConfig string) {
		t.Helper()
		resp := r.exchange(f)
		if resp.Error != wantErr || resp.Config == nil || string(resp.Config.Config) != wantConfig ||
			resp.Shelf != 6 || resp.Slot != 2 || resp.Config.Version != 1 || resp.Config.SectorCount != 2 {
			t.Errorf("%s: %+v %+v", name, resp.Header, resp.Config)
		}
	}
	check("read", query(aoe.ConfigRead, ""), false, "pinet-vol")
	check("exact match", query(aoe.ConfigTestExact, "pinet-vol"), false, "pinet-vol")
	check("prefix match", query(aoe.ConfigTestPrefix, "pinet"), false, "pinet-vol")
	// Mismatched tests are not answered: the read after them is.
	r.send(query(aoe.ConfigTestExact, "pinet"))
	r.send(query(aoe.ConfigTestPrefix, "other"))
	check("read after mismatches", query(aoe.ConfigRead, ""), false, "pinet-vol")
	setErr := r.exchange(query(aoe.ConfigSet, "other"))
	if !setErr.Error || setErr.Code != aoe.ErrorConfigStringPresent {
		t.Errorf("set over a present string: %+v", setErr.Header)
	}
	check("force set", query(aoe.ConfigForceSet, "claimed"), false, "claimed")
	check("read the new string", query(aoe.ConfigRead, ""), false, "claimed")
	bad := r.exchange(query(9, ""))
	if !bad.Error || bad.Code != aoe.ErrorBadArgument {
		t.Errorf("unknown sub-command: %+v", bad.Header)
	}
}

// TestInitiatorErrors: what the initiator tells its caller.
func TestInitiatorErrors(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-ierr", 1500)
	const size = 1 << 20
	file := sparseFile(t, size)
	serve(t, p, &aoe.Target{Shelf: 8, Slot: 8, Backing: file, Size: size})
	d := dial(t, p, aoe.Dialer{}, 8, 8)

	err := d.ReadSectors(context.Background(), size/512-1, make([]byte, 1024))
	var ataErr *aoe.ATAError
	if !errors.As(err, &ataErr) || !ataErr.OutOfRange() || !strings.Contains(err.Error(), "beyond the end of the device") {
		t.Errorf("read beyond the end: %v", err)
	}
	if err := d.ReadSectors(context.Background(), 0, make([]byte, 100)); err == nil {
		t.Error("a read of a partial sector was accepted")
	}
	if _, err := d.ReadAt(make([]byte, 10), -1); err == nil {
		t.Error("a read at a negative offset was accepted")
	}
	if _, err := d.WriteAt(make([]byte, 10), -1); err == nil {
		t.Error("a write at a negative offset was accepted")
	}

	// Nothing answers e8.9: the dial times out with ErrTimeout.
	dl := aoe.Dialer{Conn: p.ListenB(t), Timeout: time.Second, Retransmit: 100 * time.Millisecond}
	if _, err := dl.Dial(context.Background(), "", 8, 9); !errors.Is(err, aoe.ErrTimeout) {
		t.Errorf("dialling an absent device: %v", err)
	}
	if _, err := aoe.Dial(context.Background(), "pt-no-such-interface", 1, 1); err == nil {
		t.Error("Dial on a missing interface succeeded")
	}
	if _, err := (&aoe.Dialer{}).Dial(context.Background(), "lo", aoe.BroadcastShelf, 1); err == nil {
		t.Error("Dial of the broadcast shelf succeeded")
	}

	// A closed device fails its commands with ErrClosed.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadAt(make([]byte, 512), 0); !errors.Is(err, aoe.ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
}

// TestTargetRejectsBadConfig: a target that cannot serve says why before
// touching the network.
func TestTargetRejectsBadConfig(t *testing.T) {
	file := sparseFile(t, 1<<20)
	cases := map[string]aoe.Target{
		"broadcast shelf":   {Interface: "lo", Shelf: aoe.BroadcastShelf, Backing: file, Size: 1 << 20},
		"broadcast slot":    {Interface: "lo", Slot: aoe.BroadcastSlot, Backing: file, Size: 1 << 20},
		"no backing":        {Interface: "lo", Size: 1 << 20},
		"empty":             {Interface: "lo", Backing: file, Size: 100},
		"long config":       {Interface: "lo", Backing: file, Size: 1 << 20, Config: make([]byte, 1025)},
		"no interface":      {Backing: file, Size: 1 << 20},
		"missing interface": {Interface: "pt-no-such-if", Backing: file, Size: 1 << 20},
	}
	for name, tgt := range cases {
		t.Run(name, func(t *testing.T) {
			if err := tgt.Serve(context.Background()); err == nil {
				t.Error("Serve accepted it")
			}
		})
	}
}
