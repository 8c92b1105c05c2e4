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

package disks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func need(t *testing.T, tools ...string) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

func TestEnsureMakesOverlayAndSparseDisks(t *testing.T) {
	need(t, "qemu-img", "mke2fs", "mkswap")
	ctx := context.Background()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.img")
	if err := os.WriteFile(base, []byte(strings.Repeat("x", 1<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Dir: filepath.Join(dir, "i-1"), Base: base, RootBytes: 1 << 30, EphemeralBytes: 2 << 30, SwapBytes: 64 << 20}
	var mk Maker
	m, err := mk.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	format, size, err := Info(ctx, m.Root)
	if err != nil || format != "qcow2" || size != 1<<30 {
		t.Fatalf("root %s %d %v", format, size, err)
	}
	out, _ := exec.Command("qemu-img", "info", m.Root).CombinedOutput()
	if !strings.Contains(string(out), "backing file: "+base) {
		t.Fatalf("root is not an overlay of the image:\n%s", out)
	}
	// Sparse: a 2 GiB ephemeral disk takes next to nothing.
	var st = mustStat(t, m.Ephemeral)
	if st.Size() != 2<<30 || blocks(st)*512 > 64<<20 {
		t.Fatalf("ephemeral size %d, %d bytes allocated", st.Size(), blocks(st)*512)
	}
	if out, err := exec.Command("blkid", "-o", "value", "-s", "TYPE", m.Ephemeral).CombinedOutput(); err == nil && strings.TrimSpace(string(out)) != "ext4" {
		t.Fatalf("ephemeral filesystem %q", out)
	}
	if out, err := exec.Command("blkid", "-o", "value", "-s", "TYPE", m.Swap).CombinedOutput(); err == nil && strings.TrimSpace(string(out)) != "swap" {
		t.Fatalf("swap signature %q", out)
	}

	// Again: nothing is remade; a bigger root size grows the root.
	if err := os.WriteFile(filepath.Join(spec.Dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before := mustStat(t, m.Ephemeral).ModTime()
	spec.RootBytes = 2 << 30
	if _, err := mk.Ensure(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if !mustStat(t, m.Ephemeral).ModTime().Equal(before) {
		t.Fatal("the ephemeral disk was remade")
	}
	if _, size, _ := Info(ctx, m.Root); size != 2<<30 {
		t.Fatalf("root not grown: %d", size)
	}
	// A root size below the image's is the image's size.
	small := Spec{Dir: filepath.Join(dir, "i-2"), Base: base, RootBytes: 4096}
	m2, err := mk.Ensure(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	if _, size, _ := Info(ctx, m2.Root); size != 1<<20 {
		t.Fatalf("root smaller than its image: %d", size)
	}
	if m2.Ephemeral != "" || m2.Swap != "" {
		t.Fatalf("disks made without sizes: %+v", m2)
	}
	if _, err := mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, "i-3"), Base: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a root over a missing image was made")
	}
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// QEMU runs as an unprivileged user: it can pass through the instance's directory (libvirt hands
// it the files), but no other user can list the directory or read a disk.
func TestDisksAreRootsOnlyInATraversableDir(t *testing.T) {
	need(t, "qemu-img", "mke2fs", "mkswap")
	ctx := context.Background()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.img")
	if err := os.WriteFile(base, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	inst := filepath.Join(dir, "i-1")
	m, err := new(Maker).Ensure(ctx, Spec{Dir: inst, Base: base, RootBytes: 1 << 30, EphemeralBytes: 1 << 30, SwapBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := WriteMeta(inst, map[string][]byte{"meta-data/instance-id": []byte("i-1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustStat(t, inst).Mode().Perm(); got != DirMode {
		t.Fatalf("instance directory mode %v, want %v", got, DirMode)
	}
	for _, p := range []string{m.Root, m.Ephemeral, m.Swap, meta} {
		if got := mustStat(t, p).Mode().Perm(); got != FileMode {
			t.Errorf("%s mode %v, want %v", filepath.Base(p), got, FileMode)
		}
	}
}
