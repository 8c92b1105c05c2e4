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

package aoe_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
)

// dialTimeout is generous: the machine running the tests is shared.
const dialTimeout = 60 * time.Second

// sparseFile makes a sparse file of size bytes.
func sparseFile(t *testing.T, size int64) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "volume"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return f
}

// serve runs tgt on namespace A of p until the test ends, and checks that
// Serve then returns nil.
func serve(t *testing.T, p *aoetest.Pair, tgt *aoe.Target) {
	t.Helper()
	tgt.Conn = p.ListenA(t)
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), testr.New(t)))
	done := make(chan error, 1)
	go func() { done <- tgt.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

// dial reaches e<shelf>.<slot> from namespace B of p.
func dial(t *testing.T, p *aoetest.Pair, dl aoe.Dialer, shelf uint16, slot uint8) *aoe.Device {
	t.Helper()
	dl.Conn = p.ListenB(t)
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	d, err := dl.Dial(ctx, "", shelf, slot)
	if err != nil {
		t.Fatalf("dialling e%d.%d: %v", shelf, slot, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func fileBytes(t *testing.T, f *os.File, off int64, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTargetInitiatorReadWrite(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-rw", 1500)
	const size = 8 << 20
	file := sparseFile(t, size)
	serve(t, p, &aoe.Target{Shelf: 1, Slot: 2, Backing: file, Size: size, Config: []byte("vol-1")})
	d := dial(t, p, aoe.Dialer{}, 1, 2)

	if d.Size() != size {
		t.Errorf("Size() = %d, want %d", d.Size(), size)
	}
	id := d.Identity()
	if !id.LBA48 || id.LBA48Sectors != size/512 || id.LBA28Sectors != size/512 || !id.FlushCache {
		t.Errorf("identity %+v", id)
	}
	if id.Serial != "pinet-e1.2" || id.Model != "PiNet AoE target" {
		t.Errorf("identity strings %q %q", id.Serial, id.Model)
	}
	cfg := d.Config()
	if cfg.BufferCount != aoe.DefaultBufferCount || cfg.SectorCount != 2 || cfg.Version != 1 || string(cfg.Config) != "vol-1" {
		t.Errorf("config %+v", cfg)
	}
	if d.MaxSectors() != 2 {
		t.Errorf("MaxSectors() = %d, want 2", d.MaxSectors())
	}

	// A pattern across sector boundaries, a write inside one sector, and
	// an aligned megabyte split into many commands.
	writes := []struct {
		off int64
		n   int
	}{{300, 5000}, {1030, 10}, {1 << 20, 1 << 20}, {size - 700, 700}}
	for i, w := range writes {
		want := pattern(w.n, uint64(i+1))
		before := fileBytes(t, file, w.off-300, 300)
		if n, err := d.WriteAt(want, w.off); err != nil || n != w.n {
			t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", w.n, w.off, n, err)
		}
		got := make([]byte, w.n)
		if n, err := d.ReadAt(got, w.off); err != nil || n != w.n {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", w.n, w.off, n, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("read back of write %d differs", i)
		}
		if !bytes.Equal(fileBytes(t, file, w.off, w.n), want) {
			t.Errorf("backing file does not hold write %d", i)
		}
		if i != 1 && !bytes.Equal(fileBytes(t, file, w.off-300, 300), before) {
			t.Errorf("write %d changed the bytes before it", i)
		}
	}
	if err := d.Flush(); err != nil {
		t.Errorf("Flush: %v", err)
	}

	// Reads at the end return what there is and io.EOF.
	tail := make([]byte, 1000)
	n, err := d.ReadAt(tail, size-700)
	if n != 700 || !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt past the end = %d, %v; want 700, EOF", n, err)
	}
	// A write past the end fails whole: nothing written.
	last := fileBytes(t, file, size-512, 512)
	if _, err := d.WriteAt(make([]byte, 1024), size-512); err == nil {
		t.Error("WriteAt past the end succeeded")
	}
	if !bytes.Equal(fileBytes(t, file, size-512, 512), last) {
		t.Error("a refused write changed the last sector")
	}
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-conc", 1500)
	const size = 4 << 20
	file := sparseFile(t, size)
	want := pattern(size, 7)
	if _, err := file.WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	serve(t, p, &aoe.Target{Shelf: 2, Slot: 0, Backing: file, Size: size, BufferCount: 32})
	d := dial(t, p, aoe.Dialer{}, 2, 0)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() { // readers of overlapping unaligned ranges
			off := int64(i) * 150_001 // all in the lower half
			got := make([]byte, 600_000)
			if _, err := d.ReadAt(got, off); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, want[off:off+600_000]) {
				errs <- errors.New("a concurrent read returned wrong bytes")
			}
		})
		wg.Go(func() { // writers of disjoint unaligned ranges in the upper half
			off := int64(size/2 + i*200_000 + 17)
			if _, err := d.WriteAt(pattern(100_000, uint64(100+i)), off); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range 8 {
		off := int64(size/2 + i*200_000 + 17)
		if !bytes.Equal(fileBytes(t, file, off, 100_000), pattern(100_000, uint64(100+i))) {
			t.Errorf("concurrent write %d is not in the file", i)
		}
	}
}

// TestLBA48 addresses sectors beyond 2^28 on a large sparse file, and the
// 28-bit commands below it.
func TestLBA48(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-lba48", 1500)
	const sectors = 1<<28 + 4096
	const size = sectors * 512
	file := sparseFile(t, size)
	serve(t, p, &aoe.Target{Shelf: 3, Slot: 9, Backing: file, Size: size})
	d := dial(t, p, aoe.Dialer{}, 3, 9)
	if id := d.Identity(); id.LBA48Sectors != sectors || id.LBA28Sectors != 1<<28-1 || d.Size() != size {
		t.Fatalf("identity %+v, size %d", id, d.Size())
	}
	off := int64(1<<28+5)*512 + 100
	want := pattern(3000, 48)
	if _, err := d.WriteAt(want, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fileBytes(t, file, off, len(want)), want) {
		t.Error("48-bit write is not at its offset in the file")
	}
	got := make([]byte, len(want))
	if _, err := d.ReadAt(got, off); err != nil || !bytes.Equal(got, want) {
		t.Errorf("48-bit read back: %v", err)
	}

	// A second initiator that speaks only 28-bit commands.
	d28 := dial(t, p, aoe.Dialer{LBA28: true}, 3, 9)
	off28 := int64(1<<28-10) * 512
	want28 := pattern(4096, 28)
	if _, err := d28.WriteAt(want28, off28); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fileBytes(t, file, off28, len(want28)), want28) {
		t.Error("28-bit write is not at its offset in the file")
	}
	got28 := make([]byte, len(want28))
	if _, err := d28.ReadAt(got28, off28); err != nil || !bytes.Equal(got28, want28) {
		t.Errorf("28-bit read back: %v", err)
	}
	if _, err := d28.ReadAt(got, off); err == nil {
		t.Error("a 28-bit initiator read beyond 2^28 sectors")
	}
}

// TestJumboFrames: on a 9000-byte MTU the target offers 17 sectors a command.
func TestJumboFrames(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-jumbo", 9000)
	const size = 4 << 20
	file := sparseFile(t, size)
	serve(t, p, &aoe.Target{Shelf: 4, Slot: 1, Backing: file, Size: size})
	d := dial(t, p, aoe.Dialer{}, 4, 1)
	if d.MaxSectors() != 17 || d.Config().SectorCount != 17 {
		t.Errorf("MaxSectors %d, config sector count %d; want 17", d.MaxSectors(), d.Config().SectorCount)
	}
	want := pattern(1<<20+512*5, 9)
	if _, err := d.WriteAt(want, 512*3); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fileBytes(t, file, 512*3, len(want)), want) {
		t.Error("jumbo write is not in the file")
	}
}

// TestRetransmit: an initiator that starts before its target finds it by
// retransmitting its query.
func TestRetransmit(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-rtx", 1500)
	const size = 1 << 20
	file := sparseFile(t, size)
	conn := p.ListenB(t)
	type result struct {
		d   *aoe.Device
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		defer cancel()
		dl := aoe.Dialer{Conn: conn, Retransmit: 50 * time.Millisecond}
		d, err := dl.Dial(ctx, "", 5, 5)
		ch <- result{d, err}
	}()
	// The first queries go unanswered: nothing serves e5.5 yet. Sending one
	// ourselves and seeing no target proves the dial has not succeeded.
	probe := p.ListenB(t)
	if found, err := aoe.Discover(context.Background(), probe, 300*time.Millisecond); err != nil || len(found) != 0 {
		t.Fatalf("before the target starts: %v, %v", found, err)
	}
	serve(t, p, &aoe.Target{Shelf: 5, Slot: 5, Backing: file, Size: size})
	r := <-ch
	if r.err != nil {
		t.Fatalf("Dial with the target starting late: %v", r.err)
	}
	defer func() { _ = r.d.Close() }()
	if r.d.Size() != size {
		t.Errorf("Size() = %d", r.d.Size())
	}
}

// TestTargetAnnounces: a starting target broadcasts its configuration, as
// vblade does, so initiators already listening learn of it.
func TestTargetAnnounces(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-ann", 1500)
	probe := p.ListenB(t)
	serve(t, p, &aoe.Target{Shelf: 10, Slot: 11, Backing: sparseFile(t, 1<<20), Size: 1 << 20, Config: []byte("hi")})
	if err := probe.SetReadDeadline(time.Now().Add(dialTimeout)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1600)
	for {
		n, err := probe.ReadFrame(buf)
		if err != nil {
			t.Fatalf("no announcement: %v", err)
		}
		f, err := aoe.Decode(buf[:n])
		if err != nil || !f.Response || f.Command != aoe.CommandQueryConfig {
			continue
		}
		if f.Shelf != 10 || f.Slot != 11 || f.Tag != 0 || f.Config == nil || string(f.Config.Config) != "hi" ||
			!bytes.Equal(f.Dst, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
			t.Errorf("announcement %+v %+v", f.Header, f.Config)
		}
		return
	}
}
