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

package ids

import (
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := New(Instance)
		if !Valid(Instance, id) {
			t.Fatalf("New(%q) = %q, not a valid id", Instance, id)
		}
		if seen[id] {
			t.Fatalf("New returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestDerive(t *testing.T) {
	a := Derive(Reservation, "proj/token")
	if a != Derive(Reservation, "proj/token") {
		t.Fatal("Derive is not deterministic")
	}
	if a == Derive(Reservation, "proj/token2") {
		t.Fatal("Derive gave two seeds one id")
	}
	if !Valid(Reservation, a) {
		t.Fatalf("Derive gave invalid id %q", a)
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		prefix, id string
		want       bool
	}{
		{"i", "i-0123456789abcdef0", true},
		{"i", "i-0123456789abcdef", false},
		{"i", "i-0123456789abcdef01", false},
		{"i", "i-0123456789ABCDEF0", false},
		{"i", "ami-0123456789abcdef0", false},
		{"ami", "ami-0123456789abcdef0", true},
		{"vol", "vol-0123456789abcdeg0", false},
		{"i", "", false},
	} {
		if got := Valid(tc.prefix, tc.id); got != tc.want {
			t.Errorf("Valid(%q, %q) = %v, want %v", tc.prefix, tc.id, got, tc.want)
		}
	}
	if p := Prefix("eipalloc-0123456789abcdef0"); p != "eipalloc" {
		t.Errorf("Prefix = %q", p)
	}
	if p := Prefix(strings.Repeat("x", 30)); p != "" {
		t.Errorf("Prefix of garbage = %q", p)
	}
}
