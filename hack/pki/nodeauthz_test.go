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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// The node authorizer's certificates come from a CA of its own, so that no node's or user's
// certificate of the cluster CA is answered; the API server's configuration names the authorizer
// first, and a later run with another port rewrites where the authorizer is reached.
func TestNodeAuthorizerPKI(t *testing.T) {
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if err := run(pki, dir, "https://127.0.0.1:6443", "", []string{"node-1"}); err != nil {
		t.Fatal(err)
	}
	if err := ensureNodeAuthorizer(pki, "https://127.0.0.1:8091", "pinet-system"); err != nil {
		t.Fatal(err)
	}
	authzDir := filepath.Join(pki, "node-authorizer")
	authzCA, clusterCA := readCert(t, filepath.Join(authzDir, "ca.crt")), readCert(t, filepath.Join(pki, "ca.crt"))
	serving := readCert(t, filepath.Join(authzDir, "tls.crt"))
	if _, err := serving.Verify(x509.VerifyOptions{Roots: pool(authzCA), DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("serving certificate: %v", err)
	}
	apiserver := readCert(t, filepath.Join(authzDir, "apiserver-client.crt"))
	if _, err := apiserver.Verify(x509.VerifyOptions{Roots: pool(authzCA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the API server's client certificate: %v", err)
	}
	node := readCert(t, filepath.Join(pki, "nodeagent-node-1.crt"))
	if _, err := node.Verify(x509.VerifyOptions{Roots: pool(authzCA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("the authorizer's CA verifies a node's certificate")
	}
	if _, err := apiserver.Verify(x509.VerifyOptions{Roots: pool(clusterCA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("the cluster CA verifies the authorizer's client certificate")
	}

	cfg, err := os.ReadFile(filepath.Join(pki, authorizationConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	webhook, node2, rbac := strings.Index(text, "type: Webhook"), strings.Index(text, "type: Node"), strings.Index(text, "type: RBAC")
	if webhook < 0 || node2 < webhook || rbac < node2 || !strings.Contains(text, "failurePolicy: Deny") ||
		!strings.Contains(text, filepath.Join(authzDir, "webhook.kubeconfig")) {
		t.Fatalf("authorization configuration:\n%s", text)
	}

	before := filepath.Join(authzDir, "tls.crt")
	beforeCert := readCert(t, before)
	if err := ensureNodeAuthorizer(pki, "https://127.0.0.1:18091", "pinet-system"); err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.LoadFromFile(filepath.Join(authzDir, "webhook.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if got := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster].Server; got != "https://127.0.0.1:18091/authorize" {
		t.Fatalf("the webhook's URL is %s after the second run", got)
	}
	if !readCert(t, before).Equal(beforeCert) {
		t.Fatal("the second run made a new serving certificate")
	}
}
