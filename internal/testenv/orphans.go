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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// watchdogScript waits for the process $1 to be gone, then kills every process whose command line
// names this control plane's certificate or data directory (kube-apiserver, one StartAPIServer
// started again, etcd). The directories come in the environment, so that the watchdog's own
// command line matches neither.
const watchdogScript = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
pkill -KILL -f -- "--cert-dir=$PINET_TESTENV_CERT_DIR( |\$)"
pkill -KILL -f -- "--data-dir=$PINET_TESTENV_DATA_DIR( |\$)"
exit 0`

// guardAgainstOrphans starts a watchdog that kills this control plane's processes once the test
// binary is gone, however it went. A panic, the SIGQUIT of go test's -timeout or a SIGKILL ends
// a test binary without its cleanups, and envtest's kube-apiserver and etcd, reparented to init,
// would run on (and take CPU from every later run on the machine). After a clean Stop it finds
// nothing to kill.
func (e *Env) guardAgainstOrphans() error {
	certDir := e.env.ControlPlane.APIServer.CertDir
	var dataDir string
	if e.env.ControlPlane.Etcd != nil {
		dataDir = e.env.ControlPlane.Etcd.DataDir
	}
	if certDir == "" || dataDir == "" {
		return errors.New("the control plane's certificate or data directory is unknown")
	}
	cmd := exec.Command("sh", "-c", watchdogScript, "pinet-testenv-watchdog", strconv.Itoa(os.Getpid()))
	cmd.Env = append(os.Environ(), "PINET_TESTENV_CERT_DIR="+certDir, "PINET_TESTENV_DATA_DIR="+dataDir)
	// A group of its own: the interrupt a terminal sends the test binary's group does not stop
	// the watchdog before it has swept up. Its output goes nowhere, so go test does not wait for
	// it to close the test binary's pipes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the control plane's watchdog: %w", err)
	}
	// Reaped if it ends first (it should not); otherwise it outlives this process by design.
	go func() { _ = cmd.Wait() }()
	return nil
}
