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

package certfiles

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// A CA and a leaf made once are kept by a second run, the leaf verifies against the CA for its
// usage and names, not for another usage, and the key files are private.
func TestFilesAreMadeOnceAndVerify(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, err := LoadOrMakeCA(dir, "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	leaf := func() error {
		return EnsureLeaf(dir, "srv", ca, caKey, pkix.Name{CommonName: "srv"}, []string{"localhost"},
			[]net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth)
	}
	if err := leaf(); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dir, "srv.crt"))
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := LoadOrMakeCA(dir, "another-name")
	if err != nil || !again.Equal(ca) {
		t.Fatalf("the CA was not kept: %v", err)
	}
	if err := leaf(); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(filepath.Join(dir, "srv.crt")); !bytes.Equal(first, second) {
		t.Fatal("the leaf was made again")
	}
	cert, _, err := LoadPair(filepath.Join(dir, "srv.crt"), filepath.Join(dir, "srv.key"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("the leaf does not verify: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("a server certificate verified as a client's")
	}
	for _, f := range []string{"ca.key", "srv.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, err, fi.Mode())
		}
	}
	if err := EnsureKey(filepath.Join(dir, "sa")); err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "sa.pub"))
	if err := EnsureKey(filepath.Join(dir, "sa")); err != nil {
		t.Fatal(err)
	}
	if pub2, _ := os.ReadFile(filepath.Join(dir, "sa.pub")); !bytes.Equal(pub, pub2) || len(pub) == 0 {
		t.Fatal("the key pair was made again")
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.crt"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadPair(filepath.Join(dir, "bad.crt"), filepath.Join(dir, "srv.key")); err == nil {
		t.Fatal("a file that is not PEM was read as a certificate")
	}
}
