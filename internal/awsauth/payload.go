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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Body returns a reader for r's payload that checks it against what was signed, and against
// the digests the request declares (Content-MD5, x-amz-checksum-*):
//   - a hex SHA-256 payload hash is compared when the payload ends;
//   - the aws-chunked streaming forms are decoded: each chunk's signature (and the trailer's,
//     for StreamingPayloadTrailer) is checked as it completes, the trailing checksum when the
//     stream ends, and only the payload bytes are returned;
//   - UnsignedPayload (and SigV2, which signs no payload hash) passes the body through.
//
// A mismatch is a read error wrapping ErrPayloadMismatch, returned at the end of the chunk or
// payload at fault, so a handler must not commit what it read until Read returns io.EOF.
// For the aws-chunked forms the payload's length is x-amz-decoded-content-length, not
// Content-Length. Body itself fails with ErrMalformed for a payload form the request cannot
// have (a trailer form without x-amz-trailer, say) and with ErrPayloadMismatch for a declared
// digest that is not one. Body consumes r.Body; call it once.
func (id *Identity) Body(r *http.Request) (io.Reader, error) {
	src := io.Reader(r.Body)
	if r.Body == nil {
		src = http.NoBody
	}
	digests, err := declaredDigests(r.Header)
	if err != nil {
		return nil, err
	}
	switch id.PayloadHash {
	case "", UnsignedPayload:
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer:
		return id.chunkedBody(r.Header, src, digests)
	default:
		want, err := hex.DecodeString(id.PayloadHash)
		if err != nil || len(want) != sha256.Size {
			return nil, fmt.Errorf("%w: payload hash %s is neither a hex SHA-256 nor a supported payload form", ErrMalformed, quoted(id.PayloadHash))
		}
		digests = append(digests, &digest{name: "x-amz-content-sha256", h: sha256.New(), want: want})
	}
	if len(digests) == 0 {
		return src, nil
	}
	return &digestReader{src: src, digests: digests}, nil
}

// digestReader hashes a payload as it is read and checks it at the end.
type digestReader struct {
	src     io.Reader
	digests digestSet
	err     error
}

func (d *digestReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.src.Read(p)
	d.digests.write(p[:n])
	switch {
	case err == io.EOF:
		if verr := d.digests.verify(); verr != nil {
			d.err = verr
			return n, verr
		}
	case err != nil:
		d.err = fmt.Errorf("%w: reading the payload: %w", ErrPayloadMismatch, err)
		return n, d.err
	}
	return n, err
}

// chunkedBody decodes an aws-chunked payload.
func (id *Identity) chunkedBody(header http.Header, src io.Reader, digests digestSet) (io.Reader, error) {
	c := &chunkedReader{src: newLineReader(src), decodedLength: -1, digests: digests, chunkHash: sha256.New()}
	if id.PayloadHash != StreamingUnsignedPayloadTrailer {
		if id.chunks == nil {
			return nil, fmt.Errorf("%w: a %s payload needs SigV4 header authentication", ErrMalformed, id.PayloadHash)
		}
		c.key, c.prevSig = id.chunks, id.chunks.seed
	}
	if value := header.Get("X-Amz-Decoded-Content-Length"); value != "" {
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: x-amz-decoded-content-length %s is not a length", ErrMalformed, quoted(value))
		}
		c.decodedLength = n
	}
	if id.PayloadHash == StreamingPayload {
		return c, nil
	}
	c.trailer = true
	c.signedTrailer = id.PayloadHash == StreamingPayloadTrailer
	for _, value := range header.Values("X-Amz-Trailer") {
		for _, name := range strings.Split(value, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			h, ok := newChecksum(name)
			if !ok {
				return nil, fmt.Errorf("%w: trailer %s is not a supported checksum (crc32, crc32c, crc64nvme, sha1, sha256)", ErrMalformed, quoted(name))
			}
			c.digests = append(c.digests, &digest{name: name, h: h})
			c.trailerNames = append(c.trailerNames, name)
		}
	}
	if len(c.trailerNames) == 0 {
		return nil, fmt.Errorf("%w: a %s payload needs an x-amz-trailer header naming its trailer", ErrMalformed, id.PayloadHash)
	}
	return c, nil
}
