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
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run a real client, busybox udhcpc, in a "guest" network namespace whose eth0
// is a veth on a bridge in a "node" namespace where the server listens. Both namespaces are
// made by the test and removed after it.

const (
	waitLong = 90 * time.Second // generous: the machine is shared and loaded
	guestMAC = "52:54:00:12:34:56"
)

var (
	subnet   = netip.MustParsePrefix("10.128.5.0/24")
	gateway  = netip.MustParseAddr("10.128.5.1")
	assigned = netip.MustParseAddr("10.128.5.7")
)

type segment struct {
	node, guest string // namespace names
	script      string // udhcpc script printing what it is told
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// lab is a node namespace with bridges, and guest namespaces plugged into them.
type lab struct {
	id, node, script string
	guests           int
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	for _, tool := range []string{"ip", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	l := &lab{id: "pt-dhcp-" + hex.EncodeToString(id)}
	l.node = l.namespace(t, "n")
	l.script = filepath.Join(t.TempDir(), "udhcpc.sh")
	script := `#!/bin/sh
echo "event=$1 ip=$ip subnet=$subnet router=$router mtu=$mtu dns=$dns hostname=$hostname lease=$lease serverid=$serverid"
case "$1" in
bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
`
	if err := os.WriteFile(l.script, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *lab) namespace(t *testing.T, suffix string) string {
	t.Helper()
	ns := l.id + "-" + suffix
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// bridge adds a bridge to the node, holding addr when it is valid.
func (l *lab) bridge(t *testing.T, name string, addr netip.Prefix) {
	t.Helper()
	run(t, "ip", "-n", l.node, "link", "add", name, "type", "bridge")
	if addr.IsValid() {
		run(t, "ip", "-n", l.node, "addr", "add", addr.String(), "dev", name)
	}
	run(t, "ip", "-n", l.node, "link", "set", name, "up")
}

// guest makes a guest namespace whose eth0 (with MAC mac) is a port of the bridge.
func (l *lab) guest(t *testing.T, bridge, mac string) *segment {
	t.Helper()
	l.guests++
	s := &segment{node: l.node, guest: l.namespace(t, fmt.Sprintf("g%d", l.guests)), script: l.script}
	port := fmt.Sprintf("vg%d", l.guests)
	run(t, "ip", "-n", l.node, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", s.guest)
	run(t, "ip", "-n", l.node, "link", "set", port, "master", bridge, "up")
	run(t, "ip", "-n", s.guest, "link", "set", "eth0", "address", mac, "up")
	return s
}

// newSegment makes a node namespace with bridge br0 holding the gateway address and one
// guest on it whose eth0 has MAC mac.
func newSegment(t *testing.T, mac string) *segment {
	t.Helper()
	l := newLab(t)
	l.bridge(t, "br0", netip.PrefixFrom(gateway, 24))
	return l.guest(t, "br0", mac)
}

// startServer serves br0 of the segment until the test ends.
func startServer(t *testing.T, s *segment, leases ...Lease) *Server {
	t.Helper()
	return serve(t, Config{
		Interface: "br0", NetNS: "/run/netns/" + s.node, ServerIP: gateway, Subnet: subnet,
		Router: gateway, DNS: []netip.Addr{gateway}, MTU: 1450, LeaseTime: 10 * time.Minute,
	}, leases...)
}

func serve(t *testing.T, cfg Config, leases ...Lease) *Server {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetLeases(leases); err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv
}

// udhcpc runs one DHCP exchange in the guest and returns the script's lines and whether
// a lease was obtained.
func (s *segment) udhcpc(t *testing.T, extra ...string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	args := append([]string{"netns", "exec", s.guest, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-s", s.script}, extra...)
	out, err := exec.CommandContext(ctx, "ip", args...).Output()
	return strings.Split(strings.TrimSpace(string(out)), "\n"), err
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func boundLine(lines []string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, "event=bound ") {
			return l
		}
	}
	return ""
}

const wantBound = "event=bound ip=10.128.5.7 subnet=255.255.255.0 router=10.128.5.1 mtu=1450 dns=10.128.5.1 " +
	"hostname=ip-10-128-5-7 lease=600 serverid=10.128.5.1"

func TestClientGetsItsLease(t *testing.T) {
	s := newSegment(t, guestMAC)
	startServer(t, s, Lease{MAC: mustMAC(t, guestMAC), IP: assigned})

	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"unicast reply", nil},
		{"broadcast reply", []string{"-B"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			lines, err := s.udhcpc(t, append([]string{"-t", "5", "-T", "2"}, mode.flags...)...)
			if err != nil {
				t.Fatalf("udhcpc got no lease: %v\n%s", err, strings.Join(lines, "\n"))
			}
			if got := boundLine(lines); got != wantBound {
				t.Fatalf("bound with\n %q\nwant\n %q\n(all: %q)", got, wantBound, lines)
			}
		})
	}
}

func TestUnknownMACGetsNothing(t *testing.T) {
	s := newSegment(t, guestMAC)
	srv := startServer(t, s, Lease{MAC: mustMAC(t, "52:54:00:00:00:01"), IP: netip.MustParseAddr("10.128.5.8")})

	lines, err := s.udhcpc(t, "-t", "2", "-T", "1")
	if err == nil || boundLine(lines) != "" {
		t.Fatalf("an unknown MAC got a lease: %q", lines)
	}

	// The same client, once known, is answered: the silence above was the server's choice.
	if err := srv.SetLeases([]Lease{{MAC: mustMAC(t, guestMAC), IP: assigned}}); err != nil {
		t.Fatal(err)
	}
	lines, err = s.udhcpc(t, "-t", "5", "-T", "2")
	if err != nil || boundLine(lines) != wantBound {
		t.Fatalf("known MAC: err %v, lines %q", err, lines)
	}
}

// TestRenewAfterAddressChange: a bound client renews (SIGUSR1) after its lease moved to
// another address; the server NAKs the old address and the client's new DISCOVER gets the
// new one.
func TestRenewAfterAddressChange(t *testing.T) {
	s := newSegment(t, guestMAC)
	mac := mustMAC(t, guestMAC)
	srv := startServer(t, s, Lease{MAC: mac, IP: assigned})

	cmd := exec.Command("ip", "netns", "exec", s.guest, "busybox", "udhcpc", "-f", "-i", "eth0", "-t", "5", "-T", "2", "-s", s.script)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(prefix string) string {
		t.Helper()
		deadline := time.After(waitLong)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("udhcpc ended before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("no %q from udhcpc", prefix)
			}
		}
	}
	if got := waitFor("event=bound "); got != wantBound {
		t.Fatalf("first lease %q, want %q", got, wantBound)
	}

	moved := netip.MustParseAddr("10.128.5.9")
	if err := srv.SetLeases([]Lease{{MAC: mac, IP: moved}}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor("event=nak ")
	got := waitFor("event=bound ")
	if !strings.HasPrefix(got, "event=bound ip=10.128.5.9 ") || !strings.Contains(got, " hostname=ip-10-128-5-9 ") {
		t.Fatalf("after the move the client bound %q", got)
	}
}

// TestServersPerBridge: two segments' servers in one node namespace each answer only their
// own bridge, and a bridge without any address (br1) is served too.
func TestServersPerBridge(t *testing.T) {
	l := newLab(t)
	l.bridge(t, "br0", netip.PrefixFrom(gateway, 24))
	l.bridge(t, "br1", netip.Prefix{})
	mac0, mac1 := "52:54:00:00:00:10", "52:54:00:00:00:11"
	serve(t, Config{Interface: "br0", NetNS: "/run/netns/" + l.node, ServerIP: gateway, Subnet: subnet, Router: gateway},
		Lease{MAC: mustMAC(t, mac0), IP: assigned}, Lease{MAC: mustMAC(t, mac1), IP: netip.MustParseAddr("10.128.5.8")})
	serve(t, Config{Interface: "br1", NetNS: "/run/netns/" + l.node, ServerIP: netip.MustParseAddr("10.129.0.1"),
		Subnet: netip.MustParsePrefix("10.129.0.0/24"), MTU: 1450},
		Lease{MAC: mustMAC(t, mac1), IP: netip.MustParseAddr("10.129.0.5")})

	for _, c := range []struct {
		bridge, mac, want string
	}{
		{"br0", mac0, "event=bound ip=10.128.5.7 subnet=255.255.255.0 router=10.128.5.1 mtu= dns= hostname=ip-10-128-5-7 lease=3600 serverid=10.128.5.1"},
		{"br1", mac1, "event=bound ip=10.129.0.5 subnet=255.255.255.0 router= mtu=1450 dns= hostname=ip-10-129-0-5 lease=3600 serverid=10.129.0.1"},
		{"br1", mac0, ""}, // known on br0 only: br0's server must not hear it
	} {
		g := l.guest(t, c.bridge, c.mac)
		tries := []string{"-t", "5", "-T", "2"}
		if c.want == "" {
			tries = []string{"-t", "2", "-T", "1"}
		}
		lines, err := g.udhcpc(t, tries...)
		if got := boundLine(lines); got != c.want {
			t.Errorf("%s on %s bound %q (udhcpc: %v), want %q", c.mac, c.bridge, got, err, c.want)
		}
	}
}
