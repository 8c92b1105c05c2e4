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
	kubeconfig, err := nodeauthz.EnsureFiles(filepath.Join(pkiDir, "node-authorizer"), url+nodeauthz.Path)
	if err != nil {
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
