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

// Package metadata is the node agent's EC2 instance metadata service: the server behind
// 169.254.169.254. It knows its caller only by the request's source address, through a
// Lookup, and answers the 2009-04-04 meta-data tree, user-data and IMDSv2 tokens.
package metadata

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Instance is what the service tells an instance about itself. Empty optional facts are left
// out of the tree, as EC2 leaves them out.
type Instance struct {
	InstanceID    string // instance-id
	ImageID       string // ami-id
	LaunchIndex   int    // ami-launch-index
	ManifestPath  string // ami-manifest-path; optional
	BlockDevices  []BlockDevice
	Hostname      string // hostname
	LocalHostname string // local-hostname
	InstanceType  string // instance-type
	KernelID      string // kernel-id; optional
	RamdiskID     string // ramdisk-id; optional
	LocalIPv4     netip.Addr
	// AvailabilityZone is placement/availability-zone.
	AvailabilityZone string
	PublicHostname   string     // public-hostname; optional
	PublicIPv4       netip.Addr // public-ipv4; optional
	PublicKeys       []PublicKey
	ReservationID    string   // reservation-id
	SecurityGroups   []string // security-groups, by name
	// UserData is served at user-data; nil answers 404 there.
	UserData []byte
	// RequireToken refuses requests without an IMDSv2 token (EC2's HttpTokens=required).
	RequireToken bool
	// Disabled refuses every request of the instance, tokens included (HttpEndpoint=disabled).
	Disabled bool
	// TokenHopLimit is the IP time-to-live of the answer to a token request
	// (HttpPutResponseHopLimit); 0 leaves the system's.
	TokenHopLimit int
}

// BlockDevice is one entry of block-device-mapping/: a virtual name (ami, root,
// ephemeral0, swap, …) and the guest's device for it.
type BlockDevice struct {
	Name   string
	Device string
}

// PublicKey is one key of public-keys/: listed as "<index>=<name>", its openssh-key the key.
type PublicKey struct {
	Name       string
	OpenSSHKey string
}

// Lookup tells which instance has an address. ctx is the request's: it carries the
// listener's local address (http.LocalAddrContextKey) for a lookup that needs the segment.
type Lookup interface {
	// Lookup returns the instance whose address remote is; ErrUnknownCaller (or a nil
	// instance) when there is none.
	Lookup(ctx context.Context, remote netip.Addr) (*Instance, error)
}

// ErrUnknownCaller is what a Lookup returns for an address no instance has.
var ErrUnknownCaller = errors.New("no instance has this address")

// Config configures a Server.
type Config struct {
	// Lookup finds the calling instance; required.
	Lookup Lookup
	// Clock decides token expiry; nil means the real clock.
	Clock clock.PassiveClock
	// TokenKey signs IMDSv2 tokens; empty means a random key, so tokens die with the server.
	// Give every server that may answer one instance the same key to share tokens.
	TokenKey []byte
}

// Server is the metadata service. It is an http.Handler.
type Server struct {
	lookup Lookup
	clock  clock.PassiveClock
	key    []byte
}

// New returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.Lookup == nil {
		return nil, errors.New("metadata: no lookup")
	}
	s := &Server{lookup: cfg.Lookup, clock: cfg.Clock, key: append([]byte(nil), cfg.TokenKey...)}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if len(s.key) == 0 {
		s.key = make([]byte, 32)
		if _, err := rand.Read(s.key); err != nil {
			return nil, fmt.Errorf("metadata: making a token key: %w", err)
		}
	} else if len(s.key) < 16 {
		return nil, errors.New("metadata: token key shorter than 16 bytes")
	}
	return s, nil
}

// Serve answers on ln until ctx ends, then shuts down, letting requests in flight finish
// for up to five seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       withConn,
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	return err
}

// caller finds the instance behind the request's source address; nothing else about the
// request (headers, the address it asked for) says who it is.
func (s *Server) caller(r *http.Request) (*Instance, int, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil, http.StatusForbidden, errors.New("the caller's address is unknown")
	}
	remote := ap.Addr().Unmap()
	inst, err := s.lookup.Lookup(r.Context(), remote)
	switch {
	case errors.Is(err, ErrUnknownCaller) || err == nil && inst == nil:
		return nil, http.StatusForbidden, fmt.Errorf("no instance has address %s", remote)
	case err != nil:
		log.FromContext(r.Context()).Error(err, "Looking up a metadata caller", "address", remote.String())
		return nil, http.StatusInternalServerError, errors.New("the caller could not be looked up")
	}
	if inst.Disabled {
		return nil, http.StatusForbidden, errors.New("the instance metadata service is disabled for this instance")
	}
	return inst, http.StatusOK, nil
}
