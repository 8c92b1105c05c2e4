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
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Defaults of a Dialer.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultRetransmit = 200 * time.Millisecond
	maxRetransmit     = 2 * time.Second
	maxInFlight       = 64
)

// Errors of the initiator.
var (
	// ErrTimeout: the target did not answer a command, retransmissions
	// included, within the Dialer's Timeout.
	ErrTimeout = errors.New("aoe: the target did not answer")
	// ErrClosed: the Device was closed.
	ErrClosed = errors.New("aoe: device closed")
)

// ProtocolError is an AoE error response from the target.
type ProtocolError struct {
	Shelf   uint16
	Slot    uint8
	Command Command
	Code    ErrorCode
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("aoe e%d.%d: command %d refused: %s", e.Shelf, e.Slot, e.Command, e.Code)
}

// ATAError is an ATA command the target executed and failed: its status
// register has ERR (or DF) set.
type ATAError struct {
	Shelf uint16
	Slot  uint8
	// Command is the ATA command; LBA and Sectors what it addressed.
	Command uint8
	LBA     uint64
	Sectors int
	// Status and Err are the ATA status and error registers of the answer.
	Status, Err uint8
}

func (e *ATAError) Error() string {
	what := "aborted"
	if e.OutOfRange() {
		what = "sectors not found (beyond the end of the device)"
	}
	return fmt.Sprintf("aoe e%d.%d: ATA command %#02x of %d sectors at LBA %d failed: status %#02x, error %#02x: %s",
		e.Shelf, e.Slot, e.Command, e.Sectors, e.LBA, e.Status, e.Err, what)
}

// OutOfRange says the target found no such sectors (ATA IDNF).
func (e *ATAError) OutOfRange() bool { return e.Err&errorIDNF != 0 }

// Dialer holds the options of an initiator; the zero value uses the defaults.
type Dialer struct {
	// Conn, when set, is an open socket the Device uses and closes instead of
	// opening one on the interface named to Dial.
	Conn *Conn
	// Timeout bounds one command, retransmissions included (default 30s);
	// Retransmit is the first retransmission interval (default 200ms),
	// doubling up to 2s.
	Timeout, Retransmit time.Duration
	// MaxInFlight bounds commands in flight (default: the target's buffer
	// count, at most 64).
	MaxInFlight int
	// LBA28 makes the Device use the 28-bit READ/WRITE SECTORS commands even
	// when the target supports 48-bit addressing.
	LBA28 bool
	// Observer, when set, learns of every read and write command the Device
	// completes or gives up on.
	Observer IOObserver
}

// Device is an AoE device reached through a user-space initiator. It is safe
// for concurrent use; its io.ReaderAt and io.WriterAt accept any offset and
// length (partial sectors are read, modified and written back).
type Device struct {
	conn         *Conn
	shelf        uint16
	slot         uint8
	timeout, rto time.Duration
	lba48        bool
	sem          chan struct{}
	rmw          sync.Mutex
	observer     IOObserver

	// Set while dialling, then read-only.
	target     net.HardwareAddr
	config     ConfigArg
	ident      Identity
	sectors    uint64
	maxSectors int

	mu      sync.Mutex
	pending map[uint32]chan []byte
	tag     uint32

	done      chan struct{}
	closeOnce sync.Once
	received  chan struct{}
}

// Dial finds device e<shelf>.<slot> on the named interface with a Query
// Config Information request, learns its Ethernet address, identifies it and
// returns it ready for I/O.
func Dial(ctx context.Context, iface string, shelf uint16, slot uint8) (*Device, error) {
	var d Dialer
	return d.Dial(ctx, iface, shelf, slot)
}

// Dial is like the package's Dial with the Dialer's options; iface is
// ignored when the Dialer has a Conn.
func (dl *Dialer) Dial(ctx context.Context, iface string, shelf uint16, slot uint8) (*Device, error) {
	if shelf == BroadcastShelf || slot == BroadcastSlot {
		return nil, fmt.Errorf("aoe: e%d.%d is a broadcast address, not a device", shelf, slot)
	}
	conn := dl.Conn
	if conn == nil {
		var err error
		if conn, err = Listen(iface); err != nil {
			return nil, err
		}
	}
	if MaxSectors(conn.MTU()) < 1 {
		_ = conn.Close()
		return nil, fmt.Errorf("aoe: MTU %d of %s is too small for one sector", conn.MTU(), conn.Interface())
	}
	d := &Device{
		conn: conn, shelf: shelf, slot: slot,
		timeout: dl.Timeout, rto: dl.Retransmit, observer: dl.Observer,
		pending:  map[uint32]chan []byte{},
		tag:      rand.Uint32(),
		done:     make(chan struct{}),
		received: make(chan struct{}),
		sem:      make(chan struct{}, 1),
	}
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}
	if d.rto <= 0 {
		d.rto = DefaultRetransmit
	}
	go d.receive()
	if err := d.handshake(ctx, dl); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// handshake learns the target's address, configuration and identity.
func (d *Device) handshake(ctx context.Context, dl *Dialer) error {
	resp, err := d.roundTrip(ctx, broadcastMAC, &Frame{
		Header: Header{Command: CommandQueryConfig},
		Config: &ConfigArg{Command: ConfigRead},
	})
	if err != nil {
		return fmt.Errorf("aoe: discovering e%d.%d on %s: %w", d.shelf, d.slot, d.conn.Interface(), err)
	}
	if resp.Config == nil || resp.Error {
		return &ProtocolError{Shelf: d.shelf, Slot: d.slot, Command: CommandQueryConfig, Code: resp.Code}
	}
	d.mu.Lock()
	d.target = bytes.Clone(resp.Src)
	d.mu.Unlock()
	d.config = *resp.Config
	d.config.Config = bytes.Clone(resp.Config.Config)

	n := dl.MaxInFlight
	if n <= 0 {
		n = min(max(int(d.config.BufferCount), 1), maxInFlight)
	}
	d.sem = make(chan struct{}, n)
	d.maxSectors = MaxSectors(d.conn.MTU())
	if c := int(d.config.SectorCount); c > 0 {
		d.maxSectors = min(d.maxSectors, c)
	}

	a, err := d.ata(ctx, &ATAArg{CmdStatus: ataIdentifyDevice, SectorCount: 1})
	if err != nil {
		return fmt.Errorf("aoe: identifying e%d.%d: %w", d.shelf, d.slot, err)
	}
	if d.ident, err = ParseIdentity(a.Data); err != nil {
		return err
	}
	d.sectors = d.ident.Sectors()
	d.lba48 = d.ident.LBA48 && !dl.LBA28
	return nil
}

// Close stops the initiator and closes its socket; commands in flight fail
// with ErrClosed.
func (d *Device) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.done)
		d.conn.interrupt()
		<-d.received
		err = d.conn.Close()
	})
	return err
}

// Size is the device's size in bytes.
func (d *Device) Size() int64 { return int64(d.sectors) * SectorSize }

// Identity is the device's IDENTIFY DEVICE answer.
func (d *Device) Identity() Identity { return d.ident }

// Config is the target's Query Config Information answer.
func (d *Device) Config() ConfigArg {
	c := d.config
	c.Config = bytes.Clone(c.Config)
	return c
}

// Target is the Ethernet address the target answered from.
func (d *Device) Target() net.HardwareAddr { return bytes.Clone(d.target) }

// MaxSectors is the number of sectors the initiator puts in one command.
func (d *Device) MaxSectors() int { return d.maxSectors }

// String names the device as the kernel driver does: e<shelf>.<slot>.
func (d *Device) String() string { return fmt.Sprintf("e%d.%d", d.shelf, d.slot) }

// receive hands each response to the command waiting for its tag.
func (d *Device) receive() {
	defer close(d.received)
	buf := make([]byte, d.conn.frameBufferLen())
	for {
		n, err := d.conn.read(buf)
		if err != nil {
			select {
			case <-d.done:
				return
			default:
			}
			if isTimeout(err) {
				continue
			}
			time.Sleep(10 * time.Millisecond) // A failing socket: commands time out.
			continue
		}
		b := buf[:n]
		if b[14]&flagResponse == 0 || uint16(b[16])<<8|uint16(b[17]) != d.shelf || b[18] != d.slot {
			continue
		}
		tag := uint32(b[20])<<24 | uint32(b[21])<<16 | uint32(b[22])<<8 | uint32(b[23])
		d.mu.Lock()
		ch, target := d.pending[tag], d.target
		d.mu.Unlock()
		if ch == nil || (target != nil && !bytes.Equal(b[6:12], target)) {
			continue
		}
		select {
		case ch <- bytes.Clone(b):
		default: // A duplicate answer to a retransmission.
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
