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
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// Announcement is one target's answer to a broadcast Query Config.
type Announcement struct {
	// Addr is the Ethernet address the target answered from.
	Addr   net.HardwareAddr
	Shelf  uint16
	Slot   uint8
	Config ConfigArg
}

// Discover broadcasts a Query Config Information request to every shelf and
// slot on c's segment and collects the answers that arrive within wait (or
// before ctx ends), one per target address. c must not be in use by a Device
// or Target; it stays open.
func Discover(ctx context.Context, c *Conn, wait time.Duration) ([]Announcement, error) {
	tag := rand.Uint32()
	q := &Frame{
		Header: Header{
			Dst: broadcastMAC, Src: c.HardwareAddr(), Version: Version,
			Shelf: BroadcastShelf, Slot: BroadcastSlot, Command: CommandQueryConfig, Tag: tag,
		},
		Config: &ConfigArg{Command: ConfigRead},
	}
	b, err := q.Marshal()
	if err != nil {
		return nil, err
	}
	if err := c.write(b); err != nil {
		return nil, fmt.Errorf("aoe: broadcasting a config query on %s: %w", c.Interface(), err)
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.pc.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	defer func() { _ = c.pc.SetReadDeadline(time.Time{}) }()
	stop := context.AfterFunc(ctx, c.interrupt)
	defer stop()

	var found []Announcement
	buf := make([]byte, c.frameBufferLen())
	for {
		n, err := c.read(buf)
		if err != nil {
			if isTimeout(err) {
				return found, nil
			}
			return found, fmt.Errorf("aoe: reading config answers on %s: %w", c.Interface(), err)
		}
		f, err := Decode(buf[:n])
		if err != nil || !f.Response || f.Error || f.Tag != tag || f.Config == nil {
			continue
		}
		a := Announcement{Addr: bytes.Clone(f.Src), Shelf: f.Shelf, Slot: f.Slot, Config: *f.Config}
		a.Config.Config = bytes.Clone(f.Config.Config)
		if !containsAnnouncement(found, a) {
			found = append(found, a)
		}
	}
}

func containsAnnouncement(list []Announcement, a Announcement) bool {
	for _, x := range list {
		if bytes.Equal(x.Addr, a.Addr) && x.Shelf == a.Shelf && x.Slot == a.Slot {
			return true
		}
	}
	return false
}
