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
	"reflect"
	"strings"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name string
		line string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"proc cmdline with newline", "console=ttyS0 pinet.instance_id=i-0123456789abcdef0 quiet\n",
			map[string]string{"console": "ttyS0", instanceIDParam: "i-0123456789abcdef0", "quiet": ""}},
		{"later wins", "root=/dev/vda root=/dev/vdb", map[string]string{"root": "/dev/vdb"}},
		{"quoted value", `msg="hello world" x=1`, map[string]string{"msg": "hello world", "x": "1"}},
		{"quoted word", `"a=b c"`, map[string]string{"a": "b c"}},
		{"value with equals", "opts=a=b,c=d", map[string]string{"opts": "a=b,c=d"}},
		{"unterminated quote runs to end", `a="b c d`, map[string]string{"a": "b c d"}},
		{"tabs and repeated spaces", "a=1\t\t b=2   ", map[string]string{"a": "1", "b": "2"}},
		{"empty key ignored", "=x a=1", map[string]string{"a": "1"}},
		{"empty quotes", `a=""`, map[string]string{"a": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCmdline(tt.line); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCmdline(%q) = %v, want %v", tt.line, got, tt.want)
			}
		})
	}
}

func TestValidateInstanceID(t *testing.T) {
	for _, ok := range []string{"i-0123456789abcdef0", "i-0badc0de"} {
		if err := validateInstanceID(ok); err != nil {
			t.Errorf("validateInstanceID(%q) = %v, want nil", ok, err)
		}
	}
	tests := []struct {
		id, want string
	}{
		{"", `invalid instance id "": want "i-" and 8 or 17 hex digits`},
		{"Not Specified", `invalid instance id "Not Specified": want "i-" and 8 or 17 hex digits`},
		{"i-123", `invalid instance id "i-123": want "i-" and 8 or 17 hex digits`},
		{"ami-0123456789abcdef0", `invalid instance id "ami-0123456789abcdef0": want "i-" and 8 or 17 hex digits`},
		{"i-0123456789ABCDEF0", `invalid instance id "i-0123456789ABCDEF0": 'A' is not a lowercase hex digit`},
		{"i-0123456g", `invalid instance id "i-0123456g": 'g' is not a lowercase hex digit`},
	}
	for _, tt := range tests {
		err := validateInstanceID(tt.id)
		if err == nil || err.Error() != tt.want {
			t.Errorf("validateInstanceID(%q) = %v, want %s", tt.id, err, tt.want)
		}
	}
}

func TestChooseInstanceID(t *testing.T) {
	cmdline := func(v string) idSource { return idSource{name: "cmdline", value: v} }
	smbios := func(v string) idSource { return idSource{name: "smbios", value: v} }
	tests := []struct {
		name         string
		sources      []idSource
		wantID, from string
		warnings     []string
	}{
		{"cmdline first", []idSource{cmdline("i-0123456789abcdef0"), smbios("i-00000000")}, "i-0123456789abcdef0", "cmdline", nil},
		{"smbios when cmdline empty", []idSource{cmdline(""), smbios("i-00000000\n")}, "i-00000000", "smbios", nil},
		{"invalid cmdline falls through with a warning", []idSource{cmdline("bogus"), smbios("i-00000000")}, "i-00000000", "smbios",
			[]string{`ignoring cmdline: invalid instance id "bogus": want "i-" and 8 or 17 hex digits`}},
		{"none", []idSource{cmdline(""), smbios("  ")}, "", "", nil},
		{"nothing valid", []idSource{smbios("Not Specified")}, "", "",
			[]string{`ignoring smbios: invalid instance id "Not Specified": want "i-" and 8 or 17 hex digits`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, from, warnings := chooseInstanceID(tt.sources...)
			if id != tt.wantID || from != tt.from || !reflect.DeepEqual(warnings, tt.warnings) {
				t.Errorf("chooseInstanceID() = %q, %q, %q; want %q, %q, %q", id, from, warnings, tt.wantID, tt.from, tt.warnings)
			}
		})
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add("console=ttyS0 pinet.instance_id=i-0123456789abcdef0\n")
	f.Add(`a="b c" "d=e f" =g`)
	f.Fuzz(func(t *testing.T, line string) {
		for key, value := range parseCmdline(line) {
			// Quoted blanks may be part of a key, as in the kernel; quotes and '=' never are.
			if key == "" || strings.ContainsAny(key, "\"=") {
				t.Fatalf("parseCmdline(%q) gave key %q", line, key)
			}
			if strings.Contains(value, `"`) {
				t.Fatalf("parseCmdline(%q) left a quote in %q", line, value)
			}
		}
		for _, w := range splitCmdline(line) {
			if strings.Contains(w, `"`) {
				t.Fatalf("splitCmdline(%q) left a quote in %q", line, w)
			}
		}
	})
}

func FuzzValidateInstanceID(f *testing.F) {
	f.Add("i-0123456789abcdef0")
	f.Add("i-0badc0de")
	f.Add("Not Specified")
	f.Fuzz(func(t *testing.T, id string) {
		err := validateInstanceID(id)
		if err != nil && !strings.HasPrefix(err.Error(), "invalid instance id ") {
			t.Fatalf("validateInstanceID(%q) = %v", id, err)
		}
		if err == nil && (len(id) != 10 && len(id) != 19 || !strings.HasPrefix(id, "i-")) {
			t.Fatalf("validateInstanceID(%q) accepted it", id)
		}
	})
}
