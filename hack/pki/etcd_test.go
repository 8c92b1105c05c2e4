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
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s is not PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// etcd's certificates come from its own CA: the cluster CA (which signs admins' and users'
// certificates) verifies none of them.
func TestEtcdPKIHasItsOwnCA(t *testing.T) {
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if err := run(pki, dir, "https://127.0.0.1:6443", "", []string{"node-1"}); err != nil {
		t.Fatal(err)
	}
	etcdCA, clusterCA := readCert(t, filepath.Join(pki, "etcd", "ca.crt")), readCert(t, filepath.Join(pki, "ca.crt"))
	server := readCert(t, filepath.Join(pki, "etcd", "server.crt"))
	client := readCert(t, filepath.Join(pki, "etcd", "apiserver-etcd-client.crt"))
	if _, err := server.Verify(x509.VerifyOptions{Roots: pool(etcdCA), DNSName: "127.0.0.1",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("etcd's serving certificate for 127.0.0.1: %v", err)
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: pool(etcdCA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("etcd's certificate as a peer client: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: pool(etcdCA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the API server's etcd client certificate: %v", err)
	}
	admin := readCert(t, filepath.Join(pki, "admin.crt"))
	if _, err := admin.Verify(x509.VerifyOptions{Roots: pool(etcdCA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("etcd's CA verifies the cluster admin's certificate")
	}
	for _, c := range []*x509.Certificate{server, client} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool(clusterCA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
			t.Fatalf("the cluster CA verifies etcd's %s", c.Subject.CommonName)
		}
	}
	if fi, err := os.Stat(filepath.Join(pki, "etcd", "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("etcd CA key: %v %v", fi, err)
	}
}

// The encryption key is made once, private, and kept by every later run.
func TestEncryptionConfigIsMadeOnce(t *testing.T) {
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if err := run(pki, dir, "https://127.0.0.1:6443", "", []string{"node-1"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(pki, encryptionConfigFile)
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("encryption config mode %v", fi.Mode().Perm())
	}
	for _, want := range []string{"kind: EncryptionConfiguration", "- resources: [secrets]", "- secretbox:", "- identity: {}"} {
		if !strings.Contains(string(first), want) {
			t.Fatalf("config lacks %q:\n%s", want, first)
		}
	}
	if strings.Index(string(first), "secretbox") > strings.Index(string(first), "identity") {
		t.Fatal("identity comes first: new Secrets would be stored in plain text")
	}
	etcdCA, _ := os.ReadFile(filepath.Join(pki, "etcd", "ca.crt"))
	if err := run(pki, dir, "https://127.0.0.1:6443", "", []string{"node-1"}); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	etcdCAAgain, _ := os.ReadFile(filepath.Join(pki, "etcd", "ca.crt"))
	if !bytes.Equal(first, again) || !bytes.Equal(etcdCA, etcdCAAgain) {
		t.Fatal("a second run replaced the encryption key or the etcd CA")
	}
	other := filepath.Join(t.TempDir(), encryptionConfigFile)
	if err := ensureEncryptionConfig(other); err != nil {
		t.Fatal(err)
	}
	if theirs, _ := os.ReadFile(other); bytes.Equal(theirs, first) {
		t.Fatal("two clouds got the same key")
	}
}
