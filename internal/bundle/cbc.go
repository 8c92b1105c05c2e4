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
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// cbcChunk is how much ciphertext the streaming cipher handles at a time.
const cbcChunk = 64 << 10

// cbcWriter encrypts what is written to it with AES-CBC and writes the ciphertext on; Close adds
// the PKCS#7 padding (always 1 to 16 bytes, as openssl enc does) and does not close dst.
type cbcWriter struct {
	dst  io.Writer
	mode cipher.BlockMode
	buf  []byte // plaintext not yet encrypted, less than cbcChunk
}

func newCBCWriter(dst io.Writer, key, iv []byte) (*cbcWriter, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating AES cipher: %w", err)
	}
	return &cbcWriter{dst: dst, mode: cipher.NewCBCEncrypter(block, iv), buf: make([]byte, 0, cbcChunk)}, nil
}

func (w *cbcWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		written += n
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(len(w.buf)); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// flush encrypts and writes the first n bytes of buf (a multiple of the block size).
func (w *cbcWriter) flush(n int) error {
	w.mode.CryptBlocks(w.buf[:n], w.buf[:n])
	if _, err := w.dst.Write(w.buf[:n]); err != nil {
		return err
	}
	w.buf = w.buf[:copy(w.buf, w.buf[n:])]
	return nil
}

func (w *cbcWriter) Close() error {
	pad := aes.BlockSize - len(w.buf)%aes.BlockSize
	for range pad {
		w.buf = append(w.buf, byte(pad))
	}
	return w.flush(len(w.buf))
}

// cbcReader decrypts AES-CBC ciphertext read from src and strips the PKCS#7 padding. It holds
// back the last block until src ends, since only then is it known to carry the padding.
type cbcReader struct {
	src   io.Reader
	mode  cipher.BlockMode
	in    []byte // ciphertext read but not yet decrypted
	out   []byte // plaintext ready for Read
	plain []byte // backing store of out
	err   error  // sticky; io.EOF once the padding checked out
}

func newCBCReader(src io.Reader, key, iv []byte) (*cbcReader, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating AES cipher: %w", err)
	}
	return &cbcReader{
		src:   src,
		mode:  cipher.NewCBCDecrypter(block, iv),
		in:    make([]byte, 0, cbcChunk+aes.BlockSize),
		plain: make([]byte, cbcChunk+aes.BlockSize),
	}, nil
}

func (r *cbcReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// fill reads more ciphertext and decrypts every complete block but the last.
func (r *cbcReader) fill() {
	n, err := r.src.Read(r.in[len(r.in):cap(r.in)])
	r.in = r.in[:len(r.in)+n]
	switch {
	case errors.Is(err, io.EOF):
		r.finish()
		return
	case err != nil:
		r.err = err
		return
	}
	ready := len(r.in) / aes.BlockSize * aes.BlockSize
	if ready == len(r.in) {
		ready -= aes.BlockSize // might be the padded last block
	}
	if ready <= 0 {
		return
	}
	r.mode.CryptBlocks(r.plain[:ready], r.in[:ready])
	r.out = r.plain[:ready]
	r.in = r.in[:copy(r.in, r.in[ready:])]
}

// finish decrypts what is left at the end of the ciphertext and checks the padding.
func (r *cbcReader) finish() {
	n := len(r.in)
	if n == 0 || n%aes.BlockSize != 0 {
		r.err = fmt.Errorf("%w: ciphertext does not end on an AES block boundary", ErrCorrupt)
		return
	}
	r.mode.CryptBlocks(r.plain[:n], r.in)
	r.in = r.in[:0]
	pad := int(r.plain[n-1])
	if pad < 1 || pad > aes.BlockSize {
		r.err = fmt.Errorf("%w: bad cipher padding", ErrCorrupt)
		return
	}
	for _, b := range r.plain[n-pad : n] {
		if int(b) != pad {
			r.err = fmt.Errorf("%w: bad cipher padding", ErrCorrupt)
			return
		}
	}
	r.out = r.plain[:n-pad]
	r.err = io.EOF
}
