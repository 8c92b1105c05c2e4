/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package dhcp

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
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

// newSegment makes the node namespace with bridge br0 (holding the gateway address) and a
// guest namespace whose eth0 (with MAC mac) is plugged into it.
func newSegment(t *testing.T, mac string) *segment {
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
	s := &segment{node: "pt-dhcp-" + hex.EncodeToString(id) + "-n", guest: "pt-dhcp-" + hex.EncodeToString(id) + "-g"}
	for _, ns := range []string{s.node, s.guest} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", s.node, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", s.node, "addr", "add", gateway.String()+"/24", "dev", "br0")
	run(t, "ip", "-n", s.node, "link", "set", "br0", "up")
	run(t, "ip", "-n", s.node, "link", "add", "vguest", "type", "veth", "peer", "name", "eth0", "netns", s.guest)
	run(t, "ip", "-n", s.node, "link", "set", "vguest", "master", "br0", "up")
	run(t, "ip", "-n", s.guest, "link", "set", "eth0", "address", mac, "up")

	s.script = filepath.Join(t.TempDir(), "udhcpc.sh")
	script := `#!/bin/sh
echo "event=$1 ip=$ip subnet=$subnet router=$router mtu=$mtu dns=$dns hostname=$hostname lease=$lease serverid=$serverid"
case "$1" in
bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
`
	if err := os.WriteFile(s.script, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// startServer serves the segment until the test ends.
func startServer(t *testing.T, s *segment, leases ...Lease) *Server {
	t.Helper()
	srv, err := New(Config{
		Interface: "br0", NetNS: "/run/netns/" + s.node, ServerIP: gateway, Subnet: subnet,
		Router: gateway, DNS: []netip.Addr{gateway}, MTU: 1450, LeaseTime: 10 * time.Minute,
	})
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
