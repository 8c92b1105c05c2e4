// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//	http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package metadata

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"syscall"

	"golang.org/x/sys/unix"
)

// A token's answer leaves with the instance's hop limit as its IP time-to-live, so it dies that
// many routers away from the node: with the default of 1 it reaches the guest, not a container
// the guest routes to, nor anything a proxy in the guest forwards for. The time-to-live is a
// socket option, so it is set on the request's connection for the answer and put back to the
// system's (-1) for the answers that follow on the same connection.

type connKey struct{}

// conn is a connection as its requests see it. Its requests come one at a time.
type conn struct {
	net.Conn
	// limited is set while the socket's time-to-live is not the system's.
	limited bool
}

// withConn keeps the connection in the context of its requests (http.Server.ConnContext).
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &conn{Conn: c})
}

// limitHops makes the answer to r leave with ttl as its IP time-to-live; 0 is the system's.
func limitHops(r *http.Request, ttl int) error {
	cn, ok := r.Context().Value(connKey{}).(*conn)
	switch {
	case !ok || (ttl == 0 && !cn.limited):
		return nil
	case ttl == 0:
		ttl = -1
	}
	if err := setTTL(cn.Conn, ttl); err != nil {
		return err
	}
	cn.limited = ttl != -1
	return nil
}

// setTTL sets the IP time-to-live of what c sends next; -1 is the system's. A connection that
// is not an IPv4 TCP one (a test's pipe) is left alone.
func setTTL(nc net.Conn, ttl int) error {
	c, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if a, ok := tc.LocalAddr().(*net.TCPAddr); ok && a.IP.To4() == nil {
			return nil
		}
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("reaching the connection's socket: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ttl)
	}); err != nil {
		return fmt.Errorf("reaching the connection's socket: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("setting the time-to-live to %d: %w", ttl, serr)
	}
	return nil
}
