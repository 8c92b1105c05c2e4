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

package sshkey

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// run runs a shell pipeline with the system's ssh-keygen and openssl, the tools AWS documents for
// checking key fingerprints.
func run(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

func needTools(t *testing.T) {
	for _, tool := range []string{"ssh-keygen", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

func TestImportedRSAFingerprintMatchesOpenSSL(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	run(t, "ssh-keygen -q -t rsa -b 2048 -N '' -C me@host -f "+key)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Parse(pub)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.ImportedFingerprint()
	if err != nil {
		t.Fatal(err)
	}
	// AWS: ssh-keygen -ef key.pub -m PEM | openssl rsa -RSAPublicKey_in -outform DER | openssl md5 -c
	want := run(t, "ssh-keygen -e -m PKCS8 -f "+key+".pub | openssl pkey -pubin -outform DER | openssl md5 -c | sed 's/^.*= //'")
	if got != want {
		t.Fatalf("fingerprint %s, openssl says %s", got, want)
	}
	if k.Type != RSA || !strings.HasSuffix(k.Public, " me@host") {
		t.Fatalf("key %+v", k)
	}
}

func TestED25519FingerprintMatchesSSHKeygen(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	run(t, "ssh-keygen -q -t ed25519 -N '' -f "+key)
	pub, _ := os.ReadFile(key + ".pub")
	k, err := Parse(pub)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := k.ImportedFingerprint()
	// ssh-keygen prints SHA256:<base64 without padding>; EC2 shows the padded form.
	want := run(t, "ssh-keygen -l -E sha256 -f "+key+".pub | awk '{print $2}' | sed 's/^SHA256://'")
	if strings.TrimRight(got, "=") != want {
		t.Fatalf("fingerprint %s, ssh-keygen says %s", got, want)
	}
}

func TestGeneratedRSAFingerprintMatchesOpenSSL(t *testing.T) {
	needTools(t)
	g, err := Generate(RSA, "gen")
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "k.pem")
	if err := os.WriteFile(pemFile, []byte(g.PrivateKeyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	// AWS: openssl pkcs8 -in key.pem -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c
	want := run(t, "openssl pkcs8 -in "+pemFile+" -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c | sed 's/^.*= //'")
	if g.Fingerprint != want {
		t.Fatalf("fingerprint %s, openssl says %s", g.Fingerprint, want)
	}
	// The private key and the public key belong together.
	derived := run(t, "ssh-keygen -y -f "+pemFile)
	if !strings.HasPrefix(g.Public, derived) {
		t.Fatalf("public %q does not match the private key's %q", g.Public, derived)
	}
}

func TestGeneratedED25519(t *testing.T) {
	needTools(t)
	g, err := Generate(ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(pemFile, []byte(g.PrivateKeyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if derived := run(t, "ssh-keygen -y -f "+pemFile); derived != g.Public {
		t.Fatalf("public %q, ssh-keygen derives %q", g.Public, derived)
	}
	k, err := Parse([]byte(g.Public))
	if err != nil {
		t.Fatal(err)
	}
	if fp, _ := k.ImportedFingerprint(); fp != g.Fingerprint {
		t.Fatalf("fingerprints differ: %s %s", fp, g.Fingerprint)
	}
}

func TestParseRejects(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	run(t, "ssh-keygen -q -t rsa -b 1024 -N '' -f "+filepath.Join(dir, "small"))
	run(t, "ssh-keygen -q -t ecdsa -N '' -f "+filepath.Join(dir, "ec"))
	small, _ := os.ReadFile(filepath.Join(dir, "small.pub"))
	ec, _ := os.ReadFile(filepath.Join(dir, "ec.pub"))
	for name, in := range map[string][]byte{"1024-bit rsa": small, "ecdsa": ec} {
		if _, err := Parse(in); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	for _, in := range []string{"", "ssh-rsa", "ssh-rsa !!!notbase64", "hello world", string(small) + string(small)} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
	if _, err := Generate("dsa", ""); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Generate(dsa): %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm6PKWW5nHPb4hJ2dqs9mRWqxm4A5Cv1k0QmQtnYfZp alice@laptop"))
	f.Add([]byte("ssh-rsa AAAA"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := k.ImportedFingerprint(); err != nil {
			t.Fatalf("parsed key without a fingerprint: %v", err)
		}
	})
}
