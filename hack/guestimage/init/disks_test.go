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
	"reflect"
	"testing"
	"time"
)

// writeTree creates files (path → content) under a new temporary directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for path, content := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestListDisks(t *testing.T) {
	sys := writeTree(t, map[string]string{
		"vdb/size":         "2097152\n",
		"vda/size":         "30720\n",
		"ram0/size":        "8192\n",
		"loop0/size":       "0\n",
		"etherd!e1.0/size": "204800\n",
		"sr0/size":         "0\n",
	})
	got, err := listDisks(sys)
	if err != nil {
		t.Fatalf("listDisks() = %v", err)
	}
	want := []disk{
		{name: "etherd/e1.0", bytes: 104857600},
		{name: "sr0", bytes: 0},
		{name: "vda", bytes: 15728640},
		{name: "vdb", bytes: 1073741824},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listDisks() = %+v, want %+v", got, want)
	}
}

func TestListDisksEmpty(t *testing.T) {
	got, err := listDisks(writeTree(t, map[string]string{"ram0/size": "8192"}))
	if err != nil || len(got) != 0 {
		t.Errorf("listDisks() = %+v, %v; want none", got, err)
	}
}

func TestListDisksErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"not a number", map[string]string{"vda/size": "lots\n"}, `disk vda: invalid size "lots" in sectors`},
		{"negative", map[string]string{"vda/size": "-1"}, `disk vda: invalid size "-1" in sectors`},
		{"overflows bytes", map[string]string{"vda/size": "18014398509481984"}, `disk vda: invalid size "18014398509481984" in sectors`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := listDisks(writeTree(t, tt.files))
			if err == nil || err.Error() != tt.want {
				t.Errorf("listDisks() = %v, want %s", err, tt.want)
			}
		})
	}
	t.Run("no size file", func(t *testing.T) {
		sys := t.TempDir()
		if err := os.Mkdir(filepath.Join(sys, "vda"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := listDisks(sys)
		want := "disk vda: open " + filepath.Join(sys, "vda", "size") + ": no such file or directory"
		if err == nil || err.Error() != want {
			t.Errorf("listDisks() = %v, want %s", err, want)
		}
	})
	t.Run("no sysfs", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "block")
		_, err := listDisks(missing)
		want := "listing disks: open " + missing + ": no such file or directory"
		if err == nil || err.Error() != want {
			t.Errorf("listDisks() = %v, want %s", err, want)
		}
	})
}

func TestDiscoverAoE(t *testing.T) {
	t.Run("no aoe driver", func(t *testing.T) {
		asked, err := discoverAoE(t.TempDir(), t.TempDir(), time.Second)
		if asked || err != nil {
			t.Errorf("discoverAoE() = %v, %v; want false, nil", asked, err)
		}
	})
	t.Run("asks and finds a target", func(t *testing.T) {
		dev := writeTree(t, map[string]string{"etherd/discover": ""})
		sys := writeTree(t, map[string]string{"etherd!e1.0/size": "8"})
		asked, err := discoverAoE(dev, sys, time.Hour)
		if !asked || err != nil {
			t.Fatalf("discoverAoE() = %v, %v; want true, nil", asked, err)
		}
		if got, _ := os.ReadFile(filepath.Join(dev, "etherd", "discover")); string(got) != "\n" {
			t.Errorf("discover node got %q, want a newline", got)
		}
	})
	t.Run("asks and settles with no target", func(t *testing.T) {
		dev := writeTree(t, map[string]string{"etherd/discover": ""})
		asked, err := discoverAoE(dev, t.TempDir(), 0)
		if !asked || err != nil {
			t.Errorf("discoverAoE() = %v, %v; want true, nil", asked, err)
		}
	})
	t.Run("discover node not writable", func(t *testing.T) {
		dev := writeTree(t, map[string]string{"etherd/discover/x": ""})
		_, err := discoverAoE(dev, t.TempDir(), 0)
		want := "AoE discover: open " + filepath.Join(dev, "etherd", "discover") + ": is a directory"
		if err == nil || err.Error() != want {
			t.Errorf("discoverAoE() = %v, want %s", err, want)
		}
	})
}
