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

package guestimage_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// freeLoopbackAddr returns a 127.0.0.1 address with a port nothing listens on right now, for
// QEMU to forward to the guest.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// sshForward is the QEMU hostfwd that makes addr, on the host's loopback, the guest's port 22.
func sshForward(addr string) string {
	return "tcp:" + addr + "-:22"
}

// newClientKey makes an ed25519 key for the test's ssh client.
func newClientKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// dialGuest logs in to the guest at addr as root with key. Connections are retried while they
// fail below ssh authentication (the guest or QEMU's forward not answering yet), for at most
// bootTimeout; an authentication failure is returned at once. hostKey gets the server's key.
func dialGuest(t *testing.T, addr string, key ssh.Signer, hostKey *ssh.PublicKey) (*ssh.Client, error) {
	t.Helper()
	config := &ssh.ClientConfig{
		User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			if hostKey != nil {
				*hostKey = k
			}
			return nil
		},
		Timeout: time.Minute,
	}
	deadline := time.Now().Add(bootTimeout)
	for attempt := 1; ; attempt++ {
		client, err := ssh.Dial("tcp", addr, config)
		if err == nil || strings.Contains(err.Error(), "unable to authenticate") {
			return client, err
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(errors.New("the guest's ssh server never answered"), err)
		}
		t.Logf("ssh attempt %d: %v", attempt, err)
		time.Sleep(2 * time.Second)
	}
}

// refusedLogin checks that the guest at addr refuses root's login with key.
func refusedLogin(t *testing.T, addr string, key ssh.Signer) {
	t.Helper()
	client, err := dialGuest(t, addr, key, nil)
	if err == nil {
		_ = client.Close()
		t.Fatalf("the guest let root in with a key it was never given")
	}
	if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("login with a wrong key: %v, want an authentication failure", err)
	}
}

// run runs command on the guest and returns its standard output.
func run(t *testing.T, client *ssh.Client, command string) string {
	t.Helper()
	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("ssh session for %q: %v", command, err)
	}
	defer func() { _ = session.Close() }()
	var stderr strings.Builder
	session.Stderr = &stderr
	out, err := session.Output(command)
	if err != nil {
		t.Fatalf("ssh %q: %v (stderr %q)", command, err, stderr.String())
	}
	return string(out)
}

// interactive runs root's login shell on a pseudo-terminal, types input into it and returns
// what the terminal showed until the shell exited.
func interactive(t *testing.T, client *ssh.Client, input string) string {
	t.Helper()
	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("ssh session: %v", err)
	}
	defer func() { _ = session.Close() }()
	if err := session.RequestPty("xterm", 24, 80, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
		t.Fatalf("ssh pty: %v", err)
	}
	var out strings.Builder
	session.Stdout = &out
	session.Stderr = &out
	session.Stdin = strings.NewReader(input)
	if err := session.Shell(); err != nil {
		t.Fatalf("ssh shell: %v", err)
	}
	if err := session.Wait(); err != nil {
		t.Fatalf("ssh shell ended with %v; the terminal showed %q", err, out.String())
	}
	return out.String()
}

// consoleHostKeys returns the host keys the guest printed on its console: fingerprints and
// public key lines ("TYPE BASE64").
func consoleHostKeys(t *testing.T, vm *guestVM) (fingerprints, keys []string) {
	t.Helper()
	log, err := os.ReadFile(vm.console)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(log), "\n") {
		line = strings.TrimRight(line, "\r")
		if rest, ok := strings.CutPrefix(line, "PiNet guest: ssh host key "); ok {
			fingerprints = append(fingerprints, strings.Fields(rest)[0])
		}
		if rest, ok := strings.CutPrefix(line, "PiNet guest: ssh host public key "); ok {
			if f := strings.Fields(rest); len(f) >= 2 {
				keys = append(keys, f[0]+" "+f[1])
			}
		}
	}
	return fingerprints, keys
}

// TestSSHIntoGuest boots the root filesystem on QEMU's user network with the guest's port 22
// forwarded to the host's loopback and the test's public key in the meta-data, logs in as root
// with the private half, runs commands, and checks that the host key is the one the console
// showed, that another key is refused and that the server comes back when it is killed.
func TestSSHIntoGuest(t *testing.T) {
	t.Parallel()
	img := buildImage(t)
	key := newClientKey(t)
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key.PublicKey()))) + " test@pinet"
	const instanceID = "i-0a1b2c3d4e5f60718"
	srv := newMetadataServer(t, instanceID, "", authorized)
	addr := freeLoopbackAddr(t)
	netArgs, env := metadataNetwork(t, srv, sshForward(addr))
	marker := make([]byte, 8)
	if _, err := rand.Read(marker); err != nil {
		t.Fatal(err)
	}
	cmdline := "console=ttyS0 no_timer_check pinet.test=ssh-" + hex.EncodeToString(marker)
	vm := boot(t, img, bootOptions{
		cmdline: cmdline,
		disks:   []string{diskCopy(t, img.Root)},
		extra:   netArgs,
		env:     env,
	})
	vm.waitFor(
		"udhcpc: eth0 169.254.2.15/16",
		"PiNet guest: meta-data public-keys/0/openssh-key="+authorized,
		"PiNet guest: ssh: root's authorized key "+ssh.FingerprintSHA256(key.PublicKey())+" ssh-ed25519",
		"PiNet guest: ssh host key SHA256:",
		"PiNet guest: sshd listening on port 22",
		"PiNet guest: ready",
	)
	vm.logBootTime()

	var hostKey ssh.PublicKey
	client, err := dialGuest(t, addr, key, &hostKey)
	if err != nil {
		t.Fatalf("ssh root@%s: %v", addr, err)
	}
	defer func() { _ = client.Close() }()
	if got := strings.TrimSpace(run(t, client, "cat /proc/cmdline")); got != cmdline {
		t.Errorf("the guest's /proc/cmdline over ssh is %q, want %q", got, cmdline)
	}
	if got := run(t, client, "wget -qO- http://169.254.169.254/latest/meta-data/instance-id"); got != instanceID {
		t.Errorf("the guest's metadata instance-id over ssh is %q, want %q", got, instanceID)
	}
	if got := strings.TrimSpace(run(t, client, "id -u; stat -c '%a %u' /root/.ssh /root/.ssh/authorized_keys")); got != "0\n700 0\n600 0" {
		t.Errorf("uid and authorized key modes are %q, want root's, 700 and 600", got)
	}

	if got := interactive(t, client, "echo answer=$((6*7)); tty; exit 0\n"); !strings.Contains(got, "answer=42") || !strings.Contains(got, "/dev/pts/") {
		t.Errorf("an interactive shell on a pty printed %q, want answer=42 and a /dev/pts tty", got)
	}

	fingerprints, keys := consoleHostKeys(t, vm)
	seen := ssh.FingerprintSHA256(hostKey)
	if !slices.Contains(fingerprints, seen) {
		t.Errorf("the ssh client saw host key %s, the console showed %q", seen, fingerprints)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey)))
	if !slices.Contains(keys, line) {
		t.Errorf("the ssh client saw host key %q, the console showed %q", line, keys)
	}

	refusedLogin(t, addr, newClientKey(t))

	// The guest's init restarts the server when it ends; connections made before go on.
	run(t, client, "kill $(cat /run/dropbear.pid)")
	vm.waitFor(
		"PiNet guest: ready",
		"PiNet guest: ssh: dropbear exited with ",
		"PiNet guest: sshd listening on port 22",
	)
	if got := run(t, client, "echo still here"); got != "still here\n" {
		t.Errorf("the first connection answered %q after the restart, want \"still here\"", got)
	}
	again, err := dialGuest(t, addr, key, nil)
	if err != nil {
		t.Fatalf("ssh after dropbear's restart: %v", err)
	}
	_ = again.Close()
}
