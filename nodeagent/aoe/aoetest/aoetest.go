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

// Package aoetest builds what AoE tests need: a veth pair between two network
// namespaces made for one test, and AoE sockets opened inside them.
package aoetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/nodeagent/aoe"
)

// Pair is a veth pair: interface IfaceA in namespace NSA, its peer IfaceB in
// NSB. Both namespaces are removed when the test ends.
type Pair struct {
	NSA, NSB       string
	IfaceA, IfaceB string
}

// NewPair makes two namespaces named after prefix with a random suffix and a
// veth pair of the given MTU between them, both ends up. It skips the test
// when it cannot make namespaces (not root, no ip).
func NewPair(t testing.TB, prefix string, mtu int) *Pair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := hex.EncodeToString(suffix)
	p := &Pair{NSA: prefix + "-a-" + id, NSB: prefix + "-b-" + id, IfaceA: "aoea", IfaceB: "aoeb"}
	for _, ns := range []string{p.NSA, p.NSB} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "-n", p.NSA, "link", "add", p.IfaceA, "mtu", fmt.Sprint(mtu), "type", "veth",
		"peer", "name", p.IfaceB, "mtu", fmt.Sprint(mtu), "netns", p.NSB)
	run(t, "ip", "-n", p.NSA, "link", "set", p.IfaceA, "up")
	run(t, "ip", "-n", p.NSB, "link", "set", p.IfaceB, "up")
	// The kernel activates a link's transmit queue only once it reports the link up (linkwatch,
	// deferred on a busy machine): a frame sent before is dropped. Wait for both ends.
	for _, end := range [][2]string{{p.NSA, p.IfaceA}, {p.NSB, p.IfaceB}} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := exec.Command("ip", "-n", end[0], "-o", "link", "show", end[1]).CombinedOutput()
			if err == nil && strings.Contains(string(out), "state UP") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in %s never came up: %s", end[1], end[0], out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// ListenA opens an AoE socket on IfaceA in NSA; ListenB on IfaceB in NSB.
// The socket is closed when the test ends unless its owner closed it first.
func (p *Pair) ListenA(t testing.TB) *aoe.Conn { return listenT(t, p.NSA, p.IfaceA) }

// ListenB: see ListenA.
func (p *Pair) ListenB(t testing.TB) *aoe.Conn { return listenT(t, p.NSB, p.IfaceB) }

func listenT(t testing.TB, ns, iface string) *aoe.Conn {
	t.Helper()
	c, err := ListenIn(ns, iface)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ListenIn opens an AoE socket on an interface of the named namespace (aoe.ListenIn).
func ListenIn(ns, iface string) (*aoe.Conn, error) { return aoe.ListenIn(ns, iface) }

// Command is a command run inside namespace ns.
func Command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}
