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

// Package nbd is a minimal Network Block Device server: the fixed newstyle
// handshake (NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_EXPORT_NAME, NBD_OPT_LIST)
// and simple replies to READ, WRITE (with FUA), FLUSH and DISC. It lets QEMU
// attach any block device the agent can reach in user space, such as an AoE
// device on a host without the kernel's aoe driver, through a unix socket.
package nbd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Protocol constants (the NBD protocol document).
const (
	nbdMagic         = 0x4e42444d41474943 // "NBDMAGIC"
	optMagic         = 0x49484156454f5054 // "IHAVEOPT"
	optReplyMagic    = 0x0003e889045565a9
	requestMagic     = 0x25609513
	simpleReplyMagic = 0x67446698

	flagFixedNewstyle = 1 << 0
	flagNoZeroes      = 1 << 1

	optExportName = 1
	optAbort      = 2
	optList       = 3
	optInfo       = 6
	optGo         = 7

	repAck        = 1
	repServer     = 2
	repInfo       = 3
	repErrUnsup   = 1<<31 | 1
	repErrInvalid = 1<<31 | 3
	repErrUnknown = 1<<31 | 6
	repErrTooBig  = 1<<31 | 9

	infoExport    = 0
	infoName      = 1
	infoBlockSize = 3

	transHasFlags  = 1 << 0
	transSendFlush = 1 << 2
	transSendFUA   = 1 << 3

	cmdRead  = 0
	cmdWrite = 1
	cmdDisc  = 2
	cmdFlush = 3

	cmdFlagFUA = 1 << 0

	errIO    = 5
	errInval = 22
	errNoSpc = 28
)

// Limits.
const (
	// DefaultMaxRequest is the largest read or write accepted (QEMU sends at
	// most 32 MiB).
	DefaultMaxRequest = 32 << 20
	defaultInFlight   = 16
	// maxOptionLen bounds an option's data: a name is at most 4096 bytes.
	maxOptionLen = 8192
	minBlock     = 512
	preferBlock  = 4096
)

// Device is what an export serves. If it also has a Flush() error method,
// NBD_CMD_FLUSH and FUA writes call it.
type Device interface {
	io.ReaderAt
	io.WriterAt
	Size() int64
}

type flusher interface{ Flush() error }

// Server serves its exports to NBD clients. Its fields must not change
// while it serves.
type Server struct {
	// Exports maps export names to devices. A client asking for the empty
	// name gets the export named "" or, if there is exactly one export, that.
	Exports map[string]Device
	// MaxRequest bounds one read or write (default 32 MiB); MaxInFlight the
	// requests one connection runs at once (default 16).
	MaxRequest  uint32
	MaxInFlight int
}

// ListenUnix listens on a unix socket at path, replacing a stale socket
// left there (but no other kind of file).
func ListenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("nbd: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("nbd: removing the stale socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("nbd: %w", err)
	}
	return ln, nil
}

// Serve accepts clients on ln until ctx ends, then closes ln and every
// connection and returns nil once they are done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	logger := log.FromContext(ctx)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("nbd: accepting: %w", err)
		}
		wg.Go(func() {
			if err := s.ServeConn(ctx, c); err != nil && ctx.Err() == nil {
				logger.Info("NBD client dropped", "reason", err.Error())
			}
		})
	}
}

// ServeConn runs the handshake and then the transmission phase on one
// connection until the client disconnects (nil), breaks the protocol (an
// error), or ctx ends. It closes c.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) error {
	defer func() { _ = c.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	r := bufio.NewReaderSize(c, 64<<10)
	name, dev, err := s.handshake(c, r)
	if err != nil || dev == nil {
		return err
	}
	log.FromContext(ctx).V(1).Info("NBD client attached", "export", name)
	return s.transmit(c, r, dev)
}

// lookup finds an export by name.
func (s *Server) lookup(name string) (Device, bool) {
	if d, ok := s.Exports[name]; ok {
		return d, true
	}
	if name == "" && len(s.Exports) == 1 {
		for _, d := range s.Exports {
			return d, true
		}
	}
	return nil, false
}

func (s *Server) maxRequest() uint32 {
	if s.MaxRequest == 0 {
		return DefaultMaxRequest
	}
	return s.MaxRequest
}

// transmissionFlags are the flags every export advertises.
func transmissionFlags() uint16 { return transHasFlags | transSendFlush | transSendFUA }

var errProtocol = errors.New("nbd: protocol violation")
