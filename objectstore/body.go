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
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"pinet.io/pinet/internal/awsauth"
)

// checkedBody reads a write's payload and, instead of io.EOF, fails when the payload is not
// what the headers declared: its length, its Content-MD5, its checksums. It also stops a
// payload that grows past the size limit.
type checkedBody struct {
	r       io.Reader
	n, want int64
	// unknown is set for a body sent with HTTP chunked coding and no declared length: want is
	// then only the limit.
	unknown bool
	digests awsauth.Digests
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.want {
		if b.unknown {
			return 0, s3Error(CodeEntityTooLarge, fmt.Sprintf("Your proposed upload exceeds the maximum allowed size of %d bytes.", b.want))
		}
		return 0, s3Error(CodeIncompleteBody, "The payload is longer than its declared length.")
	}
	b.digests.Write(p[:n])
	if err != io.EOF {
		return n, err
	}
	if b.n != b.want && !b.unknown {
		return n, s3Error(CodeIncompleteBody)
	}
	if err := b.digests.Verify(); err != nil {
		return n, digestError(err)
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
	digests, err := awsauth.DeclaredDigests(q.r.Header)
	if err != nil {
		return nil, digestError(err)
	}
	if size < 0 {
		return &checkedBody{r: q.caller.Body, want: limit, unknown: true, digests: digests}, nil
	}
	return &checkedBody{r: q.caller.Body, want: size, digests: digests}, nil
}

// declaredLength is the payload length a write declares: x-amz-decoded-content-length for
// aws-chunked bodies, else Content-Length; -1 for a body sent with HTTP chunked transfer
// coding and neither.
func declaredLength(r *http.Request) (int64, error) {
	if v := r.Header.Get("x-amz-decoded-content-length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, s3Error(CodeInvalidArgument, "Invalid x-amz-decoded-content-length.")
		}
		return n, nil
	}
	if r.ContentLength < 0 && slices.Contains(r.TransferEncoding, "chunked") {
		return -1, nil
	}
	if r.ContentLength < 0 {
		return 0, s3Error(CodeMissingContentLength)
	}
	return r.ContentLength, nil
}

// digestError is the S3 error for a declared digest (Content-MD5, x-amz-checksum-*) that is
// malformed or does not match the payload.
func digestError(err error) error {
	var de *awsauth.DigestError
	if !errors.As(err, &de) {
		return err
	}
	switch {
	case de.Name == "Content-MD5" && de.Malformed:
		return s3Error(CodeInvalidDigest)
	case de.Name == "Content-MD5":
		return s3Error(CodeBadDigest)
	case de.Malformed:
		return s3Error(CodeInvalidRequest, "Value for "+de.Name+" header is invalid.")
	default:
		algo := strings.ToUpper(strings.TrimPrefix(de.Name, "x-amz-checksum-"))
		return s3Error(CodeBadDigest, "The "+algo+" you specified did not match the calculated checksum.")
	}
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
