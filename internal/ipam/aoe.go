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
	"fmt"
	"strconv"
	"strings"
)

// AoELabel is the pool label of AoE address claims: every shelf range shares them, so changing
// the range never hands out an address twice.
const AoELabel = "aoe_addresses"

// MaxAoEShelf and MaxAoESlot are the largest AoE addresses a volume may have: 0xffff and 0xff
// are the broadcast shelf and slot.
const (
	MaxAoEShelf = 65534
	MaxAoESlot  = 254
)

// AoEShelves are the shelves volumes are given addresses on, First to Last inclusive; every shelf
// has the slots 0 to MaxAoESlot.
type AoEShelves struct {
	First, Last int32
}

// AoEAddress is a shelf.slot address.
type AoEAddress struct {
	Shelf int32
	Slot  int32
}

// String is "shelf.slot".
func (a AoEAddress) String() string { return fmt.Sprintf("%d.%d", a.Shelf, a.Slot) }

// ParseAoEShelves parses "FIRST-LAST" (or a single shelf).
func ParseAoEShelves(s string) (AoEShelves, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		hi = lo
	}
	first, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
	last, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 32)
	switch {
	case err1 != nil || err2 != nil:
		return AoEShelves{}, fmt.Errorf("AoE shelf range %q is not FIRST-LAST", s)
	case first < 0 || last > MaxAoEShelf:
		return AoEShelves{}, fmt.Errorf("AoE shelf range %q is outside 0-%d", s, MaxAoEShelf)
	case first > last:
		return AoEShelves{}, fmt.Errorf("AoE shelf range %q is empty: %d is after %d", s, first, last)
	}
	return AoEShelves{First: int32(first), Last: int32(last)}, nil
}

// String is the range as ParseAoEShelves reads it.
func (r AoEShelves) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// Size is how many addresses the range holds.
func (r AoEShelves) Size() int64 { return (int64(r.Last) - int64(r.First) + 1) * (MaxAoESlot + 1) }

// Label is AoELabel.
func (r AoEShelves) Label() string { return AoELabel }

func (r AoEShelves) candidates(_ []string, _ string, fn func(name, value string) bool) {
	for shelf := r.First; shelf <= r.Last; shelf++ {
		for slot := int32(0); slot <= MaxAoESlot; slot++ {
			a := AoEAddress{Shelf: shelf, Slot: slot}
			if !fn(fmt.Sprintf("aoe-%d-%d", shelf, slot), a.String()) {
				return
			}
		}
	}
}

// ParseAoEAddress parses "shelf.slot".
func ParseAoEAddress(s string) (AoEAddress, error) {
	sh, sl, ok := strings.Cut(s, ".")
	shelf, err1 := strconv.ParseInt(sh, 10, 32)
	slot, err2 := strconv.ParseInt(sl, 10, 32)
	if !ok || err1 != nil || err2 != nil || shelf < 0 || shelf > MaxAoEShelf || slot < 0 || slot > MaxAoESlot {
		return AoEAddress{}, fmt.Errorf("%q is not an AoE address shelf.slot", s)
	}
	return AoEAddress{Shelf: int32(shelf), Slot: int32(slot)}, nil
}

// AllocateAoE returns the AoE address holder (a volume's UID) holds, claiming the first free one
// of the range if it holds none. Release it with Release(ctx, AoELabel, holder).
func (al *Allocator) AllocateAoE(ctx context.Context, r AoEShelves, holder string) (AoEAddress, error) {
	v, err := al.take(ctx, r, holder, false)
	if err != nil {
		return AoEAddress{}, err
	}
	a, err := ParseAoEAddress(v)
	if err != nil {
		return AoEAddress{}, fmt.Errorf("the AoE claim of %s: %w", holder, err)
	}
	return a, nil
}
