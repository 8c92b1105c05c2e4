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
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	const size = 25<<20 + 12345
	imagePath := writeRandomFile(t, dir, "disk.img", size, 1)
	out := filepath.Join(dir, "bundle")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	p := testParams(t, imagePath)
	var calls [][2]int64
	p.Progress = func(done, total int64) { calls = append(calls, [2]int64{done, total}) }

	m, _, parts := mustCreate(t, p, out)

	wantParts := []string{"disk.img.part.00", "disk.img.part.01", "disk.img.part.02"}
	var gotParts []string
	for _, path := range parts {
		gotParts = append(gotParts, filepath.Base(path))
	}
	if !slices.Equal(gotParts, wantParts) || len(m.Parts) != 3 {
		t.Fatalf("parts = %v (manifest lists %d), want %v", gotParts, len(m.Parts), wantParts)
	}
	for i, path := range parts {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 && info.Size() != DefaultPartSize {
			t.Errorf("part %d is %d bytes, want %d", i, info.Size(), DefaultPartSize)
		}
	}
	if m.Name != "disk.img" || m.User != "123456789012" || m.Type != TypeMachine || m.Arch != DefaultArch ||
		m.Size != size || m.Bundler.Name != bundlerName {
		t.Errorf("manifest fields = %+v", m)
	}
	if len(calls) == 0 || calls[len(calls)-1] != [2]int64{size, size} {
		t.Errorf("progress ended with %v, want [%d %d]", calls[len(calls)-1:], size, size)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] <= calls[i-1][0] {
			t.Fatalf("progress went from %d to %d", calls[i-1][0], calls[i][0])
		}
	}

	if err := m.VerifySignature(ident(t, "user").cert); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	key, iv, err := m.DecryptKey(ident(t, "cloud").key)
	if err != nil {
		t.Fatalf("DecryptKey: %v", err)
	}
	imagePathOut := filepath.Join(dir, "unbundled.img")
	gotSize, gotMD5, err := UnbundleFile(m, key, iv, dirOpener(out), imagePathOut)
	if err != nil {
		t.Fatalf("UnbundleFile: %v", err)
	}
	want, err := os.ReadFile(imagePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(imagePathOut)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(want)
	if gotSize != size || gotMD5 != hex.EncodeToString(sum[:]) || !bytes.Equal(got, want) {
		t.Fatalf("unbundled %d bytes with MD5 %s (equal: %v), want %d bytes with MD5 %x",
			gotSize, gotMD5, bytes.Equal(got, want), size, sum)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".unbundled.img.partial-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

// TestRoundTripOptions covers a kernel image with small parts, the optional fields and the
// user's own copy of the key.
func TestRoundTripOptions(t *testing.T) {
	dir := t.TempDir()
	imagePath := writeRandomFile(t, dir, "vmlinuz", 100_000, 2)
	p := testParams(t, imagePath)
	p.Prefix = "my kernel"
	p.Type = TypeKernel
	p.Arch = "i386"
	p.KernelID = "true"
	p.PartSize = 4096
	m, _, parts := mustCreate(t, p, dir)
	if len(parts) != 25 || m.Parts[10].Filename != "my kernel.part.10" {
		t.Fatalf("got %d parts, part 10 %q", len(parts), m.Parts[10].Filename)
	}
	if m.Type != TypeKernel || m.Arch != "i386" || m.KernelID != "true" || m.Name != "my kernel" {
		t.Errorf("manifest fields = %+v", m)
	}
	// The user can decrypt the bundle too, as euca-unbundle does with their key.
	key, iv, err := decryptKeyPair(ident(t, "user").key, m.UserEncryptedKey, m.UserEncryptedIV)
	if err != nil {
		t.Fatalf("decrypting with the user's key: %v", err)
	}
	var buf bytes.Buffer
	size, _, err := Unbundle(m, key, iv, dirOpener(dir), &buf)
	want, _ := os.ReadFile(imagePath)
	if err != nil || size != int64(len(want)) || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Unbundle = %d, %v; equal %v", size, err, bytes.Equal(buf.Bytes(), want))
	}

	// Block device mappings come out sorted, as euca2ools writes them.
	p = testParams(t, imagePath)
	p.BlockDeviceMappings = []BlockDeviceMapping{{"root", "/dev/sda1"}, {"ami", "sda1"}, {"swap", "sda3"}}
	p.RamdiskID = "ari-0123456789abcdef0"
	m, _, _ = mustCreate(t, p, t.TempDir())
	wantBDM := []BlockDeviceMapping{{"ami", "sda1"}, {"root", "/dev/sda1"}, {"swap", "sda3"}}
	if !slices.Equal(m.BlockDeviceMappings, wantBDM) || m.RamdiskID != p.RamdiskID {
		t.Errorf("mappings %v ramdisk %q", m.BlockDeviceMappings, m.RamdiskID)
	}
}

func TestCreateEmptyImage(t *testing.T) {
	dir := t.TempDir()
	imagePath := filepath.Join(dir, "empty")
	if err := os.WriteFile(imagePath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, _, parts := mustCreate(t, testParams(t, imagePath), dir)
	key, iv, err := m.DecryptKey(ident(t, "cloud").key)
	if err != nil {
		t.Fatal(err)
	}
	size, sum, err := Unbundle(m, key, iv, dirOpener(dir), io.Discard)
	if err != nil || size != 0 || sum != "d41d8cd98f00b204e9800998ecf8427e" || len(parts) != 1 {
		t.Fatalf("Unbundle = %d, %s, %v with %d parts", size, sum, err, len(parts))
	}
}

func TestCreateRejects(t *testing.T) {
	dir := t.TempDir()
	imagePath := writeRandomFile(t, dir, "disk.img", 12000, 3)
	other := ident(t, "other-user")
	for name, tc := range map[string]struct {
		edit func(*Params)
		want string
	}{
		"no image":         {func(p *Params) { p.ImagePath = "" }, "bundle: no image path"},
		"missing image":    {func(p *Params) { p.ImagePath = filepath.Join(dir, "nope") }, "opening image: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		"directory":        {func(p *Params) { p.ImagePath = dir }, "image " + dir + " is not a regular file"},
		"path prefix":      {func(p *Params) { p.Prefix = "../x" }, `bundle: prefix "../x" is not a short plain ASCII file name`},
		"non-ascii prefix": {func(p *Params) { p.Prefix = "dïsk" }, `bundle: prefix "dïsk" is not a short plain ASCII file name`},
		"bad type":         {func(p *Params) { p.Type = "disk" }, `bundle: image type "disk" is not machine, kernel or ramdisk`},
		"xml in prefix":    {func(p *Params) { p.Prefix = "a&b" }, `bundle: "a&b" holds one of the XML special characters &<>"'`},
		"xml in device": {func(p *Params) {
			p.BlockDeviceMappings = []BlockDeviceMapping{{"root", "<sda1>"}}
		}, `bundle: "<sda1>" holds one of the XML special characters &<>"'`},
		"bad arch":       {func(p *Params) { p.Arch = "x 86" }, `bundle: architecture "x 86" is not a valid token`},
		"bad kernel":     {func(p *Params) { p.KernelID = "aki 1" }, `bundle: kernel "aki 1" or ramdisk "" is not a valid id`},
		"no account":     {func(p *Params) { p.AccountID = "" }, `bundle: account id "" is not a valid token`},
		"negative parts": {func(p *Params) { p.PartSize = -1 }, "bundle: part size -1 is negative"},
		"bdm on kernel": {func(p *Params) {
			p.Type = TypeKernel
			p.BlockDeviceMappings = []BlockDeviceMapping{{"root", "sda1"}}
		}, "bundle: block device mappings are for machine images only"},
		"duplicate bdm": {func(p *Params) {
			p.BlockDeviceMappings = []BlockDeviceMapping{{"root", "sda1"}, {"root", "sda2"}}
		}, `bundle: block device "root" is mapped twice`},
		"no cloud cert":  {func(p *Params) { p.CloudCert = nil }, "bundle: the user certificate and key and the cloud certificate are required"},
		"key mismatch":   {func(p *Params) { p.UserKey = other.key }, "bundle: the user key does not belong to the user certificate"},
		"too many parts": {func(p *Params) { p.PartSize = 1 }, "bundle: the image needs more than 10240 parts of 1 bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			p := testParams(t, imagePath)
			tc.edit(&p)
			_, _, err := Create(p, out)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Create error = %v, want %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("Create left %d files behind", len(entries))
			}
		})
	}
}
