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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
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
	caCert, caKey, err := loadOrMakeCA(dir, "pinet-local-ca")
	if err != nil {
		return err
	}
	if err := ensureEtcd(filepath.Join(dir, "etcd")); err != nil {
		return err
	}
	if err := ensureEncryptionConfig(filepath.Join(dir, encryptionConfigFile)); err != nil {
		return err
	}
	if err := ensureLeaf(dir, "apiserver", caCert, caKey, pkix.Name{CommonName: "kube-apiserver"},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}, x509.ExtKeyUsageServerAuth); err != nil {
		return err
	}
	if err := ensureKey(filepath.Join(dir, "sa")); err != nil {
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
		if err := ensureLeaf(dir, c.file, caCert, caKey, pkix.Name{CommonName: c.cn, Organization: c.groups},
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

func loadOrMakeCA(dir, cn string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if _, err := os.Stat(certPath); err == nil {
		return loadPair(certPath, keyPath)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func ensureLeaf(dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, subject pkix.Name,
	dns []string, ips []net.IP, usages ...x509.ExtKeyUsage) error {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if _, err := os.Stat(certPath); err == nil {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usages,
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePair(certPath, keyPath, der, key)
}

// ensureKey writes a key pair for service account tokens (name.key, name.pub).
func ensureKey(base string) error {
	if _, err := os.Stat(base + ".key"); err == nil {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(base+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return nil, nil, errors.New("CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kblock.Bytes)
	return cert, key, err
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

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err)
	}
	return n
}
