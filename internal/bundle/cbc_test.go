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

package bundle

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	mrand "math/rand/v2"
	"testing"
	"testing/iotest"
)

var (
	testKey = []byte("0123456789abcdef")
	testIV  = []byte("fedcba9876543210")
)

// pkcs7 pads independently of the code under test.
func pkcs7(b []byte) []byte {
	n := 16 - len(b)%16
	return append(bytes.Clone(b), bytes.Repeat([]byte{byte(n)}, n)...)
}

func TestCBCRoundTrip(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 15, 16, 17, 31, 32, 33, cbcChunk - 1, cbcChunk, cbcChunk + 1, cbcChunk + 16, 3*cbcChunk + 7} {
		plain := make([]byte, size)
		for i := range plain {
			plain[i] = byte(rng.Uint32())
		}
		want := rawCBC(t, testKey, testIV, pkcs7(plain), true)

		// Encrypt in uneven writes.
		var ct bytes.Buffer
		w, err := newCBCWriter(&ct, testKey, testIV)
		if err != nil {
			t.Fatal(err)
		}
		for rest := plain; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(5000))
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ct.Bytes(), want) {
			t.Fatalf("size %d: ciphertext differs from the reference", size)
		}

		// Decrypt from readers that return little at a time.
		for name, src := range map[string]io.Reader{
			"whole":    bytes.NewReader(want),
			"one byte": iotest.OneByteReader(bytes.NewReader(want)),
			"data+EOF": iotest.DataErrReader(iotest.HalfReader(bytes.NewReader(want))),
		} {
			r, err := newCBCReader(src, testKey, testIV)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("size %d, %s reader: read %d bytes, %v", size, name, len(got), err)
			}
		}
	}
}

func TestCBCReaderRejects(t *testing.T) {
	valid := rawCBC(t, testKey, testIV, pkcs7([]byte("hello")), true)
	withLastPlain := func(last []byte) []byte {
		plain := append(bytes.Repeat([]byte("a"), 16), last...)
		return rawCBC(t, testKey, testIV, plain, true)
	}
	for name, tc := range map[string]struct {
		ct   []byte
		want string
	}{
		"empty":          {nil, "corrupt bundle: ciphertext does not end on an AES block boundary"},
		"partial block":  {append(bytes.Clone(valid), 1), "corrupt bundle: ciphertext does not end on an AES block boundary"},
		"zero padding":   {withLastPlain(bytes.Repeat([]byte{0}, 16)), "corrupt bundle: bad cipher padding"},
		"padding of 17":  {withLastPlain(bytes.Repeat([]byte{17}, 16)), "corrupt bundle: bad cipher padding"},
		"uneven padding": {withLastPlain(append(bytes.Repeat([]byte{'b'}, 13), 2, 3, 3)), "corrupt bundle: bad cipher padding"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := newCBCReader(bytes.NewReader(tc.ct), testKey, testIV)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(r)
			if !errors.Is(err, ErrCorrupt) || err.Error() != tc.want {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}

	// The source's own errors pass through untouched.
	boom := errors.New("boom")
	r, err := newCBCReader(io.MultiReader(bytes.NewReader(valid[:16]), iotest.ErrReader(boom)), testKey, testIV)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err != boom { // the very error, not a wrapping
		t.Fatalf("error = %v, want the source's", err)
	}
	if _, err := newCBCReader(nil, []byte("short"), testIV); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

// FuzzCBCReader checks that any ciphertext either fails as ErrCorrupt or decrypts to a
// plaintext that encrypts back to it, whatever sizes the source reads in.
func FuzzCBCReader(f *testing.F) {
	f.Add(rawCBCNoT(pkcs7([]byte("hello"))), uint8(0))
	f.Add([]byte("0123456789abcdef0"), uint8(3))
	f.Fuzz(func(t *testing.T, ct []byte, chunk uint8) {
		var src io.Reader = bytes.NewReader(ct)
		if chunk%2 == 1 {
			src = iotest.OneByteReader(src)
		}
		r, err := newCBCReader(src, testKey, testIV)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(r)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		var again bytes.Buffer
		w, err := newCBCWriter(&again, testKey, testIV)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), ct) {
			t.Fatalf("decrypted %d bytes that do not encrypt back to the %d-byte ciphertext", len(plain), len(ct))
		}
	})
}

// rawCBCNoT encrypts whole blocks with the test key, for seeds (no *testing.T there).
func rawCBCNoT(plain []byte) []byte {
	block, err := aes.NewCipher(testKey)
	if err != nil {
		panic(err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, testIV).CryptBlocks(out, plain)
	return out
}
