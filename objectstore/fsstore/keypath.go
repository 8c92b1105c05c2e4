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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Object keys become paths by splitting them at "/" into segments: every segment but the last
// names a directory, the last names the object file. An entry's first byte says what it is, so a
// key "a" and a key "a/b" can live side by side and no entry is ever "." or "..":
//
//	o<segment>  an object            O<sha256 hex>  an object whose segment is too long for a name
//	d<segment>  a directory          D<sha256 hex>  a directory whose segment is too long; its
//	                                                 segment is kept in the file longDirNameFile
//
// Segments keep their bytes except '%' and control characters, which are written as %XX.
// Listing sorts entries by their segment (a directory's as segment+"/"), which walks keys in
// lexicographic order.
const (
	objectTag     = 'o'
	longObjectTag = 'O'
	dirTag        = 'd'
	longDirTag    = 'D'

	// longDirNameFile holds the segment of a D directory. Its name cannot clash with an entry.
	longDirNameFile = "=name"

	// maxEncodedSegment keeps a tagged name under the 255-byte limit of Linux file systems.
	maxEncodedSegment = 250

	// MaxKeyLength is the longest object key S3 accepts, in bytes.
	MaxKeyLength = 1024
)

// ValidKey reports why key cannot be an object key, or nil.
func ValidKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%w: key is longer than %d bytes", ErrKeyTooLong, MaxKeyLength)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalidKey)
	}
	return nil
}

// escapeSegment writes '%' and control characters as %XX and keeps every other byte.
func escapeSegment(seg string) string {
	n := 0
	for i := 0; i < len(seg); i++ {
		if needsEscape(seg[i]) {
			n++
		}
	}
	if n == 0 {
		return seg
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(seg) + 2*n)
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsEscape(c byte) bool {
	return c == '%' || c < 0x20 || c == 0x7f
}

// unescapeSegment reverses escapeSegment; ok is false for a name escapeSegment cannot produce.
func unescapeSegment(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '/' })
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", false
			}
			v, err := hex.DecodeString(s[i+1 : i+3])
			if err != nil || !needsEscape(v[0]) || s[i+1:i+3] != strings.ToUpper(s[i+1:i+3]) {
				return "", false
			}
			b.WriteByte(v[0])
			i += 2
		case needsEscape(c) || c == '/':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// entryName is the file name of a segment, as an object or as a directory.
func entryName(seg string, dir bool) string {
	esc := escapeSegment(seg)
	if len(esc) > maxEncodedSegment {
		sum := sha256.Sum256([]byte(seg))
		tag := longObjectTag
		if dir {
			tag = longDirTag
		}
		return string(tag) + hex.EncodeToString(sum[:])
	}
	if dir {
		return string(dirTag) + esc
	}
	return string(objectTag) + esc
}

// entry is a decoded directory entry.
type entry struct {
	name string
	dir  bool
	// long entries name a hash; their segment must be read from the disk.
	long bool
	seg  string
}

// parseEntry decodes a directory entry name; ok is false for names that are no entry (such as
// longDirNameFile).
func parseEntry(name string) (entry, bool) {
	if name == "" {
		return entry{}, false
	}
	e := entry{name: name}
	switch name[0] {
	case objectTag, dirTag:
		if len(name)-1 > maxEncodedSegment {
			return entry{}, false
		}
		seg, ok := unescapeSegment(name[1:])
		if !ok {
			return entry{}, false
		}
		e.seg, e.dir = seg, name[0] == dirTag
	case longObjectTag, longDirTag:
		if len(name) != 1+2*sha256.Size {
			return entry{}, false
		}
		if _, err := hex.DecodeString(name[1:]); err != nil {
			return entry{}, false
		}
		e.long, e.dir = true, name[0] == longDirTag
	default:
		return entry{}, false
	}
	return e, true
}

// dirStep is one directory on the way to an object file.
type dirStep struct {
	// rel is the directory's path relative to the objects directory.
	rel string
	// seg is the key segment it stands for.
	seg string
}

// keyPath is where key's object file lives relative to a bucket's objects directory, and the
// directories above it, outermost first.
func keyPath(key string) (file string, dirs []dirStep) {
	segs := strings.Split(key, "/")
	rel := ""
	dirs = make([]dirStep, 0, len(segs)-1)
	for _, seg := range segs[:len(segs)-1] {
		rel = filepath.Join(rel, entryName(seg, true))
		dirs = append(dirs, dirStep{rel: rel, seg: seg})
	}
	return filepath.Join(rel, entryName(segs[len(segs)-1], false)), dirs
}

// prefixDir is the directory holding every key that starts with prefix, relative to the objects
// directory ("" for the objects directory itself), and the key prefix its entries share.
func prefixDir(prefix string) (dir, dirPrefix string) {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return "", ""
	}
	segs := strings.Split(prefix[:i], "/")
	parts := make([]string, len(segs))
	for j, seg := range segs {
		parts[j] = entryName(seg, true)
	}
	return filepath.Join(parts...), prefix[:i+1]
}
