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

// Package testenv starts a real kube-apiserver and etcd (controller-runtime's envtest) with the
// PiNet CRDs installed, for integration tests.
package testenv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Env is a running control plane.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *k8sruntime.Scheme
	// Ctx ends when the tests are done, before the control plane stops; managers and agents that
	// tests start in the background run under it.
	Ctx    context.Context
	cancel context.CancelFunc
	env    *envtest.Environment
	// nodeAuthorizer answers the API server about node agents' reads.
	nodeAuthorizer *nodeAuthorizer

	// mu guards the API server's restarts (StopAPIServer, StartAPIServer): the process this Env
	// started again, and the command line of a stopped one.
	mu            sync.Mutex
	apiServer     *exec.Cmd
	apiServerArgs []string
}

// RepoRoot is the repository root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Scheme returns a scheme with the Kubernetes and PiNet kinds.
func Scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := cloudv1.AddToScheme(s); err != nil {
		panic(err)
	}
	// The CRDs themselves: a restarted API server is ready once it serves them all.
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// assetsDir is where the control plane's binaries are.
func assetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(), "bin")
}

// Start runs a control plane for the test binary. The binaries come from KUBEBUILDER_ASSETS, or
// from the repository's bin/ (built by `make tools`).
func Start() (*Env, error) {
	assets := assetsDir()
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("control-plane binary %s missing in %s (run `make tools`): %w", b, assets, err)
		}
	}
	s := Scheme()
	e := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                s,
		// Managers and agents started by tests keep watches open until the process ends.
		ControlPlaneStopTimeout: time.Minute,
	}
	// Node agents' reads are narrowed to their node as in a cloud (internal/nodeauthz).
	na, err := newNodeAuthorizer()
	if err != nil {
		return nil, fmt.Errorf("preparing the node authorizer: %w", err)
	}
	e.ControlPlane.GetAPIServer().Configure().Disable("authorization-mode").Set("authorization-config", na.configPath)
	cfg, err := e.Start()
	if err != nil {
		na.close()
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	stop := func() {
		_ = e.Stop()
		na.close()
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		stop()
		return nil, fmt.Errorf("building client: %w", err)
	}
	if err := na.serve(cfg, s); err != nil {
		stop()
		return nil, err
	}
	if err := installBase(cfg, c); err != nil {
		stop()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	env := &Env{Config: cfg, Client: c, Scheme: s, Ctx: ctx, cancel: cancel, env: e, nodeAuthorizer: na}
	if err := env.guardAgainstOrphans(); err != nil {
		cancel()
		stop()
		return nil, err
	}
	return env, nil
}

// Stop ends Ctx, gives what ran under it a moment to finish, and shuts the control plane down.
func (e *Env) Stop() error {
	e.cancel()
	time.Sleep(500 * time.Millisecond)
	e.stopRestartedAPIServer()
	err := e.env.Stop()
	e.nodeAuthorizer.close()
	return err
}

// Main is a TestMain body: it starts the control plane, runs the tests, stops it. Controller logs
// go to stderr when PINET_TEST_LOG is set.
//
// Fuzz workers (go test -fuzz runs the test binary once per worker) start no control plane: fuzz
// targets test parsers, and a control plane per worker would crowd the machine. Nor does a fuzzing
// run that runs no test (-fuzz with -run '^$', as hack/fuzz.sh runs them).
func Main(m *testing.M, env **Env) {
	flag.Parse()
	if fuzzOnly() {
		os.Exit(m.Run())
	}
	if os.Getenv("PINET_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

// AddUser adds an authenticated user to the control plane and returns its rest config.
func (e *Env) AddUser(name string, groups ...string) (*rest.Config, error) {
	u, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, fmt.Errorf("adding user %s: %w", name, err)
	}
	return u.Config(), nil
}

// ClientAs is a client of the control plane acting as the user, in the groups, with the
// package's scheme: what a person reaching the cloud through kubectl is.
func (e *Env) ClientAs(name string, groups ...string) (client.Client, error) {
	cfg, err := e.AddUser(name, groups...)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: e.Scheme})
	if err != nil {
		return nil, fmt.Errorf("a client for %s: %w", name, err)
	}
	return c, nil
}

// fuzzOnly tells whether this test binary only fuzzes: it is a fuzz worker, or it fuzzes with
// -run '^$'.
func fuzzOnly() bool {
	value := func(name string) string {
		if f := flag.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	return value("test.fuzzworker") == "true" || value("test.fuzz") != "" && value("test.run") == "^$"
}
