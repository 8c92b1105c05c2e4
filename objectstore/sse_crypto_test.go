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

package objectstore

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func sealAll(t *testing.T, plain, key []byte, length uint64) []byte {
	t.Helper()
	r, err := newSealer(bytes.NewReader(plain), key, length)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openAll(stored, key []byte, parts int) ([]byte, error) {
	segs, err := segments(bytes.NewReader(stored), int64(len(stored)), parts)
	if err != nil {
		return nil, err
	}
	r, err := newOpener(bytes.NewReader(stored), key, segs, 0, plainLength(segs))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestSegmentLengths(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	for _, n := range []int{0, 1, sseChunk - 1, sseChunk, sseChunk + 1, 3*sseChunk + 5} {
		plain := patternData(n)
		stored := sealAll(t, plain, key, unknownLength)
		if int64(len(stored)) != segmentCipherLen(int64(n)) || segmentPlainLen(int64(len(stored))) != int64(n) {
			t.Fatalf("%d bytes stored in %d; lengths %d, %d", n, len(stored), segmentCipherLen(int64(n)), segmentPlainLen(int64(len(stored))))
		}
		got, err := openAll(stored, key, 0)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes opened: %v", n, err)
		}
	}
	// Two segments with known lengths, as parts are.
	a, b := patternData(sseChunk+3), patternData(10)
	stored := append(sealAll(t, a, key, uint64(len(a))), sealAll(t, b, key, uint64(len(b)))...)
	got, err := openAll(stored, key, 2)
	if err != nil || !bytes.Equal(got, append(append([]byte{}, a...), b...)) {
		t.Fatalf("two segments opened: %v", err)
	}
	// A known length the body does not match fails.
	r, _ := newSealer(bytes.NewReader(a), key, uint64(len(a)+1))
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("a short body sealed")
	}
	r, _ = newSealer(bytes.NewReader(a), key, uint64(len(a)-1))
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("a long body sealed")
	}
}

func TestSegmentTampering(t *testing.T) {
	key := bytes.Repeat([]byte{2}, 32)
	plain := patternData(3 * sseChunk)
	stored := sealAll(t, plain, key, unknownLength)
	chunkLen := sseChunk + sseTagLen
	for name, bad := range map[string][]byte{
		"flipped bit":   func() []byte { b := bytes.Clone(stored); b[sseHeaderLen+chunkLen+5] ^= 1; return b }(),
		"nonce changed": func() []byte { b := bytes.Clone(stored); b[6] ^= 1; return b }(),
		"chunks swapped": func() []byte {
			b := bytes.Clone(stored)
			c1 := bytes.Clone(b[sseHeaderLen : sseHeaderLen+chunkLen])
			copy(b[sseHeaderLen:], b[sseHeaderLen+chunkLen:sseHeaderLen+2*chunkLen])
			copy(b[sseHeaderLen+chunkLen:], c1)
			return b
		}(),
		"cut at a chunk": stored[:sseHeaderLen+2*chunkLen],
	} {
		got, err := openAll(bad, key, 0)
		if err == nil {
			t.Fatalf("%s: opened %d bytes", name, len(got))
		}
		if !errors.Is(err, errSSECorrupt) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := openAll(stored, bytes.Repeat([]byte{3}, 32), 0); !errors.Is(err, errSSECorrupt) {
		t.Fatalf("opened with another key: %v", err)
	}
}
