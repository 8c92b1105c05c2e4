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
	"fmt"
	"io"
	"net"
	"sort"
	"time"
)

// handshakeTimeout bounds the option haggling of one client.
const handshakeTimeout = time.Minute

// optionReply writes one reply to an option.
func optionReply(w io.Writer, opt, typ uint32, data []byte) error {
	b := make([]byte, 0, 20+len(data))
	b = binary.BigEndian.AppendUint64(b, optReplyMagic)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	_, err := w.Write(append(b, data...))
	return err
}

// handshake runs the fixed newstyle negotiation. It returns the chosen
// export, or a nil Device when the client aborted.
func (s *Server) handshake(c net.Conn, r *bufio.Reader) (string, Device, error) {
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	hello := binary.BigEndian.AppendUint64(nil, nbdMagic)
	hello = binary.BigEndian.AppendUint64(hello, optMagic)
	hello = binary.BigEndian.AppendUint16(hello, flagFixedNewstyle|flagNoZeroes)
	if _, err := c.Write(hello); err != nil {
		return "", nil, fmt.Errorf("nbd: greeting: %w", err)
	}
	var clientFlags uint32
	if err := binary.Read(r, binary.BigEndian, &clientFlags); err != nil {
		return "", nil, fmt.Errorf("nbd: reading client flags: %w", err)
	}
	if clientFlags&^(flagFixedNewstyle|flagNoZeroes) != 0 || clientFlags&flagFixedNewstyle == 0 {
		return "", nil, fmt.Errorf("%w: client flags %#x (fixed newstyle is required)", errProtocol, clientFlags)
	}
	noZeroes := clientFlags&flagNoZeroes != 0
	for {
		var hdr [16]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return "", nil, fmt.Errorf("nbd: reading an option: %w", err)
		}
		if binary.BigEndian.Uint64(hdr[0:8]) != optMagic {
			return "", nil, fmt.Errorf("%w: bad option magic", errProtocol)
		}
		opt, n := binary.BigEndian.Uint32(hdr[8:12]), binary.BigEndian.Uint32(hdr[12:16])
		if n > maxOptionLen {
			// Not worth reading through: the client is not one we serve.
			_ = optionReply(c, opt, repErrTooBig, []byte("option data too long"))
			return "", nil, fmt.Errorf("%w: option %d with %d bytes of data", errProtocol, opt, n)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return "", nil, fmt.Errorf("nbd: reading option data: %w", err)
		}
		name, dev, done, err := s.option(c, opt, data, noZeroes)
		if err != nil || done {
			return name, dev, err
		}
	}
}

// option answers one option; done says the negotiation ended (a device
// chosen, or the client aborted).
func (s *Server) option(c net.Conn, opt uint32, data []byte, noZeroes bool) (string, Device, bool, error) {
	switch opt {
	case optExportName:
		dev, ok := s.lookup(string(data))
		if !ok {
			return "", nil, true, fmt.Errorf("%w: no export %q", errProtocol, data)
		}
		b := binary.BigEndian.AppendUint64(nil, uint64(dev.Size()))
		b = binary.BigEndian.AppendUint16(b, transmissionFlags())
		if !noZeroes {
			b = append(b, make([]byte, 124)...)
		}
		_, err := c.Write(b)
		return string(data), dev, true, err
	case optAbort:
		_ = optionReply(c, opt, repAck, nil)
		return "", nil, true, nil
	case optList:
		if len(data) != 0 {
			return "", nil, false, optionReply(c, opt, repErrInvalid, []byte("LIST takes no data"))
		}
		return "", nil, false, s.list(c)
	case optInfo, optGo:
		name, dev, err := s.info(c, opt, data)
		if err != nil || dev == nil || opt == optInfo {
			return "", nil, false, err
		}
		return name, dev, true, nil
	default:
		return "", nil, false, optionReply(c, opt, repErrUnsup, []byte("option not supported"))
	}
}

func (s *Server) list(c net.Conn) error {
	names := make([]string, 0, len(s.Exports))
	for n := range s.Exports {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(n)))
		if err := optionReply(c, optList, repServer, append(b, n...)); err != nil {
			return err
		}
	}
	return optionReply(c, optList, repAck, nil)
}

// info answers NBD_OPT_INFO and NBD_OPT_GO; it returns the device when the
// export exists and the request was well formed.
func (s *Server) info(c net.Conn, opt uint32, data []byte) (string, Device, error) {
	if len(data) < 6 {
		return "", nil, optionReply(c, opt, repErrInvalid, []byte("option data too short"))
	}
	nameLen := binary.BigEndian.Uint32(data[0:4])
	if uint64(nameLen)+6 > uint64(len(data)) {
		return "", nil, optionReply(c, opt, repErrInvalid, []byte("name length beyond the option data"))
	}
	name := string(data[4 : 4+nameLen])
	rest := data[4+nameLen:]
	nreq := int(binary.BigEndian.Uint16(rest[0:2]))
	if len(rest) != 2+2*nreq {
		return "", nil, optionReply(c, opt, repErrInvalid, []byte("information request count does not match the data"))
	}
	dev, ok := s.lookup(name)
	if !ok {
		return "", nil, optionReply(c, opt, repErrUnknown, fmt.Appendf(nil, "no export %q", name))
	}
	for i := range nreq {
		var err error
		switch binary.BigEndian.Uint16(rest[2+2*i:]) {
		case infoName:
			err = optionReply(c, opt, repInfo, append(binary.BigEndian.AppendUint16(nil, infoName), name...))
		case infoBlockSize:
			b := binary.BigEndian.AppendUint16(nil, infoBlockSize)
			b = binary.BigEndian.AppendUint32(b, minBlock)
			b = binary.BigEndian.AppendUint32(b, preferBlock)
			b = binary.BigEndian.AppendUint32(b, s.maxRequest())
			err = optionReply(c, opt, repInfo, b)
		}
		if err != nil {
			return "", nil, err
		}
	}
	b := binary.BigEndian.AppendUint16(nil, infoExport)
	b = binary.BigEndian.AppendUint64(b, uint64(dev.Size()))
	b = binary.BigEndian.AppendUint16(b, transmissionFlags())
	if err := optionReply(c, opt, repInfo, b); err != nil {
		return "", nil, err
	}
	return name, dev, optionReply(c, opt, repAck, nil)
}
