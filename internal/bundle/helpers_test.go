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

package bundle

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// identity is an RSA key and its self-signed certificate, as a user's or a cloud's.
type identity struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

// testIdentities are made once: RSA-2048 key generation is slow on a loaded machine.
var testIdentities = sync.OnceValue(func() map[string]identity {
	ids := map[string]identity{}
	for _, name := range []string{"user", "other-user", "cloud", "other-cloud"} {
		ids[name] = newIdentity(name)
	}
	return ids
})

func ident(t testing.TB, name string) identity {
	t.Helper()
	id, ok := testIdentities()[name]
	if !ok {
		t.Fatalf("no test identity %q", name)
	}
	return id
}

func newIdentity(name string) identity {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return identity{cert: cert, key: key}
}

// writeRandomFile writes size pseudo-random (incompressible) bytes to dir/name.
func writeRandomFile(t testing.TB, dir, name string, size int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	if _, err := io.CopyN(f, src, size); err != nil {
		t.Fatal(err)
	}
	return path
}

// testParams bundles imagePath for the test user and cloud.
func testParams(t testing.TB, imagePath string) Params {
	t.Helper()
	user, cloud := ident(t, "user"), ident(t, "cloud")
	return Params{
		ImagePath: imagePath,
		AccountID: "123456789012",
		UserCert:  user.cert,
		UserKey:   user.key,
		CloudCert: cloud.cert,
	}
}

// dirOpener opens parts from dir, as the caller's store would.
func dirOpener(dir string) func(string) (io.ReadCloser, error) {
	return func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, name))
	}
}

// mustCreate bundles and parses the manifest back.
func mustCreate(t testing.TB, p Params, outDir string) (*Manifest, []byte, []string) {
	t.Helper()
	manifestPath, parts, err := Create(p, outDir)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatalf("ParseManifest of our own manifest: %v\n%s", err, data)
	}
	return m, data, parts
}

var big1 = big.NewInt(1)

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }

func rsaEncryptRaw(cert *x509.Certificate, msg []byte) ([]byte, error) {
	return rsa.EncryptPKCS1v15(rand.Reader, cert.PublicKey.(*rsa.PublicKey), msg)
}

func hexString(b []byte) string { return hex.EncodeToString(b) }
