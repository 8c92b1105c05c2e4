/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package e2e drives a whole local cloud — the one `make up` starts, in its own directory and on
// its own ports — with real clients: kubectl and virsh now, the AWS CLI and SDKs as the EC2 and
// S3 front ends land.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Cloud is a running local cloud.
type Cloud struct {
	Root string // repository root
	Dir  string // the cloud's state directory (PINET_DIR)
	Env  []string
	URI  string // libvirt URI of its node
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// StartCloud brings a local cloud up with hack/cloud.sh in a fresh directory, on ports that do not
// clash with a developer's `make up`.
func StartCloud() (*Cloud, error) {
	root := repoRoot()
	dir, err := os.MkdirTemp("", "pinet-e2e-")
	if err != nil {
		return nil, err
	}
	c := &Cloud{Root: root, Dir: dir, URI: "qemu:///system"}
	c.Env = append(os.Environ(),
		"PINET_DIR="+dir,
		"PINET_ETCD_PORT=23790",
		"PINET_APISERVER_PORT=16443",
		"PINET_EC2_PORT=18773",
		"PINET_S3_PORT=13333",
		"PINET_MANAGER_PROBE_PORT=18081",
		"PINET_AGENT_PROBE_PORT=18082",
		"PINET_NODE_NAME=e2e-node-1",
		"PINET_LIBVIRT_URI="+c.URI,
		"PINET_SKIP_DEPS=1",
	)
	if out, err := c.script("up"); err != nil {
		_, _ = c.script("down")
		return nil, fmt.Errorf("cloud up: %v\n%s\n%s", err, out, c.logs())
	}
	return c, nil
}

// Up runs `cloud.sh up` again (after Down).
func (c *Cloud) Up() error {
	out, err := c.script("up")
	if err != nil {
		return fmt.Errorf("cloud up: %v\n%s\n%s", err, out, c.logs())
	}
	return nil
}

// Down runs `cloud.sh down`.
func (c *Cloud) Down() error {
	out, err := c.script("down")
	if err != nil {
		return fmt.Errorf("cloud down: %v\n%s", err, out)
	}
	return nil
}

// Destroy stops the cloud and removes its directory.
func (c *Cloud) Destroy() {
	_ = c.Down()
	_ = os.RemoveAll(c.Dir)
}

func (c *Cloud) script(verb string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.Root, "hack", "cloud.sh"), verb)
	cmd.Dir = c.Root
	cmd.Env = c.Env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *Cloud) logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(c.Dir, "logs", "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", filepath.Base(f), strings.Join(lines, "\n"))
	}
	return b.String()
}

// Kubectl runs the cloud's kubectl as the admin user; stdin may be empty.
func (c *Cloud) Kubectl(stdin string, args ...string) (string, error) {
	return run(c.Root, c.Env, stdin, filepath.Join(c.Root, "bin", "kubectl"),
		append([]string{"--kubeconfig", filepath.Join(c.Dir, "kubeconfig")}, args...)...)
}

// Virsh runs virsh against the cloud's libvirt.
func (c *Cloud) Virsh(args ...string) (string, error) {
	return run(c.Root, c.Env, "", "virsh", append([]string{"-c", c.URI}, args...)...)
}

// run runs a command in dir (the repository root, so relative manifest paths work).
func run(dir string, env []string, stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
}
