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
	"os/exec"
	"sync"
	"testing"
	"time"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
)

// vblade exports file as e<shelf>.<slot> with the independent vblade target
// inside namespace A, until the test ends.
func vblade(t *testing.T, p *aoetest.Pair, shelf, slot, file string) {
	t.Helper()
	if _, err := exec.LookPath("vblade"); err != nil {
		t.Skip("vblade is not installed")
	}
	cmd := aoetest.Command(p.NSA, "vblade", shelf, slot, p.IfaceA, file)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Logf("vblade said: %s", out.String())
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestInitiatorAgainstVblade: our initiator reads what was written into a
// file vblade exports and writes what the file then holds.
func TestInitiatorAgainstVblade(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-vbi", 1500)
	const size = 4 << 20
	file := sparseFile(t, size)
	want := pattern(size, 11)
	if _, err := file.WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	vblade(t, p, "3", "4", file.Name())
	d := dial(t, p, aoe.Dialer{}, 3, 4)
	if d.Size() != size {
		t.Fatalf("Size() = %d, want %d", d.Size(), size)
	}
	got := make([]byte, size)
	if n, err := d.ReadAt(got, 0); err != nil || n != size {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the device read differs from the file vblade exports")
	}

	writes := []struct {
		off int64
		n   int
	}{{777, 3000}, {1 << 20, 1 << 20}, {size - 512, 512}}
	for i, w := range writes {
		b := pattern(w.n, uint64(50+i))
		if _, err := d.WriteAt(b, w.off); err != nil {
			t.Fatalf("WriteAt at %d: %v", w.off, err)
		}
		if err := d.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if !bytes.Equal(fileBytes(t, file, w.off, w.n), b) {
			t.Errorf("write %d is not in vblade's file", i)
		}
		copy(want[w.off:], b)
	}
	if !bytes.Equal(fileBytes(t, file, 0, size), want) {
		t.Error("the file holds other bytes than were written")
	}

	// vblade, too, answers sectors beyond the end with an ATA error.
	err := d.ReadSectors(context.Background(), size/512-1, make([]byte, 1024))
	var ataErr *aoe.ATAError
	if !errors.As(err, &ataErr) || !ataErr.OutOfRange() {
		t.Errorf("vblade's answer to a read beyond the end: %v", err)
	}
}

// TestTargetAnswersAsVblade: our target and vblade export files of one size
// on one interface; a broadcast Query Config finds both, and what our
// initiator reads from each (config, IDENTIFY) agrees.
func TestTargetAnswersAsVblade(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-vbt", 1500)
	const size = 3<<20 + 512*7
	vfile := sparseFile(t, size)
	vblade(t, p, "9", "1", vfile.Name())
	ours := sparseFile(t, size)
	serve(t, p, &aoe.Target{Shelf: 9, Slot: 2, Backing: ours, Size: size})

	probe := p.ListenB(t)
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	var found []aoe.Announcement
	for len(found) < 2 && ctx.Err() == nil {
		var err error
		if found, err = aoe.Discover(ctx, probe, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if len(found) != 2 {
		t.Fatalf("broadcast query found %d targets, want 2: %+v", len(found), found)
	}
	bySlot := map[uint8]aoe.Announcement{}
	for _, a := range found {
		bySlot[a.Slot] = a
	}
	theirs, mine := bySlot[1], bySlot[2]
	if theirs.Shelf != 9 || mine.Shelf != 9 {
		t.Fatalf("announcements %+v", found)
	}
	if !bytes.Equal(theirs.Addr, mine.Addr) {
		t.Errorf("answers from %s and %s on one interface", theirs.Addr, mine.Addr)
	}
	if theirs.Config.SectorCount != mine.Config.SectorCount || theirs.Config.Version != mine.Config.Version ||
		theirs.Config.BufferCount != mine.Config.BufferCount || theirs.Config.Command != mine.Config.Command {
		t.Errorf("config answers differ: vblade %+v, ours %+v", theirs.Config, mine.Config)
	}

	dv := dial(t, p, aoe.Dialer{}, 9, 1)
	do := dial(t, p, aoe.Dialer{}, 9, 2)
	iv, ia := dv.Identity(), do.Identity()
	if iv.LBA48 != ia.LBA48 || iv.LBA48Sectors != ia.LBA48Sectors || iv.LBA28Sectors != ia.LBA28Sectors ||
		iv.FlushCache != ia.FlushCache || iv.Sectors() != size/512 {
		t.Errorf("IDENTIFY differs: vblade %+v, ours %+v", iv, ia)
	}
	if dv.Size() != do.Size() || dv.MaxSectors() != do.MaxSectors() {
		t.Errorf("size %d/%d, max sectors %d/%d", dv.Size(), do.Size(), dv.MaxSectors(), do.MaxSectors())
	}

	// The same writes through each land the same way in each file.
	b := pattern(5000, 99)
	for _, d := range []*aoe.Device{dv, do} {
		if _, err := d.WriteAt(b, 1234); err != nil {
			t.Fatal(err)
		}
		if err := d.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(fileBytes(t, vfile, 0, 8192), fileBytes(t, ours, 0, 8192)) {
		t.Error("the files differ after the same writes")
	}
}
