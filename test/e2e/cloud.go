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
	"time"
)

// Cloud is a running local cloud.
type Cloud struct {
	Root string // repository root
	Dir  string // the cloud's state directory (PINET_DIR)
	Env  []string
	URI  string // libvirt URI of its node
	// EtcdAddr is etcd's client address (TLS, client certificates of pki/etcd).
	EtcdAddr string
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// NetNSPrefix names the test cloud's network namespaces (<prefix>-node, <prefix>-world), apart
// from a developer's `make up` (pinet-node, pinet-world).
const NetNSPrefix = "pt-e2e"

// StartCloud brings a local cloud up with hack/cloud.sh in a fresh directory, on ports that do not
// clash with a developer's `make up`.
func StartCloud() (*Cloud, error) {
	root := repoRoot()
	dir, err := os.MkdirTemp("", "pinet-e2e-")
	if err != nil {
		return nil, err
	}
	c := &Cloud{Root: root, Dir: dir, URI: "qemu:///system", EtcdAddr: "127.0.0.1:23790"}
	c.Env = append(os.Environ(),
		"PINET_DIR="+dir,
		"PINET_ETCD_PORT=23790",
		"PINET_APISERVER_PORT=16443",
		"PINET_EC2_PORT=18773",
		"PINET_S3_PORT=13333",
		"PINET_DASHBOARD_PORT=18080",
		"PINET_MANAGER_PROBE_PORT=18081",
		"PINET_MANAGER_METRICS_PORT=18088",
		"PINET_AGENT_METRICS_PORT=18089",
		"PINET_AGENT_PROBE_PORT=18082",
		"PINET_CHAINS_METRICS_PORT=18090",
		"PINET_CONSOLE_PORT=18443",
		"PINET_NODE_AUTHORIZER_PORT=18091",
		"PINET_NODE_NAME=e2e-node-1",
		"PINET_LIBVIRT_URI="+c.URI,
		"PINET_SKIP_DEPS=1",
		"PINET_NETNS_PREFIX="+NetNSPrefix,
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

// RC returns the variables the cloud's pinetrc exports (EC2_URL, S3_URL, AWS_*, …).
func (c *Cloud) RC() (map[string]string, error) { return ReadRC(filepath.Join(c.Dir, "pinetrc")) }

// ReadRC returns the variables a pinetrc (`pinetctl user credentials`) exports.
func ReadRC(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(rest, "=")
		if !ok || strings.Contains(v, "$") {
			continue
		}
		vars[k] = strings.Trim(v, "'")
	}
	return vars, nil
}

// AWS runs the AWS CLI against the cloud's EC2 API as the admin user, and returns its output.
func (c *Cloud) AWS(args ...string) (string, error) {
	rc, err := c.RC()
	if err != nil {
		return "", err
	}
	return c.AWSAs(rc, args...)
}

// AWSAs runs the AWS CLI with the credentials of a pinetrc (ReadRC).
func (c *Cloud) AWSAs(rc map[string]string, args ...string) (string, error) {
	env := append([]string{}, c.Env...)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} {
		env = append(env, k+"="+rc[k])
	}
	env = append(env, "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
	return run(c.Root, env, "", "aws", append([]string{"--endpoint-url", rc["EC2_URL"], "--output", "json"}, args...)...)
}

// Pinetctl runs bin/pinetctl with the admin kubeconfig.
func (c *Cloud) Pinetctl(args ...string) (string, error) {
	return run(c.Root, c.Env, "", filepath.Join(c.Root, "bin", "pinetctl"),
		append([]string{"--kubeconfig", filepath.Join(c.Dir, "kubeconfig")}, args...)...)
}

// AgentLog returns the node agent's log.
func (c *Cloud) AgentLog() string {
	data, _ := os.ReadFile(filepath.Join(c.Dir, "logs", "nodeagent.log"))
	return string(data)
}

// StateDir is the node agent's state directory.
func (c *Cloud) StateDir() string { return filepath.Join(c.Dir, "state") }

// StorageNode is the name of the cloud's own storage node (cloud.sh: <node>-store).
const StorageNode = "e2e-node-1-store"

// VolumesDir is where the cloud's storage node keeps the volumes' backing files.
func (c *Cloud) VolumesDir() string { return filepath.Join(c.Dir, "storage", "volumes") }

// Kill kills one of the cloud's processes (as a crash would); `Up` starts it again.
func (c *Cloud) Kill(name string) error {
	data, err := os.ReadFile(filepath.Join(c.Dir, "pids", name+".pid"))
	if err != nil {
		return err
	}
	pid := strings.TrimSpace(string(data))
	_, err = run(c.Root, c.Env, "", "kill", "-9", pid)
	return err
}

// RestartLibvirtd kills libvirtd as a crash would and starts it again; running guests survive.
func (c *Cloud) RestartLibvirtd() error {
	data, err := os.ReadFile("/run/libvirtd.pid")
	if err != nil {
		return err
	}
	if _, err := run(c.Root, c.Env, "", "kill", "-9", strings.TrimSpace(string(data))); err != nil {
		return err
	}
	args := []string{}
	if _, err := os.Stat(filepath.Join(c.Dir, "pids", "libvirtd.pid")); err == nil {
		args = append(args, filepath.Join(c.Dir, "pids"))
	}
	time.Sleep(500 * time.Millisecond)
	_, err = run(c.Root, c.Env, "", filepath.Join(c.Root, "hack", "libvirtd.sh"), args...)
	return err
}
