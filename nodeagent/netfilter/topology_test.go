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

package netfilter

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testNet is the topology the datapath tests run on, all in namespaces the test creates:
//
//	guestA (10.0.0.10, eth0) ─ tapA ┐
//	                                ├ br0 (10.0.0.1) node pub0 (192.0.2.1) ─ eth0 (192.0.2.2) world
//	guestB (10.0.0.11, eth0) ─ tapB ┘
//
// The world routes the public pool 198.51.100.0/24 to the node.
type testNet struct {
	node, guestA, guestB, world netns.NsHandle
	nodeName                    string
}

const (
	gatewayIP = "10.0.0.1"
	guestAIP  = "10.0.0.10"
	guestBIP  = "10.0.0.11"
	nodePubIP = "192.0.2.1"
	worldIP   = "192.0.2.2"
	publicIP  = "198.51.100.10"
	publicIF  = "pub0"
)

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	prefix := "pt-nf-" + randomSuffix() + "-"
	n := &testNet{nodeName: prefix + "node"}
	n.node = newNamedNS(t, n.nodeName)
	n.guestA = newNamedNS(t, prefix+"a")
	n.guestB = newNamedNS(t, prefix+"b")
	n.world = newNamedNS(t, prefix+"world")

	node := nlHandle(t, n.node)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	must(t, node.LinkAdd(br))
	must(t, node.AddrAdd(br, mustAddr(t, gatewayIP+"/24")))
	must(t, node.LinkSetUp(br))
	n.plugGuest(t, node, br, n.guestA, "tapA", guestAIP)
	n.plugGuest(t, node, br, n.guestB, "tapB", guestBIP)

	must(t, node.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: publicIF},
		PeerName: "eth0", PeerNamespace: netlink.NsFd(int(n.world))}))
	pub := mustLink(t, node, publicIF)
	must(t, node.AddrAdd(pub, mustAddr(t, nodePubIP+"/24")))
	must(t, node.LinkSetUp(pub))
	world := nlHandle(t, n.world)
	upLoopback(t, world)
	weth := mustLink(t, world, "eth0")
	must(t, world.AddrAdd(weth, mustAddr(t, worldIP+"/24")))
	must(t, world.LinkSetUp(weth))
	_, pool, _ := net.ParseCIDR("198.51.100.0/24")
	must(t, world.RouteAdd(&netlink.Route{Dst: pool, Gw: net.ParseIP(nodePubIP), LinkIndex: weth.Attrs().Index}))

	upLoopback(t, node)
	must(t, inNS(n.node, func() error {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			return err
		}
		return os.WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte("1"), 0o644)
	}))
	return n
}

func (n *testNet) plugGuest(t *testing.T, node *netlink.Handle, br netlink.Link, guest netns.NsHandle, tap, ip string) {
	t.Helper()
	must(t, node.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: tap},
		PeerName: "eth0", PeerNamespace: netlink.NsFd(int(guest))}))
	port := mustLink(t, node, tap)
	must(t, node.LinkSetMaster(port, br))
	must(t, node.LinkSetUp(port))
	g := nlHandle(t, guest)
	upLoopback(t, g)
	eth := mustLink(t, g, "eth0")
	must(t, g.AddrAdd(eth, mustAddr(t, ip+"/24")))
	must(t, g.LinkSetUp(eth))
	must(t, g.RouteAdd(&netlink.Route{Gw: net.ParseIP(gatewayIP), LinkIndex: eth.Attrs().Index}))
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newNamedNS(t *testing.T, name string) netns.NsHandle {
	t.Helper()
	var h netns.NsHandle
	err := onLockedThread(func() error {
		var err error
		h, err = netns.NewNamed(name)
		return err
	})
	must(t, err)
	t.Cleanup(func() {
		_ = h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	return h
}

// onLockedThread runs f on a locked OS thread and puts the thread back into its namespace; a thread
// that cannot be restored is left locked so Go discards it.
func onLockedThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// inNS runs f with the calling thread in ns: sockets f opens belong to ns.
func inNS(ns netns.NsHandle, f func() error) error {
	return onLockedThread(func() error {
		if err := netns.Set(ns); err != nil {
			return err
		}
		return f()
	})
}

func nlHandle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	must(t, err)
	t.Cleanup(h.Close)
	return h
}

func upLoopback(t *testing.T, h *netlink.Handle) {
	t.Helper()
	must(t, h.LinkSetUp(mustLink(t, h, "lo")))
}

func mustLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	must(t, err)
	return l
}

func mustAddr(t *testing.T, s string) *netlink.Addr {
	t.Helper()
	a, err := netlink.ParseAddr(s)
	must(t, err)
	return a
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// serveEcho listens on addr inside ns (tcp4, or tcp6 for a bracketed address); each connection is answered with one line
// "<local address> <remote address>" as the server sees them, then closed.
func serveEcho(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	network := "tcp4"
	if strings.HasPrefix(addr, "[") {
		network = "tcp6"
	}
	var l net.Listener
	must(t, inNS(ns, func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	}))
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = fmt.Fprintf(c, "%s %s\n", c.LocalAddr(), c.RemoteAddr())
			_ = c.Close()
		}
	}()
}

// dialTimeout bounds one connection attempt; a dropped SYN fails after it.
const dialTimeout = 2 * time.Second

// probe connects from ns to addr (optionally from a given local address) and returns the echo
// server's line: the server's local and remote address.
func probe(ns netns.NsHandle, addr, from string) (local, remote string, err error) {
	var c net.Conn
	err = inNS(ns, func() error {
		d := net.Dialer{Timeout: dialTimeout}
		if from != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
		}
		var err error
		c, err = d.Dial("tcp", addr)
		return err
	})
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", fmt.Errorf("reading from %s: %w", addr, err)
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return "", "", fmt.Errorf("unexpected answer %q from %s", line, addr)
	}
	return f[0], f[1], nil
}

// eventually retries check until it returns nil or the (generous) deadline passes.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func hostOf(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return addr
	}
	return ap.Addr().String()
}

var pingID atomic.Uint32

// ping sends one ICMP echo request from ns to dst over a raw socket and waits (bounded) for the
// matching echo reply.
func ping(ns netns.NsHandle, dst string) error {
	var c net.PacketConn
	if err := inNS(ns, func() error {
		var err error
		c, err = net.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	// A fresh identifier per call: conntrack would take a repeated one for the earlier exchange.
	id := uint16(pingID.Add(1))
	msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'p', 'i', 'n', 'e', 't'}
	sum := icmpChecksum(msg)
	msg[2], msg[3] = byte(sum>>8), byte(sum)
	if _, err := c.WriteTo(msg, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(dialTimeout))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		if n >= 8 && buf[0] == 0 && uint16(buf[4])<<8|uint16(buf[5]) == id && from.String() == dst {
			return nil
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// linkLocal waits until the IPv6 link-local address of eth0 in ns has passed duplicate address
// detection and returns it.
func linkLocal(t *testing.T, ns netns.NsHandle) string {
	t.Helper()
	h := nlHandle(t, ns)
	var addr string
	eventually(t, "a usable IPv6 link-local address", func() error {
		addrs, err := h.AddrList(mustLink(t, h, "eth0"), netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if a.IP.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
				addr = a.IP.String()
				return nil
			}
		}
		return fmt.Errorf("none yet among %v", addrs)
	})
	return addr
}
