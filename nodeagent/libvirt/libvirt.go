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

// Package libvirt is the node agent's only door to libvirt. It keeps one connection open
// (reconnecting when libvirtd restarts), turns libvirt's domain lifecycle events into domain
// names on a channel, and exposes the few domain operations the agent needs.
package libvirt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	lv "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// ErrNotFound means no domain of that name is defined.
var ErrNotFound = errors.New("domain not found")

// eventLoopOnce guards libvirt's event loop, which is process-wide by libvirt's design: it must be
// registered before the first connection and run in exactly one goroutine.
var eventLoopOnce sync.Once

func startEventLoop() {
	eventLoopOnce.Do(func() {
		if err := lv.EventRegisterDefaultImpl(); err != nil {
			panic(fmt.Sprintf("registering libvirt's event loop: %v", err))
		}
		go func() {
			for {
				if err := lv.EventRunDefaultImpl(); err != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	})
}

// Host is what libvirt says about the machine.
type Host struct {
	Hostname  string
	CPUs      int32
	MemoryMiB int64
	// DomainTypes are the domain types libvirt offers for x86_64 guests (kvm, qemu, test).
	DomainTypes []string
	// Driver is the connection's driver name (QEMU, Test, …).
	Driver     string
	LibVersion uint32
}

// Domain is a libvirt domain as the agent sees it.
type Domain struct {
	Name  string
	UUID  string
	State string
	// ShutoffReason says why a shut-off domain stopped: shutdown (the guest powered off, or was
	// asked to), destroyed, crashed, failed, …; empty while it runs.
	ShutoffReason string
	VCPUs         int32
	MemoryMiB     int64
	// XML is the domain's current definition.
	XML string
}

// Conn is a libvirt connection that survives libvirtd restarts.
type Conn struct {
	uri    string
	events chan string

	mu       sync.Mutex
	conn     *lv.Connect
	callback int
	closed   bool
	broken   chan struct{}
}

// Open connects to uri and starts forwarding domain lifecycle events. Events carry a domain name,
// or "" after a reconnect, when any domain may have changed.
func Open(ctx context.Context, uri string) (*Conn, error) {
	startEventLoop()
	c := &Conn{uri: uri, events: make(chan string, 1024)}
	if err := c.connect(); err != nil {
		return nil, err
	}
	go c.keepAlive(ctx)
	return c, nil
}

// URI is the connection URI.
func (c *Conn) URI() string { return c.uri }

// Events delivers the names of domains whose lifecycle changed.
func (c *Conn) Events() <-chan string { return c.events }

func (c *Conn) connect() error {
	conn, err := lv.NewConnect(c.uri)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", c.uri, err)
	}
	broken := make(chan struct{})
	if err := conn.RegisterCloseCallback(func(_ *lv.Connect, _ lv.ConnectCloseReason) {
		close(broken)
	}); err != nil {
		_, _ = conn.Close()
		return fmt.Errorf("watching %s for disconnects: %w", c.uri, err)
	}
	id, err := conn.DomainEventLifecycleRegister(nil, func(_ *lv.Connect, d *lv.Domain, _ *lv.DomainEventLifecycle) {
		if name, err := d.GetName(); err == nil {
			c.notify(name)
		}
	})
	if err != nil {
		_, _ = conn.Close()
		return fmt.Errorf("subscribing to domain events on %s: %w", c.uri, err)
	}
	c.mu.Lock()
	c.conn, c.callback, c.broken = conn, id, broken
	c.mu.Unlock()
	return nil
}

func (c *Conn) notify(name string) {
	select {
	case c.events <- name:
	default:
		// The agent also resyncs periodically; a full buffer only delays it.
	}
}

// keepAlive reconnects after libvirtd goes away and then announces a full resync.
func (c *Conn) keepAlive(ctx context.Context) {
	logger := log.FromContext(ctx).WithValues("uri", c.uri)
	for {
		c.mu.Lock()
		broken := c.broken
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			c.Close()
			return
		case <-broken:
		}
		logger.Info("Lost the libvirt connection; reconnecting")
		c.mu.Lock()
		if c.conn != nil {
			_, _ = c.conn.Close()
			c.conn = nil
		}
		c.mu.Unlock()
		for backoff := 200 * time.Millisecond; ; backoff = min(backoff*2, 5*time.Second) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			if err := c.connect(); err != nil {
				logger.V(1).Info("Reconnect failed", "error", err.Error())
				continue
			}
			logger.Info("Reconnected to libvirt")
			c.notify("")
			break
		}
	}
}

// Close releases the connection.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.conn != nil {
		_ = c.conn.DomainEventDeregister(c.callback)
		_, _ = c.conn.Close()
		c.conn = nil
	}
}

func (c *Conn) current() (*lv.Connect, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil, fmt.Errorf("libvirt %s: not connected", c.uri)
	}
	return c.conn, nil
}

// Host reports the machine's CPUs, memory and the domain types libvirt can run.
func (c *Conn) Host() (Host, error) {
	conn, err := c.current()
	if err != nil {
		return Host{}, err
	}
	info, err := conn.GetNodeInfo()
	if err != nil {
		return Host{}, fmt.Errorf("reading node info: %w", err)
	}
	hostname, err := conn.GetHostname()
	if err != nil {
		return Host{}, fmt.Errorf("reading hostname: %w", err)
	}
	capsXML, err := conn.GetCapabilities()
	if err != nil {
		return Host{}, fmt.Errorf("reading capabilities: %w", err)
	}
	caps := &libvirtxml.Caps{}
	if err := caps.Unmarshal(capsXML); err != nil {
		return Host{}, fmt.Errorf("parsing capabilities: %w", err)
	}
	h := Host{Hostname: hostname, CPUs: int32(info.Cpus), MemoryMiB: int64(info.Memory / 1024)}
	seen := map[string]bool{}
	for _, g := range caps.Guests {
		if g.Arch.Name != "x86_64" {
			continue
		}
		for _, d := range g.Arch.Domains {
			if !seen[d.Type] {
				seen[d.Type] = true
				h.DomainTypes = append(h.DomainTypes, d.Type)
			}
		}
	}
	if h.Driver, err = conn.GetType(); err != nil {
		return Host{}, fmt.Errorf("reading driver type: %w", err)
	}
	if h.LibVersion, err = conn.GetLibVersion(); err != nil {
		return Host{}, fmt.Errorf("reading libvirt version: %w", err)
	}
	return h, nil
}

// Lookup returns the named domain, or ErrNotFound.
func (c *Conn) Lookup(name string) (Domain, error) {
	conn, err := c.current()
	if err != nil {
		return Domain{}, err
	}
	d, err := conn.LookupDomainByName(name)
	if err != nil {
		if isNoDomain(err) {
			return Domain{}, fmt.Errorf("%s: %w", name, ErrNotFound)
		}
		return Domain{}, fmt.Errorf("looking up domain %s: %w", name, err)
	}
	defer func() { _ = d.Free() }()
	return describe(d)
}

// List returns every domain defined on the connection.
func (c *Conn) List() ([]Domain, error) {
	conn, err := c.current()
	if err != nil {
		return nil, err
	}
	doms, err := conn.ListAllDomains(0)
	if err != nil {
		return nil, fmt.Errorf("listing domains: %w", err)
	}
	out := make([]Domain, 0, len(doms))
	for i := range doms {
		d, err := describe(&doms[i])
		_ = doms[i].Free()
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // undefined while we listed
			}
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func describe(d *lv.Domain) (Domain, error) {
	name, err := d.GetName()
	if err != nil {
		return Domain{}, wrapDomainErr("reading domain name", err)
	}
	uuid, err := d.GetUUIDString()
	if err != nil {
		return Domain{}, wrapDomainErr("reading uuid of "+name, err)
	}
	state, reason, err := d.GetState()
	if err != nil {
		return Domain{}, wrapDomainErr("reading state of "+name, err)
	}
	info, err := d.GetInfo()
	if err != nil {
		return Domain{}, wrapDomainErr("reading info of "+name, err)
	}
	xml, err := d.GetXMLDesc(0)
	if err != nil {
		return Domain{}, wrapDomainErr("reading definition of "+name, err)
	}
	return Domain{
		Name: name, UUID: uuid, State: stateName(state), ShutoffReason: shutoffReason(state, reason),
		VCPUs: int32(info.NrVirtCpu), MemoryMiB: int64(info.MaxMem / 1024), XML: xml,
	}, nil
}

func wrapDomainErr(what string, err error) error {
	if isNoDomain(err) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Define creates or replaces a persistent domain definition.
func (c *Conn) Define(xml string) error {
	conn, err := c.current()
	if err != nil {
		return err
	}
	d, err := conn.DomainDefineXML(xml)
	if err != nil {
		return fmt.Errorf("defining domain: %w", err)
	}
	return d.Free()
}

// Start boots a defined domain.
func (c *Conn) Start(name string) error {
	return c.withDomain(name, "starting", func(d *lv.Domain) error { return d.Create() })
}

// Shutdown asks the guest to power off (ACPI).
func (c *Conn) Shutdown(name string) error {
	return c.withDomain(name, "shutting down", func(d *lv.Domain) error { return d.Shutdown() })
}

// Reboot asks the guest to reboot.
func (c *Conn) Reboot(name string) error {
	return c.withDomain(name, "rebooting", func(d *lv.Domain) error { return d.Reboot(0) })
}

// Suspend pauses the guest's CPUs; its disks stay as they are until Resume.
func (c *Conn) Suspend(name string) error {
	return c.withDomain(name, "pausing", func(d *lv.Domain) error { return d.Suspend() })
}

// Resume lets a paused guest run again.
func (c *Conn) Resume(name string) error {
	return c.withDomain(name, "resuming", func(d *lv.Domain) error { return d.Resume() })
}

// Destroy powers the domain off at once. Destroying a stopped domain is not an error.
func (c *Conn) Destroy(name string) error {
	return c.withDomain(name, "destroying", func(d *lv.Domain) error {
		if state, _, err := d.GetState(); err == nil && state == lv.DOMAIN_SHUTOFF {
			return nil
		}
		return d.Destroy()
	})
}

// Undefine removes the domain's definition and any managed save image. PiNet's domains boot
// with BIOS, so there is no NVRAM to remove.
func (c *Conn) Undefine(name string) error {
	return c.withDomain(name, "undefining", func(d *lv.Domain) error {
		return d.UndefineFlags(lv.DOMAIN_UNDEFINE_MANAGED_SAVE)
	})
}

func (c *Conn) withDomain(name, what string, fn func(*lv.Domain) error) error {
	conn, err := c.current()
	if err != nil {
		return err
	}
	d, err := conn.LookupDomainByName(name)
	if err != nil {
		return wrapDomainErr(what+" "+name, err)
	}
	defer func() { _ = d.Free() }()
	if err := fn(d); err != nil {
		return wrapDomainErr(what+" "+name, err)
	}
	return nil
}

func isNoDomain(err error) bool {
	var lerr lv.Error
	return errors.As(err, &lerr) && lerr.Code == lv.ERR_NO_DOMAIN
}

func shutoffReason(s lv.DomainState, reason int) string {
	if s != lv.DOMAIN_SHUTOFF {
		return ""
	}
	switch lv.DomainShutoffReason(reason) {
	case lv.DOMAIN_SHUTOFF_SHUTDOWN:
		return "shutdown"
	case lv.DOMAIN_SHUTOFF_DESTROYED:
		return "destroyed"
	case lv.DOMAIN_SHUTOFF_CRASHED:
		return "crashed"
	case lv.DOMAIN_SHUTOFF_FAILED:
		return "failed"
	case lv.DOMAIN_SHUTOFF_SAVED:
		return "saved"
	case lv.DOMAIN_SHUTOFF_DAEMON:
		return "daemon"
	default:
		return "unknown"
	}
}

func stateName(s lv.DomainState) string {
	switch s {
	case lv.DOMAIN_RUNNING:
		return "running"
	case lv.DOMAIN_BLOCKED:
		return "blocked"
	case lv.DOMAIN_PAUSED:
		return "paused"
	case lv.DOMAIN_SHUTDOWN:
		return "shutdown"
	case lv.DOMAIN_SHUTOFF:
		return "shutoff"
	case lv.DOMAIN_CRASHED:
		return "crashed"
	case lv.DOMAIN_PMSUSPENDED:
		return "pmsuspended"
	default:
		return "nostate"
	}
}
