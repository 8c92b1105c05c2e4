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

package bench

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
)

var (
	aoeMiB = flag.Int("bench.aoe-mib", 64, "size in MiB of the file BenchmarkAoE exports")
	aoeOps = flag.Int("bench.aoe-ops", 16384, "4 KiB operations BenchmarkAoE runs per pattern and direction")
	aoeQD  = flag.Int("bench.aoe-qd", 4, "4 KiB operations BenchmarkAoE keeps in flight")
)

const (
	aoeBlock  = 4096
	vbladeBin = "/usr/sbin/vblade"
)

// aoeResult is the IOPS of one target: sequential and random, writes and reads.
type aoeResult struct{ seqW, seqR, randW, randR float64 }

// BenchmarkAoE runs -bench.aoe-ops sequential and then random 4 KiB writes and reads (at
// -bench.aoe-qd in flight) through PiNet's initiator against PiNet's AoE target, and the same
// operations through the same initiator against vblade exporting the same file, on a veth link
// between two network namespaces the benchmark makes. The initiator is the same for both, so the
// ratio compares the targets. It reports IOPS both ways and the ratios PiNet/vblade.
func BenchmarkAoE(b *testing.B) {
	if _, err := os.Stat(vbladeBin); err != nil {
		b.Skipf("vblade is not installed: %v", err)
	}
	size := int64(*aoeMiB) << 20
	if size < aoeBlock || *aoeOps <= 0 || *aoeQD <= 0 {
		b.Fatalf("-bench.aoe-mib, -bench.aoe-ops and -bench.aoe-qd must be positive (got %d, %d, %d)", *aoeMiB, *aoeOps, *aoeQD)
	}
	p := aoetest.NewPair(b, "pt-bench-aoe", 1500)
	path := filepath.Join(b.TempDir(), "volume")
	file, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = file.Close() })
	// Written out, not sparse, so that neither target pays for allocating blocks.
	if _, err := file.Write(make([]byte, size)); err != nil {
		b.Fatal(err)
	}
	if err := file.Sync(); err != nil {
		b.Fatal(err)
	}
	seq, random := aoeOffsets(size, *aoeOps)
	for b.Loop() {
		ours := aoeRun(b, p, 7, 1, seq, random, func() func() { return serveTarget(b, p, file, size, 7, 1) })
		theirs := aoeRun(b, p, 7, 2, seq, random, func() func() { return runVblade(b, p, path, 7, 2) })
		mbps := func(iops float64) float64 { return iops * aoeBlock / 1e6 }
		for _, m := range []struct {
			name     string
			us, them float64
		}{
			{"seq-write", ours.seqW, theirs.seqW}, {"seq-read", ours.seqR, theirs.seqR},
			{"rand-write", ours.randW, theirs.randW}, {"rand-read", ours.randR, theirs.randR},
		} {
			b.ReportMetric(m.us, "IOPS-pinet-"+m.name)
			b.ReportMetric(m.them, "IOPS-vblade-"+m.name)
			b.ReportMetric(m.us/m.them, "ratio-"+m.name)
			b.Logf("%s 4 KiB: PiNet %.0f IOPS (%.1f MB/s), vblade %.0f IOPS (%.1f MB/s), ratio %.2f",
				m.name, m.us, mbps(m.us), m.them, mbps(m.them), m.us/m.them)
		}
	}
}

// aoeOffsets are ops sequential block offsets from 0 (wrapping at size) and ops random ones.
func aoeOffsets(size int64, ops int) (seq, random []int64) {
	blocks := size / aoeBlock
	r := rand.New(rand.NewPCG(16, 4096))
	for i := range int64(ops) {
		seq = append(seq, (i%blocks)*aoeBlock)
		random = append(random, r.Int64N(blocks)*aoeBlock)
	}
	return seq, random
}

// aoeRun starts a target with start (which returns its stop), dials e<shelf>.<slot> and times the
// four patterns.
func aoeRun(b *testing.B, p *aoetest.Pair, shelf uint16, slot uint8, seq, random []int64, start func() func()) aoeResult {
	stop := start()
	defer stop()
	conn, err := aoetest.ListenIn(p.NSB, p.IfaceB)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dl := aoe.Dialer{Conn: conn}
	d, err := dl.Dial(ctx, "", shelf, slot)
	if err != nil {
		_ = conn.Close()
		b.Fatalf("dialling e%d.%d: %v", shelf, slot, err)
	}
	defer d.Close()
	var res aoeResult
	res.seqW = aoeTime(b, d, seq, true)
	res.seqR = aoeTime(b, d, seq, false)
	res.randW = aoeTime(b, d, random, true)
	res.randR = aoeTime(b, d, random, false)
	return res
}

// aoeTime runs one 4 KiB write or read at each offset, -bench.aoe-qd at a time, and returns IOPS.
// Writes end with a FLUSH CACHE, inside the timed span.
func aoeTime(b *testing.B, d *aoe.Device, offsets []int64, write bool) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *aoeQD)
	start := time.Now()
	for range *aoeQD {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, aoeBlock)
			for {
				i := next.Add(1) - 1
				if i >= int64(len(offsets)) {
					return
				}
				var err error
				if write {
					buf[0], buf[1] = byte(i), byte(i>>8)
					_, err = d.WriteAt(buf, offsets[i])
				} else {
					_, err = d.ReadAt(buf, offsets[i])
				}
				if err != nil {
					errs <- fmt.Errorf("4 KiB at %d: %w", offsets[i], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if write {
		if err := d.Flush(); err != nil {
			b.Fatalf("flush: %v", err)
		}
	}
	took := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(len(offsets)) / took.Seconds()
}

// serveTarget exports file with PiNet's target in namespace A until the returned stop is called.
func serveTarget(b *testing.B, p *aoetest.Pair, file *os.File, size int64, shelf uint16, slot uint8) func() {
	conn, err := aoetest.ListenIn(p.NSA, p.IfaceA)
	if err != nil {
		b.Fatal(err)
	}
	tgt := &aoe.Target{Conn: conn, Shelf: shelf, Slot: slot, Backing: file, Size: size}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tgt.Serve(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("PiNet's target: %v", err)
		}
	}
}

// runVblade exports path with vblade in namespace A until the returned stop is called.
func runVblade(b *testing.B, p *aoetest.Pair, path string, shelf uint16, slot uint8) func() {
	cmd := aoetest.Command(p.NSA, vbladeBin, fmt.Sprint(shelf), fmt.Sprint(slot), p.IfaceA, path)
	out, err := os.CreateTemp(b.TempDir(), "vblade-*.log")
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting vblade: %v", err)
	}
	return func() { stopVblade(b, cmd, out) }
}

func stopVblade(b *testing.B, cmd *exec.Cmd, out *os.File) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	_ = out.Close()
	if log, err := os.ReadFile(out.Name()); err == nil && len(log) > 0 {
		b.Logf("vblade said: %s", log)
	}
}
