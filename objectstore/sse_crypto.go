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
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Encrypted objects are stored as segments: one for an object written whole, one per part for
// one assembled by a multipart upload. A segment is a header — sseMagic, an 8-byte random nonce
// prefix, the plaintext length (unknownLength when the writer did not know it) and 4 zero bytes
// — followed by the plaintext in sseChunk-byte chunks, each sealed by AES-256-GCM under the
// object's data key with the nonce prefix and the chunk's index as nonce, and the header, the
// index and whether it is the last chunk as additional data, so chunks can neither be moved,
// dropped nor cut off. A segment has at least one chunk (an empty last one for no data). A
// range is read by opening only the chunks it covers.
const (
	sseMagic      = "PSE1"
	sseHeaderLen  = 24
	sseChunk      = 64 << 10
	sseTagLen     = 16
	unknownLength = ^uint64(0)
)

var errSSECorrupt = errors.New("encrypted object data does not authenticate")

// segmentCipherLen is the stored length of a segment holding p bytes.
func segmentCipherLen(p int64) int64 {
	n := (p + sseChunk - 1) / sseChunk
	if n == 0 {
		n = 1
	}
	return sseHeaderLen + p + n*sseTagLen
}

// segmentPlainLen is the plaintext length of a segment stored in c bytes, or -1 when no
// plaintext length gives c.
func segmentPlainLen(c int64) int64 {
	body := c - sseHeaderLen
	if body < sseTagLen {
		return -1
	}
	n := (body + sseChunk + sseTagLen - 1) / (sseChunk + sseTagLen)
	p := body - n*sseTagLen
	if p < 0 || segmentCipherLen(p) != c {
		return -1
	}
	return p
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func chunkNonce(prefix []byte, i uint32) []byte {
	nonce := make([]byte, 12)
	copy(nonce, prefix)
	binary.BigEndian.PutUint32(nonce[8:], i)
	return nonce
}

func chunkAAD(header []byte, i uint32, last bool) []byte {
	aad := append(append([]byte{}, header...), 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(aad[sseHeaderLen:], i)
	if last {
		aad[sseHeaderLen+4] = 1
	}
	return aad
}

// sealer encrypts a plaintext stream into one segment.
type sealer struct {
	r      io.Reader
	aead   cipher.AEAD
	header []byte
	want   uint64
	read   uint64
	// pending is the next chunk's plaintext, read ahead to learn whether it is the last.
	pending       []byte
	index         uint32
	out           []byte
	started, done bool
}

// newSealer encrypts r under key as one segment; length is the plaintext length when known,
// else unknownLength. A known length that r does not match fails the read.
func newSealer(r io.Reader, key []byte, length uint64) (io.Reader, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	header := make([]byte, sseHeaderLen)
	copy(header, sseMagic)
	if _, err := rand.Read(header[4:12]); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint64(header[12:20], length)
	return &sealer{r: r, aead: aead, header: header, want: length}, nil
}

func (s *sealer) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.done {
			return 0, io.EOF
		}
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// fill seals the next chunk into out (the header first).
func (s *sealer) fill() error {
	if !s.started {
		s.started = true
		s.out = append(s.out[:0], s.header...)
		var err error
		if s.pending, err = s.readChunk(); err != nil {
			return err
		}
		return nil
	}
	next, err := s.readChunk()
	if err != nil {
		return err
	}
	last := len(next) == 0
	if last && s.want != unknownLength && s.read != s.want {
		return s3Error(CodeIncompleteBody)
	}
	s.out = s.aead.Seal(s.out[:0], chunkNonce(s.header[4:12], s.index), s.pending, chunkAAD(s.header, s.index, last))
	s.index++
	s.pending = next
	s.done = last
	return nil
}

// readChunk reads up to sseChunk bytes; an empty chunk means the stream ended.
func (s *sealer) readChunk() ([]byte, error) {
	buf := make([]byte, sseChunk)
	n, err := io.ReadFull(s.r, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	s.read += uint64(n)
	if s.want != unknownLength && s.read > s.want {
		return nil, s3Error(CodeIncompleteBody, "The payload is longer than its declared length.")
	}
	return buf[:n], nil
}

// segment is one segment of a stored encrypted object.
type segment struct {
	off    int64 // where its header begins in the stored data
	plain  int64 // its plaintext length
	start  int64 // its first byte's offset in the object's plaintext
	header []byte
}

// segments finds the segments of stored data of length size read through r: one when parts
// is 0, else parts segments, each with its plaintext length in its header.
func segments(r io.ReaderAt, size int64, parts int) ([]segment, error) {
	var segs []segment
	var off, start int64
	for {
		header := make([]byte, sseHeaderLen)
		if _, err := r.ReadAt(header, off); err != nil {
			return nil, fmt.Errorf("reading an encryption header: %w", err)
		}
		if string(header[:4]) != sseMagic {
			return nil, errSSECorrupt
		}
		plain := int64(-1)
		if l := binary.BigEndian.Uint64(header[12:20]); l != unknownLength && l <= uint64(size) {
			plain = int64(l)
		}
		if parts == 0 {
			if plain < 0 {
				plain = segmentPlainLen(size - off)
			}
			if plain < 0 || off+segmentCipherLen(plain) != size {
				return nil, errSSECorrupt
			}
		}
		if plain < 0 || off+segmentCipherLen(plain) > size {
			return nil, errSSECorrupt
		}
		segs = append(segs, segment{off: off, plain: plain, start: start, header: header})
		off += segmentCipherLen(plain)
		start += plain
		if off == size {
			return segs, nil
		}
	}
}

// plainLength is the total plaintext length of segs.
func plainLength(segs []segment) int64 {
	if len(segs) == 0 {
		return 0
	}
	last := segs[len(segs)-1]
	return last.start + last.plain
}

// opener streams the plaintext of a range of an encrypted object, chunk by chunk.
type opener struct {
	r        io.ReaderAt
	aead     cipher.AEAD
	segs     []segment
	pos, end int64 // the plaintext range still to send
	out      []byte
}

func newOpener(r io.ReaderAt, key []byte, segs []segment, start, length int64) (io.Reader, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &opener{r: r, aead: aead, segs: segs, pos: start, end: start + length}, nil
}

func (o *opener) Read(p []byte) (int, error) {
	for len(o.out) == 0 {
		if o.pos >= o.end {
			return 0, io.EOF
		}
		if err := o.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, o.out)
	o.out = o.out[n:]
	return n, nil
}

// fill opens the chunk holding pos and keeps what of it lies in the range.
func (o *opener) fill() error {
	seg := o.segs[0]
	for _, s := range o.segs {
		if o.pos >= s.start && o.pos < s.start+s.plain {
			seg = s
			break
		}
	}
	within := o.pos - seg.start
	i := within / sseChunk
	chunks := (seg.plain + sseChunk - 1) / sseChunk
	plainLen := min(int64(sseChunk), seg.plain-i*sseChunk)
	buf := make([]byte, plainLen+sseTagLen)
	if _, err := o.r.ReadAt(buf, seg.off+sseHeaderLen+i*(sseChunk+sseTagLen)); err != nil {
		return fmt.Errorf("reading encrypted data: %w", err)
	}
	plain, err := o.aead.Open(buf[:0], chunkNonce(seg.header[4:12], uint32(i)), buf, chunkAAD(seg.header, uint32(i), i == chunks-1))
	if err != nil {
		return errSSECorrupt
	}
	from := within - i*sseChunk
	to := min(int64(len(plain)), from+(o.end-o.pos))
	o.out = plain[from:to]
	o.pos += to - from
	return nil
}
