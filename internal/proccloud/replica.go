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
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// leaderMetric is controller-runtime's gauge of whether this process holds the manager's Lease.
const leaderMetric = `leader_election_master_status{name="manager.cloud.pinet.io"}`

// Replica is one manager process. Its ports are picked once, so a restarted replica answers
// where the killed one did.
type Replica struct {
	*Process
	// EC2URL, S3URL and DashboardURL are this replica's own front doors.
	EC2URL, S3URL, DashboardURL string
	probeAddr, metricsAddr      string

	// ready is what /readyz said last (polled while the process runs); the Service sends
	// connections only to ready replicas.
	ready atomic.Bool
}

// freeAddrs returns n loopback addresses with ports free right now.
func freeAddrs(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	out := make([]string, n)
	for i := range out {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out[i] = ln.Addr().String()
	}
	return out, nil
}

// Start runs the replica's process; it returns once the process is started (not ready: see
// WaitReady).
func (r *Replica) Start() error {
	exited, err := r.Process.Start()
	if err != nil {
		return err
	}
	go r.pollReady(exited)
	return nil
}

// Kill kills the process with SIGKILL (no shutdown, no Lease handed over) and waits until it is
// gone.
func (r *Replica) Kill() error {
	r.ready.Store(false)
	return r.Process.Kill()
}

// Ready reports whether the replica runs and its /readyz passed when last asked.
func (r *Replica) Ready() bool { return r.ready.Load() && r.Running() }

func (r *Replica) pollReady(exited <-chan struct{}) {
	hc := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-exited:
			r.ready.Store(false)
			return
		case <-t.C:
		}
		ok := false
		if resp, err := hc.Get("http://" + r.probeAddr + "/readyz"); err == nil {
			ok = resp.StatusCode == http.StatusOK
			_ = resp.Body.Close()
		}
		select {
		case <-exited:
			return
		default:
			r.ready.Store(ok)
		}
	}
}

// WaitReady waits until /readyz passes; it fails at once when the process exits.
func (r *Replica) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !r.Ready() {
		exited := r.exitedChan()
		if exited == nil {
			return fmt.Errorf("replica %s is not running", r.Name)
		}
		select {
		case <-exited:
			return fmt.Errorf("replica %s exited before it was ready:\n%s", r.Name, r.LogTail(40))
		case <-ctx.Done():
			return fmt.Errorf("replica %s not ready after %s:\n%s", r.Name, timeout, r.LogTail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// Leading reports whether the replica holds the manager's Lease, as its own metrics say.
func (r *Replica) Leading() bool {
	if !r.Running() {
		return false
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + r.metricsAddr + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, leaderMetric) {
			return strings.TrimSpace(strings.TrimPrefix(line, leaderMetric)) == "1"
		}
	}
	return false
}

// newReplica picks the replica's ports and builds its command line.
func newReplica(name, dir string, c *Cloud, opts Options) (*Replica, error) {
	addrs, err := freeAddrs(6)
	if err != nil {
		return nil, err
	}
	p := &Process{Name: name, PprofAddr: addrs[5], binary: opts.Binary, logPath: filepath.Join(dir, name+".log"),
		env: []string{"KUBECONFIG=" + c.kubeconfig}}
	r := &Replica{Process: p,
		EC2URL: "http://" + addrs[0], S3URL: "http://" + addrs[1], DashboardURL: "http://" + addrs[2],
		probeAddr: addrs[3], metricsAddr: addrs[4]}
	p.args = []string{
		"--leader-elect",
		"--leader-elect-lease-duration=" + opts.LeaseDuration.String(),
		"--leader-elect-renew-deadline=" + opts.RenewDeadline.String(),
		"--leader-elect-retry-period=" + opts.RetryPeriod.String(),
		"--system-namespace=" + c.systemNamespace,
		"--ec2-bind-address=" + addrs[0], "--s3-bind-address=" + addrs[1], "--dashboard-bind-address=" + addrs[2],
		"--health-probe-bind-address=" + addrs[3], "--metrics-bind-address=" + addrs[4],
		"--pprof-bind-address=" + addrs[5],
		// Every replica reaches the store, and tells clients of the EC2 API, through the Service.
		"--ec2-endpoint=" + c.EC2URL, "--s3-url=" + c.S3URL,
		"--s3-data-dir=" + c.objectsDir,
		"--region=" + opts.Region,
		"--terminated-retention=" + opts.TerminatedRetention.String(),
		"--heartbeat-timeout=30s",
		"--authz-cache-ttl=1s",
	}
	p.args = append(p.args, opts.ExtraArgs...)
	return r, nil
}
