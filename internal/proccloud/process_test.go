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

package proccloud

import (
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strings"
	"testing"
)

// A process's resident set is read from /proc while it runs, and asking for it once the
// process is gone is an error.
func TestProcessResident(t *testing.T) {
	p := &Process{Name: "sleeper", binary: "/bin/sleep", args: []string{"60"}, logPath: filepath.Join(t.TempDir(), "log")}
	if _, err := p.Resident(); err == nil {
		t.Fatal("resident memory of a process never started: no error")
	}
	if _, err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	r, err := p.Resident()
	if err != nil {
		t.Fatal(err)
	}
	// A process holds at least a page, and sleep far below a GiB.
	if r.RSS < 4<<10 || r.RSS > 1<<30 || r.Anon > r.RSS {
		t.Fatalf("resident memory of sleep: %+v", r)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Resident(); err == nil {
		t.Fatal("resident memory of a killed process: no error")
	}
}

// GoMemory reads a real heap profile (this test process's, served by net/http/pprof as the
// manager and the agent serve theirs), and a profile without the figures is an error.
func TestGoMemoryReadsTheHeapProfile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	p := &Process{Name: "self", PprofAddr: ln.Addr().String()}
	m, err := p.GoMemory()
	if err != nil {
		t.Fatal(err)
	}
	if m.HeapAlloc <= 0 || m.Sys < m.HeapAlloc || m.HeapReleased < 0 || m.HeapReleased > m.Sys {
		t.Fatalf("implausible figures %+v", m)
	}
	if _, err := (&Process{Name: "none"}).GoMemory(); err == nil {
		t.Fatal("GoMemory without a pprof address: no error")
	}
	if _, err := parseMemStats(strings.NewReader("# HeapAlloc = 1\n# Sys = 2\n")); err == nil {
		t.Fatal("a profile without HeapReleased: no error")
	}
	if _, err := parseMemStats(strings.NewReader("# HeapAlloc = x\n# Sys = 2\n# HeapReleased = 0\n")); err == nil {
		t.Fatal("a profile with a bad number: no error")
	}
}
