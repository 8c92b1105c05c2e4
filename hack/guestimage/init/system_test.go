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
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNeedsSerial(t *testing.T) {
	tests := map[string]bool{
		"ttyS0\n":       false,
		"tty0 ttyS0\n":  false,
		"ttyS0 tty0\n":  true,
		"tty0\n":        true,
		"":              true,
		"hvc0 ttyS1\n":  true,
		"  ttyS0  \n\n": false,
	}
	for active, want := range tests {
		if got := needsSerial(active); got != want {
			t.Errorf("needsSerial(%q) = %v, want %v", active, got, want)
		}
	}
}

func TestOpenConsole(t *testing.T) {
	tests := []struct {
		name, active string
		wantSerial   bool
	}{
		{"console is the serial port", "ttyS0\n", false},
		{"console is the screen", "ttyS0 tty0\n", true},
		{"no active list", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := writeTree(t, map[string]string{"console": "", "ttyS0": ""})
			active := filepath.Join(t.TempDir(), "active")
			if tt.active != "" {
				if err := os.WriteFile(active, []byte(tt.active), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := openConsole(dev, active, os.Stdout)
			c.Printf("instance %s booted\n", "i-0123456789abcdef0")
			want := "PiNet guest: instance i-0123456789abcdef0 booted\n"
			if got, _ := os.ReadFile(filepath.Join(dev, "console")); string(got) != want {
				t.Errorf("console got %q, want %q", got, want)
			}
			wantSerial := ""
			if tt.wantSerial {
				wantSerial = want
			}
			if got, _ := os.ReadFile(filepath.Join(dev, "ttyS0")); string(got) != wantSerial {
				t.Errorf("ttyS0 got %q, want %q", got, wantSerial)
			}
			// With one console children write to its file directly; with two, through the writer.
			if direct := c.childOutput() == c.primaryFile(); direct == tt.wantSerial {
				t.Errorf("childOutput() is the console file: %v, want %v", direct, !tt.wantSerial)
			}
		})
	}
}

func TestOpenConsoleFallback(t *testing.T) {
	fallback, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fallback.Close() }()
	c := openConsole(t.TempDir(), filepath.Join(t.TempDir(), "active"), fallback)
	c.Printf("ready")
	if got, _ := os.ReadFile(fallback.Name()); string(got) != "PiNet guest: ready\n" {
		t.Errorf("fallback got %q", got)
	}
}

func TestHasVirtioDevice(t *testing.T) {
	sys := writeTree(t, map[string]string{
		"virtio0/device": "0x0002\n",
		"virtio1/device": "0x0005\n",
	})
	if !hasVirtioDevice(sys, virtioBlock) {
		t.Error("hasVirtioDevice(block) = false, want true")
	}
	if hasVirtioDevice(sys, virtioNet) {
		t.Error("hasVirtioDevice(net) = true, want false")
	}
	if hasVirtioDevice(filepath.Join(sys, "missing"), virtioBlock) {
		t.Error("hasVirtioDevice(missing dir) = true, want false")
	}
}

func TestWaitForPath(t *testing.T) {
	dir := t.TempDir()
	if !waitForPath(dir, 0) {
		t.Error("waitForPath(existing) = false")
	}
	if waitForPath(filepath.Join(dir, "missing"), 0) {
		t.Error("waitForPath(missing, 0) = true")
	}
	later := filepath.Join(dir, "later")
	done := make(chan bool)
	go func() { done <- waitForPath(later, time.Hour) }()
	if err := os.WriteFile(later, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !<-done {
		t.Error("waitForPath(created later) = false")
	}
}

func TestIsMountPoint(t *testing.T) {
	if mounted, err := isMountPoint("/proc"); err != nil || !mounted {
		t.Errorf("isMountPoint(/proc) = %v, %v; want true", mounted, err)
	}
	dir := t.TempDir()
	if mounted, err := isMountPoint(dir); err != nil || mounted {
		t.Errorf("isMountPoint(%s) = %v, %v; want false", dir, mounted, err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := isMountPoint(missing); err == nil || err.Error() != "stat "+missing+": no such file or directory" {
		t.Errorf("isMountPoint(missing) = %v, want stat %s: no such file or directory", err, missing)
	}
	for _, m := range baseMounts() {
		if !filepath.IsAbs(m.target) || m.fstype == "" {
			t.Errorf("bad mount %+v", m)
		}
	}
}
