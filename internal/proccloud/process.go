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
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one PiNet process (a manager replica, a node agent), started again with the same
// command line after a kill.
type Process struct {
	Name string
	// PprofAddr is the host:port of the process's /debug/pprof (empty when it serves none).
	PprofAddr string

	binary, logPath string
	args, env       []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start runs the process; it returns once the process is started, with a channel closed when it
// exits.
func (p *Process) Start() (<-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil, fmt.Errorf("%s is running", p.Name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "=== proccloud: starting %s at %s\n", p.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.binary, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The process dies with the test process, even when the test binary is killed on a timeout.
	// The signal follows the thread that started it, so that thread stays locked to the goroutine
	// that waits for the process (the runtime neither reuses nor ends it meanwhile).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	if err := <-started; err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", p.Name, err)
	}
	p.cmd, p.exited = cmd, exited
	return exited, nil
}

// Kill kills the process with SIGKILL (no shutdown) and waits until it is gone.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !strings.Contains(err.Error(), "already finished") {
		return fmt.Errorf("killing %s: %w", p.Name, err)
	}
	<-p.exited
	p.cmd = nil
	return nil
}

// Running reports whether the process runs.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitedChan is the channel closed when the current run exits (nil when none was started).
func (p *Process) exitedChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Resident is a process's resident memory in bytes, from /proc/<pid>/status.
type Resident struct {
	// RSS is the whole resident set (VmRSS).
	RSS int64
	// Anon is its anonymous part (RssAnon): the heap, stacks and C allocations, without the
	// program's text and the files it maps, which the kernel can drop and read again.
	Anon int64
}

// Resident reads the process's resident memory.
func (p *Process) Resident() (Resident, error) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || !p.Running() {
		return Resident{}, fmt.Errorf("%s is not running", p.Name)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return Resident{}, err
	}
	defer f.Close()
	var r Resident
	fields := map[string]*int64{"VmRSS": &r.RSS, "RssAnon": &r.Anon}
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
		if err != nil {
			return Resident{}, fmt.Errorf("%s of %s: %w", name, p.Name, err)
		}
		*dst = kib << 10
		seen++
	}
	if err := sc.Err(); err != nil {
		return Resident{}, err
	}
	if seen != len(fields) {
		return Resident{}, fmt.Errorf("no VmRSS or RssAnon in the status of %s", p.Name)
	}
	return r, nil
}

// GoMemory is what a process's Go runtime says of its memory (runtime.MemStats' names).
type GoMemory struct {
	// HeapAlloc is the live heap, read right after a collection.
	HeapAlloc int64
	// Sys is all the memory the Go runtime has mapped; HeapReleased the part of it given back to
	// the operating system. Sys - HeapReleased bounds the resident memory Go manages: the rest of
	// the resident set is the program's text and what C code (libvirt) allocated.
	Sys, HeapReleased int64
}

// GoMemory reads the process's heap profile after a collection it runs first
// (/debug/pprof/heap?gc=1) and returns the runtime.MemStats figures at its end. It needs
// PprofAddr.
func (p *Process) GoMemory() (GoMemory, error) {
	if p.PprofAddr == "" {
		return GoMemory{}, fmt.Errorf("%s serves no pprof", p.Name)
	}
	hc := &http.Client{Timeout: time.Minute}
	resp, err := hc.Get("http://" + p.PprofAddr + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return GoMemory{}, fmt.Errorf("heap profile of %s: %w", p.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return GoMemory{}, fmt.Errorf("heap profile of %s: HTTP %d", p.Name, resp.StatusCode)
	}
	m, err := parseMemStats(resp.Body)
	if err != nil {
		return GoMemory{}, fmt.Errorf("heap profile of %s: %w", p.Name, err)
	}
	return m, nil
}

// parseMemStats reads the "# Name = N" lines a heap profile's text form (debug=1) ends with.
func parseMemStats(r io.Reader) (GoMemory, error) {
	var m GoMemory
	fields := map[string]*int64{"HeapAlloc": &m.HeapAlloc, "Sys": &m.Sys, "HeapReleased": &m.HeapReleased}
	seen := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = ")
		dst := fields[name]
		if !ok || dst == nil || !strings.HasPrefix(sc.Text(), "# ") {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %w", name, err)
		}
		*dst = v
		seen++
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if seen != len(fields) {
		return m, fmt.Errorf("the profile lacks some of HeapAlloc, Sys and HeapReleased")
	}
	return m, nil
}

// LogTail is the last n lines of the process's log (all its runs).
func (p *Process) LogTail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogPath is the file the process's output goes to.
func (p *Process) LogPath() string { return p.logPath }
