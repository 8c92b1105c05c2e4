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
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"pinet.io/pinet/objectstore/fsstore"
)

// S3's limits on tags.
const (
	maxObjectTags   = 10
	maxBucketTags   = 50
	maxTagKeyLen    = 128
	maxTagValueLen  = 256
	headerTagging   = "x-amz-tagging"
	headerTagCount  = "x-amz-tagging-count"
	headerTagDirect = "x-amz-tagging-directive"
	errTagHeader    = "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
)

// Tagging operations.
const (
	OpGetObjectTagging    Operation = "GetObjectTagging"
	OpPutObjectTagging    Operation = "PutObjectTagging"
	OpDeleteObjectTagging Operation = "DeleteObjectTagging"
	OpGetBucketTagging    Operation = "GetBucketTagging"
	OpPutBucketTagging    Operation = "PutBucketTagging"
	OpDeleteBucketTagging Operation = "DeleteBucketTagging"
)

// tagging is the XML of a tag set (the Tagging document of the API model).
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  *struct {
		Tags []tagXML `xml:"Tag"`
	} `xml:"TagSet"`
}

type tagXML struct {
	Key   *string `xml:"Key"`
	Value *string `xml:"Value"`
}

func taggingDocument(tags []fsstore.Tag) tagging {
	doc := tagging{Xmlns: s3Namespace}
	doc.TagSet = &struct {
		Tags []tagXML `xml:"Tag"`
	}{}
	for _, t := range tags {
		doc.TagSet.Tags = append(doc.TagSet.Tags, tagXML{Key: &t.Key, Value: &t.Value})
	}
	return doc
}

// parseTagging reads a PutObjectTagging or PutBucketTagging body.
func parseTagging(body []byte, forBucket bool) ([]fsstore.Tag, error) {
	var doc tagging
	if len(bytes.TrimSpace(body)) == 0 || xml.Unmarshal(body, &doc) != nil || doc.TagSet == nil {
		return nil, s3Error(CodeMalformedXML)
	}
	tags := make([]fsstore.Tag, 0, len(doc.TagSet.Tags))
	for _, t := range doc.TagSet.Tags {
		if t.Key == nil || t.Value == nil {
			return nil, s3Error(CodeMalformedXML)
		}
		tags = append(tags, fsstore.Tag{Key: *t.Key, Value: *t.Value})
	}
	if err := validTags(tags, forBucket); err != nil {
		return nil, err
	}
	return tags, nil
}

// tagsFromHeader reads x-amz-tagging ("k1=v1&k2=v2", URL-encoded); nil when absent.
func tagsFromHeader(h http.Header) ([]fsstore.Tag, error) {
	vals, present := h[http.CanonicalHeaderKey(headerTagging)]
	if !present {
		return nil, nil
	}
	v := strings.Join(vals, "&")
	var tags []fsstore.Tag
	for _, pair := range strings.Split(v, "&") {
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(val)
		if err1 != nil || err2 != nil {
			return nil, s3Error(CodeInvalidArgument, errTagHeader)
		}
		tags = append(tags, fsstore.Tag{Key: key, Value: value})
	}
	if hasDuplicateKey(tags) {
		return nil, s3Error(CodeInvalidArgument, errTagHeader)
	}
	if err := validTags(tags, false); err != nil {
		return nil, err
	}
	return tags, nil
}

func hasDuplicateKey(tags []fsstore.Tag) bool {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if seen[t.Key] {
			return true
		}
		seen[t.Key] = true
	}
	return false
}

// validTags checks a tag set against S3's rules for objects or buckets.
func validTags(tags []fsstore.Tag, forBucket bool) error {
	switch {
	case !forBucket && len(tags) > maxObjectTags:
		return s3Error(CodeBadRequest, "Object tags cannot be greater than 10")
	case forBucket && len(tags) > maxBucketTags:
		return s3Error(CodeInvalidTag, "Bucket tag count cannot be greater than 50")
	case hasDuplicateKey(tags):
		return s3Error(CodeInvalidTag, "Cannot provide multiple Tags with the same key")
	}
	for _, t := range tags {
		switch {
		case t.Key == "" || !validTagText(t.Key):
			return s3Error(CodeInvalidTag, "The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Key) > maxTagKeyLen:
			return s3Error(CodeInvalidTag, "The TagKey you have provided is too long, max "+strconv.Itoa(maxTagKeyLen))
		case !validTagText(t.Value):
			return s3Error(CodeInvalidTag, "The TagValue you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > maxTagValueLen:
			return s3Error(CodeInvalidTag, "The TagValue you have provided is too long, max "+strconv.Itoa(maxTagValueLen))
		case forBucket && strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return s3Error(CodeInvalidTag, "System tags cannot be added/updated by requester")
		}
	}
	return nil
}

// validTagText reports whether s holds only what tags may: UTF-8 letters, digits, spaces
// and + - = . _ : / @.
func validTagText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || strings.ContainsRune(" +-=._:/@", r)) {
			return false
		}
	}
	return true
}

// taggingOperation routes the tagging subresource of buckets and objects; ok is false for a
// request that does not name it.
func taggingOperation(method string, q url.Values, object bool) (op Operation, ok bool, err error) {
	if !q.Has("tagging") {
		return "", false, nil
	}
	get, put, del := OpGetBucketTagging, OpPutBucketTagging, OpDeleteBucketTagging
	if object {
		get, put, del = OpGetObjectTagging, OpPutObjectTagging, OpDeleteObjectTagging
	}
	switch method {
	case http.MethodGet:
		return get, true, nil
	case http.MethodPut:
		return put, true, nil
	case http.MethodDelete:
		return del, true, nil
	}
	return "", true, s3Error(CodeMethodNotAllowed)
}

// tagTarget finds the object version a tagging request names and checks the caller's access.
func (s *Server) tagTarget(q *request) (fsstore.BucketInfo, string, error) {
	b, err := s.bucket(q)
	if err != nil {
		return fsstore.BucketInfo{}, "", err
	}
	id, named, err := versionParam(q.r.URL.Query())
	if err != nil {
		return fsstore.BucketInfo{}, "", err
	}
	if !named {
		id = ""
	}
	return b, id, nil
}

// setTagVersion tells the client which version a tagging request acted on.
func setTagVersion(q *request, b fsstore.BucketInfo, info fsstore.ObjectInfo) {
	if b.Versioning != "" || q.r.URL.Query().Has("versionId") {
		q.w.Header().Set(headerVersionID, fsstore.VersionName(info.VersionID))
	}
}

func (s *Server) getObjectTagging(q *request) error {
	b, id, err := s.tagTarget(q)
	if err != nil {
		return err
	}
	tags, info, err := s.store.ObjectTags(b.Name, q.route.Key, id)
	if err != nil {
		return s.objectMissing(q, err)
	}
	setTagVersion(q, b, info)
	s.writeXML(q, http.StatusOK, taggingDocument(tags))
	return nil
}

func (s *Server) putObjectTagging(q *request) error {
	b, id, err := s.tagTarget(q)
	if err != nil {
		return err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	tags, err := parseTagging(body, false)
	if err != nil {
		return err
	}
	info, err := s.store.SetObjectTags(b.Name, q.route.Key, id, tags)
	if err != nil {
		return s.objectMissing(q, err)
	}
	setTagVersion(q, b, info)
	writeEmpty(q, http.StatusOK)
	return nil
}

func (s *Server) deleteObjectTagging(q *request) error {
	b, id, err := s.tagTarget(q)
	if err != nil {
		return err
	}
	info, err := s.store.SetObjectTags(b.Name, q.route.Key, id, nil)
	if err != nil {
		return s.objectMissing(q, err)
	}
	setTagVersion(q, b, info)
	writeEmpty(q, http.StatusNoContent)
	return nil
}

func (s *Server) getBucketTagging(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if len(b.Tags) == 0 {
		return s3Error(CodeNoSuchTagSet)
	}
	s.writeXML(q, http.StatusOK, taggingDocument(b.Tags))
	return nil
}

func (s *Server) putBucketTagging(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	tags, err := parseTagging(body, true)
	if err != nil {
		return err
	}
	return s.setBucketConfig(q, b.Name, http.StatusNoContent, func(bi *fsstore.BucketInfo) { bi.Tags = tags })
}

func (s *Server) deleteBucketTagging(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	return s.setBucketConfig(q, b.Name, http.StatusNoContent, func(bi *fsstore.BucketInfo) { bi.Tags = nil })
}

// copyTags is the tag set of an object a copy makes: the source's (x-amz-tagging-directive
// COPY, the default) or the request's (REPLACE). Copying the source's tags reads them, so the
// caller needs s3:GetObjectTagging (of the version, when one is named) on the source, as in S3:
// reading the object is not enough.
func (s *Server) copyTags(q *request, src copiedFrom, info fsstore.ObjectInfo) ([]fsstore.Tag, error) {
	switch d := q.r.Header.Get(headerTagDirect); d {
	case "", "COPY":
		tags, err := s.store.TagsOf(src.Bucket, info)
		if err != nil || len(tags) == 0 {
			return tags, err
		}
		ac := src.check(OpGetObjectTagging)
		dec, err := s.decide(q, ac)
		if err != nil {
			return nil, err
		}
		if dec == needObject {
			acl, err := s.store.ACLOf(src.Bucket, info)
			if err != nil {
				return nil, err
			}
			dec = boolDecision(q.objectGranted(ac, acl))
		}
		if dec != granted {
			return nil, s3Error(CodeAccessDenied)
		}
		return tags, nil
	case "REPLACE":
		return tagsFromHeader(q.r.Header)
	default:
		return nil, s3Error(CodeInvalidArgument, "Unknown tagging directive "+d+".")
	}
}

// setTagCount tells a GET or HEAD how many tags the object has, when it has any.
func (s *Server) setTagCount(q *request, info fsstore.ObjectInfo) error {
	tags, err := s.store.TagsOf(q.route.Bucket, info)
	if err != nil {
		return err
	}
	if len(tags) > 0 {
		q.w.Header().Set(headerTagCount, strconv.Itoa(len(tags)))
	}
	return nil
}
