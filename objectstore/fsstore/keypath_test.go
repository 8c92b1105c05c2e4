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

package fsstore

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestEntryNameRoundTrip(t *testing.T) {
	for _, seg := range []string{"", ".", "..", "a", "100%", "%41", "tab\there", "nl\nx", "\x7f", "ünï€ode", "a:b*c?d\\e", strings.Repeat("x", 250)} {
		for _, dir := range []bool{false, true} {
			name := entryName(seg, dir)
			if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255 {
				t.Fatalf("entryName(%q) = %q is not a safe file name", seg, name)
			}
			e, ok := parseEntry(name)
			if !ok || e.dir != dir || e.long || e.seg != seg {
				t.Fatalf("parseEntry(entryName(%q, %v)) = %+v, %v", seg, dir, e, ok)
			}
		}
	}
}

func TestEntryNameLong(t *testing.T) {
	seg := strings.Repeat("é", 200) // 400 bytes
	for _, dir := range []bool{false, true} {
		name := entryName(seg, dir)
		if len(name) != 65 {
			t.Fatalf("long entry name %q has length %d", name, len(name))
		}
		e, ok := parseEntry(name)
		if !ok || !e.long || e.dir != dir {
			t.Fatalf("parseEntry(%q) = %+v, %v", name, e, ok)
		}
	}
}

func TestParseEntryRejects(t *testing.T) {
	for _, name := range []string{"", "x", longDirNameFile, "o%", "o%4", "o%zz", "o%41", "o%0a", "o\n", "d/x", "O123", "D" + strings.Repeat("g", 64)} {
		if e, ok := parseEntry(name); ok {
			t.Errorf("parseEntry(%q) = %+v, want rejected", name, e)
		}
	}
}

func TestKeyPath(t *testing.T) {
	file, dirs := keyPath("a/../b//c.")
	if want := filepath.Join("da", "d..", "db", "d", "oc."); file != want {
		t.Fatalf("keyPath file = %q, want %q", file, want)
	}
	if len(dirs) != 4 || dirs[3].rel != filepath.Join("da", "d..", "db", "d") || dirs[3].seg != "" {
		t.Fatalf("keyPath dirs = %+v", dirs)
	}
	if file, dirs := keyPath("/"); file != filepath.Join("d", "o") || len(dirs) != 1 {
		t.Fatalf("keyPath(/) = %q %+v", file, dirs)
	}
}

func TestValidKey(t *testing.T) {
	for key, want := range map[string]error{
		"":                        ErrInvalidKey,
		"\xff":                    ErrInvalidKey,
		strings.Repeat("k", 1025): ErrKeyTooLong,
		strings.Repeat("k", 1024): nil,
		"../../etc/passwd":        nil,
	} {
		if err := ValidKey(key); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("ValidKey(%.20q) = %v, want %v", key, err, want)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{"oabc", "d%25", "O" + strings.Repeat("a", 64), "o%0A", "=name", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		e, ok := parseEntry(name)
		if !ok || e.long {
			return
		}
		// Every accepted name is the one entryName makes for its segment.
		if got := entryName(e.seg, e.dir); got != name {
			t.Fatalf("entryName(parseEntry(%q)) = %q", name, got)
		}
	})
}
