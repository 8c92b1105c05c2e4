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
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

// authorizedLine makes a real public key with x/crypto/ssh and returns its authorized_keys line
// (without the newline) and its fingerprint as ssh clients compute it.
func authorizedLine(t *testing.T, kind string) (line, fingerprint string) {
	t.Helper()
	var pub any
	switch kind {
	case "ed25519":
		p, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = p
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))), ssh.FingerprintSHA256(key)
}

func TestParseAuthorizedKeys(t *testing.T) {
	ed, edFP := authorizedLine(t, "ed25519")
	ec, ecFP := authorizedLine(t, "ecdsa")
	rs, rsFP := authorizedLine(t, "rsa")
	value := "\n" + ed + " alice@laptop\r\n\n  " + ec + "\t\n" + rs + " my  work key\n"
	keys, err := parseAuthorizedKeys(value)
	if err != nil {
		t.Fatalf("parseAuthorizedKeys: %v", err)
	}
	var lines, fps []string
	for _, k := range keys {
		lines = append(lines, k.line())
		fps = append(fps, k.fingerprint())
	}
	wantLines := []string{ed + " alice@laptop", ec, rs + " my work key"}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("lines = %q, want %q", lines, wantLines)
	}
	if want := []string{edFP, ecFP, rsFP}; !reflect.DeepEqual(fps, want) {
		t.Errorf("fingerprints = %q, want %q (x/crypto/ssh's)", fps, want)
	}
}

func TestParseAuthorizedKeysErrors(t *testing.T) {
	ed, _ := authorizedLine(t, "ed25519")
	edBlob := strings.Fields(ed)[1]
	rawBlob, _ := base64.StdEncoding.DecodeString(edBlob)
	typeOnly := base64.StdEncoding.EncodeToString(rawBlob[:4+len("ssh-ed25519")])
	tooLong := append([]byte{0, 0, 1, 0}, []byte("ssh-ed25519")...)
	tooMany := strings.Repeat(ed+"\n", maxAuthorizedKeys+1)
	for _, tc := range []struct {
		name, value, want string
	}{
		{"empty", "", "no key in it"},
		{"blank lines", " \n\t\n", "no key in it"},
		{"type only", "ssh-ed25519", "want \"TYPE BASE64 [COMMENT]\""},
		{"unsupported type", "ssh-dss " + edBlob, `unsupported key type "ssh-dss"`},
		{"options before the key", `command="id" ` + ed, `unsupported key type "command=\"id\""`},
		{"bad base64", "ssh-ed25519 AAAA!!!!", "bad base64"},
		{"truncated base64", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPiNetTestKey", "bad base64"},
		{"short blob", "ssh-ed25519 AAA=", "too short"},
		{"blob of another type", "ssh-rsa " + edBlob, "not a ssh-rsa key"},
		{"name longer than blob", "ssh-ed25519 " + base64.StdEncoding.EncodeToString(tooLong), "not a ssh-ed25519 key"},
		{"blob without key", "ssh-ed25519 " + typeOnly, "holds no key"},
		{"good then bad", ed + "\nssh-ed25519 nonsense", "line 2: "},
		{"too many", tooMany, "17 keys, at most 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseAuthorizedKeys(tc.value)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseAuthorizedKeys = %v, %v; want an error containing %q", keys, err, tc.want)
			}
			if keys != nil {
				t.Errorf("keys = %v alongside the error, want none", keys)
			}
		})
	}
}

// mustKeys parses authorized_keys lines that are known to be good.
func mustKeys(t *testing.T, lines ...string) []publicKey {
	t.Helper()
	keys, err := parseAuthorizedKeys(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// checkMode fails the test unless path has mode perm and belongs to the test's user.
func checkMode(t *testing.T, path string, perm os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != perm {
		t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), perm)
	}
	if owner, ok := fileOwner(st); ok && owner != os.Getuid() {
		t.Errorf("%s belongs to uid %d, want %d", path, owner, os.Getuid())
	}
}

func TestWriteAuthorizedKeys(t *testing.T) {
	home := t.TempDir()
	first, _ := authorizedLine(t, "ed25519")
	second, _ := authorizedLine(t, "ecdsa")
	// An existing .ssh that others can write is tightened: dropbear refuses keys under it.
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(home, ".ssh"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := writeAuthorizedKeys(home, mustKeys(t, first), os.Getuid(), os.Getgid()); err != nil {
		t.Fatalf("writeAuthorizedKeys: %v", err)
	}
	file := filepath.Join(home, ".ssh", "authorized_keys")
	checkMode(t, filepath.Join(home, ".ssh"), 0o700)
	checkMode(t, file, 0o600)
	if got, _ := os.ReadFile(file); string(got) != first+"\n" {
		t.Errorf("authorized_keys = %q, want %q", got, first+"\n")
	}
	// A new key replaces the old one rather than joining it.
	if err := writeAuthorizedKeys(home, mustKeys(t, second, first), os.Getuid(), os.Getgid()); err != nil {
		t.Fatalf("writeAuthorizedKeys again: %v", err)
	}
	if got, _ := os.ReadFile(file); string(got) != second+"\n"+first+"\n" {
		t.Errorf("authorized_keys = %q, want both keys, the new first", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(home, ".ssh")); len(entries) != 1 {
		t.Errorf(".ssh holds %d entries, want only authorized_keys", len(entries))
	}
	if err := removeAuthorizedKeys(home); err != nil {
		t.Fatalf("removeAuthorizedKeys: %v", err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("authorized_keys still there after removal: %v", err)
	}
	if err := removeAuthorizedKeys(home); err != nil {
		t.Errorf("removeAuthorizedKeys without a file: %v, want no error", err)
	}
}

func TestWriteAuthorizedKeysErrors(t *testing.T) {
	key, _ := authorizedLine(t, "ed25519")
	keys := mustKeys(t, key)
	uid, gid := os.Getuid(), os.Getgid()

	t.Run("no keys", func(t *testing.T) {
		home := t.TempDir()
		if err := writeAuthorizedKeys(home, nil, uid, gid); err == nil || !strings.Contains(err.Error(), "no keys") {
			t.Fatalf("writeAuthorizedKeys(nil) = %v, want a no-keys error", err)
		}
		if _, err := os.Stat(filepath.Join(home, ".ssh")); !os.IsNotExist(err) {
			t.Errorf(".ssh was made for no keys: %v", err)
		}
	})
	t.Run(".ssh is a file", func(t *testing.T) {
		home := t.TempDir()
		if err := os.WriteFile(filepath.Join(home, ".ssh"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := writeAuthorizedKeys(home, keys, uid, gid); err == nil || !strings.Contains(err.Error(), "writing authorized keys") {
			t.Fatalf("writeAuthorizedKeys = %v, want an error", err)
		}
	})
	t.Run("authorized_keys is a directory", func(t *testing.T) {
		home := t.TempDir()
		target := filepath.Join(home, ".ssh", "authorized_keys")
		if err := os.MkdirAll(filepath.Join(target, "inside"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeAuthorizedKeys(home, keys, uid, gid); err == nil || !strings.Contains(err.Error(), "writing authorized keys") {
			t.Fatalf("writeAuthorizedKeys = %v, want an error", err)
		}
		entries, _ := os.ReadDir(filepath.Join(home, ".ssh"))
		if len(entries) != 1 || entries[0].Name() != "authorized_keys" || !entries[0].IsDir() {
			t.Errorf(".ssh holds %v after the failure, want only the directory that was there", entries)
		}
	})
	t.Run("removal fails", func(t *testing.T) {
		home := t.TempDir()
		if err := os.MkdirAll(filepath.Join(authorizedKeysFile(home), "inside"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := removeAuthorizedKeys(home); err == nil || !strings.Contains(err.Error(), "removing authorized keys") {
			t.Fatalf("removeAuthorizedKeys = %v, want an error", err)
		}
	})
}

// dropbearkeyOutput is what dropbearkey 2022.83 printed for "-y -f" on a real ed25519 key, with
// the fingerprint it computed itself.
const dropbearkeyOutput = `Public key portion is:
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFg7zsAQzLDo5hkESZLeEoYshHm0Z5bROYBFmPX2NpY7 root@vm
Fingerprint: SHA256:7q1Px5J859HdGIA58avDnLZ5S3/JiUmuq522Bm0Dl3c
`

func TestParseDropbearkeyOutput(t *testing.T) {
	key, err := parseDropbearkeyOutput([]byte(dropbearkeyOutput))
	if err != nil {
		t.Fatalf("parseDropbearkeyOutput: %v", err)
	}
	if key.keyType != "ssh-ed25519" || key.comment != "root@vm" {
		t.Errorf("key = %s %q, want ssh-ed25519 root@vm", key.keyType, key.comment)
	}
	if got, want := key.fingerprint(), "SHA256:7q1Px5J859HdGIA58avDnLZ5S3/JiUmuq522Bm0Dl3c"; got != want {
		t.Errorf("fingerprint = %s, want dropbearkey's %s", got, want)
	}
	ec, ecFP := authorizedLine(t, "ecdsa")
	key, err = parseDropbearkeyOutput([]byte("Generating 256 bit ecdsa key, this may take a while...\nPublic key portion is:\n" + ec + " root@guest\n"))
	if err != nil {
		t.Fatalf("parseDropbearkeyOutput(ecdsa): %v", err)
	}
	if key.fingerprint() != ecFP {
		t.Errorf("ecdsa fingerprint = %s, want %s", key.fingerprint(), ecFP)
	}
}

func TestParseDropbearkeyOutputErrors(t *testing.T) {
	for name, out := range map[string]string{
		"empty":        "",
		"no key line":  "Public key portion is:\nFingerprint: SHA256:x\n",
		"unknown type": "Public key portion is:\nssh-dss AAAAB3NzaC1kc3MAAACBAP root@vm\n",
	} {
		if key, err := parseDropbearkeyOutput([]byte(out)); err == nil {
			t.Errorf("%s: parseDropbearkeyOutput = %v, want an error", name, key)
		}
	}
	if _, err := parseDropbearkeyOutput([]byte("ssh-ed25519 AAAAC3NzaC1yc2E= root@vm\n")); err == nil ||
		!strings.Contains(err.Error(), "not a ssh-ed25519 key") {
		t.Errorf("mislabelled key: %v, want a type mismatch", err)
	}
}

func TestHostKeyFile(t *testing.T) {
	if got := hostKeyFile("/etc/dropbear", "ed25519"); got != "/etc/dropbear/dropbear_ed25519_host_key" {
		t.Errorf("hostKeyFile = %s", got)
	}
}

func TestDropbearArgs(t *testing.T) {
	got := dropbearArgs("/usr/sbin/dropbear", 22, "/run/dropbear.pid", []string{"/k/ed", "/k/ec"})
	want := []string{"/usr/sbin/dropbear", "-F", "-E", "-s", "-p", "22", "-P", "/run/dropbear.pid", "-r", "/k/ed", "-r", "/k/ec"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dropbearArgs = %q, want %q", got, want)
	}
}

func TestIsListening(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0
   1: 0F02FEA9:0016 0202FEA9:D3A4 01 00000000:00000000 00:00000000 00000000     0        0 1235 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 1236 1 0000000000000000 20 4 30 10 -1
`
	if !isListening([]byte(table), 22) {
		t.Errorf("port 22 has a listener in the table")
	}
	if isListening([]byte(table), 8080) {
		t.Errorf("port 8080 is only connected, not listening")
	}
	if isListening([]byte(table), 0x160) {
		t.Errorf("port 0x160 must not match 0x16's entry")
	}
	if isListening(nil, 22) {
		t.Errorf("an empty table has no listener")
	}
}

// TestTCPListening checks the reading of the real /proc/net/tcp with a real listener.
func TestTCPListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if !tcpListening(port) {
		t.Errorf("tcpListening(%d) = false with a listener on it", port)
	}
	_ = ln.Close()
	if tcpListening(port) {
		t.Errorf("tcpListening(%d) = true after the listener closed", port)
	}
}

func fileOwner(st os.FileInfo) (int, bool) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), true
	}
	return 0, false
}
