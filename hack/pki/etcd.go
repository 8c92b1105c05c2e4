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

package main

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"pinet.io/pinet/internal/certfiles"
)

// encryptionConfigFile, in the PKI directory, is the API server's EncryptionConfiguration.
const encryptionConfigFile = "encryption-config.yaml"

// ensureEtcd makes etcd's own CA in dir, etcd's certificate (serving clients and peers on the
// loopback address) and the API server's client certificate for etcd. etcd trusts only this CA,
// so no certificate of the cluster CA (an admin's, a user's) opens etcd.
func ensureEtcd(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, caKey, err := certfiles.LoadOrMakeCA(dir, "pinet-etcd-ca")
	if err != nil {
		return fmt.Errorf("etcd CA: %w", err)
	}
	if err := certfiles.EnsureLeaf(dir, "server", ca, caKey, pkix.Name{CommonName: "pinet-etcd"},
		[]string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")},
		x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth); err != nil {
		return fmt.Errorf("etcd server certificate: %w", err)
	}
	if err := certfiles.EnsureLeaf(dir, "apiserver-etcd-client", ca, caKey, pkix.Name{CommonName: "kube-apiserver-etcd-client"},
		nil, nil, x509.ExtKeyUsageClientAuth); err != nil {
		return fmt.Errorf("etcd client certificate: %w", err)
	}
	return nil
}

// ensureEncryptionConfig writes, once, an EncryptionConfiguration that encrypts Secrets with
// secretbox under a new random key. Secrets stored before it existed stay readable (identity is
// the fallback provider) until they are written again.
func ensureEncryptionConfig(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - secretbox:
      keys:
      - name: key1
        secret: %s
  - identity: {}
`, base64.StdEncoding.EncodeToString(key))
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
