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

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// NodeOptions describes an extra node of the local cloud: another node agent process beside the
// cloud's own, on the same libvirtd, with its datapath and storage interface in network
// namespaces the caller made.
type NodeOptions struct {
	Name, Zone string
	MemoryMiB  int
	// DatapathNS, UnderlayInterface and UnderlayIP give the node a vxlan datapath in that
	// namespace (empty DatapathNS: no guest network).
	DatapathNS, UnderlayInterface, UnderlayIP string
	// StorageNS and StorageInterface are the storage network's end on this node; StorageGiB > 0
	// makes it a storage node.
	StorageNS, StorageInterface string
	StorageGiB                  int
}

// Node is an extra node agent process of the cloud.
type Node struct {
	c    *Cloud
	Opts NodeOptions
	Dir  string // its state directory
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartNode gives the node an identity of its own (pinet:node:NAME), starts its agent and
// returns once the process runs (the caller waits for its Hypervisor).
func (c *Cloud) StartNode(o NodeOptions) (*Node, error) {
	nodesDir := filepath.Join(c.Dir, "nodes")
	dir := filepath.Join(nodesDir, o.Name)
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o711); err != nil {
		return nil, err
	}
	// QEMU (libvirt-qemu) passes through to the instance files, as in cloud.sh.
	for _, d := range []string{nodesDir, dir, filepath.Join(dir, "state")} {
		if err := os.Chmod(d, 0o711); err != nil {
			return nil, err
		}
	}
	pki := filepath.Join(c.Root, "bin", "pinet-pki")
	if out, err := run(c.Root, c.Env, "", pki, "-dir", filepath.Join(c.Dir, "pki"), "-kubeconfig-dir", c.Dir,
		"-server", "https://127.0.0.1:16443", "-namespace", "admin", "-nodes", o.Name); err != nil {
		return nil, fmt.Errorf("node identity: %v: %s", err, out)
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, err
	}
	rc, err := c.RC()
	if err != nil {
		return nil, err
	}
	n := &Node{c: c, Opts: o, Dir: dir}
	n.args = []string{"--kubeconfig", filepath.Join(c.Dir, "nodeagent-"+o.Name+".kubeconfig"),
		"--node-name", o.Name, "--zone", o.Zone, "--libvirt-uri", c.URI,
		"--state-dir", filepath.Join(dir, "state"), "--health-probe-bind-address", "0",
		"--s3-url", rc["S3_URL"], "--region", rc["AWS_DEFAULT_REGION"],
		"--console-bind-address", "127.0.0.1:" + strconv.Itoa(consolePort),
		"--client-ca-file", filepath.Join(c.Dir, "pki", "ca.crt"),
		"--vcpus", "2", "--memory-mib", strconv.Itoa(o.MemoryMiB)}
	if o.DatapathNS != "" {
		n.args = append(n.args, "--network-mode", "vxlan", "--datapath-netns", "/run/netns/"+o.DatapathNS,
			"--underlay-interface", o.UnderlayInterface, "--underlay-ip", o.UnderlayIP)
	}
	if o.StorageInterface != "" {
		n.args = append(n.args, "--storage-interface", o.StorageInterface, "--storage-netns", o.StorageNS)
	}
	if o.StorageGiB > 0 {
		n.args = append(n.args, "--storage-capacity-gib", strconv.Itoa(o.StorageGiB),
			"--storage-dir", filepath.Join(dir, "volumes"))
	}
	return n, n.Start()
}

// freePort picks a TCP port of loopback nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the node's agent (again), its log appended to logs/nodeagent-NAME.log.
func (n *Node) Start() error {
	logFile, err := os.OpenFile(n.Log(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(n.c.Root, "bin", "nodeagent"), n.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the agent of %s: %w", n.Opts.Name, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(n.done)
	return nil
}

// Log is the path of the node agent's log.
func (n *Node) Log() string { return filepath.Join(n.c.Dir, "logs", "nodeagent-"+n.Opts.Name+".log") }

// Kill9 kills the agent as a crash would, and waits until it is gone.
func (n *Node) Kill9() error { return n.signal(syscall.SIGKILL) }

// Stop stops the agent as an operator would (SIGTERM, then SIGKILL after a while).
func (n *Node) Stop() error {
	if err := n.signal(syscall.SIGTERM); err != nil {
		return n.Kill9()
	}
	return nil
}

func (n *Node) signal(sig syscall.Signal) error {
	if n.cmd == nil {
		return nil
	}
	select {
	case <-n.done:
		return nil
	default:
	}
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the agent of %s (pid %d) did not end on %v", n.Opts.Name, n.cmd.Process.Pid, sig)
	}
}
