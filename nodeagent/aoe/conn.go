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
	"fmt"
	"net"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// receiveBuffer is the socket receive buffer asked for, so that bursts of
// frames from many requests in flight are not dropped.
const receiveBuffer = 4 << 20

// Conn is a raw AoE socket on one network interface. A Target or a Device
// takes ownership of the Conn it is given and closes it.
type Conn struct {
	pc  *packet.Conn
	ifi *net.Interface
}

// Listen opens an AoE socket (AF_PACKET, EtherType 0x88a2) on the named
// interface of the calling thread's network namespace.
func Listen(iface string) (*Conn, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("aoe: interface %q: %w", iface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("aoe: interface %q has no Ethernet address", iface)
	}
	pc, err := packet.Listen(ifi, packet.Raw, EtherType, nil)
	if err != nil {
		return nil, fmt.Errorf("aoe: opening a packet socket on %q: %w", iface, err)
	}
	// Frames other sockets send on this interface (vblade beside us, say) are
	// none of our business; the destination check below also drops them on
	// kernels without this option.
	if rc, err := pc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, receiveBuffer)
		})
	}
	return &Conn{pc: pc, ifi: ifi}, nil
}

// Interface is the name of the Conn's interface.
func (c *Conn) Interface() string { return c.ifi.Name }

// HardwareAddr is the Ethernet address of the Conn's interface.
func (c *Conn) HardwareAddr() net.HardwareAddr { return c.ifi.HardwareAddr }

// MTU is the interface's MTU when the Conn was opened.
func (c *Conn) MTU() int { return c.ifi.MTU }

// Close closes the socket.
func (c *Conn) Close() error { return c.pc.Close() }

// frameBufferLen is the size of a receive buffer: the largest frame an
// interface of this MTU delivers.
func (c *Conn) frameBufferLen() int { return max(c.ifi.MTU, 1500) + ethernetHeaderLen }

// read reads one frame addressed to this interface (or broadcast) into b.
func (c *Conn) read(b []byte) (int, error) {
	for {
		n, _, err := c.pc.ReadFrom(b)
		if err != nil {
			return 0, err
		}
		if n < HeaderLen {
			continue
		}
		dst := b[0:6]
		if !bytes.Equal(dst, c.ifi.HardwareAddr) && !bytes.Equal(dst, broadcastMAC) {
			continue
		}
		return n, nil
	}
}

// write sends one encoded frame.
func (c *Conn) write(b []byte) error {
	_, err := c.pc.WriteTo(b, &packet.Addr{HardwareAddr: net.HardwareAddr(b[0:6])})
	return err
}

// interrupt wakes a blocked read.
func (c *Conn) interrupt() {
	_ = c.pc.SetReadDeadline(time.Unix(1, 0))
}

// ReadFrame reads one AoE frame addressed to this interface or broadcast
// into b, for callers speaking the protocol themselves (Decode parses it).
func (c *Conn) ReadFrame(b []byte) (int, error) { return c.read(b) }

// WriteFrame sends one encoded frame (see Frame.Marshal) to the destination
// address in its first six bytes.
func (c *Conn) WriteFrame(b []byte) error {
	if len(b) < ethernetHeaderLen {
		return errShortFrame
	}
	return c.write(b)
}

// SetReadDeadline bounds ReadFrame.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.pc.SetReadDeadline(t) }
