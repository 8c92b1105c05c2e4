/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package objectstore

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// crc64NVMEPoly is the CRC-64/NVME polynomial in the reversed form hash/crc64 takes.
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

// checksumHeaders are the flexible checksums S3 clients send, and how to compute them.
var checksumHeaders = []struct {
	header string
	hash   func() hash.Hash
}{
	{"x-amz-checksum-crc32", func() hash.Hash { return crc32.NewIEEE() }},
	{"x-amz-checksum-crc32c", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"x-amz-checksum-crc64nvme", func() hash.Hash { return crc64.New(crc64.MakeTable(crc64NVMEPoly)) }},
	{"x-amz-checksum-sha1", sha1.New},
	{"x-amz-checksum-sha256", sha256.New},
}

// digest is a hash of the payload and the value the client said it has.
type digest struct {
	name string
	h    hash.Hash
	want []byte
	// err is the failure a mismatch is.
	err *apiError
}

// checkedBody reads a write's payload and, instead of io.EOF, fails when the payload is not
// what the headers declared: its length, its Content-MD5, its checksums. It also stops a
// payload that grows past the size limit.
type checkedBody struct {
	r       io.Reader
	n, want int64
	digests []digest
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.want {
		return 0, s3Error(CodeIncompleteBody, "The payload is longer than its declared length.")
	}
	for _, d := range b.digests {
		d.h.Write(p[:n])
	}
	if err != io.EOF {
		return n, err
	}
	if b.n != b.want {
		return n, s3Error(CodeIncompleteBody)
	}
	for _, d := range b.digests {
		if !bytes.Equal(d.h.Sum(nil), d.want) {
			return n, d.err
		}
	}
	return n, io.EOF
}

// payload returns the checked body of a write of at most limit bytes.
func payload(q *request, limit int64) (io.Reader, error) {
	size, err := declaredLength(q.r)
	if err != nil {
		return nil, err
	}
	if size > limit {
		return nil, s3Error(CodeEntityTooLarge, fmt.Sprintf("Your proposed upload of %d bytes exceeds the maximum allowed size of %d bytes.", size, limit))
	}
	digests, err := requestDigests(q.r.Header)
	if err != nil {
		return nil, err
	}
	return &checkedBody{r: q.caller.Body, want: size, digests: digests}, nil
}

// declaredLength is the payload length a write declares: x-amz-decoded-content-length for
// aws-chunked bodies, else Content-Length.
func declaredLength(r *http.Request) (int64, error) {
	if v := r.Header.Get("x-amz-decoded-content-length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, s3Error(CodeInvalidArgument, "Invalid x-amz-decoded-content-length.")
		}
		return n, nil
	}
	if r.ContentLength < 0 {
		return 0, s3Error(CodeMissingContentLength)
	}
	return r.ContentLength, nil
}

// requestDigests reads Content-MD5 and the x-amz-checksum-* headers.
func requestDigests(h http.Header) ([]digest, error) {
	var out []digest
	if v := h.Get("Content-MD5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return nil, s3Error(CodeInvalidDigest)
		}
		out = append(out, digest{name: "Content-MD5", h: md5.New(), want: want, err: s3Error(CodeBadDigest)})
	}
	for _, c := range checksumHeaders {
		v := h.Get(c.header)
		if v == "" {
			continue
		}
		hh := c.hash()
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != hh.Size() {
			return nil, s3Error(CodeInvalidRequest, "Value for "+c.header+" header is invalid.")
		}
		algo := strings.ToUpper(strings.TrimPrefix(c.header, "x-amz-checksum-"))
		out = append(out, digest{name: c.header, h: hh, want: want,
			err: s3Error(CodeBadDigest, "The "+algo+" you specified did not match the calculated checksum.")})
	}
	return out, nil
}

// readXMLBody reads a small XML request body whole, bounded by maxXMLBody.
func readXMLBody(q *request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(q.caller.Body, maxXMLBody+1))
	if err != nil {
		if ae := authError(err, false); ae != nil {
			return nil, ae
		}
		return nil, s3Error(CodeIncompleteBody)
	}
	if len(body) > maxXMLBody {
		return nil, s3Error(CodeMalformedXML, "The XML you provided was too large.")
	}
	return body, nil
}
