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
	"encoding/base64"
	"encoding/binary"

	"pinet.io/pinet/objectstore/fsstore"
)

// The FULL_OBJECT checksum of a multipart object is combined from its parts' CRCs, as S3 does,
// rather than computed over its data: an encrypted object's stored data is not the plaintext,
// and reading an unencrypted one back at completion would cost a pass over all its bytes (each
// part's CRC is computed as the part streams in; see partCRC).
// For a reflected CRC whose initial value and final xor are all ones (CRC32, CRC32C,
// CRC64NVME), crc(A‖B) = crc(A)·x^(8·len(B)) mod P xor crc(B), computed over GF(2) with
// polynomials held bit-reversed in the CRC's width (the top bit is x^0).

// crcPolys are the bit-reversed polynomials and widths of the CRC algorithms.
var crcPolys = map[string]struct {
	poly  uint64
	width uint
}{
	"CRC32":     {0xedb88320, 32},
	"CRC32C":    {0x82f63b78, 32},
	"CRC64NVME": {0x9a6c9329ac4bc9b5, 64},
}

// crcCombiner combines the CRCs of consecutive pieces into the CRC of their concatenation.
type crcCombiner struct {
	alg   string
	poly  uint64
	width uint
	crc   uint64
	ok    bool
}

// newCRCCombiner starts a combination (of nothing: CRC 0); nil for an algorithm that is no CRC.
func newCRCCombiner(alg string) *crcCombiner {
	p, found := crcPolys[alg]
	if !found {
		return nil
	}
	return &crcCombiner{alg: alg, poly: p.poly, width: p.width, ok: true}
}

// add appends a piece of size bytes whose checksum is cs; a piece without a CRC of the
// combiner's algorithm spoils the combination.
func (c *crcCombiner) add(cs *fsstore.Checksum, size int64) {
	if !c.ok || cs == nil || cs.Algorithm != c.alg {
		c.ok = false
		return
	}
	raw, err := base64.StdEncoding.DecodeString(cs.Value)
	if err != nil || uint(len(raw))*8 != c.width {
		c.ok = false
		return
	}
	var crc uint64
	if c.width == 32 {
		crc = uint64(binary.BigEndian.Uint32(raw))
	} else {
		crc = binary.BigEndian.Uint64(raw)
	}
	c.crc = c.mulmod(c.xpow8n(uint64(size)), c.crc) ^ crc
}

// value is the combined CRC as S3 writes it (base64 of its big-endian bytes), or "" when a
// piece had none.
func (c *crcCombiner) value() string {
	if c == nil || !c.ok {
		return ""
	}
	raw := make([]byte, 8)
	binary.BigEndian.PutUint64(raw, c.crc)
	return base64.StdEncoding.EncodeToString(raw[8-c.width/8:])
}

// mulmod multiplies a and b modulo the polynomial.
func (c *crcCombiner) mulmod(a, b uint64) uint64 {
	var p uint64
	for m := uint64(1) << (c.width - 1); m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ c.poly
		} else {
			b >>= 1
		}
	}
	return p
}

// xpow8n is x^(8n) modulo the polynomial, by repeated squaring.
func (c *crcCombiner) xpow8n(n uint64) uint64 {
	p := uint64(1) << (c.width - 1)    // x^0
	base := uint64(1) << (c.width - 9) // x^8
	for ; n != 0; n >>= 1 {
		if n&1 != 0 {
			p = c.mulmod(base, p)
		}
		base = c.mulmod(base, base)
	}
	return p
}
