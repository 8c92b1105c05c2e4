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
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"pinet.io/pinet/internal/nodeauthz"
)

// authorizationConfigFile, in the PKI directory, is the API server's AuthorizationConfiguration.
const authorizationConfigFile = "authorization-config.yaml"

// ensureNodeAuthorizer makes, in dir, the node authorizer's own CA, its serving certificate
// (tls.crt, tls.key: the manager's --node-authorizer-cert-dir) and the API server's client
// certificate for it, and writes the API server's kubeconfig for the authorizer at url and its
// authorization configuration (the authorizer, then Node and RBAC) into the PKI directory. The
// CA is its own so that no certificate of the cluster CA (a node's, a user's) is answered.
func ensureNodeAuthorizer(pkiDir, url, systemNamespace string) error {
	dir := filepath.Join(pkiDir, "node-authorizer")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, caKey, err := loadOrMakeCA(dir, "pinet-node-authorizer-ca")
	if err != nil {
		return fmt.Errorf("node authorizer CA: %w", err)
	}
	if err := ensureLeaf(dir, "tls", ca, caKey, pkix.Name{CommonName: "pinet-node-authorizer"},
		[]string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth); err != nil {
		return fmt.Errorf("node authorizer certificate: %w", err)
	}
	if err := ensureLeaf(dir, "apiserver-client", ca, caKey, pkix.Name{CommonName: "kube-apiserver"},
		nil, nil, x509.ExtKeyUsageClientAuth); err != nil {
		return fmt.Errorf("the API server's node authorizer client certificate: %w", err)
	}
	kubeconfig := filepath.Join(dir, "webhook.kubeconfig")
	if err := nodeauthz.WriteWebhookKubeconfig(kubeconfig, url+nodeauthz.Path, filepath.Join(dir, "ca.crt"),
		filepath.Join(dir, "apiserver-client.crt"), filepath.Join(dir, "apiserver-client.key")); err != nil {
		return err
	}
	cfg, err := nodeauthz.AuthorizationConfig(kubeconfig, systemNamespace, "Node", "RBAC")
	if err != nil {
		return err
	}
	path := filepath.Join(pkiDir, authorizationConfigFile)
	tmp := path + ".new"
	if err := os.WriteFile(tmp, cfg, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
