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

package nodeagent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/nodeagent/libvirt"
)

// A guest the agent (this one, or one before a restart) shut down to copy its disk for an image
// is not taken for a guest that powered itself off, which would make its instance stopped: the
// instance's reconcile starts it again.
func TestGuestShutDownForACopyIsNotItsOwnPowerOff(t *testing.T) {
	s := &instanceSync{cfg: Config{StateDir: t.TempDir()}}
	inst := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning}}
	inst.UID = "uid-1"
	inst.Status.InstanceID = "i-0123456789abcdef0"
	inst.Status.Domain = &cloudv1.DomainStatus{State: "running"}
	scope := func() *syncScope {
		return &syncScope{inst: inst, domain: &libvirt.Domain{Name: inst.Status.InstanceID, State: "shutoff", ShutoffReason: "shutdown"}}
	}
	if !s.noticePowerOff(context.Background(), scope()) {
		t.Fatal("without the mark, a guest found off after running is its own power-off")
	}
	if err := ensureInstanceDir(s.instanceDir(inst.Status.InstanceID), inst.UID); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyMarker(s, inst.Status.InstanceID), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s.noticePowerOff(context.Background(), scope()) {
		t.Fatal("a guest shut down for a copy was taken for its own power-off")
	}
}

// The flattened disks of images the node no longer copies for (whole, or partly written) are
// found for removal; those of images it copies for, and the instances' own files, are not.
func TestStaleCopiesOfEndedImages(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "i-0000000000000000a"), filepath.Join(dir, "i-0000000000000000b")
	for _, d := range []string{a, b} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	current := copyFile(a, "ami-0000000000000000a", "uid-current")
	ended := copyFile(a, "ami-0000000000000000b", "uid-ended")
	partial := copyFile(b, "ami-0000000000000000c", "uid-gone") + ".new"
	currentPartial := copyFile(b, "ami-0000000000000000d", "uid-current-2") + ".new"
	own := []string{filepath.Join(a, "root.qcow2"), filepath.Join(b, "image-copy-shutdown"), filepath.Join(b, "console.log")}
	for _, f := range append([]string{current, ended, partial, currentPartial}, own...) {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := staleCopies(dir, map[string]bool{"uid-current": true, "uid-current-2": true})
	slices.Sort(got)
	want := []string{ended, partial}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("stale copies %v, want %v", got, want)
	}
}
