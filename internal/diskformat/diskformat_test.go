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

package diskformat

import (
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// qemuFacts is what qemu-img info says of an image, probing its format as a node does.
type qemuFacts struct {
	Format          string `json:"format"`
	VirtualSize     uint64 `json:"virtual-size"`
	BackingFilename string `json:"backing-filename"`
	Encrypted       bool   `json:"encrypted"`
	FormatSpecific  struct {
		Data struct {
			DataFile string `json:"data-file"`
		} `json:"data"`
	} `json:"format-specific"`
}

// qemuInfo runs qemu-img info on path; a qemu-img that cannot open the image (which a raw image
// never is) gives its message.
func qemuInfo(t *testing.T, path string) (qemuFacts, string) {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "--output=json", path).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return qemuFacts{}, string(ee.Stderr)
	}
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var f qemuFacts
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	return f, ""
}

func prefixOf(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := io.ReadAll(io.LimitReader(f, ProbeSize))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestIdentifyAgreesWithQemuImg makes images of every kind qemu-img makes here, and files that
// are raw disks to QEMU, and checks that Identify names the format qemu-img probes and accepts
// exactly those a node accepts: raw, and qcow2 that names no other file and needs no key.
func TestIdentifyAgreesWithQemuImg(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Fatal("qemu-img is not installed (hack/install-deps.sh installs it)")
	}
	dir := t.TempDir()
	secret := []string{"--object", "secret,id=sec0,data=pinet-test"}
	made := map[string][]string{
		"qcow2-v3":        {"-f", "qcow2", "-o", "compat=1.1"},
		"qcow2-v2":        {"-f", "qcow2", "-o", "compat=0.10"},
		"qcow2-5T":        {"-f", "qcow2", "SIZE=5T"},
		"qcow2-backing":   {"-f", "qcow2", "-F", "raw", "-b", filepath.Join(dir, "base.raw")},
		"qcow2-data-file": {"-f", "qcow2", "-o", "data_file=" + filepath.Join(dir, "data.bin")},
		"qcow2-data-raw":  {"-f", "qcow2", "-o", "data_file=" + filepath.Join(dir, "data2.bin") + ",data_file_raw=on"},
		"qcow2-encrypted": append(secret, "-f", "qcow2", "-o", "encrypt.format=aes,encrypt.key-secret=sec0"),
		"qcow":            {"-f", "qcow"},
		"qed":             {"-f", "qed"},
		"qed-backing":     {"-f", "qed", "-F", "raw", "-b", filepath.Join(dir, "base.raw")},
		"vdi":             {"-f", "vdi"},
		"vhdx":            {"-f", "vhdx"},
		"vpc":             {"-f", "vpc"},
		"vpc-fixed":       {"-f", "vpc", "-o", "subformat=fixed"},
		"vmdk-sparse":     {"-f", "vmdk"},
		"vmdk-flat":       {"-f", "vmdk", "-o", "subformat=monolithicFlat"},
		"vmdk-split":      {"-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse"},
		"vmdk-stream":     {"-f", "vmdk", "-o", "subformat=streamOptimized"},
		"parallels":       {"-f", "parallels"},
		"luks":            append(secret, "-f", "luks", "-o", "key-secret=sec0,iter-time=10"),
		"raw-made":        {"-f", "raw"},
	}
	if err := os.WriteFile(filepath.Join(dir, "base.raw"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for name, args := range made {
		path := filepath.Join(dir, name)
		size := "64M"
		var opts []string
		for _, a := range args {
			if s, ok := strings.CutPrefix(a, "SIZE="); ok {
				size = s
				continue
			}
			opts = append(opts, a)
		}
		// A LUKS key's PBKDF is timed first, and qemu-img gives up when its first trial measures no
		// CPU time at all ("Unable to get accurate CPU usage", most tries on this machine kind):
		// that, and only that, is tried again.
		for try := 1; ; try++ {
			out, err := exec.Command("qemu-img", append(append([]string{"create", "-q"}, opts...), path, size)...).CombinedOutput()
			if err == nil {
				break
			}
			if !strings.Contains(string(out), "Unable to get accurate CPU usage") || try == 50 {
				t.Fatalf("qemu-img create %s: %v: %s", name, err, out)
			}
		}
		paths = append(paths, path)
	}
	// Files QEMU takes for raw disks, some of them close to another format's start.
	rng := rand.NewChaCha8([32]byte{'d', 'i', 's', 'k'})
	noise := make([]byte, 4096)
	_, _ = rng.Read(noise)
	mbr := make([]byte, 4096)
	mbr[510], mbr[511] = 0x55, 0xaa
	raws := map[string][]byte{
		"raw-noise":           noise,
		"raw-mbr":             mbr,
		"raw-empty":           nil,
		"raw-text":            []byte("bob's own disk"),
		"raw-short-magic":     []byte("QFI"),
		"raw-version-4":       []byte("# Disk DescriptorFile\nversion=4\n"),
		"raw-blank-line":      []byte("# Disk DescriptorFile\n\nversion=1\n"),
		"raw-version-unended": []byte("# Disk DescriptorFile\nversion=1"),
		"vmdk-descriptor":     []byte("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"base.raw\" 0\n"),
		// QEMU takes this for a vmdk descriptor and then cannot parse it: a node could not use it.
		"vmdk-descriptor-spaces": []byte("# Disk DescriptorFile\n   \nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"base.raw\" 0\n"),
		"vmdk-descriptor-crlf":   []byte("# Disk DescriptorFile\r\nversion=2\r\nCID=fffffffe\r\nparentCID=ffffffff\r\ncreateType=\"monolithicFlat\"\r\nRW 2048 FLAT \"base.raw\" 0\r\n"),
	}
	for name, data := range raws {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}

	for _, path := range paths {
		name := filepath.Base(path)
		q, failed := qemuInfo(t, path)
		if failed != "" {
			if h, err := Identify(prefixOf(t, path)); err == nil {
				t.Errorf("%s: Identify accepts it as %s; qemu-img cannot open it: %s", name, h.Format, failed)
			}
			continue
		}
		usable := (q.Format == "raw" || q.Format == "qcow2") && q.BackingFilename == "" &&
			q.FormatSpecific.Data.DataFile == "" && !q.Encrypted
		h, err := Identify(prefixOf(t, path))
		if h.Format != q.Format {
			t.Errorf("%s: format %q, qemu-img says %q", name, h.Format, q.Format)
		}
		if (err == nil) != usable {
			t.Errorf("%s: Identify: %v; qemu-img: %+v", name, err, q)
		}
		if err != nil && !errors.Is(err, ErrUnusable) {
			t.Errorf("%s: %v does not wrap ErrUnusable", name, err)
		}
		if err == nil && h.Format == "qcow2" && h.VirtualSize != q.VirtualSize {
			t.Errorf("%s: virtual size %d, qemu-img says %d", name, h.VirtualSize, q.VirtualSize)
		}
		t.Logf("%s: %s, %v", name, q.Format, err)
	}
}

// TestIdentifyShortQcow2 refuses a qcow2 magic whose header is cut short: a node could not
// open it, and nothing in it can be read as no backing file.
func TestIdentifyShortQcow2(t *testing.T) {
	p := make([]byte, 71)
	copy(p, "QFI\xfb\x00\x00\x00\x03")
	if _, err := Identify(p); !errors.Is(err, ErrUnusable) {
		t.Fatalf("a 71-byte qcow2 header: %v", err)
	}
	p = append(p, 0) // 72: a whole version 2 header, but version 3 needs its feature bits
	if _, err := Identify(p); !errors.Is(err, ErrUnusable) {
		t.Fatalf("a 72-byte qcow2 version 3 header: %v", err)
	}
}

// FuzzIdentify: any bytes give an answer without panicking, an accepted image is raw or qcow2,
// and only the first ProbeSize bytes count.
func FuzzIdentify(f *testing.F) {
	f.Add([]byte("QFI\xfb\x00\x00\x00\x03"))
	f.Add([]byte("# Disk DescriptorFile\nversion=1\n"))
	f.Add([]byte("KDMV"))
	f.Add(make([]byte, 128))
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := Identify(p)
		if err == nil && h.Format != "raw" && h.Format != "qcow2" {
			t.Fatalf("accepted a %s image", h.Format)
		}
		if err != nil && !errors.Is(err, ErrUnusable) {
			t.Fatalf("error %v does not wrap ErrUnusable", err)
		}
		longer := append(append([]byte(nil), p...), make([]byte, ProbeSize)...)
		if len(p) >= ProbeSize {
			h2, err2 := Identify(longer)
			if h2 != h || (err2 == nil) != (err == nil) {
				t.Fatalf("bytes after the first %d changed the answer: %+v %v, then %+v %v", ProbeSize, h, err, h2, err2)
			}
		}
	})
}
