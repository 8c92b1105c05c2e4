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
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// patternReader yields n deterministic pseudo-random bytes without holding them, so large
// test objects cost no memory.
type patternReader struct {
	n, off int64
	seed   uint64
}

func newPattern(n int64, seed uint64) *patternReader { return &patternReader{n: n, seed: seed} }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rest := p.n - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	for i := range b {
		x := uint64(p.off+int64(i))*0x9e3779b97f4a7c15 + p.seed
		x ^= x >> 29
		b[i] = byte(x)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// patternSum is the SHA-256 of a pattern, for comparing what comes back.
func patternSum(n int64, seed uint64) string {
	return sumOf(newPattern(n, seed))
}

func sumOf(r io.Reader) string {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "read error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// patternFile writes a pattern to a file in a test's temporary directory.
func patternFile(t *testing.T, n int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pattern.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, newPattern(n, seed)); err != nil {
		t.Fatal(err)
	}
	return path
}
