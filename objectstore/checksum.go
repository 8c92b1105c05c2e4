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
	"encoding/xml"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/objectstore/fsstore"
)

// Flexible checksums. Every object gets one, as in S3: the algorithm its writer declared (an
// x-amz-checksum-* header, an aws-chunked trailer naming one, or x-amz-sdk-checksum-algorithm),
// else CRC64NVME. The payload is checked against a declared value by the body readers (see
// payload and awsauth); the store computes the value it records while the data streams to
// disk. A multipart upload's object gets a COMPOSITE checksum (of its parts' checksums, "-N")
// or a FULL_OBJECT one (of the whole data, CRC algorithms only), as its creator chose.
const (
	checksumFullObject         = "FULL_OBJECT"
	checksumComposite          = "COMPOSITE"
	defaultChecksumAlgorithm   = "CRC64NVME"
	headerChecksumAlgorithm    = "x-amz-checksum-algorithm"
	headerSDKChecksumAlgorithm = "x-amz-sdk-checksum-algorithm"
	headerChecksumType         = "x-amz-checksum-type"
	headerChecksumMode         = "x-amz-checksum-mode"
	headerTrailer              = "x-amz-trailer"
	checksumHeaderPrefix       = "x-amz-checksum-"
)

// checksumAlgorithms are the algorithms the store computes, as S3 names them.
var checksumAlgorithms = []string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}

func checksumHeader(algorithm string) string {
	return checksumHeaderPrefix + strings.ToLower(algorithm)
}

func newChecksumHash(algorithm string) hash.Hash {
	h, _ := awsauth.ChecksumHash(checksumHeader(algorithm))
	return h
}

// parseChecksumAlgorithm reads an algorithm name, in any case.
func parseChecksumAlgorithm(v string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(v))
	for _, a := range checksumAlgorithms {
		if a == up {
			return a, nil
		}
	}
	return "", s3Error(CodeInvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
}

// declaredChecksumAlgorithm is the algorithm a write's payload declares its checksum in; ""
// for none. Declarations that disagree are refused.
func declaredChecksumAlgorithm(h http.Header) (string, error) {
	found := ""
	add := func(a string) error {
		if found != "" && found != a {
			return s3Error(CodeInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		found = a
		return nil
	}
	for _, a := range checksumAlgorithms {
		if h.Get(checksumHeader(a)) != "" {
			if err := add(a); err != nil {
				return "", err
			}
		}
	}
	for _, v := range h.Values(headerTrailer) {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if a, ok := strings.CutPrefix(name, checksumHeaderPrefix); ok {
				alg, err := parseChecksumAlgorithm(a)
				if err != nil {
					return "", err
				}
				if err := add(alg); err != nil {
					return "", err
				}
			}
		}
	}
	if found != "" {
		return found, nil
	}
	if v := h.Get(headerSDKChecksumAlgorithm); v != "" {
		return parseChecksumAlgorithm(v)
	}
	return "", nil
}

// checksumReader computes a checksum of what it reads and records it in cs when the payload
// ends (a checked body only ends once every declared digest matched).
type checksumReader struct {
	r  io.Reader
	h  hash.Hash
	cs *fsstore.Checksum
}

func (c *checksumReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if err == io.EOF {
		c.cs.Value = base64.StdEncoding.EncodeToString(c.h.Sum(nil))
	}
	return n, err
}

// withChecksum returns r computing cs's algorithm into cs.
func withChecksum(r io.Reader, cs *fsstore.Checksum) io.Reader {
	return &checksumReader{r: r, h: newChecksumHash(cs.Algorithm), cs: cs}
}

// objectChecksum is the checksum a single PUT's object gets: the declared algorithm's, else
// the default.
func objectChecksum(h http.Header) (*fsstore.Checksum, error) {
	alg, err := declaredChecksumAlgorithm(h)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = defaultChecksumAlgorithm
	}
	return &fsstore.Checksum{Algorithm: alg, Type: checksumFullObject}, nil
}

// setChecksumHeaders tells the client a checksum, as the x-amz-checksum-* headers.
func setChecksumHeaders(h http.Header, cs *fsstore.Checksum) {
	if cs == nil || cs.Value == "" {
		return
	}
	h.Set(checksumHeader(cs.Algorithm), cs.Value)
	if cs.Type != "" {
		h.Set(headerChecksumType, cs.Type)
	}
}

// checksumFields are the Checksum* elements of an answer; at most one is set.
type checksumFields struct {
	CRC32     string `xml:"ChecksumCRC32,omitempty"`
	CRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	CRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	SHA1      string `xml:"ChecksumSHA1,omitempty"`
	SHA256    string `xml:"ChecksumSHA256,omitempty"`
}

func newChecksumFields(cs *fsstore.Checksum) checksumFields {
	var f checksumFields
	if cs == nil {
		return f
	}
	switch cs.Algorithm {
	case "CRC32":
		f.CRC32 = cs.Value
	case "CRC32C":
		f.CRC32C = cs.Value
	case "CRC64NVME":
		f.CRC64NVME = cs.Value
	case "SHA1":
		f.SHA1 = cs.Value
	case "SHA256":
		f.SHA256 = cs.Value
	}
	return f
}

// named returns the one checksum set and its algorithm, or "" for none.
func (f checksumFields) named() (algorithm, value string, many bool) {
	n := 0
	for _, c := range []struct{ a, v string }{{"CRC32", f.CRC32}, {"CRC32C", f.CRC32C}, {"CRC64NVME", f.CRC64NVME}, {"SHA1", f.SHA1}, {"SHA256", f.SHA256}} {
		if c.v != "" {
			algorithm, value = c.a, c.v
			n++
		}
	}
	return algorithm, value, n > 1
}

// uploadChecksum reads the checksum algorithm and type CreateMultipartUpload asks for; nil
// when it names none. CRC64NVME can only be FULL_OBJECT and the SHA algorithms only
// COMPOSITE; the CRC32s default to COMPOSITE.
func uploadChecksum(h http.Header) (*fsstore.Checksum, error) {
	v, typ := h.Get(headerChecksumAlgorithm), h.Get(headerChecksumType)
	if v == "" {
		if typ != "" {
			return nil, s3Error(CodeInvalidRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		return nil, nil
	}
	alg, err := parseChecksumAlgorithm(v)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "":
		typ = checksumComposite
		if alg == "CRC64NVME" {
			typ = checksumFullObject
		}
	case checksumComposite, checksumFullObject:
	default:
		return nil, s3Error(CodeInvalidRequest, "Value for x-amz-checksum-type header is invalid.")
	}
	if typ == checksumComposite && alg == "CRC64NVME" || typ == checksumFullObject && strings.HasPrefix(alg, "SHA") {
		return nil, s3Error(CodeInvalidRequest, "The "+typ+" checksum type cannot be used with the "+strings.ToLower(alg)+" checksum algorithm.")
	}
	return &fsstore.Checksum{Algorithm: alg, Type: typ}, nil
}

// partChecksum is the checksum a part of an upload records: of the upload's algorithm (which
// a part may not contradict), else of the algorithm the part declares; nil for none.
func partChecksum(h http.Header, up fsstore.UploadInfo) (*fsstore.Checksum, error) {
	alg, err := declaredChecksumAlgorithm(h)
	if err != nil {
		return nil, err
	}
	if want := up.Meta.Checksum; want != nil {
		if alg != "" && alg != want.Algorithm {
			return nil, s3Error(CodeInvalidRequest, "Checksum Type mismatch occurred, expected checksum Type: "+strings.ToLower(want.Algorithm)+", actual checksum Type: "+strings.ToLower(alg))
		}
		alg = want.Algorithm
	}
	if alg == "" {
		return partCopyChecksum(up), nil
	}
	return &fsstore.Checksum{Algorithm: alg}, nil
}

// objectChecksumOf is the algorithm and type of the checksum an upload's object gets: the
// upload's, else the default algorithm's FULL_OBJECT one.
func objectChecksumOf(up fsstore.UploadInfo) (alg, typ string) {
	if cs := up.Meta.Checksum; cs != nil {
		return cs.Algorithm, cs.Type
	}
	return defaultChecksumAlgorithm, checksumFullObject
}

// newCRC is the store's description of CRC algorithm alg.
func newCRC(alg string) *fsstore.CRC {
	return &fsstore.CRC{Algorithm: alg, New: func() hash.Hash { return newChecksumHash(alg) }}
}

// partCRC is the CRC the store computes over a part's data as it arrives, beside the part's
// checksum cs, for the completion to combine into the object's FULL_OBJECT checksum without
// reading the data again; nil when the part needs none: the object's checksum is COMPOSITE, cs
// is already of its algorithm, or the upload is encrypted (its parts' checksums, of the
// plaintext, are combined instead). The CRC is the store's own: it shows in no answer (S3
// shows a part's checksum only when the upload or the part named its algorithm).
func partCRC(up fsstore.UploadInfo, cs *fsstore.Checksum) *fsstore.CRC {
	alg, typ := objectChecksumOf(up)
	if up.Meta.Encryption != nil || typ != checksumFullObject || cs != nil && cs.Algorithm == alg {
		return nil
	}
	return newCRC(alg)
}

// partCopyChecksum is the checksum a part copied into an upload records: of the upload's
// algorithm; nil for none. The parts of an encrypted upload always record one (the default
// algorithm's when the upload names none), since its object's FULL_OBJECT checksum is
// combined from theirs.
func partCopyChecksum(up fsstore.UploadInfo) *fsstore.Checksum {
	switch {
	case up.Meta.Checksum != nil:
		return &fsstore.Checksum{Algorithm: up.Meta.Checksum.Algorithm}
	case up.Meta.Encryption != nil:
		return &fsstore.Checksum{Algorithm: defaultChecksumAlgorithm}
	}
	return nil
}

// completedParts reads the part checksums a CompleteMultipartUpload body names, by part number.
func completedParts(body []byte) (map[int]checksumFields, error) {
	var doc struct {
		XMLName xml.Name `xml:"CompleteMultipartUpload"`
		Parts   []struct {
			PartNumber int `xml:"PartNumber"`
			checksumFields
		} `xml:"Part"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, s3Error(CodeMalformedXML)
	}
	out := make(map[int]checksumFields, len(doc.Parts))
	for _, p := range doc.Parts {
		out[p.PartNumber] = p.checksumFields
	}
	return out, nil
}

// completion works out the checksum of an upload's object as CompleteUploadWith assembles it.
type completion struct {
	up fsstore.UploadInfo
	// named are the part checksums the request names; want is its x-amz-checksum-* header for
	// the whole object, of algorithm wantAlg; size its x-amz-mp-object-size, or -1.
	named   map[int]checksumFields
	wantAlg string
	want    string
	size    int64
	// crc is the CRC every part needs for a FULL_OBJECT checksum, combined from the parts'
	// (see partCRC); nil when the upload is encrypted (its stored data is not the plaintext:
	// the parts' own checksums are combined) or its checksum is COMPOSITE.
	crc       *fsstore.CRC
	encrypted bool
	alg       string
	typ       string
}

// newCompletion checks what a CompleteMultipartUpload request says about checksums against
// its upload.
func newCompletion(h http.Header, up fsstore.UploadInfo, named map[int]checksumFields) (*completion, error) {
	c := &completion{up: up, named: named, size: -1, encrypted: up.Meta.Encryption != nil}
	c.alg, c.typ = objectChecksumOf(up)
	if typ := h.Get(headerChecksumType); typ != "" && (up.Meta.Checksum == nil || typ != c.typ) {
		return nil, s3Error(CodeInvalidRequest, "The upload was created using the "+orNone(up.Meta.Checksum)+" checksum mode. The complete request must use the same checksum mode.")
	}
	for _, a := range checksumAlgorithms {
		if v := h.Get(checksumHeader(a)); v != "" {
			if up.Meta.Checksum == nil || a != c.alg {
				return nil, s3Error(CodeInvalidRequest, "The upload was created using the "+strings.ToLower(c.alg)+" checksum algorithm; the complete request named "+strings.ToLower(a)+".")
			}
			c.wantAlg, c.want = a, v
		}
	}
	if v := h.Get("x-amz-mp-object-size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, s3Error(CodeInvalidRequest, "Value for x-amz-mp-object-size header is invalid.")
		}
		c.size = n
	}
	if c.typ == checksumFullObject && !c.encrypted {
		c.crc = newCRC(c.alg)
	}
	return c, nil
}

func orNone(cs *fsstore.Checksum) string {
	if cs == nil {
		return "default"
	}
	return cs.Type
}

// checksum is CompleteOptions.Checksum: it checks the parts against what the request named
// and returns the object's checksum.
func (c *completion) checksum(parts []fsstore.ObjectPart) (*fsstore.Checksum, error) {
	var total int64
	composite := newChecksumHash(c.alg)
	var combined *crcCombiner
	if c.typ == checksumFullObject {
		combined = newCRCCombiner(c.alg)
	}
	for _, p := range parts {
		size := p.Size
		if c.encrypted {
			size = max(segmentPlainLen(p.Size), 0)
		}
		total += size
		if combined != nil {
			combined.add(p.CRCOf(c.alg), size)
		}
		alg, value, many := c.named[p.Number].named()
		if many {
			return nil, s3Error(CodeInvalidRequest, "Expecting a single checksum per part. Multiple checksum Types are not allowed.")
		}
		if alg != "" && (p.Checksum == nil || p.Checksum.Algorithm != alg || p.Checksum.Value != value) {
			return nil, s3Error(CodeInvalidPart, "The checksum of part "+strconv.Itoa(p.Number)+" does not match the one it was uploaded with.")
		}
		if c.typ != checksumComposite {
			continue
		}
		if p.Checksum == nil || p.Checksum.Algorithm != c.alg {
			return nil, s3Error(CodeInvalidRequest, "Part "+strconv.Itoa(p.Number)+" has no "+c.alg+" checksum to compose the object's from.")
		}
		raw, err := base64.StdEncoding.DecodeString(p.Checksum.Value)
		if err != nil {
			return nil, s3Error(CodeInvalidPart)
		}
		composite.Write(raw)
	}
	if c.size >= 0 && c.size != total {
		return nil, s3Error(CodeInvalidRequest, "The provided 'x-amz-mp-object-size' header value "+strconv.FormatInt(c.size, 10)+" does not match what was computed: "+strconv.FormatInt(total, 10))
	}
	cs := &fsstore.Checksum{Algorithm: c.alg, Type: c.typ}
	if c.typ == checksumComposite {
		cs.Value = base64.StdEncoding.EncodeToString(composite.Sum(nil)) + "-" + strconv.Itoa(len(parts))
	} else if cs.Value = combined.value(); cs.Value == "" {
		// A part of an encrypted upload lacks the CRC to combine: the object gets none.
		if c.want != "" {
			return nil, s3Error(CodeInvalidRequest, "The object's "+c.alg+" checksum cannot be computed: a part was uploaded without one.")
		}
		return nil, nil
	}
	if c.want != "" && c.want != cs.Value && c.want+"-"+strconv.Itoa(len(parts)) != cs.Value {
		return nil, s3Error(CodeBadDigest, "The "+c.wantAlg+" you specified did not match the calculated checksum.")
	}
	return cs, nil
}

// copyChecksum is the checksum a copy gets, computed afresh over its data: of the algorithm
// the request names (x-amz-checksum-algorithm), else the source's, else the default.
func copyChecksum(h http.Header, src fsstore.ObjectInfo) (*fsstore.Checksum, error) {
	alg := defaultChecksumAlgorithm
	if cs := src.Meta.Checksum; cs != nil {
		alg = cs.Algorithm
	}
	if v := h.Get(headerChecksumAlgorithm); v != "" {
		var err error
		if alg, err = parseChecksumAlgorithm(v); err != nil {
			return nil, err
		}
	}
	return &fsstore.Checksum{Algorithm: alg, Type: checksumFullObject}, nil
}
