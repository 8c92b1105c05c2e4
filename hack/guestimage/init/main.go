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

// Command pinet-init is the init of PiNet's sample guest image. It prints a banner with the
// instance id, configures the network with DHCP, reads the EC2 metadata service, starts the ssh
// server with the instance's key as root's, runs a user-data script, reports the attached disks, prints "PiNet guest: ready" and then stays up as PID 1,
// reaping orphans and powering off on poweroff, shutdown -h or the ACPI power button.
//
// Started as "shutdown" (the image links /sbin/shutdown to it) it is the shutdown command.
package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Paths inside the guest.
const (
	busyboxPath  = "/bin/busybox"
	userDataFile = "/run/pinet/user-data"
	serialFile   = "/sys/class/dmi/id/product_serial"
)

// Timing of the metadata client: the guest runs under emulation, where a request can take a while.
const (
	metadataTimeout  = 3 * time.Second
	metadataAttempts = 3
	metadataBackoff  = time.Second
	aoeSettle        = time.Second
)

// guest carries what the boot steps share.
type guest struct {
	out      *console
	busybox  string
	children *children
	stopOnce sync.Once
	// stopping is set once a power-off or reboot has begun; boot steps then stay quiet.
	stopping atomic.Bool
}

func main() {
	if filepath.Base(os.Args[0]) == "shutdown" {
		os.Exit(runShutdown(os.Args[1:], os.Stderr, func(sig syscall.Signal) error { return syscall.Kill(1, sig) }))
	}
	if os.Getpid() != 1 {
		_, _ = os.Stderr.WriteString("pinet-init: this is the guest's init and must run as PID 1\n")
		os.Exit(2)
	}
	mountErrs := ensureMounts()
	g := &guest{
		out:      openConsole("/dev", "/sys/class/tty/console/active", os.Stdout),
		busybox:  busyboxPath,
		children: newChildren(),
	}
	for _, err := range mountErrs {
		g.out.Printf("%v", err)
	}
	watchStopSignals(g.stop)
	watchPowerButtons("/sys/class/input", "/dev/input", g.out, g.stop)
	g.boot()
	if !g.stopping.Load() {
		g.out.Printf("ready")
	}
	reapForever(g.children.reaped)
}

// stop powers the guest off or reboots it, once, however many requests arrive.
func (g *guest) stop(action powerAction, why string) {
	g.stopOnce.Do(func() {
		g.stopping.Store(true)
		g.out.Printf("%s (%s)", action, why)
		powerDown(action, g.out)
	})
}

// env is the environment of the commands the guest runs.
func (g *guest) env() []string {
	return []string{"PATH=/sbin:/bin:/usr/sbin:/usr/bin", "HOME=/root", "TERM=linux"}
}

// boot does everything between start and "ready". A stop requested meanwhile (user data running
// shutdown -h, say) ends it early: the guest is going away, and "ready" would be a lie.
func (g *guest) boot() {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	serial, _ := os.ReadFile(serialFile)
	id, from, warnings := chooseInstanceID(
		idSource{name: "kernel command line " + instanceIDParam, value: parseCmdline(string(cmdline))[instanceIDParam]},
		idSource{name: "SMBIOS serial number", value: string(serial)},
	)
	for _, w := range warnings {
		g.out.Printf("%s", w)
	}
	if id != "" {
		g.banner(id, from)
	}
	g.reportSize()
	networked := g.startNetwork()
	md := gatherMetadata(networked, g.readMetadata, g.readMetaDisk, g.out.Printf)
	if id == "" {
		if md != nil {
			var ws []string
			id, from, ws = chooseInstanceID(idSource{name: md.source, value: md.values["instance-id"]})
			for _, w := range ws {
				g.out.Printf("%s", w)
			}
		}
		g.banner(id, from)
	}
	if networked {
		g.startSSH(md)
	}
	if md != nil && md.userData != nil {
		g.userData(md.userData)
	}
	if g.stopping.Load() {
		return // the user data stopped the guest
	}
	g.reportDisks()
}

// banner prints the line that says the guest is up and who it is; an empty id is unknown.
func (g *guest) banner(id, from string) {
	if id == "" {
		g.out.Printf("instance unknown booted")
		g.out.Printf("no instance id on the kernel command line, in the SMBIOS serial number or from the metadata service")
		return
	}
	g.out.Printf("instance %s booted", id)
	g.out.Printf("instance id from %s", from)
}

// readMetadata fetches and prints the metadata; nil when the service is unreachable.
func (g *guest) readMetadata() *metadata {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := newMetadataClient(defaultMetadataURL, metadataTimeout, metadataAttempts, metadataBackoff)
	md, err := client.fetchMetadata(ctx)
	if err != nil {
		g.out.Printf("meta-data: %v", err)
		return nil
	}
	for _, key := range metadataKeys() {
		if v, ok := md.values[key]; ok {
			g.out.Printf("meta-data %s=%s", key, formatValue(v))
		}
	}
	for _, w := range md.warnings {
		g.out.Printf("meta-data: %s", w)
	}
	if host := md.values["hostname"]; host != "" {
		if err := syscall.Sethostname([]byte(host)); err != nil {
			g.out.Printf("setting hostname %q: %v", host, err)
		}
	}
	return md
}

// userData runs a user-data script, or says why it does not.
func (g *guest) userData(data []byte) {
	g.out.Printf("user-data %d bytes", len(data))
	code, err := runUserData(data, userDataFile, g.busybox, g.out, g.env())
	if g.stopping.Load() {
		return // the script asked to stop; its end is the stop's doing, not news
	}
	if err != nil {
		g.out.Printf("user-data: %v", err)
		return
	}
	g.out.Printf("user-data exit %d", code)
}

// reportDisks prints one line per attached disk, after asking for AoE targets.
func (g *guest) reportDisks() {
	if _, err := discoverAoE("/dev", "/sys/block", aoeSettle); err != nil {
		g.out.Printf("%v", err)
	}
	disks, err := listDisks("/sys/block")
	if err != nil {
		g.out.Printf("%v", err)
		return
	}
	for _, d := range disks {
		g.out.Printf("disk %s %d", d.name, d.bytes)
	}
	if len(disks) == 0 {
		g.out.Printf("no disks")
	}
}
