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

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// mountSpec is one filesystem init makes sure is mounted.
type mountSpec struct {
	source, target, fstype string
	flags                  uintptr
}

// baseMounts returns the filesystems the guest needs. After switch_root the initramfs's /proc,
// /sys and /dev have been moved over and are found mounted already.
func baseMounts() []mountSpec {
	const nodev = syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC
	return []mountSpec{
		{"proc", "/proc", "proc", nodev},
		{"sysfs", "/sys", "sysfs", nodev},
		{"devtmpfs", "/dev", "devtmpfs", syscall.MS_NOSUID},
		{"devpts", "/dev/pts", "devpts", syscall.MS_NOSUID | syscall.MS_NOEXEC},
		{"tmpfs", "/run", "tmpfs", syscall.MS_NOSUID | syscall.MS_NODEV},
		{"tmpfs", "/tmp", "tmpfs", syscall.MS_NOSUID | syscall.MS_NODEV},
	}
}

// isMountPoint tells whether dir is on another filesystem than its parent.
func isMountPoint(dir string) (bool, error) {
	var st, parent syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return false, fmt.Errorf("stat %s: %w", dir, err)
	}
	if err := syscall.Stat(filepath.Dir(dir), &parent); err != nil {
		return false, fmt.Errorf("stat %s: %w", filepath.Dir(dir), err)
	}
	return st.Dev != parent.Dev, nil
}

// ensureMounts mounts what is missing of baseMounts, returning one error per failure: a guest
// with a missing /tmp still boots and reports.
func ensureMounts() []error {
	var errs []error
	for _, m := range baseMounts() {
		if mounted, err := isMountPoint(m.target); err == nil && mounted {
			continue
		}
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("mounting %s: %w", m.target, err))
			continue
		}
		if err := syscall.Mount(m.source, m.target, m.fstype, m.flags, ""); err != nil {
			errs = append(errs, fmt.Errorf("mounting %s on %s: %w", m.fstype, m.target, err))
		}
	}
	return errs
}

// Virtio device ids (/sys/bus/virtio/devices/*/device).
const (
	virtioNet   = 0x0001
	virtioBlock = 0x0002
)

// hasVirtioDevice tells whether a virtio device of the given id is present under sysVirtio.
func hasVirtioDevice(sysVirtio string, id int) bool {
	files, _ := filepath.Glob(filepath.Join(sysVirtio, "*", "device"))
	want := fmt.Sprintf("0x%04x", id)
	for _, f := range files {
		if raw, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(raw)) == want {
			return true
		}
	}
	return false
}

// waitForPath polls for path to exist for up to limit: device drivers register their devices
// asynchronously to the module load that started them.
func waitForPath(path string, limit time.Duration) bool {
	const poll = 50 * time.Millisecond
	for waited := time.Duration(0); ; waited += poll {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		if waited >= limit {
			return false
		}
		time.Sleep(poll)
	}
}

// udhcpcScript is where the image keeps the script udhcpc calls to apply a lease.
const udhcpcScript = "/usr/share/udhcpc/default.script"

// startNetwork brings up the loopback and, when there is a virtio NIC, configures eth0 with DHCP.
// udhcpc stays in the background to renew the lease. It reports whether eth0 got an address.
func (g *guest) startNetwork() bool {
	if err := g.busyboxRun("ip", "link", "set", "lo", "up"); err != nil {
		g.out.Printf("loopback: %v", err)
	}
	if !hasVirtioDevice("/sys/bus/virtio/devices", virtioNet) {
		g.out.Printf("network: no virtio NIC")
		return false
	}
	if !waitForPath("/sys/class/net/eth0", 5*time.Second) {
		g.out.Printf("network: virtio NIC present but no eth0 (is virtio_net loaded?)")
		return false
	}
	// -t 15 -T 2: fifteen discovers two seconds apart, as long as a loaded node may take to plumb
	// the guest's tap and lease after starting it; -n: give up (exit 1) if no lease by then.
	err := g.busyboxRun("udhcpc", "-i", "eth0", "-s", udhcpcScript, "-t", "15", "-T", "2", "-n")
	if err != nil {
		g.out.Printf("network: DHCP on eth0 failed: %v", err)
		return false
	}
	return true
}

// busyboxRun runs a busybox applet with its output on the console and waits for it.
func (g *guest) busyboxRun(applet string, args ...string) error {
	cmd := exec.Command(g.busybox, append([]string{applet}, args...)...)
	cmd.Env = g.env()
	cmd.Stdout = g.out.primaryFile()
	cmd.Stderr = g.out.primaryFile()
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("%s exited with %d", applet, exitCode(exitErr.ProcessState))
		}
		return fmt.Errorf("running %s: %w", applet, err)
	}
	return nil
}
