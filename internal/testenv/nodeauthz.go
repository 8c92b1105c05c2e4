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
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"pinet.io/pinet/internal/nodeauthz"
)

// nodeAuthorizer is the node agents' read authorizer of the test's control plane, served by the
// test process as the manager serves it in a cloud, so that every node agent a test runs is
// narrowed to its node's Instances, Volumes and Snapshots as it would be there.
type nodeAuthorizer struct {
	dir      string
	listener net.Listener
	// configPath is the API server's --authorization-config.
	configPath string
	// server is set once it serves; stop ends it.
	stop context.CancelFunc
}

// newNodeAuthorizer opens the authorizer's listener, makes its certificates as the local cloud's
// (nodeauthz.EnsureFiles: a CA of its own, a serving certificate for 127.0.0.1 and the API
// server's client certificate) and writes the API server's configuration for it.
func newNodeAuthorizer() (*nodeAuthorizer, error) {
	dir, err := os.MkdirTemp("", "pinet-node-authz-")
	if err != nil {
		return nil, err
	}
	na := &nodeAuthorizer{dir: dir}
	if err := na.write(); err != nil {
		na.close()
		return nil, err
	}
	return na, nil
}

func (na *nodeAuthorizer) write() error {
	var err error
	na.listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	kubeconfig, err := nodeauthz.EnsureFiles(na.dir, "https://"+na.listener.Addr().String()+nodeauthz.Path)
	if err != nil {
		return err
	}
	cfg, err := nodeauthz.AuthorizationConfig(kubeconfig, SystemNamespace, "RBAC")
	if err != nil {
		return err
	}
	na.configPath = filepath.Join(na.dir, "authorization-config.yaml")
	return os.WriteFile(na.configPath, cfg, 0o600)
}

// serve answers the API server from a cache of its own (as the control plane's administrator).
func (na *nodeAuthorizer) serve(cfg *rest.Config, scheme *runtime.Scheme) error {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return fmt.Errorf("creating the node authorizer's cache: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	na.stop = cancel
	log := ctrl.Log.WithName("node-authorizer")
	go func() {
		if err := c.Start(ctx); err != nil {
			log.Error(err, "Node authorizer's cache stopped")
		}
	}()
	srv := &nodeauthz.Server{
		Authorizer: &nodeauthz.Authorizer{Reader: c, SystemNamespace: SystemNamespace},
		Listener:   na.listener, CertDir: na.dir, ClientCA: filepath.Join(na.dir, "ca.crt"), Log: log,
	}
	go func() {
		if err := srv.Start(ctx); err != nil {
			log.Error(err, "Node authorizer stopped")
		}
	}()
	return nil
}

func (na *nodeAuthorizer) close() {
	if na.stop != nil {
		na.stop()
	} else if na.listener != nil {
		_ = na.listener.Close()
	}
	_ = os.RemoveAll(na.dir)
}
