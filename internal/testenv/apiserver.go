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
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// apiServerTimeout bounds a restart's steps: the old server's exit, the new one's readiness.
const apiServerTimeout = 2 * time.Minute

// StopAPIServer stops the control plane's kube-apiserver alone (etcd and everything in it stays;
// with kill set it is killed at once, as a crash would, else it shuts down gracefully) and
// remembers its command line for StartAPIServer. Until then every client's requests fail.
func (e *Env) StopAPIServer(kill bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.apiServerArgs != nil {
		return errors.New("the API server is already stopped")
	}
	pid, args, err := e.apiServerProcess()
	if err != nil {
		return err
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if e.apiServer != nil {
		err = e.apiServer.Process.Signal(sig)
	} else {
		err = syscall.Kill(pid, sig)
	}
	if err != nil {
		return fmt.Errorf("stopping kube-apiserver %d: %w", pid, err)
	}
	// Whoever started it (envtest, or an earlier StartAPIServer) reaps it.
	if e.apiServer != nil {
		_ = e.apiServer.Wait()
		e.apiServer = nil
	}
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, apiServerTimeout, true, func(context.Context) (bool, error) {
		_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
		return os.IsNotExist(err), nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver %d did not exit: %w", pid, err)
	}
	e.apiServerArgs = args
	return nil
}

// StartAPIServer starts the kube-apiserver StopAPIServer stopped again, on the same port with the
// same certificates and etcd, and waits until it serves the PiNet kinds.
func (e *Env) StartAPIServer() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.apiServerArgs == nil {
		return errors.New("the API server is not stopped")
	}
	cmd := exec.Command(e.apiServerArgs[0], e.apiServerArgs[1:]...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	e.apiServer, e.apiServerArgs = cmd, nil
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, apiServerTimeout, true, func(ctx context.Context) (bool, error) {
		return e.Client.List(ctx, &corev1.NamespaceList{}, client.Limit(1)) == nil && e.servesEveryCRD(ctx) == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the restarted kube-apiserver never answered: %w", errors.Join(err, e.servesEveryCRD(context.Background())))
	}
	return nil
}

// servesEveryCRD tells whether discovery lists the resource of every established
// CustomResourceDefinition. A restarted API server answers core requests before it serves the
// CRDs, one by one; a client that looks a group up in between would keep the partial group and
// answer "no matches for kind" for the rest.
func (e *Env) servesEveryCRD(ctx context.Context) error {
	crds := &apiextensionsv1.CustomResourceDefinitionList{}
	if err := e.Client.List(ctx, crds); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(e.Config)
	if err != nil {
		return err
	}
	served := map[string]map[string]bool{}
	for _, crd := range crds.Items {
		gv := crd.Spec.Group + "/" + storedVersion(&crd)
		if served[gv] == nil {
			list, err := dc.ServerResourcesForGroupVersion(gv)
			if err != nil {
				return fmt.Errorf("discovering %s: %w", gv, err)
			}
			served[gv] = map[string]bool{}
			for _, r := range list.APIResources {
				served[gv][r.Name] = true
			}
		}
		if !served[gv][crd.Spec.Names.Plural] {
			return fmt.Errorf("%s/%s is not served yet", gv, crd.Spec.Names.Plural)
		}
	}
	return nil
}

// storedVersion is the version a CRD stores, which it serves.
func storedVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return crd.Spec.Versions[0].Name
}

// stopRestartedAPIServer stops an API server StartAPIServer started; envtest stops only its own.
func (e *Env) stopRestartedAPIServer() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.apiServer == nil {
		return
	}
	_ = e.apiServer.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = e.apiServer.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = e.apiServer.Process.Kill()
		<-done
	}
	e.apiServer = nil
}

// apiServerProcess finds this control plane's kube-apiserver among the processes by its
// certificate directory (a temporary directory of its own) and returns its pid and command line.
func (e *Env) apiServerProcess() (int, []string, error) {
	certDir := e.env.ControlPlane.APIServer.CertDir
	if certDir == "" {
		return 0, nil, errors.New("the API server's certificate directory is unknown")
	}
	return findProcess("kube-apiserver", "--cert-dir="+certDir)
}

// ProcessIDs returns the pids of this control plane's kube-apiserver and etcd, so that a
// benchmark can read what each one spends.
func (e *Env) ProcessIDs() (apiServer, etcd int, err error) {
	if apiServer, _, err = e.apiServerProcess(); err != nil {
		return 0, 0, err
	}
	dataDir := ""
	if e.env.ControlPlane.Etcd != nil {
		dataDir = e.env.ControlPlane.Etcd.DataDir
	}
	if dataDir == "" {
		return 0, 0, errors.New("etcd's data directory is unknown")
	}
	if etcd, _, err = findProcess("etcd", "--data-dir="+dataDir); err != nil {
		return 0, 0, err
	}
	return apiServer, etcd, nil
}

// findProcess finds the process running binary (by base name) with the argument want, and
// returns its pid and command line.
func findProcess(binary, want string) (int, []string, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, fmt.Errorf("listing processes: %w", err)
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if filepath.Base(args[0]) == binary && containsArg(args[1:], want) {
			return pid, args, nil
		}
	}
	return 0, nil, fmt.Errorf("no %s running with %s", binary, want)
}

func containsArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}
