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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	fixtureImageSize = 300_000
	fixturePartSize  = 64 << 10
)

// fixture is a small bundle of several parts that a test may damage.
type fixture struct {
	dir       string // holds the parts and the manifest
	image     []byte
	m         *Manifest
	raw       []byte
	key, iv   []byte
	imagePath string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	imagePath := writeRandomFile(t, t.TempDir(), "disk.img", fixtureImageSize, 7)
	p := testParams(t, imagePath)
	p.PartSize = fixturePartSize
	m, raw, _ := mustCreate(t, p, dir)
	key, iv, err := m.DecryptKey(ident(t, "cloud").key)
	if err != nil {
		t.Fatal(err)
	}
	image, err := os.ReadFile(imagePath)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, image: image, m: m, raw: raw, key: key, iv: iv, imagePath: imagePath}
}

// resign writes m as a correctly signed manifest and parses it back, as if a bundler had made it.
func (f *fixture) resign(t *testing.T, m *Manifest) *Manifest {
	t.Helper()
	data, err := m.marshal(ident(t, "user").key)
	if err != nil {
		t.Fatal(err)
	}
	m, err = ParseManifest(data)
	if err != nil {
		t.Fatalf("parsing re-signed manifest: %v", err)
	}
	if err := m.VerifySignature(ident(t, "user").cert); err != nil {
		t.Fatalf("re-signed manifest does not verify: %v", err)
	}
	return m
}

// ciphertext returns the parts joined.
func (f *fixture) ciphertext(t *testing.T) []byte {
	t.Helper()
	var ct []byte
	for _, part := range f.m.Parts {
		b, err := os.ReadFile(filepath.Join(f.dir, part.Filename))
		if err != nil {
			t.Fatal(err)
		}
		ct = append(ct, b...)
	}
	return ct
}

// rewriteCipher replaces the parts with ct cut the same way and returns the manifest updated to
// match them (part digests and bundled size), signed again.
func (f *fixture) rewriteCipher(t *testing.T, ct []byte) *Manifest {
	t.Helper()
	for _, part := range f.m.Parts {
		if err := os.Remove(filepath.Join(f.dir, part.Filename)); err != nil {
			t.Fatal(err)
		}
	}
	pw := &partWriter{dir: f.dir, prefix: f.m.Name, size: fixturePartSize}
	if _, err := pw.Write(ct); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	m := *f.m
	m.Parts, m.BundledSize = pw.parts, pw.total
	return f.resign(t, &m)
}

// rewritePlain replaces the gzip stream inside the bundle with plain, under the same key.
func (f *fixture) rewritePlain(t *testing.T, plain []byte) *Manifest {
	t.Helper()
	var ct bytes.Buffer
	w, err := newCBCWriter(&ct, f.key, f.iv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return f.rewriteCipher(t, ct.Bytes())
}

// tarStream returns the bundle's decrypted, decompressed tar stream.
func (f *fixture) tarStream(t *testing.T) []byte {
	t.Helper()
	r, err := newCBCReader(bytes.NewReader(f.ciphertext(t)), f.key, f.iv)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type tarMember struct {
	hdr  tar.Header
	data []byte
}

func tarOf(t *testing.T, members ...tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, mem := range members {
		hdr := mem.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(mem.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawCBC encrypts or decrypts whole blocks without touching the padding.
func rawCBC(t *testing.T, key, iv, data []byte, encrypt bool) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(data))
	if encrypt {
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, data)
	} else {
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	}
	return out
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

var sentinels = []error{
	ErrBadManifest, ErrBadSignature, ErrNotForThisCloud, ErrMissingPart, ErrPartDigest, ErrImageDigest, ErrCorrupt,
}

// checkFailure runs the caller's pattern (UnbundleFile) and checks that it failed with want
// (nil: with no sentinel at all), mentioned every detail, and left no image behind.
func checkFailure(t *testing.T, f *fixture, m *Manifest, key []byte, open func(string) (io.ReadCloser, error), want error, details ...string) {
	t.Helper()
	target := filepath.Join(t.TempDir(), "image")
	size, sum, err := UnbundleFile(m, key, f.iv, open, target)
	if err == nil {
		t.Fatalf("UnbundleFile succeeded, want %v", want)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) != (s == want) {
			t.Errorf("errors.Is(%q, %v) = %v", err, s, !(s == want))
		}
	}
	for _, d := range details {
		if !strings.Contains(err.Error(), d) {
			t.Errorf("error %q does not mention %q", err, d)
		}
	}
	if size != 0 || sum != "" {
		t.Errorf("failed Unbundle returned size %d and MD5 %q", size, sum)
	}
	if entries, _ := os.ReadDir(filepath.Dir(target)); len(entries) != 0 {
		t.Errorf("failed UnbundleFile left %v behind", entries[0].Name())
	}
}

func TestUnbundleFailures(t *testing.T) {
	member := func(size int64) tar.Header {
		return tar.Header{Typeflag: tar.TypeReg, Name: "disk.img", Size: size, Mode: 0o644}
	}
	for name, tc := range map[string]struct {
		// damage changes the bundle and returns the manifest, key and opener to use.
		damage  func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error))
		want    error
		details []string
		// detailsFor gives details that depend on the fixture.
		detailsFor func(f *fixture) []string
	}{
		"tampered part": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				flipByte(t, filepath.Join(f.dir, "disk.img.part.01"), 1000)
				return f.m, f.key, dirOpener(f.dir)
			},
			want: ErrPartDigest, details: []string{"disk.img.part.01 has SHA-1"},
		},
		"tampered last byte": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				last := f.m.Parts[len(f.m.Parts)-1].Filename
				info, _ := os.Stat(filepath.Join(f.dir, last))
				flipByte(t, filepath.Join(f.dir, last), info.Size()-1)
				return f.m, f.key, dirOpener(f.dir)
			},
			want: ErrPartDigest, details: []string{"disk.img.part.04 has SHA-1"},
		},
		"parts replaced, digests updated": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				stream := f.tarStream(t)
				stream[512+1000] ^= 0x55 // a byte of the image inside the tar member
				return f.rewritePlain(t, gzipped(t, stream)), f.key, dirOpener(f.dir)
			},
			want: ErrImageDigest, details: []string{"tar stream has SHA-1"},
		},
		"missing part": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				if err := os.Remove(filepath.Join(f.dir, "disk.img.part.02")); err != nil {
					t.Fatal(err)
				}
				return f.m, f.key, dirOpener(f.dir)
			},
			want: ErrMissingPart, details: []string{"disk.img.part.02"},
		},
		"store failure": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				return f.m, f.key, func(name string) (io.ReadCloser, error) {
					if name == "disk.img.part.01" {
						return nil, errors.New("connection reset")
					}
					return dirOpener(f.dir)(name)
				}
			},
			want: nil, details: []string{"opening part disk.img.part.01: connection reset"},
		},
		"wrong key": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				return f.m, []byte("0123456789abcdef"), dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"reading gzip header"},
		},
		"not gzip": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				return f.rewritePlain(t, []byte("this is not a gzip stream")), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"reading gzip header: gzip: invalid header"},
		},
		"gzip of not tar": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				return f.rewritePlain(t, gzipped(t, bytes.Repeat([]byte("x"), 2000))), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"reading tar header"},
		},
		"two members": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				stream := tarOf(t, tarMember{member(fixtureImageSize), f.image}, tarMember{member(3), []byte("abc")})
				return f.rewritePlain(t, gzipped(t, stream)), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"the tar stream holds more than one file"},
		},
		"symlink member": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				link := tar.Header{Typeflag: tar.TypeSymlink, Name: "disk.img", Linkname: "/etc/passwd"}
				return f.rewritePlain(t, gzipped(t, tarOf(t, tarMember{link, nil}))), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{`tar member "disk.img" is not a regular file`},
		},
		"member of another size": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				stream := tarOf(t, tarMember{member(5), []byte("hello")})
				return f.rewritePlain(t, gzipped(t, stream)), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"tar member is 5 bytes, the manifest says 300000"},
		},
		"truncated tar": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				return f.rewritePlain(t, gzipped(t, f.tarStream(t)[:100_000])), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"reading the image from the tar stream: unexpected EOF"},
		},
		"garbage after gzip": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				plain := append(gzipped(t, f.tarStream(t)), "trailing garbage"...)
				return f.rewritePlain(t, plain), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"gzip: invalid header"},
		},
		"too much after the image": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				stream := append(f.tarStream(t), make([]byte, maxTrailer+512)...)
				return f.rewritePlain(t, gzipped(t, stream)), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"more than 1048576 bytes follow the image"},
		},
		"bad padding": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				plain := rawCBC(t, f.key, f.iv, f.ciphertext(t), false)
				plain[len(plain)-1] = 0
				return f.rewriteCipher(t, rawCBC(t, f.key, f.iv, plain, true)), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"bad cipher padding"},
		},
		"parts shorter than bundled size": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				m := *f.m
				m.BundledSize += 16
				return f.resign(t, &m), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, detailsFor: func(f *fixture) []string {
				return []string{fmt.Sprintf("the parts hold %d bytes, the manifest says %d", f.m.BundledSize, f.m.BundledSize+16)}
			},
		},
		"parts longer than bundled size": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				m := *f.m
				m.BundledSize -= 16
				return f.resign(t, &m), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, detailsFor: func(f *fixture) []string {
				return []string{fmt.Sprintf("the parts hold more than the manifest's %d bytes", f.m.BundledSize-16)}
			},
		},
		"manifest image size wrong": {
			damage: func(t *testing.T, f *fixture) (*Manifest, []byte, func(string) (io.ReadCloser, error)) {
				m := *f.m
				m.Size++
				return f.resign(t, &m), f.key, dirOpener(f.dir)
			},
			want: ErrCorrupt, details: []string{"tar member is 300000 bytes, the manifest says 300001"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			details := tc.details
			if tc.detailsFor != nil {
				details = tc.detailsFor(f)
			}
			m, key, open := tc.damage(t, f)
			checkFailure(t, f, m, key, open, tc.want, details...)
		})
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestUnbundleWriteFailure(t *testing.T) {
	f := newFixture(t)
	size, sum, err := Unbundle(f.m, f.key, f.iv, dirOpener(f.dir), &failingWriter{after: 100_000})
	if err == nil || err.Error() != "writing image: disk full" || size != 0 || sum != "" {
		t.Fatalf("Unbundle = %d, %q, %v; want the writer's error", size, sum, err)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Errorf("a write error is taken for %v", s)
		}
	}
}

func TestUnbundleArguments(t *testing.T) {
	f := newFixture(t)
	if _, _, err := Unbundle(&Manifest{}, f.key, f.iv, dirOpener(f.dir), io.Discard); !errors.Is(err, ErrBadManifest) ||
		err.Error() != "bad bundle manifest: manifest lists no parts" {
		t.Errorf("empty manifest: %v", err)
	}
	if _, _, err := Unbundle(f.m, f.key[:8], f.iv, dirOpener(f.dir), io.Discard); err == nil ||
		err.Error() != "bundle key and IV must be 16 bytes" {
		t.Errorf("short key: %v", err)
	}
}

func TestNotForThisCloud(t *testing.T) {
	dir := t.TempDir()
	imagePath := writeRandomFile(t, dir, "disk.img", 5000, 11)
	p := testParams(t, imagePath)
	p.CloudCert = ident(t, "other-cloud").cert
	m, _, _ := mustCreate(t, p, dir)
	cloud := ident(t, "cloud")

	_, _, err := m.DecryptKey(cloud.key)
	if !errors.Is(err, ErrNotForThisCloud) || !strings.HasPrefix(err.Error(), "key: bundle is not encrypted for this cloud") {
		t.Errorf("DecryptKey with the wrong cloud = %v", err)
	}
	if _, _, err := m.DecryptKey(nil); !errors.Is(err, ErrNotForThisCloud) ||
		err.Error() != "bundle is not encrypted for this cloud: no private key" {
		t.Errorf("DecryptKey(nil) = %v", err)
	}
	// The cloud it was made for can read it.
	if _, _, err := m.DecryptKey(ident(t, "other-cloud").key); err != nil {
		t.Errorf("DecryptKey with the right cloud = %v", err)
	}

	// Right cloud for the key, wrong one for the IV.
	mixed := *m
	if mixed.EC2EncryptedKey, err = encryptHexSecret(cloud.cert, make([]byte, keySize)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mixed.DecryptKey(cloud.key); !errors.Is(err, ErrNotForThisCloud) || !strings.HasPrefix(err.Error(), "IV: ") {
		t.Errorf("DecryptKey with the IV for another cloud = %v", err)
	}

	// Encrypted to this cloud, but not a hex key.
	if mixed.EC2EncryptedKey, err = rsaEncrypt(cloud.cert, "not hex, sixteen"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mixed.DecryptKey(cloud.key); !errors.Is(err, ErrNotForThisCloud) ||
		err.Error() != "key: bundle is not encrypted for this cloud: decrypted value is not 16 hex-encoded bytes" {
		t.Errorf("DecryptKey of a non-hex key = %v", err)
	}
}

func TestBadSignature(t *testing.T) {
	f := newFixture(t)
	user := ident(t, "user").cert
	if err := f.m.VerifySignature(user); err != nil {
		t.Fatalf("untouched manifest: %v", err)
	}
	for name, edit := range map[string][2]string{
		"architecture": {"<architecture>x86_64</architecture>", "<architecture>i386</architecture>"},
		"user":         {"<user>123456789012</user>", "<user>210987654321</user>"},
		"type":         {"<type>machine</type>", "<type>kernel</type>"},
		"size":         {"<size>300000</size>", "<size>300001</size>"},
		"part name":    {"<filename>disk.img.part.00</filename>", "<filename>disk.img.part.99</filename>"},
		"whitespace":   {"<machine_configuration><architecture>", "<machine_configuration>\n  <architecture>"},
		"signature":    {"<signature>", "<signature>00"},
	} {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(f.raw, []byte(edit[0])) {
				t.Fatalf("manifest does not contain %q", edit[0])
			}
			m, err := ParseManifest(bytes.Replace(f.raw, []byte(edit[0]), []byte(edit[1]), 1))
			if err != nil {
				t.Fatalf("ParseManifest: %v", err)
			}
			if err := m.VerifySignature(user); !errors.Is(err, ErrBadSignature) ||
				!strings.HasPrefix(err.Error(), "bad manifest signature: crypto/rsa: verification error") {
				t.Errorf("VerifySignature = %v", err)
			}
		})
	}

	if err := f.m.VerifySignature(ident(t, "other-user").cert); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another user's certificate: %v", err)
	}
	if err := f.m.VerifySignature(nil); !errors.Is(err, ErrBadSignature) ||
		err.Error() != "bad manifest signature: no certificate to verify with" {
		t.Errorf("no certificate: %v", err)
	}
	if err := f.m.VerifySignature(ecdsaCert(t)); !errors.Is(err, ErrBadSignature) ||
		err.Error() != `bad manifest signature: certificate "CN=ecdsa" does not hold an RSA key` {
		t.Errorf("ECDSA certificate: %v", err)
	}
	if err := (&Manifest{Signature: f.m.Signature}).VerifySignature(user); !errors.Is(err, ErrBadSignature) ||
		err.Error() != "bad manifest signature: manifest was not read from a file" {
		t.Errorf("manifest built in memory: %v", err)
	}
}

// TestSignatureCoversOnlyItsElements: like the reference verifiers, only <machine_configuration>
// and <image> are signed, so layout around them and the bundler element may change.
func TestSignatureCoversOnlyItsElements(t *testing.T) {
	f := newFixture(t)
	raw := string(f.raw)
	raw = strings.Replace(raw, "<name>pinet</name>", "<name>euca2ools</name>", 1)
	raw = strings.Replace(raw, `<?xml version='1.0' encoding='UTF-8'?>`, `<?xml version="1.0" encoding="ASCII"?>`, 1)
	for _, tag := range []string{"<machine_configuration>", "<image>", "<signature>", "</manifest>"} {
		raw = strings.Replace(raw, tag, "\n  "+tag, 1)
	}
	m, err := ParseManifest([]byte(raw))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	if err := m.VerifySignature(ident(t, "user").cert); err != nil {
		t.Fatalf("VerifySignature: %v\n%s", err, raw)
	}
	if m.Bundler.Name != "euca2ools" {
		t.Errorf("bundler name %q", m.Bundler.Name)
	}
}

func rsaEncrypt(cert *x509.Certificate, text string) ([]byte, error) {
	// encryptHexSecret hex-encodes; this encrypts text as is.
	return rsaEncryptRaw(cert, []byte(text))
}

func ecdsaCert(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big1, Subject: pkixName("ecdsa")}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestPartDigestOutranksCorruption damages the first block of a bundle, so that the gzip header
// is wrong long before the damaged part ends: the part's digest must still be what Unbundle
// reports, not the corruption it caused.
func TestPartDigestOutranksCorruption(t *testing.T) {
	dir := t.TempDir()
	imagePath := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(imagePath, bytes.Repeat([]byte("compressible image text\n"), 50_000), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testParams(t, imagePath)
	p.PartSize = 2048
	m, _, _ := mustCreate(t, p, dir)
	if len(m.Parts) < 2 {
		t.Fatalf("bundle has %d parts, the test needs several", len(m.Parts))
	}
	flipByte(t, filepath.Join(dir, "disk.img.part.00"), 0)
	key, iv, err := m.DecryptKey(ident(t, "cloud").key)
	if err != nil {
		t.Fatal(err)
	}
	// The part is handed over whole, so the gzip header fails before the part's end is seen.
	open := func(name string) (io.ReadCloser, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return io.NopCloser(bytes.NewReader(b)), err
	}
	f := &fixture{dir: dir, m: m, key: key, iv: iv}
	checkFailure(t, f, m, key, open, ErrPartDigest, "disk.img.part.00 has SHA-1")
}
