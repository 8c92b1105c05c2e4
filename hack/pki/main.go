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

// Command pki makes the local cloud's control-plane PKI: a cluster CA, the API server's serving
// certificate, client certificates for the admin, the manager and each node's agent, the service
// account key, and a kubeconfig per client; a separate etcd CA with etcd's serving certificate and
// the API server's etcd client certificate; and the key that encrypts Secrets at rest. Existing
// files are kept, so running it again is safe.
//
// A node agent's identity is its node's own: user pinet:node:<node> in group pinet:nodeagents
// (files nodeagent-<node>.crt and .key, nodeagent-<node>.kubeconfig), which the node restriction
// admission policy (config/admission) limits to its own Hypervisor and the Instances bound to it.
package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/certfiles"
)

type client struct {
	file, cn string
	groups   []string
}

func main() {
	dir := flag.String("dir", ".pinet/pki", "Directory for keys and certificates.")
	kubeDir := flag.String("kubeconfig-dir", ".pinet", "Directory for the kubeconfigs.")
	server := flag.String("server", "https://127.0.0.1:6443", "API server URL written into the kubeconfigs.")
	namespace := flag.String("namespace", "", "Default namespace of the admin kubeconfig.")
	nodes := flag.String("nodes", "node-1", "Comma-separated names of the nodes whose agents get an identity.")
	authzURL := flag.String("node-authorizer-url", "",
		"https URL (scheme, host, port) the API server reaches the manager's node authorizer at (empty: none).")
	flag.Parse()
	if err := run(*dir, *kubeDir, *server, *namespace, splitNodes(*nodes)); err != nil {
		fmt.Fprintln(os.Stderr, "pki:", err)
		os.Exit(1)
	}
	if *authzURL == "" {
		return
	}
	if err := ensureNodeAuthorizer(*dir, *authzURL, cloudv1.DefaultSystemNamespace); err != nil {
		fmt.Fprintln(os.Stderr, "pki:", err)
		os.Exit(1)
	}
}

// splitNodes parses the -nodes list.
func splitNodes(list string) []string {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// nodeClient is the identity of a node's agent.
func nodeClient(node string) client {
	return client{"nodeagent-" + node, "pinet:node:" + node, []string{"pinet:nodeagents"}}
}

func run(dir, kubeDir, server, namespace string, nodes []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caCert, caKey, err := certfiles.LoadOrMakeCA(dir, "pinet-local-ca")
	if err != nil {
		return err
	}
	if err := ensureEtcd(filepath.Join(dir, "etcd")); err != nil {
		return err
	}
	if err := ensureEncryptionConfig(filepath.Join(dir, encryptionConfigFile)); err != nil {
		return err
	}
	if err := certfiles.EnsureLeaf(dir, "apiserver", caCert, caKey, pkix.Name{CommonName: "kube-apiserver"},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}, x509.ExtKeyUsageServerAuth); err != nil {
		return err
	}
	if err := certfiles.EnsureKey(filepath.Join(dir, "sa")); err != nil {
		return err
	}
	clients := []client{
		{"admin", "pinet-admin", []string{"system:masters"}},
		{"manager", "system:pinet:manager", nil},
	}
	for _, n := range nodes {
		if strings.ContainsAny(n, "/:") || n == "." || n == ".." {
			return fmt.Errorf("node name %q cannot name a file or an identity", n)
		}
		clients = append(clients, nodeClient(n))
	}
	for _, c := range clients {
		if err := certfiles.EnsureLeaf(dir, c.file, caCert, caKey, pkix.Name{CommonName: c.cn, Organization: c.groups},
			nil, nil, x509.ExtKeyUsageClientAuth); err != nil {
			return err
		}
		ns := ""
		if c.file == "admin" {
			ns = namespace
		}
		name := c.file + ".kubeconfig"
		if c.file == "admin" {
			name = "kubeconfig"
		}
		if err := writeKubeconfig(filepath.Join(kubeDir, name), server, dir, c.file, ns); err != nil {
			return err
		}
	}
	return nil
}

func writeKubeconfig(path, server, pkiDir, name, namespace string) error {
	abs, err := filepath.Abs(pkiDir)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["pinet"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: filepath.Join(abs, "ca.crt")}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificate: filepath.Join(abs, name+".crt"),
		ClientKey:         filepath.Join(abs, name+".key"),
	}
	cfg.Contexts["pinet"] = &clientcmdapi.Context{Cluster: "pinet", AuthInfo: name, Namespace: namespace}
	cfg.CurrentContext = "pinet"
	return clientcmd.WriteToFile(*cfg, path)
}
