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

// Package testmoto runs moto's moto_server, an S3 implementation nobody here wrote, for tests
// of the object store's S3 backend: on a port picked free at run time, killed in cleanup.
package testmoto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Credentials moto accepts (it accepts any).
const (
	AccessKey = "AKIAMOTOTESTING00001"
	SecretKey = "moto-test-secret-key-0000000000000000000"
	Region    = "us-east-1"
)

// startTimeout bounds moto_server's start; the test machines are loaded.
const startTimeout = 90 * time.Second

// Server is a running moto_server.
type Server struct {
	// Endpoint is its host:port on loopback.
	Endpoint string
	cmd      *exec.Cmd
	client   *minio.Client
}

// Binary finds moto_server: $PINET_MOTO_SERVER, then $PATH, then pyenv's shims.
func Binary() (string, error) {
	if p := os.Getenv("PINET_MOTO_SERVER"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".pyenv", "shims", "moto_server")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", errors.New("moto_server not found (pip install 'moto[server]', or set PINET_MOTO_SERVER)")
}

// Start starts moto_server on a free loopback port, writing its output to log (may be nil),
// and waits until it answers.
func Start(log *os.File) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, killed whole by Stop; and killed with the test process should
	// that die without cleaning up (a test binary's timeout panics past TestMain).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &Server{Endpoint: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := http.Get("http://" + s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("moto_server exited before serving: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("moto_server did not answer on %s within %s", s.Endpoint, startTimeout)
		}
	}
	s.client, err = minio.New(s.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: Region, BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Run starts moto_server for one test and stops it in the test's cleanup.
func Run(t testing.TB) *Server {
	t.Helper()
	s, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop kills moto_server's process group.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// NewBucket creates a backend bucket.
func (s *Server) NewBucket(ctx context.Context, name string) error {
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: Region}); err != nil {
		return fmt.Errorf("creating backend bucket %q: %w", name, err)
	}
	return nil
}

// Client is a client of the server, for tests that look at the backend directly.
func (s *Server) Client() *minio.Client { return s.client }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
