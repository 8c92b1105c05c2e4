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

package nbd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// request is one transmission-phase request.
type request struct {
	flags  uint16
	typ    uint16
	handle uint64
	offset uint64
	length uint32
	data   []byte
}

// conn is the transmission phase of one connection.
type conn struct {
	c       net.Conn
	dev     Device
	max     uint32
	writeMu sync.Mutex
	failed  bool
}

// transmit serves requests until the client disconnects or breaks the
// protocol. Requests run concurrently; replies go out as they finish.
func (s *Server) transmit(c net.Conn, r *bufio.Reader, dev Device) error {
	tc := &conn{c: c, dev: dev, max: s.maxRequest()}
	inFlight := s.MaxInFlight
	if inFlight <= 0 {
		inFlight = defaultInFlight
	}
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		req, err := tc.readRequest(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch {
		case req.typ == cmdDisc:
			return nil
		case req.typ == cmdWrite && req.length > tc.max:
			// The payload cannot be skipped sensibly: refuse and hang up.
			_ = tc.reply(req.handle, errInval, nil)
			return fmt.Errorf("%w: write of %d bytes exceeds %d", errProtocol, req.length, tc.max)
		case req.typ == cmdWrite:
			req.data = make([]byte, req.length)
			if _, err := io.ReadFull(r, req.data); err != nil {
				return fmt.Errorf("nbd: reading write data: %w", err)
			}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			tc.execute(req)
		})
	}
}

func (tc *conn) readRequest(r *bufio.Reader) (*request, error) {
	var b [28]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	if m := binary.BigEndian.Uint32(b[0:4]); m != requestMagic {
		return nil, fmt.Errorf("%w: request magic %#x", errProtocol, m)
	}
	return &request{
		flags:  binary.BigEndian.Uint16(b[4:6]),
		typ:    binary.BigEndian.Uint16(b[6:8]),
		handle: binary.BigEndian.Uint64(b[8:16]),
		offset: binary.BigEndian.Uint64(b[16:24]),
		length: binary.BigEndian.Uint32(b[24:28]),
	}, nil
}

// execute runs one request and sends its reply.
func (tc *conn) execute(req *request) {
	size := uint64(tc.dev.Size())
	inRange := req.offset <= size && uint64(req.length) <= size-req.offset
	switch req.typ {
	case cmdRead:
		if req.length > tc.max || !inRange {
			_ = tc.reply(req.handle, errInval, nil)
			return
		}
		buf := make([]byte, req.length)
		if _, err := tc.dev.ReadAt(buf, int64(req.offset)); err != nil && !errors.Is(err, io.EOF) {
			_ = tc.reply(req.handle, errIO, nil)
			return
		}
		_ = tc.reply(req.handle, 0, buf)
	case cmdWrite:
		if !inRange {
			_ = tc.reply(req.handle, errNoSpc, nil)
			return
		}
		if _, err := tc.dev.WriteAt(req.data, int64(req.offset)); err != nil {
			_ = tc.reply(req.handle, errIO, nil)
			return
		}
		if req.flags&cmdFlagFUA != 0 && tc.flush() != nil {
			_ = tc.reply(req.handle, errIO, nil)
			return
		}
		_ = tc.reply(req.handle, 0, nil)
	case cmdFlush:
		if tc.flush() != nil {
			_ = tc.reply(req.handle, errIO, nil)
			return
		}
		_ = tc.reply(req.handle, 0, nil)
	default:
		_ = tc.reply(req.handle, errInval, nil)
	}
}

func (tc *conn) flush() error {
	if f, ok := tc.dev.(flusher); ok {
		return f.Flush()
	}
	return nil
}

// reply sends a simple reply; data only with success.
func (tc *conn) reply(handle uint64, errno uint32, data []byte) error {
	b := make([]byte, 16, 16+len(data))
	binary.BigEndian.PutUint32(b[0:4], simpleReplyMagic)
	binary.BigEndian.PutUint32(b[4:8], errno)
	binary.BigEndian.PutUint64(b[8:16], handle)
	if errno == 0 {
		b = append(b, data...)
	}
	tc.writeMu.Lock()
	defer tc.writeMu.Unlock()
	if tc.failed {
		return net.ErrClosed
	}
	if _, err := tc.c.Write(b); err != nil {
		tc.failed = true
		return err
	}
	return nil
}
