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
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// qemuInfo is what qemu-img info says of an image, less what names or measures its own file.
func qemuInfo(t *testing.T, path string) map[string]any {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "--output=json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v: %s", path, err, out)
	}
	var info map[string]any
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	for _, own := range []string{"filename", "actual-size", "dirty-flag"} {
		delete(info, own)
	}
	return info
}

// The overlay written here is, to QEMU, the overlay qemu-img create makes: the same header facts
// for every size (one L1 cluster and several), consistent refcounts (qemu-img check), the backing
// image's bytes read through it, and writes through QEMU that allocate clusters and keep it
// consistent.
func TestOverlayIsWhatQemuImgMakes(t *testing.T) {
	need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "base.raw")
	if err := os.WriteFile(raw, data, 0o600); err != nil {
		t.Fatal(err)
	}
	qcow := filepath.Join(dir, "base.qcow2")
	qemuImg(t, "convert", "-f", "raw", "-O", "qcow2", raw, qcow)

	for _, base := range []struct{ path, format string }{{raw, "raw"}, {qcow, "qcow2"}} {
		for _, size := range []int64{3 << 20, 1<<30 + 1, 10<<30 + 12345, 5 << 40} {
			name := fmt.Sprintf("%s-%d", base.format, size)
			mine, theirs := filepath.Join(dir, name+".mine"), filepath.Join(dir, name+".theirs")
			if err := writeOverlay(mine, base.path, base.format, size); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			qemuImg(t, "create", "-q", "-f", "qcow2", "-F", base.format, "-b", base.path, theirs, fmt.Sprint(size))
			if got, want := qemuInfo(t, mine), qemuInfo(t, theirs); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: qemu-img info of the overlay\n%v\nwant (qemu-img create's)\n%v", name, got, want)
			}
			if out, err := exec.Command("qemu-img", "check", mine).CombinedOutput(); err != nil || !strings.Contains(string(out), "No errors were found") {
				t.Errorf("%s: qemu-img check: %v\n%s", name, err, out)
			}
			if st := mustStat(t, mine); st.Mode().Perm() != FileMode {
				t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), FileMode)
			}
			if size > 1<<30 {
				continue // the reads and writes below need not be repeated at every size
			}
			if out, err := exec.Command("qemu-img", "compare", "-f", base.format, "-F", "qcow2", base.path, mine).CombinedOutput(); err != nil {
				t.Errorf("%s: the overlay does not read as its base: %v\n%s", name, err, out)
			}
			// A guest's writes: the first cluster and one past the base's end.
			for _, cmd := range []string{"write -P 0xab 0 64k", "write -P 0xcd 2M 128k"} {
				if out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", cmd, mine).CombinedOutput(); err != nil {
					t.Fatalf("%s: qemu-io %s: %v\n%s", name, cmd, err, out)
				}
			}
			for _, cmd := range []string{"read -P 0xab 0 64k", "read -P 0xcd 2M 128k"} {
				out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", cmd, mine).CombinedOutput()
				if err != nil || strings.Contains(string(out), "Pattern verification failed") {
					t.Fatalf("%s: qemu-io %s: %v\n%s", name, cmd, err, out)
				}
			}
			if out, err := exec.Command("qemu-img", "check", mine).CombinedOutput(); err != nil || !strings.Contains(string(out), "No errors were found") {
				t.Errorf("%s: qemu-img check after writes: %v\n%s", name, err, out)
			}
			// The base is untouched, and the rest still reads as the base.
			if out, err := exec.Command("qemu-io", "-f", "qcow2", "-r", "-c", "read -v 65536 16", mine).CombinedOutput(); err != nil ||
				!strings.Contains(string(out), fmt.Sprintf("%02x %02x", data[65536], data[65537])) {
				t.Errorf("%s: after the writes, the base's bytes at 64 KiB: %v\n%s", name, err, out)
			}
		}
	}
	if got, err := os.ReadFile(raw); err != nil || !reflect.DeepEqual(got, data) {
		t.Fatal("the base image changed")
	}
}

func TestOverlayRefusesWhatItCannotWrite(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		backing string
		size    int64
	}{
		"no size":             {"/base", 0},
		"negative size":       {"/base", -1},
		"no backing file":     {"", 1 << 20},
		"backing name > 1023": {"/" + strings.Repeat("b", 1023), 1 << 20},
		"two refcount blocks": {"/base", 1 << 60},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := writeOverlay(p, tc.backing, "raw", tc.size); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: a file was left (%v)", name, err)
		}
	}
	// An existing file is not overwritten.
	p := filepath.Join(dir, "there")
	if err := os.WriteFile(p, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeOverlay(p, "/base", "raw", 1<<20); err == nil {
		t.Error("an existing file was overwritten")
	}
	if got, _ := os.ReadFile(p); string(got) != "keep" {
		t.Errorf("the existing file holds %q", got)
	}
}
