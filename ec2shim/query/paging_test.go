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

package query_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"pinet.io/pinet/ec2shim/query"
)

var testTokenKey = []byte("0123456789abcdef0123456789abcdef")

func newTokens(t testing.TB) *query.PageTokens {
	t.Helper()
	p, err := query.NewPageTokens(testTokenKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPageSize(t *testing.T) {
	tests := []struct {
		name       string
		maxResults *int32
		want       int
		message    string
	}{
		{"absent", nil, 0, ""},
		{"min", ptr[int32](5), 5, ""},
		{"max", ptr[int32](1000), 1000, ""},
		{"below", ptr[int32](4), 0, "Value (4) for parameter MaxResults is invalid. Expecting a value from 5 to 1000."},
		{"above", ptr[int32](1001), 0, "Value (1001) for parameter MaxResults is invalid. Expecting a value from 5 to 1000."},
		{"negative", ptr[int32](-1), 0, "Value (-1) for parameter MaxResults is invalid. Expecting a value from 5 to 1000."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := query.PageSize(tt.maxResults, 5, 1000, 0)
			if tt.message != "" {
				wantError(t, err, "InvalidParameterValue", tt.message)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	if got, err := query.PageSize(nil, 1, 100, 50); got != 50 || err != nil {
		t.Fatalf("fallback: got %d, %v", got, err)
	}
}

func TestPage(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		offset, size int
		want         []string
		next         int
		more         bool
	}{
		{0, 2, []string{"a", "b"}, 2, true},
		{2, 2, []string{"c", "d"}, 4, true},
		{4, 2, []string{"e"}, 5, false},
		{3, 2, []string{"d", "e"}, 5, false},
		{0, 0, items, 5, false},
		{1, -1, items[1:], 5, false},
		{5, 2, []string{}, 5, false},
		{9, 2, []string{}, 5, false},
		{-3, 1, []string{"a"}, 1, true},
		{0, 1 << 40, items, 5, false},
	}
	for _, tt := range tests {
		page, next, more := query.Page(items, tt.offset, tt.size)
		if !reflect.DeepEqual(page, tt.want) || next != tt.next || more != tt.more {
			t.Errorf("Page(%d, %d) = %q, %d, %v; want %q, %d, %v", tt.offset, tt.size, page, next,
				more, tt.want, tt.next, tt.more)
		}
	}
}

func TestPageTokensRoundTrip(t *testing.T) {
	p := newTokens(t)
	for _, c := range []query.Cursor{
		{}, {Offset: 5}, {Offset: 1<<31 - 1}, {After: "i-0123456789abcdef0"},
		{Offset: 3, After: "admin/web-1 é"}, {After: strings.Repeat("k", 2048)},
	} {
		token := p.Encode("scope", c)
		if strings.ContainsAny(token, "+/=") {
			t.Errorf("token %q is not URL-safe", token)
		}
		got, err := p.Decode("scope", token)
		if err != nil || got != c {
			t.Errorf("Decode(Encode(%+v)) = %+v, %v", c, got, err)
		}
	}
	if got := p.Encode("s", query.Cursor{Offset: -4}); got != p.Encode("s", query.Cursor{}) {
		t.Error("a negative offset must encode as 0")
	}
	if got, err := p.Decode("scope", ""); err != nil || got != (query.Cursor{}) {
		t.Errorf("an empty token is the first page: %+v, %v", got, err)
	}
}

func TestPageTokensRejects(t *testing.T) {
	p := newTokens(t)
	good := p.Encode("scope", query.Cursor{Offset: 10, After: "k"})
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	otherKey, err := query.NewPageTokens([]byte("another key of sixteen+ bytes"))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		scope, token string
	}{
		"other scope":        {"scope2", good},
		"other key":          {"scope", otherKey.Encode("scope", query.Cursor{Offset: 10, After: "k"})},
		"tampered version":   {"scope", flip(0)},
		"tampered offset":    {"scope", flip(1)},
		"tampered mac":       {"scope", flip(len(raw) - 1)},
		"truncated":          {"scope", good[:len(good)-2]},
		"extended":           {"scope", good + "AA"},
		"garbage":            {"scope", "garbage"},
		"not base64":         {"scope", "!!!!"},
		"padded":             {"scope", good + "="},
		"std alphabet":       {"scope", "+/+/+/+/+/+/+/+/+/+/+/+/"},
		"short":              {"scope", "AA"},
		"huge":               {"scope", strings.Repeat("A", 5000)},
		"offset past int32":  {"scope", forge(t, "scope", []byte{1, 0x80, 0x80, 0x80, 0x80, 0x10, 0})},
		"length mismatch":    {"scope", forge(t, "scope", []byte{1, 0, 5, 'a'})},
		"trailing bytes":     {"scope", forge(t, "scope", []byte{1, 0, 1, 'a', 'b'})},
		"unterminated":       {"scope", forge(t, "scope", []byte{1, 0x80})},
		"unknown version":    {"scope", forge(t, "scope", []byte{2, 0, 0})},
		"empty payload":      {"scope", forge(t, "scope", []byte{})},
		"length overflowing": {"scope", forge(t, "scope", []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := p.Decode(tt.scope, tt.token)
			wantError(t, err, "InvalidParameterValue", "Invalid value for NextToken")
			if c != (query.Cursor{}) {
				t.Errorf("got cursor %+v with the error", c)
			}
		})
	}
}

// forge authenticates an arbitrary payload the way PageTokens does (HMAC-SHA256 over the
// scope's length, the scope and the payload, cut to 16 bytes), to reach the checks behind the MAC.
func forge(t *testing.T, scope string, payload []byte) string {
	t.Helper()
	h := hmac.New(sha256.New, testTokenKey)
	h.Write(binary.AppendUvarint(nil, uint64(len(scope))))
	h.Write([]byte(scope))
	h.Write(payload)
	raw := append(append([]byte(nil), payload...), h.Sum(nil)[:16]...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestForgeMatchesEncode keeps forge honest: for a payload Encode can make, both agree.
func TestForgeMatchesEncode(t *testing.T) {
	p := newTokens(t)
	if got, want := forge(t, "s", []byte{1, 7, 1, 'k'}), p.Encode("s", query.Cursor{Offset: 7, After: "k"}); got != want {
		t.Fatalf("forge %q, Encode %q", got, want)
	}
}

func TestNewPageTokensKey(t *testing.T) {
	if _, err := query.NewPageTokens([]byte("short")); err == nil ||
		err.Error() != "page token key has 5 bytes, need at least 16" {
		t.Fatalf("got %v", err)
	}
	key := []byte("0123456789abcdef")
	p, err := query.NewPageTokens(key)
	if err != nil {
		t.Fatal(err)
	}
	token := p.Encode("s", query.Cursor{Offset: 1})
	key[0] = 'X' // the codec keeps its own copy
	if _, err := p.Decode("s", token); err != nil {
		t.Fatalf("changing the caller's key slice broke the codec: %v", err)
	}
}

func FuzzNextToken(f *testing.F) {
	p := newTokens(f)
	f.Add("scope", p.Encode("scope", query.Cursor{Offset: 5}))
	f.Add("scope", p.Encode("scope", query.Cursor{Offset: 3, After: "i-1"}))
	f.Add("", "AQAA")
	f.Add("x", "garbage")
	f.Fuzz(func(t *testing.T, scope, token string) {
		c, err := p.Decode(scope, token)
		if err != nil {
			if e := query.ErrorFrom(err); e.Code != "InvalidParameterValue" || e.Message != "Invalid value for NextToken" {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if c.Offset < 0 {
			t.Fatalf("negative offset %d", c.Offset)
		}
		again, err := p.Decode(scope, p.Encode(scope, c))
		if err != nil || again != c {
			t.Fatalf("re-encoding %+v gave %+v, %v", c, again, err)
		}
	})
}
