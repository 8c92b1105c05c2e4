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
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/internal/testenv"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: the kernel's USER_HZ, 100 on every
// Linux architecture this runs on.
const userHZ = 100

// cpuSeconds returns the CPU time (user and system) the process pid has used so far.
func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of %d: %w", pid, err)
	}
	return parseCPUSeconds(string(raw))
}

// parseCPUSeconds reads the user and system CPU times out of a /proc/<pid>/stat line. The
// command name (field 2) is in parentheses and may hold spaces and parentheses; the fields after
// it start with the state (field 3), so utime and stime (fields 14 and 15) are the 12th and 13th
// after the last ')'.
func parseCPUSeconds(stat string) (float64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("unexpected stat line %q", stat)
	}
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected stat line %q: %d fields after the command", stat, len(fields))
	}
	var ticks float64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected stat line %q: %w", stat, err)
		}
		ticks += float64(v)
	}
	return ticks / userHZ, nil
}

// cpuMeter reads the CPU time of a control plane's API server and etcd and of this process (the
// benchmark's client and, for the cloud's control plane, the manager, the EC2 front end and the
// node agents that run in it), so that a benchmark can say which of them a run's time went to.
type cpuMeter struct {
	apiServer, etcd int
}

func newCPUMeter(e *testenv.Env) (cpuMeter, error) {
	api, etcd, err := e.ProcessIDs()
	if err != nil {
		return cpuMeter{}, fmt.Errorf("finding the control plane's processes: %w", err)
	}
	return cpuMeter{apiServer: api, etcd: etcd}, nil
}

// cpuUse is the CPU time, in seconds, of each of a meter's processes, and the time the
// machine's CPUs were busy at all (every process and the kernel's own work).
type cpuUse struct {
	APIServer, Etcd, Self, Machine float64
}

func (m cpuMeter) read() (cpuUse, error) {
	var u cpuUse
	var err error
	if u.APIServer, err = cpuSeconds(m.apiServer); err != nil {
		return u, err
	}
	if u.Etcd, err = cpuSeconds(m.etcd); err != nil {
		return u, err
	}
	if u.Self, err = cpuSeconds(os.Getpid()); err != nil {
		return u, err
	}
	if u.Machine, err = machineBusySeconds(); err != nil {
		return u, err
	}
	return u, nil
}

// machineBusySeconds returns the time all CPUs together have spent on anything but idling and
// waiting for I/O since boot, from /proc/stat.
func machineBusySeconds() (float64, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("reading the machine's CPU time: %w", err)
	}
	return parseMachineBusy(string(raw))
}

// parseMachineBusy reads /proc/stat's first line: "cpu" and the ticks of user, nice, system,
// idle, iowait, irq, softirq, steal (and guest times, already inside user and nice).
func parseMachineBusy(stat string) (float64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	var busy float64
	for i, f := range fields[1:9] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc/stat line %q: %w", line, err)
		}
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		busy += float64(v)
	}
	return busy / userHZ, nil
}

// since is the CPU time each process used from before to u.
func (u cpuUse) since(before cpuUse) cpuUse {
	return cpuUse{APIServer: u.APIServer - before.APIServer, Etcd: u.Etcd - before.Etcd, Self: u.Self - before.Self,
		Machine: u.Machine - before.Machine}
}

func (u cpuUse) total() float64 { return u.APIServer + u.Etcd + u.Self }

func TestParseCPUSeconds(t *testing.T) {
	// A command name with a space and a parenthesis; utime 250 and stime 125 ticks.
	line := "4242 (kube (api) x) S 1 4242 4242 0 -1 4194560 9 0 0 0 250 125 0 0 20 0 12 0 100 0 0"
	got, err := parseCPUSeconds(line)
	if err != nil {
		t.Fatal(err)
	}
	if got != 3.75 {
		t.Errorf("got %v s, want 3.75", got)
	}
	for _, bad := range []string{"", "4242 kube S 1", "4242 (kube) S 1 2 3", "4242 (kube) S 1 4242 4242 0 -1 4194560 9 0 0 0 x 125 0"} {
		if _, err := parseCPUSeconds(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	busy, err := parseMachineBusy("cpu  100 20 30 5000 70 1 2 3 0 0\ncpu0 50 10 15 2500 35 0 1 1 0 0\n")
	if err != nil || busy != 1.56 {
		t.Errorf("parseMachineBusy = %v, %v; want 1.56 (idle and iowait left out)", busy, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3 4 5 6 7", "cpu 1 2 3 x 5 6 7 8"} {
		if _, err := parseMachineBusy(bad); err == nil {
			t.Errorf("parseMachineBusy(%q): no error", bad)
		}
	}
	// This process's own line parses, and its time does not go back.
	a, err := cpuSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1e7; i++ {
		_ = strconv.Itoa(i)
	}
	b, err := cpuSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if b < a {
		t.Errorf("CPU time went back: %v then %v", a, b)
	}
}

// readCPU reads m or fails the benchmark.
func readCPU(b *testing.B, m cpuMeter) cpuUse {
	b.Helper()
	u, err := m.read()
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// perInstance describes u spread over n instances, and how busy it kept the machine's cores
// over the wall time took.
func (u cpuUse) perInstance(n int, took time.Duration) string {
	per := func(s float64) float64 { return s * 1000 / float64(n) }
	return fmt.Sprintf("API server %.1f ms, etcd %.1f ms, this process %.1f ms (in all %.1f ms, %.2f cores over %.1f s; the machine's %d cores were busy %.2f: %.1f ms per instance)",
		per(u.APIServer), per(u.Etcd), per(u.Self), per(u.total()), u.total()/took.Seconds(), took.Seconds(),
		runtime.NumCPU(), u.Machine/took.Seconds(), per(u.Machine))
}
