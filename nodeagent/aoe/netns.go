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
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// ListenIn opens an AoE socket on iface inside the network namespace netns (a name under
// /run/netns); an empty netns is the caller's own. A node may keep its storage network in a
// namespace of its own, and tests build theirs. The socket stays in that namespace; only a
// locked thread visits it while the socket is opened.
func ListenIn(netns, iface string) (*Conn, error) {
	if netns == "" {
		return Listen(iface)
	}
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		c, back, err := listenInLocked(netns, iface)
		if back {
			// A thread that could not return to its namespace is dropped with the goroutine.
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func listenInLocked(netns, iface string) (*Conn, bool, error) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, true, err
	}
	defer func() { _ = self.Close() }()
	target, err := os.Open(filepath.Join("/run/netns", filepath.Base(netns)))
	if err != nil {
		return nil, true, fmt.Errorf("network namespace %s: %w", netns, err)
	}
	defer func() { _ = target.Close() }()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("entering namespace %s: %w", netns, err)
	}
	c, lerr := Listen(iface)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		if c != nil {
			_ = c.Close()
		}
		return nil, false, fmt.Errorf("leaving namespace %s: %w", netns, err)
	}
	return c, true, lerr
}
