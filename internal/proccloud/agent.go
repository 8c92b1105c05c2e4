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
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// BuildNodeAgent builds ./cmd/nodeagent into dir and returns the binary's path.
func BuildNodeAgent(dir string) (string, error) {
	bin := filepath.Join(dir, "nodeagent")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/nodeagent")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the node agent: %w\n%s", err, out)
	}
	return bin, nil
}

// AgentOptions tune a node agent process.
type AgentOptions struct {
	// Binary is the node agent binary (BuildNodeAgent).
	Binary string
	// Zone is the node's availability zone (default pinet-1a).
	Zone string
	// VCPUs, MemoryMiB and MaxInstances are the capacity the node registers (default 64 vCPUs,
	// 256 GiB, 64 instances).
	VCPUs        int32
	MemoryMiB    int64
	MaxInstances int32
	// ExtraArgs are appended to the agent's command line.
	ExtraArgs []string
}

// AddNodeAgent runs a node agent process for a simulated hypervisor name: the real binary on a
// libvirt test-driver connection of its own (its domains live as long as the process), acting as
// the node's own identity (testenv.NodeUser in testenv.NodeAgentsGroup), its object store the
// cloud's Service. It returns once the Hypervisor is ready; the process is killed in t's cleanup.
func (c *Cloud) AddNodeAgent(t testing.TB, name string, opts AgentOptions) *Process {
	t.Helper()
	if opts.Binary == "" {
		t.Fatal("proccloud: no node agent binary (BuildNodeAgent)")
	}
	if opts.Zone == "" {
		opts.Zone = "pinet-1a"
	}
	if opts.VCPUs == 0 {
		opts.VCPUs = 64
	}
	if opts.MemoryMiB == 0 {
		opts.MemoryMiB = 256 << 10
	}
	if opts.MaxInstances == 0 {
		opts.MaxInstances = 64
	}
	dir := t.TempDir()
	restCfg, err := c.Env.AddUser(testenv.NodeUser(name), testenv.NodeAgentsGroup)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(restCfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	nodeXML := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addrs, err := freeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--node-name=" + name, "--libvirt-uri=test://" + nodeXML, "--zone=" + opts.Zone,
		"--max-instances=" + strconv.Itoa(int(opts.MaxInstances)),
		"--vcpus=" + strconv.Itoa(int(opts.VCPUs)), "--memory-mib=" + strconv.FormatInt(opts.MemoryMiB, 10),
		"--state-dir=" + filepath.Join(dir, "state"), "--heartbeat-interval=5s", "--shutdown-grace=2s",
		"--s3-url=" + c.S3URL, "--region=" + c.opts.Region, "--system-namespace=" + c.systemNamespace,
		"--console-bind-address=" + addrs[0], "--health-probe-bind-address=" + addrs[1],
		"--pprof-bind-address=" + addrs[2],
	}
	p := &Process{Name: name, PprofAddr: addrs[2], binary: opts.Binary, logPath: filepath.Join(dir, name+".log"),
		args: append(args, opts.ExtraArgs...), env: []string{"KUBECONFIG=" + kubeconfig}}
	t.Cleanup(func() {
		_ = p.Kill()
		if t.Failed() {
			t.Logf("log of node agent %s (%s), last lines:\n%s", name, p.logPath, p.LogTail(30))
		}
	})
	if _, err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.waitHypervisorReady(p, name, c.opts.StartTimeout); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitHypervisorReady waits until the node's Hypervisor is Ready; it fails at once when the
// agent exits.
func (c *Cloud) waitHypervisorReady(p *Process, name string, timeout time.Duration) error {
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: name}}
	err := wait.PollUntilContextTimeout(c.Env.Ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if !p.Running() {
			return false, fmt.Errorf("node agent %s exited:\n%s", name, p.LogTail(40))
		}
		if err := c.Env.Client.Get(ctx, client.ObjectKeyFromObject(hv), hv); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return conditions.IsTrue(hv, cloudv1.ReadyCondition), nil
	})
	if err != nil {
		return fmt.Errorf("hypervisor %s not ready: %w (conditions %+v)", name, err, hv.Status.Conditions)
	}
	return nil
}
