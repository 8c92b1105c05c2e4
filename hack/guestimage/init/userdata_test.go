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
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testBusybox = "/bin/busybox"

func TestScriptCommand(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"sh", "#!/bin/sh\necho hi\n", []string{testBusybox, "sh", "/f"}},
		{"sh with option", "#!/bin/sh -e\nfalse\n", []string{testBusybox, "sh", "-e", "/f"}},
		{"bash runs under busybox", "#!/bin/bash\n", []string{testBusybox, "sh", "/f"}},
		{"env sh", "#!/usr/bin/env sh\n", []string{testBusybox, "sh", "/f"}},
		{"crlf line", "#!/bin/sh\r\necho hi\r\n", []string{testBusybox, "sh", "/f"}},
		{"space before interpreter", "#! /bin/sh\n", []string{testBusybox, "sh", "/f"}},
		{"other interpreter", "#!/usr/bin/python3\nprint(1)\n", []string{"/usr/bin/python3", "/f"}},
		{"other interpreter with argument", "#!/usr/bin/awk -f\n", []string{"/usr/bin/awk", "-f", "/f"}},
		{"tab separates the argument", "#!/usr/bin/awk\t-f  \n", []string{"/usr/bin/awk", "-f", "/f"}},
		{"env with options is not resolved", "#!/usr/bin/env -S sh -e\n", []string{"/usr/bin/env", "-S sh -e", "/f"}},
		{"no newline", "#!/bin/sh", []string{testBusybox, "sh", "/f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scriptCommand([]byte(tt.data), "/f", testBusybox)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("scriptCommand(%q) = %q, %v; want %q", tt.data, got, err, tt.want)
			}
		})
	}
}

func TestScriptCommandErrors(t *testing.T) {
	tests := []struct {
		data, want string
	}{
		{"", "user data is not a script (no #! line)"},
		{"#cloud-config\nusers: []\n", "user data is not a script (no #! line)"},
		{" #!/bin/sh\n", "user data is not a script (no #! line)"},
		{"#!\necho\n", "user data #! line names no interpreter"},
		{"#!  \t\r\n", "user data #! line names no interpreter"},
	}
	for _, tt := range tests {
		_, err := scriptCommand([]byte(tt.data), "/f", testBusybox)
		if err == nil || err.Error() != tt.want {
			t.Errorf("scriptCommand(%q) = %v, want %s", tt.data, err, tt.want)
		}
	}
	if _, err := scriptCommand([]byte("text"), "/f", testBusybox); !errors.Is(err, errNotScript) {
		t.Errorf("scriptCommand(text) = %v, want errNotScript", err)
	}
}

// newTestConsole returns a console writing to a file in a temporary directory, and that file's path.
func newTestConsole(t *testing.T) (*console, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return &console{primary: f}, path
}

func TestRunUserData(t *testing.T) {
	if _, err := os.Stat(testBusybox); err != nil {
		t.Fatalf("busybox-static is needed (hack/deps.sh installs it): %v", err)
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	tests := []struct {
		name, script, wantOut string
		wantCode              int
		// twoConsoles gives the console a second file, so output goes through a pipe.
		twoConsoles bool
	}{
		{"exit 0", "#!/bin/sh\necho user-data-marker\n", "user-data-marker\n", 0, false},
		{"exit status", "#!/bin/sh\necho out; echo err >&2; exit 3\n", "out\nerr\n", 3, false},
		{"set -e from the #! line", "#!/bin/sh -e\nfalse\necho not reached\n", "", 1, false},
		{"killed by a signal", "#!/bin/sh\nkill -9 $$\n", "", 128 + 9, false},
		{"two consoles", "#!/bin/sh\necho both\n", "both\n", 0, true},
		{"background job keeping the pipe open", "#!/bin/sh\n(exec sleep 5) &\necho done\n", "done\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, log := newTestConsole(t)
			extraLog := log
			if tt.twoConsoles {
				second, path := newTestConsole(t)
				out.extra, extraLog = append(out.extra, second.primary), path
			}
			file := filepath.Join(t.TempDir(), "run", "user-data")
			code, err := runUserData([]byte(tt.script), file, testBusybox, out, env)
			if err != nil || code != tt.wantCode {
				t.Fatalf("runUserData() = %d, %v; want %d", code, err, tt.wantCode)
			}
			for _, l := range []string{log, extraLog} {
				if got, _ := os.ReadFile(l); string(got) != tt.wantOut {
					t.Errorf("output %q, want %q", got, tt.wantOut)
				}
			}
			saved, _ := os.ReadFile(file)
			if string(saved) != tt.script {
				t.Errorf("saved script %q, want %q", saved, tt.script)
			}
		})
	}
}

func TestRunUserDataErrors(t *testing.T) {
	out, _ := newTestConsole(t)
	dir := t.TempDir()
	_, err := runUserData([]byte("#!/nonexistent/interpreter\n"), filepath.Join(dir, "ud"), testBusybox, out, nil)
	want := "running user data with /nonexistent/interpreter: fork/exec /nonexistent/interpreter: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("runUserData() = %v, want %s", err, want)
	}
	_, err = runUserData([]byte("plain text"), filepath.Join(dir, "ud"), testBusybox, out, nil)
	if !errors.Is(err, errNotScript) {
		t.Errorf("runUserData(text) = %v, want errNotScript", err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = runUserData([]byte("#!/bin/sh\n"), filepath.Join(blocker, "ud"), testBusybox, out, nil)
	want = "saving user data: mkdir " + blocker + ": not a directory"
	if err == nil || err.Error() != want {
		t.Errorf("runUserData() = %v, want %s", err, want)
	}
}

func FuzzScriptCommand(f *testing.F) {
	f.Add([]byte("#!/bin/sh\necho hi\n"))
	f.Add([]byte("#!/usr/bin/env python3\n"))
	f.Add([]byte("#!\t/usr/bin/awk -f \r\n"))
	f.Add([]byte("#cloud-config\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		argv, err := scriptCommand(data, "/run/pinet/user-data", testBusybox)
		if err != nil {
			return
		}
		if len(argv) < 2 || argv[len(argv)-1] != "/run/pinet/user-data" || argv[0] == "" {
			t.Fatalf("scriptCommand(%q) = %q", data, argv)
		}
		for _, a := range argv {
			if strings.Contains(a, "\n") {
				t.Fatalf("scriptCommand(%q) = %q: an argument spans lines", data, argv)
			}
		}
	})
}
