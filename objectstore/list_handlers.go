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
	"net/http"
	"net/url"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

const maxListKeys = 1000

// keyEncoder applies a listing's encoding-type to the keys and prefixes it returns.
type keyEncoder bool

func newKeyEncoder(query url.Values) (keyEncoder, error) {
	switch query.Get("encoding-type") {
	case "":
		return false, nil
	case "url":
		return true, nil
	}
	return false, s3Error(CodeInvalidArgument, "Invalid Encoding Method specified in Request.")
}

// enc URL-encodes s when asked to, as S3 does: every byte but the unreserved characters of
// RFC 3986 and "/" becomes %XX, so a space is %20 (never "+") and "+" is %2B.
func (e keyEncoder) enc(s string) string {
	if !e {
		return s
	}
	return urlEncodeKey(s)
}

func urlEncodeKey(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func (e keyEncoder) typ() string {
	if e {
		return "url"
	}
	return ""
}

func (e keyEncoder) prefixes(cps []string) []commonPrefix {
	out := make([]commonPrefix, len(cps))
	for i, p := range cps {
		out[i] = commonPrefix{Prefix: e.enc(p)}
	}
	return out
}

func (e keyEncoder) objects(objs []fsstore.ObjectInfo, o *owner) []objectEntry {
	out := make([]objectEntry, len(objs))
	for i, obj := range objs {
		out[i] = objectEntry{Key: e.enc(obj.Key), LastModified: s3Time(obj.Modified), ETag: quoteETag(obj.ETag), Size: obj.Size, StorageClass: storageClass, Owner: o}
		if cs := obj.Meta.Checksum; cs != nil && cs.Value != "" {
			out[i].ChecksumAlgorithm, out[i].ChecksumType = cs.Algorithm, cs.Type
		}
	}
	return out
}

func (s *Server) listObjects(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	query := q.r.URL.Query()
	e, err := newKeyEncoder(query)
	if err != nil {
		return err
	}
	limit, err := intParam(query, "max-keys", maxListKeys)
	if err != nil {
		return err
	}
	lq := fsstore.ListQuery{Prefix: query.Get("prefix"), Delimiter: query.Get("delimiter"), After: query.Get("marker"), MaxKeys: limit}
	res, err := s.store.List(q.route.Bucket, lq)
	if err != nil {
		return err
	}
	s.plainSizes(q.route.Bucket, res.Objects)
	out := listObjectsResult{
		Xmlns: s3Namespace, Name: q.route.Bucket, Prefix: e.enc(lq.Prefix), Marker: e.enc(lq.After),
		MaxKeys: limit, Delimiter: e.enc(lq.Delimiter), EncodingType: e.typ(), IsTruncated: res.IsTruncated,
		Contents:       e.objects(res.Objects, projectOwner(b.Project)),
		CommonPrefixes: e.prefixes(res.CommonPrefixes),
	}
	if res.IsTruncated {
		out.NextMarker = e.enc(res.Next)
	}
	s.writeXML(q, http.StatusOK, out)
	return nil
}

func (s *Server) listObjectsV2(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	query := q.r.URL.Query()
	e, err := newKeyEncoder(query)
	if err != nil {
		return err
	}
	limit, err := intParam(query, "max-keys", maxListKeys)
	if err != nil {
		return err
	}
	lq := fsstore.ListQuery{Prefix: query.Get("prefix"), Delimiter: query.Get("delimiter"), After: query.Get("start-after"), MaxKeys: limit}
	// An empty token is no token, as in S3.
	token := query.Get("continuation-token")
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(after) == 0 {
			return s3Error(CodeInvalidArgument, "The continuation token provided is incorrect.")
		}
		lq.After = string(after)
	}
	res, err := s.store.List(q.route.Bucket, lq)
	if err != nil {
		return err
	}
	s.plainSizes(q.route.Bucket, res.Objects)
	var o *owner
	if query.Get("fetch-owner") == "true" {
		o = projectOwner(b.Project)
	}
	out := listObjectsV2Result{
		Xmlns: s3Namespace, Name: q.route.Bucket, Prefix: e.enc(lq.Prefix), StartAfter: e.enc(query.Get("start-after")),
		ContinuationToken: token, KeyCount: len(res.Objects) + len(res.CommonPrefixes), MaxKeys: limit,
		Delimiter: e.enc(lq.Delimiter), EncodingType: e.typ(), IsTruncated: res.IsTruncated,
		Contents: e.objects(res.Objects, o), CommonPrefixes: e.prefixes(res.CommonPrefixes),
	}
	if res.IsTruncated {
		out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Next))
	}
	s.writeXML(q, http.StatusOK, out)
	return nil
}

func (s *Server) listUploads(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	query := q.r.URL.Query()
	e, err := newKeyEncoder(query)
	if err != nil {
		return err
	}
	limit, err := intParam(query, "max-uploads", maxListKeys)
	if err != nil {
		return err
	}
	uq := fsstore.UploadQuery{
		Prefix: query.Get("prefix"), Delimiter: query.Get("delimiter"),
		KeyMarker: query.Get("key-marker"), UploadIDMarker: query.Get("upload-id-marker"), MaxUploads: limit,
	}
	res, err := s.store.ListUploads(q.route.Bucket, uq)
	if err != nil {
		return err
	}
	out := listUploadsResult{
		Xmlns: s3Namespace, Bucket: q.route.Bucket, KeyMarker: e.enc(uq.KeyMarker), UploadIDMarker: uq.UploadIDMarker,
		Prefix: e.enc(uq.Prefix), Delimiter: e.enc(uq.Delimiter), MaxUploads: limit, EncodingType: e.typ(),
		IsTruncated: res.IsTruncated, CommonPrefixes: e.prefixes(res.CommonPrefixes),
	}
	if res.IsTruncated {
		out.NextKeyMarker, out.NextUploadIDMarker = e.enc(res.NextKeyMarker), res.NextUploadIDMarker
	}
	for _, u := range res.Uploads {
		out.Uploads = append(out.Uploads, uploadEntry{
			Key: e.enc(u.Key), UploadID: u.ID, StorageClass: storageClass, Initiated: s3Time(u.Initiated),
			Initiator: owner{ID: u.Initiator, DisplayName: u.Initiator}, Owner: *projectOwner(b.Project),
		})
	}
	s.writeXML(q, http.StatusOK, out)
	return nil
}
