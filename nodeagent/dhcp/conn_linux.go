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

package dhcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

const (
	serverPort = 67
	clientPort = 68
)

// conn is the server's pair of sockets on its bridge: a UDP socket on port 67 bound to the
// bridge receives (broadcasts and renewals unicast to ServerIP), and a link-layer socket that
// receives nothing sends replies to a client's MAC, which needs no ARP for an address the
// client does not hold yet.
type conn struct {
	udp     *net.UDPConn
	raw     int // AF_PACKET, SOCK_DGRAM, protocol 0
	ifindex int
}

// Listen opens the server's sockets on its bridge, inside Config.NetNS when set. Serve
// answers on them.
func (s *Server) Listen() error {
	if s.conn != nil {
		return errors.New("dhcp: already listening")
	}
	c, err := inNetNS(s.cfg.NetNS, func() (*conn, error) { return openConn(s.cfg.Interface) })
	if err != nil {
		return fmt.Errorf("dhcp: listening on %s: %w", s.cfg.Interface, err)
	}
	s.conn = c
	return nil
}

// Serve answers clients until ctx ends, then closes the sockets. Listen must have been
// called. Malformed messages and send failures are logged, never fatal.
func (s *Server) Serve(ctx context.Context) error {
	c := s.conn
	if c == nil {
		return errors.New("dhcp: Serve before Listen")
	}
	logger := log.FromContext(ctx).WithValues("interface", s.cfg.Interface)
	stop := context.AfterFunc(ctx, func() { _ = c.udp.Close() })
	defer stop()
	defer c.close()
	buf := make([]byte, 1500)
	for {
		n, _, err := c.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			logger.Error(err, "Reading a DHCP message")
			continue
		}
		req, err := Parse(buf[:n])
		if err != nil {
			logger.V(1).Info("Ignoring a malformed DHCP message", "error", err.Error())
			continue
		}
		reply, to, note := s.respond(req)
		if req.Type() == Decline && reply == nil && note != "unknown MAC" {
			// Another host answers ARP for the client's address: worth an operator's look.
			logger.Info("A client declined its address: another host uses it", "mac", req.CHAddr.String(), "address", requestedAddr(req).String())
		}
		logger.V(1).Info("DHCP message", "type", req.Type().String(), "mac", req.CHAddr.String(), "note", note)
		if reply == nil {
			continue
		}
		if err := c.send(reply, s.cfg.ServerIP, to); err != nil {
			logger.Error(err, "Sending a DHCP reply", "type", reply.Type().String(), "mac", req.CHAddr.String())
		}
	}
}

func openConn(ifname string) (*conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	udp, err := openUDP(ifname)
	if err != nil {
		return nil, err
	}
	raw, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		_ = udp.Close()
		return nil, fmt.Errorf("opening a packet socket: %w", err)
	}
	return &conn{udp: udp, raw: raw, ifindex: ifi.Index}, nil
}

// openUDP binds 0.0.0.0:67 on the interface only. SO_REUSEADDR lets the servers of several
// bridges in one namespace each bind the port on their own device.
func openUDP(ifname string) (*net.UDPConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("opening a UDP socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dhcp-"+ifname)
	defer f.Close() // FilePacketConn dups it
	for _, o := range []struct {
		name string
		set  func() error
	}{
		{"SO_REUSEADDR", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) }},
		{"SO_BROADCAST", func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1) }},
		{"SO_BINDTODEVICE", func() error { return unix.BindToDevice(fd, ifname) }},
		{"bind", func() error { return unix.Bind(fd, &unix.SockaddrInet4{Port: serverPort}) }},
	} {
		if err := o.set(); err != nil {
			return nil, fmt.Errorf("%s on the UDP socket: %w", o.name, err)
		}
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

func (c *conn) close() {
	_ = c.udp.Close()
	_ = unix.Close(c.raw)
}

// send frames the reply as IPv4/UDP from ServerIP:67 to the destination's port 68 and hands
// it to the link layer, addressed to the client's MAC or broadcast.
func (c *conn) send(m *Message, src netip.Addr, to destination) error {
	payload, err := m.Marshal()
	if err != nil {
		return err
	}
	mac := to.mac
	if mac == nil {
		mac = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: c.ifindex, Halen: 6}
	copy(sa.Addr[:], mac)
	return unix.Sendto(c.raw, ipv4UDP(src, to.ip, payload), 0, sa)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ipv4UDP wraps payload in IPv4 and UDP headers with their checksums.
func ipv4UDP(src, dst netip.Addr, payload []byte) []byte {
	const ipLen, udpLen = 20, 8
	b := make([]byte, ipLen+udpLen+len(payload))
	s, d := src.As4(), dst.As4()
	b[0] = 0x45 // version 4, 5 words
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8] = 64 // TTL
	b[9] = unix.IPPROTO_UDP
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], ^checksum(0, b[:ipLen]))

	u := b[ipLen:]
	binary.BigEndian.PutUint16(u[0:], serverPort)
	binary.BigEndian.PutUint16(u[2:], clientPort)
	binary.BigEndian.PutUint16(u[4:], uint16(udpLen+len(payload)))
	copy(u[udpLen:], payload)
	pseudo := make([]byte, 0, 12)
	pseudo = append(append(pseudo, s[:]...), d[:]...)
	pseudo = append(pseudo, 0, unix.IPPROTO_UDP)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(u)))
	sum := ^checksum(uint32(checksum(0, pseudo)), u)
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], sum)
	return b
}

// checksum adds b to the running one's-complement sum.
func checksum(sum uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// inNetNS runs fn on an OS thread switched into the namespace at path (the caller's own
// when path is empty). Sockets keep the namespace they were made in. A thread that could
// not be switched back is never reused: its goroutine ends with the thread still locked.
func inNetNS[T any](path string, fn func() (T, error)) (T, error) {
	if path == "" {
		return fn()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var zero T
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{zero, fmt.Errorf("opening this thread's network namespace: %w", err)}
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{zero, fmt.Errorf("opening network namespace %s: %w", path, err)}
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{zero, fmt.Errorf("entering network namespace %s: %w", path, err)}
			return
		}
		v, err := fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}
