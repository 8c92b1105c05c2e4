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
	"strings"
	"unicode/utf8"
)

// wildcard is a compiled EC2 filter value: * matches any run of characters, ? exactly one, and
// a backslash makes the next character literal (a trailing backslash is itself literal).
// Characters are runes; matching is case-sensitive.
//
// The pattern is kept as the segments between stars. Without a star the one segment must match
// the whole string; otherwise the first segment anchors at the start, the last at the end, and
// the middle ones are found leftmost in order, which is optimal because each segment has a fixed
// length in runes. Matching never backtracks past a star, so it is O(len(s)·len(pattern)).
type wildcard struct {
	segments [][]patternRune
	star     bool
}

// patternRune is one pattern position: a literal rune, or any rune when any is set.
type patternRune struct {
	r   rune
	any bool
}

func compileWildcard(p string) wildcard {
	w := wildcard{segments: [][]patternRune{nil}}
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		i += size
		cur := &w.segments[len(w.segments)-1]
		switch r {
		case '*':
			w.star = true
			w.segments = append(w.segments, nil)
		case '?':
			*cur = append(*cur, patternRune{any: true})
		case '\\':
			if i < len(p) {
				r, size = utf8.DecodeRuneInString(p[i:])
				i += size
			}
			*cur = append(*cur, patternRune{r: r})
		default:
			*cur = append(*cur, patternRune{r: r})
		}
	}
	return w
}

func (w wildcard) match(s string) bool {
	first := w.segments[0]
	if !w.star {
		n, ok := matchPrefix(first, s)
		return ok && n == len(s)
	}
	n, ok := matchPrefix(first, s)
	if !ok {
		return false
	}
	s = s[n:]
	last := w.segments[len(w.segments)-1]
	tail, ok := suffixStart(s, len(last))
	if !ok {
		return false
	}
	if n, ok := matchPrefix(last, s[tail:]); !ok || n != len(s)-tail {
		return false
	}
	s = s[:tail]
	for _, seg := range w.segments[1 : len(w.segments)-1] {
		end, ok := findSegment(seg, s)
		if !ok {
			return false
		}
		s = s[end:]
	}
	return true
}

// matchPrefix matches seg at the start of s and returns the bytes it covered.
func matchPrefix(seg []patternRune, s string) (int, bool) {
	n := 0
	for _, pr := range seg {
		if n >= len(s) {
			return 0, false
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if !pr.any && r != pr.r {
			return 0, false
		}
		n += size
	}
	return n, true
}

// suffixStart is the byte offset where the last runes runes of s begin.
func suffixStart(s string, runes int) (int, bool) {
	end := len(s)
	for ; runes > 0; runes-- {
		if end == 0 {
			return 0, false
		}
		_, size := utf8.DecodeLastRuneInString(s[:end])
		end -= size
	}
	return end, true
}

// findSegment finds seg's leftmost match in s and returns the byte offset just after it.
func findSegment(seg []patternRune, s string) (int, bool) {
	if len(seg) > 0 && !seg[0].any {
		// Skip quickly to candidates that start with the literal rune.
		for i := 0; i <= len(s); {
			j := strings.IndexRune(s[i:], seg[0].r)
			if j < 0 {
				return 0, false
			}
			i += j
			if n, ok := matchPrefix(seg, s[i:]); ok {
				return i + n, true
			}
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
		return 0, false
	}
	for i := 0; i <= len(s); {
		if n, ok := matchPrefix(seg, s[i:]); ok {
			return i + n, true
		}
		if i == len(s) {
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return 0, false
}
