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

// Package proccloud runs PiNet's manager as real processes — the binary `go build ./cmd/manager`
// makes — beside a real API server (internal/testenv), for tests of what only a process can show:
// kill -9, restarts, several replicas under leader election. Connections reach the replicas
// through a Service of its own (a loopback TCP balancer over the ready replicas), as in a
// cluster; node agents run in the test process on libvirt's test driver (internal/testcloud),
// and reach the object store through that Service. Every port is picked free at run time.
package proccloud

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// Options tune the cloud.
type Options struct {
	// Binary is the manager binary (BuildManager).
	Binary string
	// Replicas is the number of manager processes (default 1).
	Replicas int
	// LeaseDuration, RenewDeadline and RetryPeriod are the leader election's (default 4s, 3s,
	// 500ms: a killed leader is replaced within seconds).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// TerminatedRetention is how long terminated instances stay (default a minute).
	TerminatedRetention time.Duration
	// Region is the cloud's region (default testcloud.Region).
	Region string
	// ExtraArgs are appended to every replica's command line.
	ExtraArgs []string
	// StartTimeout bounds a replica's start until ready (default 2 minutes).
	StartTimeout time.Duration
}

func (o *Options) defaults() error {
	if o.Binary == "" {
		return errors.New("proccloud: no manager binary (BuildManager)")
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 4*time.Second, 3*time.Second, 500*time.Millisecond
	}
	if o.TerminatedRetention == 0 {
		o.TerminatedRetention = time.Minute
	}
	if o.Region == "" {
		o.Region = testcloud.Region
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 2 * time.Minute
	}
	return nil
}

// Cloud is a control plane with manager processes. The embedded testcloud.Cloud's URLs are the
// Service's, so its helpers (AddUser, AddNode, RegisterRawImage, EC2, S3) work through whichever
// replicas are ready.
type Cloud struct {
	*testcloud.Cloud
	Replicas []*Replica

	opts                        Options
	kubeconfig, objectsDir      string
	systemNamespace             string
	ec2Svc, s3Svc, dashboardSvc *Service
}

// BuildManager builds ./cmd/manager into dir and returns the binary's path.
func BuildManager(dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the manager: %w\n%s", err, out)
	}
	return bin, nil
}

// Start runs opts.Replicas manager processes against env and returns once every one is ready
// and one of them leads. Everything stops in t's cleanup.
func Start(t testing.TB, env *testenv.Env, opts Options) *Cloud {
	t.Helper()
	if err := opts.defaults(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &Cloud{opts: opts, systemNamespace: testenv.SystemNamespace,
		kubeconfig: filepath.Join(dir, "kubeconfig"), objectsDir: filepath.Join(dir, "objects")}
	if err := writeKubeconfig(env.Config, c.kubeconfig); err != nil {
		t.Fatal(err)
	}
	var err error
	svc := func(url func(*Replica) string) *Service {
		s, err := newService(func() []string { return c.readyAddrs(url) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	c.ec2Svc = svc(func(r *Replica) string { return r.EC2URL })
	c.s3Svc = svc(func(r *Replica) string { return r.S3URL })
	c.dashboardSvc = svc(func(r *Replica) string { return r.DashboardURL })
	c.Cloud = &testcloud.Cloud{Env: env, EC2URL: c.ec2Svc.URL(), S3URL: c.s3Svc.URL(), DashboardURL: c.dashboardSvc.URL()}
	for i := range opts.Replicas {
		r, err := newReplica(fmt.Sprintf("manager-%d", i), dir, c, opts)
		if err != nil {
			t.Fatal(err)
		}
		c.Replicas = append(c.Replicas, r)
		t.Cleanup(func() {
			_ = r.Kill()
			if t.Failed() {
				t.Logf("log of %s (%s), last lines:\n%s", r.Name, r.LogPath(), r.LogTail(30))
			}
		})
		if err = r.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range c.Replicas {
		if err = r.WaitReady(env.Ctx, opts.StartTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if _, err = c.WaitLeader(env.Ctx, opts.StartTimeout); err != nil {
		t.Fatal(err)
	}
	return c
}

// readyAddrs lists the host:port of the ready replicas' server url picks.
func (c *Cloud) readyAddrs(url func(*Replica) string) []string {
	var out []string
	for _, r := range c.Replicas {
		if r.Ready() {
			out = append(out, url(r)[len("http://"):])
		}
	}
	return out
}

// Leader is the replica that leads now, or nil.
func (c *Cloud) Leader() *Replica {
	for _, r := range c.Replicas {
		if r.Leading() {
			return r
		}
	}
	return nil
}

// WaitLeader waits until a replica leads and returns it.
func (c *Cloud) WaitLeader(ctx context.Context, timeout time.Duration) (*Replica, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if r := c.Leader(); r != nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no manager replica became the leader within %s", timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Restart starts a killed replica again and waits until it is ready.
func (c *Cloud) Restart(ctx context.Context, r *Replica) error {
	if err := r.Start(); err != nil {
		return err
	}
	return r.WaitReady(ctx, c.opts.StartTimeout)
}

// writeKubeconfig writes a kubeconfig for cfg (the test control plane's administrator).
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["pinet"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["manager"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["pinet"] = &clientcmdapi.Context{Cluster: "pinet", AuthInfo: "manager"}
	kc.CurrentContext = "pinet"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*kc, path)
}
