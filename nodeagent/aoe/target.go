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
	"io"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Defaults of a Target.
const (
	DefaultBufferCount = 16
	defaultWorkers     = 4
	firmwareVersion    = 0x0001
	defaultModel       = "PiNet AoE target"
)

// Backing is the storage a Target exports, such as a sparse *os.File. If it
// also has a Sync method (as *os.File does), FLUSH CACHE calls it.
type Backing interface {
	io.ReaderAt
	io.WriterAt
}

// Target exports one Backing as AoE device e<Shelf>.<Slot> on one interface.
// Its fields are read when Serve starts.
type Target struct {
	// Interface is the network interface to serve on; Conn, when set, is an
	// already open socket used (and closed) instead.
	Interface string
	Conn      *Conn
	// Shelf (0 … 65534) and Slot (0 … 254) are the device's AoE address.
	Shelf uint16
	Slot  uint8
	// Backing holds the data; Size is the device's size in bytes, a multiple
	// of 512 (a trailing partial sector is not exported).
	Backing Backing
	Size    int64
	// Config is the initial config string (at most 1024 bytes); initiators
	// may set it with Query Config Information while the target runs.
	Config []byte
	// BufferCount is how many requests the target accepts in flight
	// (default 16); Workers how many it executes at once (default 4).
	BufferCount uint16
	Workers     int
	// Serial and Model are the IDENTIFY DEVICE strings (defaults derive
	// from the address).
	Serial, Model string
	// Observer, when set, learns of every read and write the target
	// executes.
	Observer IOObserver
}

// IOObserver learns of the reads and writes of a target or an initiator:
// role is "target" or "initiator", bytes what the command asked to move.
type IOObserver interface {
	ObserveIO(role string, write bool, bytes int, err error)
}

// server is a running Target.
type server struct {
	conn       *Conn
	mac        []byte
	shelf      uint16
	slot       uint8
	backing    Backing
	sectors    uint64
	maxSectors int
	bufcnt     uint16
	ident      []byte
	observer   IOObserver

	mu     sync.Mutex
	config []byte
}

func (t *Target) validate() error {
	switch {
	case t.Shelf == BroadcastShelf:
		return fmt.Errorf("aoe: shelf %d is the broadcast shelf", t.Shelf)
	case t.Slot == BroadcastSlot:
		return fmt.Errorf("aoe: slot %d is the broadcast slot", t.Slot)
	case t.Backing == nil:
		return errors.New("aoe: target has no backing")
	case t.Size < SectorSize:
		return fmt.Errorf("aoe: target size %d is less than one sector", t.Size)
	case len(t.Config) > MaxConfigLength:
		return fmt.Errorf("aoe: config string of %d bytes exceeds %d", len(t.Config), MaxConfigLength)
	case t.Conn == nil && t.Interface == "":
		return errors.New("aoe: target has neither an interface nor a socket")
	case t.Workers < 0:
		return fmt.Errorf("aoe: negative worker count %d", t.Workers)
	}
	return nil
}

func (t *Target) start() (*server, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	conn := t.Conn
	if conn == nil {
		var err error
		if conn, err = Listen(t.Interface); err != nil {
			return nil, err
		}
	}
	maxSectors := MaxSectors(conn.MTU())
	if maxSectors < 1 {
		_ = conn.Close()
		return nil, fmt.Errorf("aoe: MTU %d of %s is too small for one sector", conn.MTU(), conn.Interface())
	}
	s := &server{
		conn:       conn,
		mac:        conn.HardwareAddr(),
		shelf:      t.Shelf,
		slot:       t.Slot,
		backing:    t.Backing,
		observer:   t.Observer,
		sectors:    uint64(t.Size / SectorSize),
		maxSectors: maxSectors,
		bufcnt:     t.BufferCount,
		config:     bytes.Clone(t.Config),
	}
	if s.bufcnt == 0 {
		s.bufcnt = DefaultBufferCount
	}
	serial, model := t.Serial, t.Model
	if serial == "" {
		serial = fmt.Sprintf("pinet-e%d.%d", t.Shelf, t.Slot)
	}
	if model == "" {
		model = defaultModel
	}
	s.ident = identify(s.sectors, serial, "PiNet1", model)
	return s, nil
}

// Serve answers AoE requests until ctx ends (then it returns nil) or the
// socket fails. It announces the device with a broadcast Query Config
// response when it starts, as targets do, so initiators notice it.
func (t *Target) Serve(ctx context.Context) error {
	s, err := t.start()
	if err != nil {
		return err
	}
	defer func() { _ = s.conn.Close() }()
	logger := log.FromContext(ctx).WithValues("shelf", s.shelf, "slot", s.slot, "interface", s.conn.Interface())
	logger.Info("Serving AoE target", "sectors", s.sectors, "maxSectors", s.maxSectors)
	stop := context.AfterFunc(ctx, s.conn.interrupt)
	defer stop()

	workers := t.Workers
	if workers == 0 {
		workers = defaultWorkers
	}
	frameLen := s.conn.frameBufferLen()
	pool := sync.Pool{New: func() any { return make([]byte, frameLen) }}
	queue := make(chan []byte, s.bufcnt)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			out := make([]byte, 0, frameLen)
			for b := range queue {
				s.handle(ctx, b, out[:0])
				pool.Put(b[:cap(b)])
			}
		})
	}
	defer wg.Wait()
	defer close(queue)

	s.announce()
	for {
		b := pool.Get().([]byte)
		n, err := s.conn.read(b)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("aoe: reading from %s: %w", s.conn.Interface(), err)
		}
		if !s.wants(b[:n]) {
			pool.Put(b)
			continue
		}
		select {
		case queue <- b[:n]:
		default:
			// More requests than buffers: the initiator retransmits.
			pool.Put(b)
		}
	}
}

// wants is the cheap filter of the read loop: requests for this address or
// the broadcast address.
func (s *server) wants(b []byte) bool {
	if b[14]&flagResponse != 0 || b[12] != EtherType>>8 || b[13] != EtherType&0xff {
		return false
	}
	shelf := uint16(b[16])<<8 | uint16(b[17])
	return (shelf == s.shelf || shelf == BroadcastShelf) && (b[18] == s.slot || b[18] == BroadcastSlot)
}

// handle answers one request frame; out is scratch space for the response.
func (s *server) handle(ctx context.Context, b, out []byte) {
	f, err := Decode(b)
	if err != nil {
		return // Too short or inconsistent to answer; the initiator retries.
	}
	exact := f.Shelf == s.shelf && f.Slot == s.slot
	resp := &Frame{Header: Header{
		Dst: f.Src, Src: s.mac, Version: Version, Response: true,
		Shelf: s.shelf, Slot: s.slot, Command: f.Command, Tag: f.Tag,
	}}
	switch {
	case f.Version != Version:
		if !exact {
			return
		}
		resp.Error, resp.Code = true, ErrorUnsupportedVersion
	case f.Command == CommandQueryConfig:
		if !s.queryConfig(f.Config, resp) {
			return
		}
	case !exact:
		return
	case f.Command == CommandATA:
		if code := s.ata(ctx, f.ATA, resp); code != 0 {
			resp.ATA = nil
			resp.Error, resp.Code = true, code
		}
	default:
		resp.Error, resp.Code = true, ErrorUnrecognizedCommand
	}
	s.send(ctx, resp, out)
}

func (s *server) send(ctx context.Context, f *Frame, out []byte) {
	b, err := f.Append(out[:0])
	if err == nil {
		err = s.conn.write(b)
	}
	if err != nil && ctx.Err() == nil {
		log.FromContext(ctx).Error(err, "Sending an AoE response failed", "shelf", s.shelf, "slot", s.slot)
	}
}

// announce broadcasts the device's configuration.
func (s *server) announce() {
	f := &Frame{Header: Header{
		Dst: broadcastMAC, Src: s.mac, Version: Version, Response: true,
		Shelf: s.shelf, Slot: s.slot, Command: CommandQueryConfig,
	}}
	s.mu.Lock()
	f.Config = s.configArg(ConfigRead)
	s.mu.Unlock()
	if b, err := f.Marshal(); err == nil {
		_ = s.conn.write(b)
	}
}

// configArg is the target's Query Config answer; s.mu must be held.
func (s *server) configArg(cmd uint8) *ConfigArg {
	return &ConfigArg{
		BufferCount: s.bufcnt,
		Firmware:    firmwareVersion,
		SectorCount: uint8(s.maxSectors),
		Version:     Version,
		Command:     cmd,
		Config:      bytes.Clone(s.config),
	}
}

// queryConfig fills resp for a Query Config request and says whether to send
// it: test commands that do not match are not answered.
func (s *server) queryConfig(c *ConfigArg, resp *Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.Command {
	case ConfigRead:
	case ConfigTestExact:
		if !bytes.Equal(c.Config, s.config) {
			return false
		}
	case ConfigTestPrefix:
		if !bytes.HasPrefix(s.config, c.Config) {
			return false
		}
	case ConfigSet:
		if len(s.config) > 0 && !bytes.Equal(c.Config, s.config) {
			resp.Error, resp.Code = true, ErrorConfigStringPresent
			break
		}
		s.config = bytes.Clone(c.Config)
	case ConfigForceSet:
		s.config = bytes.Clone(c.Config)
	default:
		resp.Error, resp.Code = true, ErrorBadArgument
	}
	resp.Config = s.configArg(c.Command)
	return true
}
