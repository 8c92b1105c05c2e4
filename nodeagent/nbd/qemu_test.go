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

package nbd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
	"pinet.io/pinet/nodeagent/nbd"
)

// TestQemuOverAoE is the whole user-space attach path: QEMU's NBD client ->
// our NBD server -> our AoE initiator -> real AoE frames over a veth pair
// between two namespaces -> our AoE target -> a sparse file.
func TestQemuOverAoE(t *testing.T) {
	for _, tool := range []string{"qemu-io", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	p := aoetest.NewPair(t, "pt-nbd-aoe", 1500)
	const size = 64 << 20
	backing := newFileDevice(t, size)
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), testr.New(t)))
	tgt := &aoe.Target{Conn: p.ListenA(t), Shelf: 12, Slot: 3, Backing: backing.File, Size: size}
	served := make(chan error, 1)
	go func() { served <- tgt.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("target: %v", err)
		}
	})

	dialCtx, dialCancel := context.WithTimeout(ctx, time.Minute)
	defer dialCancel()
	dl := aoe.Dialer{Conn: p.ListenB(t)}
	dev, err := dl.Dial(dialCtx, "", 12, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	sock := serve(t, &nbd.Server{Exports: map[string]nbd.Device{"vol-0123": dev}})
	uri := fmt.Sprintf("nbd+unix:///vol-0123?socket=%s", sock)

	out, err := exec.Command("qemu-io", "-f", "raw", uri,
		"-c", "write -P 0xab 0 1M",
		"-c", "read -P 0xab 0 1M",
		"-c", "write -P 0xcd 1000 3000",
		"-c", "read -P 0xcd 1000 3000",
		"-c", "read -P 0xab 4000 4096",
		"-c", "write -P 0x5e 63M 1M",
		"-c", "flush",
		"-c", "read -P 0x5e 63M 1M",
	).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("failed")) || strings.Count(string(out), "read ") != 4 {
		t.Fatalf("qemu-io: %v\n%s", err, out)
	}
	t.Logf("qemu-io:\n%s", out)

	// The bytes QEMU wrote are in the file behind the AoE target.
	want := bytes.Repeat([]byte{0xab}, 1<<20)
	copy(want[1000:4000], bytes.Repeat([]byte{0xcd}, 3000))
	got := make([]byte, 1<<20)
	if _, err := backing.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the backing file's first MiB differs from what QEMU wrote: %v", err)
	}
	if _, err := backing.ReadAt(got, 63<<20); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0x5e}, 1<<20)) {
		t.Errorf("the backing file's last MiB differs from what QEMU wrote: %v", err)
	}

	info, err := exec.Command("qemu-img", "info", "--output=json", uri).Output()
	if err != nil {
		t.Fatalf("qemu-img info: %v", err)
	}
	var img struct {
		VirtualSize int64  `json:"virtual-size"`
		Format      string `json:"format"`
	}
	if err := json.Unmarshal(info, &img); err != nil {
		t.Fatalf("qemu-img info: %v: %s", err, info)
	}
	if img.VirtualSize != size {
		t.Errorf("qemu-img sees %d bytes, want %d", img.VirtualSize, size)
	}
}
