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

package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv marks the test binary run as the victim of TestControlPlaneDiesWithItsTestBinary.
const helperEnv = "PINET_TESTENV_ORPHAN_HELPER"

// TestOrphanHelper is not a test of its own: run by TestControlPlaneDiesWithItsTestBinary, it
// starts a control plane, says its processes' ids and waits to be killed.
func TestOrphanHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestControlPlaneDiesWithItsTestBinary")
	}
	e, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	api, etcd, err := e.ProcessIDs()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("control plane %d %d\n", api, etcd)
	time.Sleep(10 * time.Minute)
}

// TestControlPlaneDiesWithItsTestBinary kills a test binary that runs a control plane with
// SIGKILL, as a crash would end it without its cleanups, and expects its kube-apiserver and etcd
// to go too.
func TestControlPlaneDiesWithItsTestBinary(t *testing.T) {
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assetsDir(), b)); err != nil {
			t.Fatalf("control-plane binary %s missing (run `make tools`): %v", b, err)
		}
	}
	cmd, out := StartChild(t, "TestOrphanHelper", helperEnv+"=1")
	var pids []int
	lines := bufio.NewScanner(out)
	for len(pids) == 0 && lines.Scan() {
		rest, ok := strings.CutPrefix(lines.Text(), "control plane ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("helper said %q", lines.Text())
			}
			pids = append(pids, pid)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("the helper did not say its control plane's processes (%v)", lines.Err())
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("control plane process %d is not running before the kill", pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	Eventually(t, time.Minute, "the killed binary's kube-apiserver and etcd to go", func() error {
		for _, pid := range pids {
			if alive(pid) {
				return fmt.Errorf("process %d still runs", pid)
			}
		}
		return nil
	})
}

// alive reports whether pid runs (a zombie does not: it is dead, waiting for init to reap it).
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	// The state follows the command name in parentheses.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return err == nil
}
