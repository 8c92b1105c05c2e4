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

package awsauth

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"net/http"

	"github.com/minio/crc64nvme"
)

// checksums are the flexible checksums S3 clients declare (as x-amz-checksum-* headers or
// aws-chunked trailers), in the order they are checked, and the hashes behind them. CRC-64/NVME
// is crc64nvme's, which uses the CPU's carry-less multiply (hash/crc64 with the polynomial's
// table does 0.7–2 GB/s here, too slow for the default checksum of every write).
var checksums = []struct {
	name string
	hash func() hash.Hash
}{
	{"x-amz-checksum-crc32", func() hash.Hash { return crc32.NewIEEE() }},
	{"x-amz-checksum-crc32c", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"x-amz-checksum-crc64nvme", func() hash.Hash { return crc64nvme.New() }},
	{"x-amz-checksum-sha1", sha1.New},
	{"x-amz-checksum-sha256", sha256.New},
}

// ChecksumHeaders returns the names of the x-amz-checksum-* headers (lower case) a request may
// declare its payload's checksums in.
func ChecksumHeaders() []string {
	names := make([]string, len(checksums))
	for i, c := range checksums {
		names[i] = c.name
	}
	return names
}

// ChecksumHash returns a new hash of the flexible checksum an x-amz-checksum-* header (lower
// case) names, such as crc32.NewIEEE for x-amz-checksum-crc32; ok is false for any other name.
func ChecksumHash(name string) (h hash.Hash, ok bool) { return newChecksum(name) }

// newChecksum returns the hash behind an x-amz-checksum-* header name.
func newChecksum(name string) (hash.Hash, bool) {
	for _, c := range checksums {
		if c.name == name {
			return c.hash(), true
		}
	}
	return nil, false
}

// DigestError says that a digest a request declared (Content-MD5, x-amz-checksum-*,
// x-amz-content-sha256) is malformed or does not match the payload. It wraps
// ErrPayloadMismatch.
type DigestError struct {
	// Name is the header or trailer that declared the digest.
	Name string
	// Malformed is set when the declared value is not a digest of its kind at all; otherwise
	// the payload does not match it.
	Malformed bool
	detail    string
}

func (e *DigestError) Error() string { return ErrPayloadMismatch.Error() + ": " + e.detail }

// Unwrap makes a DigestError an ErrPayloadMismatch.
func (e *DigestError) Unwrap() error { return ErrPayloadMismatch }

// digest is one hash a payload must match.
type digest struct {
	// name is the header or trailer that declared the value.
	name string
	h    hash.Hash
	// want is the declared value; a trailer's arrives only after the payload.
	want []byte
}

type digestSet []*digest

func (d digestSet) write(p []byte) {
	for _, dg := range d {
		dg.h.Write(p)
	}
}

func (d digestSet) verify() error {
	for _, dg := range d {
		if dg.want == nil {
			return fmt.Errorf("%w: the declared trailer %s never arrived", ErrPayloadMismatch, dg.name)
		}
		if !bytes.Equal(dg.h.Sum(nil), dg.want) {
			return &DigestError{Name: dg.name, detail: "the payload does not match its " + dg.name}
		}
	}
	return nil
}

// declaredDigests collects the digests the request headers declare: Content-MD5 and any
// x-amz-checksum-<algorithm>, each base64.
func declaredDigests(header http.Header) (digestSet, error) {
	var set digestSet
	if value := header.Get("Content-Md5"); value != "" {
		want, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(want) != md5.Size {
			return nil, &DigestError{Name: "Content-MD5", Malformed: true,
				detail: fmt.Sprintf("Content-MD5 %s is not a base64 MD5 digest", quoted(value))}
		}
		set = append(set, &digest{name: "Content-MD5", h: md5.New(), want: want})
	}
	for _, c := range checksums {
		value := header.Get(c.name)
		if value == "" {
			continue
		}
		h := c.hash()
		want, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(want) != h.Size() {
			return nil, &DigestError{Name: c.name, Malformed: true,
				detail: fmt.Sprintf("%s %s is not a base64 checksum of %d bytes", c.name, quoted(value), h.Size())}
		}
		set = append(set, &digest{name: c.name, h: h, want: want})
	}
	return set, nil
}

// Digests are the digests a request's headers declare for its payload, for a caller that reads
// the payload itself (Identity.Body checks them on its own).
type Digests struct{ set digestSet }

// DeclaredDigests reads the Content-MD5 and x-amz-checksum-* headers; a malformed one is a
// *DigestError.
func DeclaredDigests(header http.Header) (Digests, error) {
	set, err := declaredDigests(header)
	return Digests{set: set}, err
}

// Write adds payload bytes to every digest.
func (d Digests) Write(p []byte) { d.set.write(p) }

// Verify compares the digests of what was written with the declared ones, in the order
// Content-MD5, then the checksums as ChecksumHeaders lists them; the first mismatch is a
// *DigestError.
func (d Digests) Verify() error { return d.set.verify() }
