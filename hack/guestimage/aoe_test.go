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

package guestimage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/disks"
)

// readLog is an AoE target's backing file that remembers the offsets read from it.
type readLog struct {
	*os.File
	mu    sync.Mutex
	reads [][2]int64 // offset, length
}

func (r *readLog) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	r.reads = append(r.reads, [2]int64{off, int64(len(p))})
	r.mu.Unlock()
	return r.File.ReadAt(p, off)
}

// read reports whether a read covered the byte at off, and all the reads.
func (r *readLog) read(off int64) (bool, [][2]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rd := range r.reads {
		if rd[0] <= off && off < rd[0]+rd[1] {
			return true, nil
		}
	}
	return false, append([][2]int64(nil), r.reads...)
}

// ipNS runs `ip ARGS...`, failing the test on an error.
func ipNS(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestGuestKernelReadsAnAoEExport boots the image under TCG with its NIC on a tap in a network
// namespace made for the test, where PiNet's Go AoE target serves a file as e7.3. The Debian
// kernel's own aoe driver (aoe.ko from the initramfs) discovers it and the guest reads two
// sectors of it: proof that the target speaks the AoE the Linux initiator speaks.
func TestGuestKernelReadsAnAoEExport(t *testing.T) {
	t.Parallel()
	img := buildImage(t)
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	ns := "pt-gi-" + hex.EncodeToString(suffix)
	ipNS(t, "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ipNS(t, "-n", ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
	ipNS(t, "-n", ns, "link", "set", "tap0", "up")

	const size = 64 << 20
	patterns := map[int64]string{0: "PINET-AOE-SECTOR-0", 1 << 20: "PINET-AOE-AT-1MIB"}
	f, err := os.Create(filepath.Join(t.TempDir(), "export.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, p := range patterns {
		if _, err := f.WriteAt([]byte(p+"\n"), off); err != nil {
			t.Fatal(err)
		}
	}
	backing := &readLog{File: f}
	conn, err := aoe.ListenIn(ns, "tap0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- (&aoe.Target{Conn: conn, Shelf: 7, Slot: 3, Backing: backing, Size: size}).Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})

	// The user data runs before the guest lists its disks: it asks for targets itself.
	userData := `#!/bin/sh
ip link set eth0 up
echo > /dev/etherd/discover
for i in $(seq 150); do [ -b /dev/etherd/e7.3 ] && break; sleep 0.2; done
echo "aoe sector 0: $(dd if=/dev/etherd/e7.3 bs=512 count=1 2>/dev/null | head -n 1)"
echo "aoe at 1 MiB: $(dd if=/dev/etherd/e7.3 bs=512 skip=2048 count=1 2>/dev/null | head -n 1)"
`
	meta, err := disks.WriteMeta(t.TempDir(), map[string][]byte{
		"meta-data/instance-id": []byte("i-0a0e00000000000a0"), "user-data": []byte(userData)})
	if err != nil {
		t.Fatal(err)
	}
	vm := boot(t, img, bootOptions{
		cmdline: "console=ttyS0 no_timer_check pinet.instance_id=i-0a0e00000000000a0",
		disks:   []string{diskCopy(t, img.Root)},
		extra: []string{"-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=n0",
			"-drive", "file=" + meta + ",if=none,id=meta,format=raw,readonly=on", "-device", "virtio-blk-pci,drive=meta,serial=pinet-meta"},
		netns: ns,
	})
	vm.waitFor(
		"aoe sector 0: "+patterns[0],
		"aoe at 1 MiB: "+patterns[1<<20],
		"PiNet guest: disk etherd/e7.3 67108864",
		"PiNet guest: ready",
	)
	vm.logBootTime()
	if ok, reads := backing.read(1 << 20); !ok {
		t.Errorf("the target never read the sector at 1 MiB; it read (offset, length) %v", reads)
	}
}
