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
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

const (
	storageClass = "STANDARD"
	maxListParts = 1000
)

func (s *Server) createUpload(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if err := fsstore.ValidKey(q.route.Key); err != nil {
		return err
	}
	if err := refuseUnsupported(q.r.Header); err != nil {
		return err
	}
	meta, err := metaFromHeaders(q.r.Header)
	if err != nil {
		return err
	}
	if meta.ACL, err = newObjectACL(q, b); err != nil {
		return err
	}
	if meta.Checksum, err = uploadChecksum(q.r.Header); err != nil {
		return err
	}
	if meta.Encryption, _, err = s.newEncryption(q, b); err != nil {
		return err
	}
	up, err := s.store.CreateUpload(q.route.Bucket, q.route.Key, meta, q.principal().User)
	if err != nil {
		return err
	}
	if cs := meta.Checksum; cs != nil {
		q.w.Header().Set(headerChecksumAlgorithm, cs.Algorithm)
		q.w.Header().Set(headerChecksumType, cs.Type)
	}
	setSSEHeaders(q.w.Header(), meta.Encryption)
	s.writeXML(q, http.StatusOK, initiateUploadResult{Xmlns: s3Namespace, Bucket: q.route.Bucket, Key: q.route.Key, UploadID: up.ID})
	return nil
}

// partNumber reads the partNumber query parameter.
func partNumber(query url.Values) (int, error) {
	n, err := strconv.Atoi(query.Get("partNumber"))
	if err != nil || n < 1 || n > fsstore.MaxPartNumber {
		return 0, s3Error(CodeInvalidArgument, "Part number must be an integer between 1 and 10000, inclusive.")
	}
	return n, nil
}

func (s *Server) uploadPart(q *request) error {
	if _, err := s.bucket(q); err != nil {
		return err
	}
	query := q.r.URL.Query()
	n, err := partNumber(query)
	if err != nil {
		return err
	}
	up, err := s.store.Upload(q.route.Bucket, q.route.Key, query.Get("uploadId"))
	if err != nil {
		return err
	}
	cs, err := partChecksum(q.r.Header, up)
	if err != nil {
		return err
	}
	body, err := payload(q, min(maxSinglePut, s.maxObjectSize))
	if err != nil {
		return err
	}
	if cs != nil {
		body = withChecksum(body, cs)
	}
	size, _ := declaredLength(q.r)
	if body, err = s.sealPart(q, up, body, size); err != nil {
		return err
	}
	part, err := s.store.PutPartWith(q.route.Bucket, q.route.Key, up.ID, n, body, fsstore.PartOptions{Checksum: cs, CRC: partCRC(up, cs)})
	if err != nil {
		return err
	}
	setChecksumHeaders(q.w.Header(), part.Checksum)
	q.w.Header().Set("ETag", quoteETag(part.ETag))
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) uploadPartCopy(q *request) error {
	if _, err := s.bucket(q); err != nil {
		return err
	}
	query := q.r.URL.Query()
	n, err := partNumber(query)
	if err != nil {
		return err
	}
	obj, _, err := s.copySource(q)
	if err != nil {
		return err
	}
	defer obj.Close()
	plain, err := s.openPlain(q.r.Header, copySSECPrefix, obj)
	if err != nil {
		return err
	}
	start, length, err := copySourceRange(q.r.Header.Get("x-amz-copy-source-range"), plain.size)
	if err != nil {
		return err
	}
	if length > maxSinglePut {
		return s3Error(CodeInvalidRequest, "The specified copy range is larger than the maximum part size: 5368709120.")
	}
	up, err := s.store.Upload(q.route.Bucket, q.route.Key, query.Get("uploadId"))
	if err != nil {
		return err
	}
	body, err := plain.section(start, length)
	if err != nil {
		return err
	}
	cs := partCopyChecksum(up)
	if cs != nil {
		body = withChecksum(body, cs)
	}
	if body, err = s.sealPart(q, up, body, length); err != nil {
		return err
	}
	part, err := s.store.PutPartWith(q.route.Bucket, q.route.Key, up.ID, n, body, fsstore.PartOptions{Checksum: cs, CRC: partCRC(up, cs)})
	if err != nil {
		return err
	}
	s.writeXML(q, http.StatusOK, copyPartResult{Xmlns: s3Namespace, ETag: quoteETag(part.ETag), LastModified: s3Time(part.Modified)})
	return nil
}

// copySourceRange reads x-amz-copy-source-range, which must be "bytes=first-last" within the
// source; without it the whole source is copied.
func copySourceRange(v string, size int64) (start, length int64, err error) {
	if v == "" {
		return 0, size, nil
	}
	bad := s3Error(CodeInvalidArgument, "Range specified is not valid for source object of size: "+strconv.FormatInt(size, 10))
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return 0, 0, bad
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, bad
	}
	a, err1 := strconv.ParseInt(first, 10, 64)
	b, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || a < 0 || b < a || b >= size {
		return 0, 0, bad
	}
	return a, b - a + 1, nil
}

func (s *Server) completeUpload(q *request) error {
	if _, err := s.bucket(q); err != nil {
		return err
	}
	id := q.r.URL.Query().Get("uploadId")
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	parts, err := parseCompleteMultipartUpload(body)
	if err != nil {
		return err
	}
	return s.assemble(q, id, func() (fsstore.ObjectInfo, error) { return s.complete(q, id, parts, body) })
}

func (s *Server) abortUpload(q *request) error {
	if _, err := s.bucket(q); err != nil {
		return err
	}
	if err := s.store.AbortUpload(q.route.Bucket, q.route.Key, q.r.URL.Query().Get("uploadId")); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listParts(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	query := q.r.URL.Query()
	id := query.Get("uploadId")
	e, err := newKeyEncoder(query)
	if err != nil {
		return err
	}
	limit, err := intParam(query, "max-parts", maxListParts)
	if err != nil {
		return err
	}
	marker, err := intParam(query, "part-number-marker", 0)
	if err != nil {
		return err
	}
	up, err := s.store.Upload(q.route.Bucket, q.route.Key, id)
	if err != nil {
		return err
	}
	parts, truncated, err := s.store.ListParts(q.route.Bucket, q.route.Key, id, marker, limit)
	if err != nil {
		return err
	}
	res := listPartsResult{
		Xmlns: s3Namespace, Bucket: q.route.Bucket, Key: e.enc(q.route.Key), UploadID: id, EncodingType: e.typ(),
		Initiator:        owner{ID: up.Initiator, DisplayName: up.Initiator},
		Owner:            *projectOwner(b.Project),
		StorageClass:     storageClass,
		PartNumberMarker: marker, MaxParts: limit, IsTruncated: truncated,
	}
	if cs := up.Meta.Checksum; cs != nil {
		res.ChecksumAlgorithm, res.ChecksumType = cs.Algorithm, cs.Type
	}
	for _, p := range parts {
		if up.Meta.Encryption != nil {
			p.Size = max(segmentPlainLen(p.Size), 0)
		}
		res.Parts = append(res.Parts, partEntry{PartNumber: p.Number, LastModified: s3Time(p.Modified), ETag: quoteETag(p.ETag), Size: p.Size,
			checksumFields: newChecksumFields(p.Checksum)})
		res.NextPartNumberMarker = p.Number
	}
	s.writeXML(q, http.StatusOK, res)
	return nil
}

// intParam reads a non-negative integer query parameter, capped at def when def is a maximum
// (max-keys and friends) and defaulting to def when absent.
func intParam(query url.Values, name string, def int) (int, error) {
	v := query.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, s3Error(CodeInvalidArgument, "Provided "+name+" not an integer or within integer range.")
	}
	if def > 0 && n > def {
		n = def
	}
	return n, nil
}
