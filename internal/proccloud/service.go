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

package proccloud

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Service stands for a Kubernetes Service in front of the replicas: it accepts TCP connections
// on one loopback port and hands each to the next replica whose /readyz passes, as kube-proxy
// does with a Service's ready endpoints. A connection waits (bounded) while no replica is ready.
type Service struct {
	ln       net.Listener
	backends func() []string
	next     atomic.Uint64
	wg       sync.WaitGroup
}

// serviceWait is how long a connection waits for a ready replica.
const serviceWait = 30 * time.Second

func newService(backends func() []string) (*Service, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Service{ln: ln, backends: backends}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// URL is the Service's http URL.
func (s *Service) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops accepting; connections in flight end when their ends close.
func (s *Service) Close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

func (s *Service) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go s.forward(conn)
	}
}

// forward connects conn to a ready replica and copies both ways until both directions end.
func (s *Service) forward(conn net.Conn) {
	defer conn.Close()
	backend := s.dial()
	if backend == nil {
		return
	}
	defer backend.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(backend, conn)
	go pipe(conn, backend)
	<-done
	<-done
}

// dial returns a connection to the next ready replica that accepts one, or nil when none did
// within serviceWait.
func (s *Service) dial() net.Conn {
	deadline := time.Now().Add(serviceWait)
	for time.Now().Before(deadline) {
		addrs := s.backends()
		for range addrs {
			addr := addrs[s.next.Add(1)%uint64(len(addrs))]
			if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
				return c
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
