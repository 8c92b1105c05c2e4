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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

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

// newNodeAuthorizer makes the authorizer's certificates (a CA of its own: a serving certificate
// for 127.0.0.1 and the API server's client certificate), opens its listener and writes the API
// server's configuration for it.
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
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pinet-test-node-authorizer-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(na.dir, "ca.crt"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	leaves := []struct {
		file  string
		cn    string
		usage x509.ExtKeyUsage
	}{{"tls", "pinet-node-authorizer", x509.ExtKeyUsageServerAuth}, {"client", "kube-apiserver", x509.ExtKeyUsageClientAuth}}
	for i, l := range leaves {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: l.cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{l.usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(na.dir, l.file+".crt"), "CERTIFICATE", der); err != nil {
			return err
		}
		if err := writePEM(filepath.Join(na.dir, l.file+".key"), "EC PRIVATE KEY", kder); err != nil {
			return err
		}
	}
	na.listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(na.dir, "webhook.kubeconfig")
	if err := nodeauthz.WriteWebhookKubeconfig(kubeconfig, "https://"+na.listener.Addr().String()+nodeauthz.Path,
		filepath.Join(na.dir, "ca.crt"), filepath.Join(na.dir, "client.crt"), filepath.Join(na.dir, "client.key")); err != nil {
		return err
	}
	cfg, err := nodeauthz.AuthorizationConfig(kubeconfig, SystemNamespace, "RBAC")
	if err != nil {
		return err
	}
	na.configPath = filepath.Join(na.dir, "authorization-config.yaml")
	return os.WriteFile(na.configPath, cfg, 0o600)
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
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
