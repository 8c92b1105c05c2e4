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

package disks

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func qemuImg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// An uploaded image that names a file of the node would hand that file to the guest: a qcow2
// overlay of another instance's disk reads that disk. Such images, and formats that can name
// files, are refused before any disk is made; raw and self-contained qcow2 images are used.
func TestEnsureRefusesImagesThatNameOtherFiles(t *testing.T) {
	need(t, "qemu-img")
	ctx := context.Background()
	dir := t.TempDir()
	secret := filepath.Join(dir, "victim.raw")
	if err := os.WriteFile(secret, []byte("another tenant's disk"), 0o600); err != nil {
		t.Fatal(err)
	}
	backed := filepath.Join(dir, "backed.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", secret, backed, "1M")
	dataFile := filepath.Join(dir, "datafile.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-o", "data_file="+secret+",data_file_raw=on", dataFile, "1M")
	vmdk := filepath.Join(dir, "disk.vmdk")
	qemuImg(t, "create", "-q", "-f", "vmdk", vmdk, "1M")
	encrypted := filepath.Join(dir, "encrypted.qcow2")
	qemuImg(t, "create", "-q", "--object", "secret,id=sec0,data=pinet", "-f", "qcow2",
		"-o", "encrypt.format=aes,encrypt.key-secret=sec0", encrypted, "1M") // aes: no PBKDF for qemu-img to time

	var mk Maker
	for name, base := range map[string]string{"backing file": backed, "data file": dataFile, "vmdk": vmdk, "encrypted": encrypted} {
		inst := filepath.Join(dir, "i-"+strings.ReplaceAll(name, " ", "-"))
		_, err := mk.Ensure(ctx, Spec{Dir: inst, Base: base, RootBytes: 1 << 30})
		if !errors.Is(err, ErrUnusableImage) {
			t.Errorf("%s: %v, want ErrUnusableImage", name, err)
		}
		if _, err := os.Stat(inst); !os.IsNotExist(err) {
			t.Errorf("%s: the instance's directory was made (%v)", name, err)
		}
	}
	if !strings.Contains(errOf(mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, "x"), Base: backed})).Error(), secret) {
		t.Error("the refusal does not say which file the image names")
	}

	for _, format := range []string{"raw", "qcow2"} {
		base := filepath.Join(dir, "good."+format)
		qemuImg(t, "create", "-q", "-f", format, base, "2M")
		m, err := mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, "i-"+format), Base: base, RootBytes: 1 << 20})
		if err != nil {
			t.Fatalf("%s image: %v", format, err)
		}
		out, err := exec.Command("qemu-img", "info", "--output=json", m.Root).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"backing-filename-format": "`+format+`"`) || !strings.Contains(string(out), `"virtual-size": 2097152`) {
			t.Fatalf("root over the %s image: %v\n%s", format, err, out)
		}
	}
}

func errOf(_ Made, err error) error {
	if err == nil {
		return errors.New("no error")
	}
	return err
}

// Every instance of an image would otherwise run qemu-img on the same file: it is inspected once
// while the file stays the same, refusals included, and again once it changes. With qemu-img off
// the PATH (an overlay needs none), only a remembered inspection lets Ensure answer.
func TestEnsureInspectsEachImageOnce(t *testing.T) {
	need(t, "qemu-img")
	qemuPath := os.Getenv("PATH")
	ctx := context.Background()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.img")
	if err := os.WriteFile(base, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var mk Maker
	if _, err := mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, "i-a"), Base: base}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	for _, inst := range []string{"i-b", "i-c"} {
		if _, err := mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, inst), Base: base}); err != nil {
			t.Fatalf("%s over an image inspected before: %v", inst, err)
		}
	}
	// The file replaced by one that names another file: inspected again (which needs qemu-img),
	// refused, and the refusal remembered.
	t.Setenv("PATH", qemuPath)
	evil := filepath.Join(dir, "evil.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", filepath.Join(dir, "i-a", RootFile), evil, "1M")
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(evil, future, future); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(evil, base); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, "j-a"), Base: base}); err == nil || errors.Is(err, ErrUnusableImage) {
		t.Fatalf("the replaced image without qemu-img: %v, want qemu-img's absence (it must be inspected again)", err)
	}
	t.Setenv("PATH", qemuPath)
	if _, err := mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, "j-b"), Base: base}); !errors.Is(err, ErrUnusableImage) {
		t.Fatalf("the replaced image: %v, want ErrUnusableImage", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, "j-c"), Base: base}); !errors.Is(err, ErrUnusableImage) {
		t.Fatalf("the replaced image again, without qemu-img: %v, want the remembered ErrUnusableImage", err)
	}
	// A missing image is no refusal to remember.
	if err := os.Remove(base); err != nil {
		t.Fatal(err)
	}
	if _, err := mk.Ensure(ctx, Spec{Dir: filepath.Join(dir, "k"), Base: base}); err == nil || errors.Is(err, ErrUnusableImage) {
		t.Fatalf("a missing image: %v", err)
	}
	if _, ok := mk.bases[base]; ok {
		t.Fatal("a missing image's inspection is still remembered")
	}
}
