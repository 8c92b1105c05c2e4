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

package query

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{"", []string{""}, []string{"a"}},
		{"abc", []string{"abc"}, []string{"", "ab", "abcd", "xabc", "ABC"}},
		{"*", []string{"", "a", "anything at all"}, nil},
		{"**", []string{"", "ab"}, nil},
		{"a*", []string{"a", "abc"}, []string{"", "ba"}},
		{"*a", []string{"a", "cba"}, []string{"", "ab"}},
		{"*a*", []string{"a", "xax", "aaa"}, []string{"", "bcd"}},
		{"a*b*c", []string{"abc", "aXbYc", "abbbc", "acbc"}, []string{"ab", "acb", "abcd"}},
		{"a*a", []string{"aa", "aba", "aaa"}, []string{"a"}},
		{"ab*ba", []string{"abba", "ab-ba"}, []string{"aba"}},
		{"?", []string{"a", "é", "界"}, []string{"", "ab"}},
		{"??", []string{"ab", "éé"}, []string{"a", "abc"}},
		{"a?c", []string{"abc", "a?c", "aéc"}, []string{"ac", "abbc"}},
		{"*?", []string{"a", "ab"}, []string{""}},
		{"?*?", []string{"ab", "abc"}, []string{"a"}},
		{"*?x?*", []string{"axb", "..x.."}, []string{"xb", "ax", "x"}},
		{`\*`, []string{"*"}, []string{"", "a", `\*`}},
		{`\?`, []string{"?"}, []string{"a"}},
		{`\\`, []string{`\`}, []string{`\\`}},
		{`a\`, []string{`a\`}, []string{"a"}},
		{`\a`, []string{"a"}, []string{`\a`}},
		{`\*amazon\?\\`, []string{`*amazon?\`}, []string{"xamazonx\\"}},
		{`*\**`, []string{"*", "a*b"}, []string{"ab"}},
		{"i-0*f0", []string{"i-0123456789abcdef0"}, []string{"i-0123456789abcdef1"}},
		{"été*", []string{"été", "étés"}, []string{"ete"}},
		{"*界", []string{"世界"}, []string{"世"}},
	}
	for _, tt := range tests {
		w := compileWildcard(tt.pattern)
		for _, s := range tt.match {
			if !w.match(s) {
				t.Errorf("%q does not match %q", tt.pattern, s)
			}
		}
		for _, s := range tt.nomatch {
			if w.match(s) {
				t.Errorf("%q matches %q", tt.pattern, s)
			}
		}
	}
}

// wildcardRegexp translates a pattern to an anchored regular expression, independently of
// compileWildcard, as the reference for the fuzz test.
func wildcardRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '\\':
			if i+1 < len(rs) {
				i++
			}
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

func FuzzWildcard(f *testing.F) {
	f.Add("a*b?c", "aXXbYc")
	f.Add(`\*amazon\?\\`, `*amazon?\`)
	f.Add("*?x?*", "..x..")
	f.Add("é?*界", "éa世界")
	f.Add("a\\", "a\\")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > MaxFilterValueLength || len(s) > 4096 {
			return
		}
		got := compileWildcard(pattern).match(s) // never panics, whatever the bytes
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // Parse lets only valid UTF-8 through; the reference compares runes
		}
		if want := wildcardRegexp(pattern).MatchString(s); got != want {
			t.Fatalf("compileWildcard(%q).match(%q) = %v, the reference says %v", pattern, s, got, want)
		}
	})
}
