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
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildrenPoll starts real processes and collects their ends as a supervisor does before
// reapForever runs.
func TestChildrenPoll(t *testing.T) {
	c := newChildren()
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = out.Close() }()
	pid, done, err := c.spawn([]string{"/bin/sh", "-c", "echo started; exit 3"}, nil, out)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var ws syscall.WaitStatus
	for {
		var ended bool
		if ws, ended = c.poll(pid); ended {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not end", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := describeWait(ws); got != "status 3" {
		t.Errorf("describeWait = %s, want status 3", got)
	}
	if got, _ := os.ReadFile(out.Name()); strings.TrimSpace(string(got)) != "started" {
		t.Errorf("the child's output is %q, want \"started\"", got)
	}
	// Polled ends are not reported again, and the child is forgotten.
	c.reaped(pid, ws)
	select {
	case ws := <-done:
		t.Errorf("done reported %v after poll had collected the child", ws)
	default:
	}
}

// TestChildrenReaped hands a child's end to its supervisor the way reapForever does.
func TestChildrenReaped(t *testing.T) {
	c := newChildren()
	pid, done, err := c.spawn([]string{"/bin/sh", "-c", "kill -TERM $$"}, nil, os.Stderr)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait4: %v", err)
	}
	c.reaped(pid+1<<20, ws) // a child nobody supervises: nothing to report
	c.reaped(pid, ws)
	select {
	case got := <-done:
		if d := describeWait(got); d != "signal terminated" {
			t.Errorf("describeWait = %s, want signal terminated", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("done never reported the reaped child")
	}
	if len(c.watched) != 0 {
		t.Errorf("%d children still watched, want none", len(c.watched))
	}
}

func TestChildrenSpawnError(t *testing.T) {
	c := newChildren()
	if _, _, err := c.spawn([]string{"/nonexistent/dropbear"}, nil, os.Stderr); err == nil {
		t.Fatal("spawn of a missing program succeeded")
	}
	if len(c.watched) != 0 {
		t.Errorf("a failed spawn left %d children watched", len(c.watched))
	}
}

// TestInstallAuthorizedKey follows the meta-data's key, or its absence, into authorized_keys.
func TestInstallAuthorizedKey(t *testing.T) {
	good, goodFP := authorizedLine(t, "ed25519")
	old, _ := authorizedLine(t, "ecdsa")
	for _, tc := range []struct {
		name    string
		md      *metadata
		want    string // authorized_keys afterwards; "" for none
		console string
	}{
		{"key", &metadata{values: map[string]string{openSSHKey: good}}, good + "\n", "ssh: root's authorized key " + goodFP + " ssh-ed25519"},
		{"no key pair", &metadata{values: map[string]string{}}, "", "the instance has no key pair; nobody can log in"},
		{"empty key", &metadata{values: map[string]string{openSSHKey: ""}}, old + "\n", "public-keys/0/openssh-key not installed: no key in it"},
		{"bad key", &metadata{values: map[string]string{openSSHKey: "ssh-ed25519 AAAA"}}, old + "\n", "public-keys/0/openssh-key not installed: line 1: ssh-ed25519 key: "},
		{"unreadable", &metadata{values: map[string]string{}, unreadable: map[string]bool{openSSHKey: true}}, old + "\n", "could not be read; root's authorized keys are left as they are"},
		{"no meta-data", nil, old + "\n", "no meta-data; root's authorized keys are left as they are"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if err := writeAuthorizedKeys(home, mustKeys(t, old), os.Getuid(), os.Getgid()); err != nil {
				t.Fatal(err)
			}
			logFile, err := os.Create(filepath.Join(t.TempDir(), "console"))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = logFile.Close() }()
			installAuthorizedKey(tc.md, home, os.Getuid(), os.Getgid(), &console{primary: logFile})
			got, err := os.ReadFile(authorizedKeysFile(home))
			switch {
			case tc.want == "" && !os.IsNotExist(err):
				t.Errorf("authorized_keys = %q, %v; want it gone", got, err)
			case tc.want != "" && string(got) != tc.want:
				t.Errorf("authorized_keys = %q, %v; want %q", got, err, tc.want)
			}
			log, _ := os.ReadFile(logFile.Name())
			if !bytes.Contains(log, []byte(linePrefix+"ssh: ")) || !bytes.Contains(log, []byte(tc.console)) {
				t.Errorf("console = %q, want %q", log, tc.console)
			}
		})
	}
}
