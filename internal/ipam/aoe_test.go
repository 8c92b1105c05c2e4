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

package ipam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseAoEShelves(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "1-100", want: "1-100"},
		{in: " 7 ", want: "7-7"},
		{in: "0-65534", want: "0-65534"},
		{in: "1-65535", err: "outside"},
		{in: "-1-3", err: "not FIRST-LAST"},
		{in: "5-4", err: "empty"},
		{in: "a-b", err: "not FIRST-LAST"},
		{in: "", err: "not FIRST-LAST"},
	} {
		r, err := ParseAoEShelves(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || r.String() != tc.want):
			t.Errorf("%q: %v %v, want %s", tc.in, r, err, tc.want)
		}
	}
	if n := (AoEShelves{First: 1, Last: 2}).Size(); n != 510 {
		t.Fatalf("size %d, want 510", n)
	}
	for _, bad := range []string{"1", "1.255", "65535.0", "x.1", "1.-1"} {
		if _, err := ParseAoEAddress(bad); err == nil {
			t.Errorf("address %q parsed", bad)
		}
	}
}

// Two managers racing for AoE addresses never hand one out twice, and every slot of a shelf
// (0-254, not the broadcast slot 255) is used before the pool is exhausted.
func TestAoEAddressesAreExclusive(t *testing.T) {
	ctx := context.Background()
	als := allocators(t, 2)
	r := AoEShelves{First: 3, Last: 3}
	got, errs := race(als, 260, func(al *Allocator, h string) (string, error) {
		a, err := al.AllocateAoE(ctx, r, h)
		return a.String(), err
	})
	checkRace(t, als[0], AoELabel, got, errs, 255)
	for i, v := range got {
		if errs[i] != nil {
			continue
		}
		a, err := ParseAoEAddress(v)
		if err != nil || a.Shelf != 3 {
			t.Fatalf("h%d got %q (%v)", i, v, err)
		}
	}
	// The holder keeps its address; released, it is free again.
	var holder, addr string
	for i, v := range got {
		if errs[i] == nil {
			holder, addr = fmt.Sprintf("h%d", i), v
			break
		}
	}
	again, err := als[1].AllocateAoE(ctx, r, holder)
	if err != nil || again.String() != addr {
		t.Fatalf("again: %v %v, want %s", again, err, addr)
	}
	if err := als[0].Release(ctx, AoELabel, holder); err != nil {
		t.Fatal(err)
	}
	next, err := als[0].AllocateAoE(ctx, r, "newcomer")
	if err != nil || next.String() != addr {
		t.Fatalf("after release: %v %v, want %s", next, err, addr)
	}
	if _, err := als[0].AllocateAoE(ctx, r, "late"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("full pool: %v", err)
	}
}
