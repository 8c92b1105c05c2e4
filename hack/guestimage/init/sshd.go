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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// The ssh server in the root filesystem image (the initramfs has none).
const (
	dropbearPath    = "/usr/sbin/dropbear"
	dropbearkeyPath = "/usr/bin/dropbearkey"
	hostKeyDir      = "/etc/dropbear"
	sshdPidFile     = "/run/dropbear.pid"
	utmpFile        = "/run/utmp"
	rootHome        = "/root"
	sshPort         = 22
	openSSHKey      = "public-keys/0/openssh-key"
)

// Timing of the ssh server's supervision.
const (
	sshListenWait     = 30 * time.Second
	sshRestartMin     = 2 * time.Second
	sshRestartMax     = time.Minute
	sshStableRunning  = 5 * time.Minute
	sshListenInterval = 100 * time.Millisecond
)

// hostKeyTypes are the host keys the guest makes: both are quick to generate under emulation.
func hostKeyTypes() []string {
	return []string{"ed25519", "ecdsa"}
}

// startSSH installs root's authorized key from the meta-data, makes the host keys that are
// missing, prints them, starts dropbear and waits until it listens; a goroutine then restarts it
// whenever it exits. Without a key dropbear still runs, and nobody can log in.
func (g *guest) startSSH(md *metadata) {
	if _, err := os.Stat(dropbearPath); err != nil {
		g.out.Printf("ssh: no ssh server in this image")
		return
	}
	installAuthorizedKey(md, rootHome, 0, 0, g.out)
	// The login records of the running system live in /run, a fresh tmpfs each boot.
	if f, err := os.OpenFile(utmpFile, os.O_WRONLY|os.O_CREATE, 0o664); err == nil {
		_ = f.Close()
	}
	var files []string
	for _, t := range hostKeyTypes() {
		key, err := g.hostKey(t)
		if err != nil {
			g.out.Printf("ssh: %v", err)
			continue
		}
		files = append(files, hostKeyFile(hostKeyDir, t))
		g.out.Printf("ssh host key %s %s", key.fingerprint(), key.keyType)
		g.out.Printf("ssh host public key %s", key.line())
	}
	if len(files) == 0 {
		g.out.Printf("ssh: no host key; not starting the ssh server")
		return
	}
	argv := dropbearArgs(dropbearPath, sshPort, sshdPidFile, files)
	done, err := g.startSSHD(argv)
	if err != nil {
		g.out.Printf("ssh: %v", err)
	}
	go g.superviseSSHD(argv, done)
}

// installAuthorizedKey makes the meta-data's openssh-key the only authorized key of the user
// with home and uid:gid. An instance without a key gets none; a key that cannot be read or
// parsed leaves the file as it was.
func installAuthorizedKey(md *metadata, home string, uid, gid int, out *console) {
	if md == nil {
		out.Printf("ssh: no meta-data; root's authorized keys are left as they are")
		return
	}
	value, ok := md.values[openSSHKey]
	switch {
	case !ok && md.unreadable[openSSHKey]:
		out.Printf("ssh: %s could not be read; root's authorized keys are left as they are", openSSHKey)
		return
	case !ok:
		if err := removeAuthorizedKeys(home); err != nil {
			out.Printf("ssh: %v", err)
			return
		}
		out.Printf("ssh: the instance has no key pair; nobody can log in")
		return
	}
	keys, err := parseAuthorizedKeys(value)
	if err != nil {
		out.Printf("ssh: %s not installed: %v", openSSHKey, err)
		return
	}
	if err := writeAuthorizedKeys(home, keys, uid, gid); err != nil {
		out.Printf("ssh: %v", err)
		return
	}
	for _, k := range keys {
		out.Printf("ssh: root's authorized key %s %s", k.fingerprint(), k.keyType)
	}
}

// hostKey returns the host key of type t, generating it first when missing. A new key is
// generated beside its final name and renamed into place, so it is never found half-written.
func (g *guest) hostKey(t string) (publicKey, error) {
	file := hostKeyFile(hostKeyDir, t)
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(hostKeyDir, 0o700); err != nil {
			return publicKey{}, fmt.Errorf("making the %s host key: %w", t, err)
		}
		tmp := file + ".new"
		_ = os.Remove(tmp)
		out, err := exec.Command(dropbearkeyPath, "-t", t, "-f", tmp).CombinedOutput()
		if err == nil {
			err = os.Rename(tmp, file)
		}
		if err != nil {
			_ = os.Remove(tmp)
			return publicKey{}, fmt.Errorf("making the %s host key: %w: %s", t, err, bytes.TrimSpace(out))
		}
		g.out.Printf("ssh: made the %s host key", t)
	}
	out, err := exec.Command(dropbearkeyPath, "-y", "-f", file).CombinedOutput()
	if err != nil {
		return publicKey{}, fmt.Errorf("reading the %s host key: %w: %s", t, err, bytes.TrimSpace(out))
	}
	key, err := parseDropbearkeyOutput(out)
	if err != nil {
		return publicKey{}, fmt.Errorf("reading the %s host key: %w", t, err)
	}
	return key, nil
}

// startSSHD starts dropbear and waits for it to listen on sshPort; done, when not nil, reports
// its end.
func (g *guest) startSSHD(argv []string) (<-chan syscall.WaitStatus, error) {
	pid, done, err := g.children.spawn(argv, g.env(), g.out.primaryFile())
	if err != nil {
		return nil, fmt.Errorf("starting dropbear: %w", err)
	}
	deadline := time.Now().Add(sshListenWait)
	for !tcpListening(sshPort) {
		if time.Now().After(deadline) {
			// Killed, it ends up in done like any other end, and its supervisor starts another.
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return done, fmt.Errorf("dropbear (pid %d) was not listening on port %d after %s; killed it", pid, sshPort, sshListenWait)
		}
		// Before reapForever runs nobody else reaps it, so its early end is polled for here too.
		ws, ended := g.children.poll(pid)
		if !ended {
			select {
			case ws = <-done:
				ended = true
			case <-time.After(sshListenInterval):
			}
		}
		if ended {
			return nil, fmt.Errorf("dropbear exited at start with %s", describeWait(ws))
		}
	}
	g.out.Printf("sshd listening on port %d (dropbear pid %d)", sshPort, pid)
	return done, nil
}

// superviseSSHD restarts dropbear whenever it exits, with a growing pause while it keeps
// failing, until the guest stops.
func (g *guest) superviseSSHD(argv []string, done <-chan syscall.WaitStatus) {
	pause := sshRestartMin
	for {
		started := time.Now()
		if done != nil {
			ws := <-done
			if g.stopping.Load() {
				return
			}
			g.out.Printf("ssh: dropbear exited with %s", describeWait(ws))
		}
		if time.Since(started) > sshStableRunning {
			pause = sshRestartMin
		}
		time.Sleep(pause)
		pause = min(2*pause, sshRestartMax)
		if g.stopping.Load() {
			return
		}
		var err error
		if done, err = g.startSSHD(argv); err != nil {
			g.out.Printf("ssh: %v", err)
		}
	}
}

// tcpListening tells whether some socket listens on port, over IPv4 or IPv6.
func tcpListening(port int) bool {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if data, err := os.ReadFile(f); err == nil && isListening(data, port) {
			return true
		}
	}
	return false
}

// describeWait says how a process ended.
func describeWait(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("status %d", ws.ExitStatus())
}

// children starts the long-running processes init supervises and hands each one's end to its
// supervisor. Once reapForever runs, init reaps every child with wait4(-1), so a supervised
// child's status must come from there rather than from a wait of its own.
type children struct {
	mu      sync.Mutex
	watched map[int]chan syscall.WaitStatus
}

func newChildren() *children {
	return &children{watched: map[int]chan syscall.WaitStatus{}}
}

// spawn starts argv in its own session with standard input from /dev/null and its output to
// out. The returned channel gets the child's wait status once it has been reaped.
func (c *children) spawn(argv, env []string, out *os.File) (int, <-chan syscall.WaitStatus, error) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = devNull.Close() }()
	// Registering under the lock that reaped takes makes the child known before its end can be
	// looked up, however soon it ends.
	c.mu.Lock()
	defer c.mu.Unlock()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []uintptr{devNull.Fd(), out.Fd(), out.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return 0, nil, err
	}
	done := make(chan syscall.WaitStatus, 1)
	c.watched[pid] = done
	return pid, done, nil
}

// reaped hands a reaped child's status to its supervisor, if it has one.
func (c *children) reaped(pid int, ws syscall.WaitStatus) {
	c.mu.Lock()
	done, ok := c.watched[pid]
	delete(c.watched, pid)
	c.mu.Unlock()
	if ok {
		done <- ws
	}
}

// poll reaps pid if it has ended, for a supervisor that cannot count on reapForever yet. Whichever
// of poll and reapForever reaps the child reports it, never both.
func (c *children) poll(pid int) (syscall.WaitStatus, bool) {
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	if err != nil || got != pid {
		return 0, false
	}
	c.mu.Lock()
	delete(c.watched, pid)
	c.mu.Unlock()
	return ws, true
}
