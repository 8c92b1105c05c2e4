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
	"strconv"

	"pinet.io/pinet/objectstore/fsstore"
)

// requestedACL reads the ACL a PutBucketAcl or PutObjectAcl asks for: from its headers (a
// canned ACL or grant headers) or its AccessControlPolicy body, not both.
func requestedACL(q *request, owner string, forObject bool) (fsstore.ACL, error) {
	acl, present, err := aclFromHeaders(q.r.Header, owner, owner, forObject)
	if err != nil {
		return fsstore.ACL{}, err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return fsstore.ACL{}, err
	}
	if present {
		if len(bytes.TrimSpace(body)) != 0 {
			return fsstore.ACL{}, s3Error(CodeUnexpectedContent)
		}
		return acl, nil
	}
	return parseACL(body, owner)
}

func (s *Server) getBucketACL(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	s.writeXML(q, http.StatusOK, aclDocument(bucketACL(b)))
	return nil
}

func (s *Server) putBucketACL(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	acl, err := requestedACL(q, b.Project, false)
	if err != nil {
		return err
	}
	if err := refusePublicACL(q, b, acl); err != nil {
		return err
	}
	if _, err := s.store.UpdateBucket(b.Name, func(bi *fsstore.BucketInfo) error {
		bi.ACL = &acl
		return nil
	}); err != nil {
		return err
	}
	writeEmpty(q, http.StatusOK)
	return nil
}

// aclTarget opens the object version an object ACL request names and checks the caller's
// access to it.
func (s *Server) aclTarget(q *request, b fsstore.BucketInfo) (*fsstore.ACL, fsstore.ObjectInfo, error) {
	id, named, err := versionParam(q.r.URL.Query())
	if err != nil {
		return nil, fsstore.ObjectInfo{}, err
	}
	if !named {
		id = ""
	}
	acl, info, err := s.store.ObjectACL(b.Name, q.route.Key, id)
	if err != nil {
		return nil, fsstore.ObjectInfo{}, s.objectMissing(q, err)
	}
	if err := s.objectAccess(q, info); err != nil {
		return nil, fsstore.ObjectInfo{}, err
	}
	if named || b.Versioning != "" {
		q.w.Header().Set(headerVersionID, fsstore.VersionName(info.VersionID))
	}
	if acl == nil {
		private := privateACL(b.Project)
		acl = &private
	}
	return acl, info, nil
}

func (s *Server) getObjectACL(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	acl, _, err := s.aclTarget(q, b)
	if err != nil {
		return err
	}
	s.writeXML(q, http.StatusOK, aclDocument(*acl))
	return nil
}

func (s *Server) putObjectACL(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	_, info, err := s.aclTarget(q, b)
	if err != nil {
		return err
	}
	acl, err := requestedACL(q, b.Project, true)
	if err != nil {
		return err
	}
	if err := refusePublicACL(q, b, acl); err != nil {
		return err
	}
	if _, err := s.store.SetObjectACL(b.Name, q.route.Key, info.VersionID, acl); err != nil {
		return err
	}
	writeEmpty(q, http.StatusOK)
	return nil
}

func (s *Server) getBucketPolicy(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if b.Policy == "" {
		return s3Error(CodeNoSuchBucketPolicy)
	}
	h := q.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b.Policy)))
	q.w.WriteHeader(http.StatusOK)
	_, _ = q.w.Write([]byte(b.Policy))
	return nil
}

func (s *Server) putBucketPolicy(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	pol, err := parsePolicy(body, b.Name)
	if err != nil {
		return err
	}
	if pol.isPublic() && effectivePAB(b, !q.principal().Admin).BlockPublicPolicy {
		return s3Error(CodeAccessDenied, "Access Denied: public policies are blocked on this bucket.")
	}
	if _, err := s.store.UpdateBucket(b.Name, func(bi *fsstore.BucketInfo) error {
		bi.Policy = string(body)
		return nil
	}); err != nil {
		return err
	}
	writeEmpty(q, http.StatusNoContent)
	return nil
}

func (s *Server) deleteBucketPolicy(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if _, err := s.store.UpdateBucket(b.Name, func(bi *fsstore.BucketInfo) error {
		bi.Policy = ""
		return nil
	}); err != nil {
		return err
	}
	writeEmpty(q, http.StatusNoContent)
	return nil
}

// publicAccessBlockConfiguration is the XML of a PublicAccessBlock configuration.
type publicAccessBlockConfiguration struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	Xmlns                 string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

// parsePublicAccessBlock reads a PutPublicAccessBlock body.
func parsePublicAccessBlock(body []byte) (fsstore.PublicAccessBlock, error) {
	var doc publicAccessBlockConfiguration
	if len(bytes.TrimSpace(body)) == 0 || xml.Unmarshal(body, &doc) != nil {
		return fsstore.PublicAccessBlock{}, s3Error(CodeMalformedXML)
	}
	return fsstore.PublicAccessBlock{BlockPublicAcls: doc.BlockPublicAcls, IgnorePublicAcls: doc.IgnorePublicAcls,
		BlockPublicPolicy: doc.BlockPublicPolicy, RestrictPublicBuckets: doc.RestrictPublicBuckets}, nil
}

func (s *Server) getPublicAccessBlock(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	p := b.PublicAccessBlock
	if p == nil {
		return s3Error(CodeNoSuchPublicAccessBlock)
	}
	s.writeXML(q, http.StatusOK, publicAccessBlockConfiguration{Xmlns: s3Namespace, BlockPublicAcls: p.BlockPublicAcls,
		IgnorePublicAcls: p.IgnorePublicAcls, BlockPublicPolicy: p.BlockPublicPolicy, RestrictPublicBuckets: p.RestrictPublicBuckets})
	return nil
}

func (s *Server) putPublicAccessBlock(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	pab, err := parsePublicAccessBlock(body)
	if err != nil {
		return err
	}
	if _, err := s.store.UpdateBucket(b.Name, func(bi *fsstore.BucketInfo) error {
		bi.PublicAccessBlock = &pab
		return nil
	}); err != nil {
		return err
	}
	writeEmpty(q, http.StatusOK)
	return nil
}

func (s *Server) deletePublicAccessBlock(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if _, err := s.store.UpdateBucket(b.Name, func(bi *fsstore.BucketInfo) error {
		bi.PublicAccessBlock = nil
		return nil
	}); err != nil {
		return err
	}
	writeEmpty(q, http.StatusNoContent)
	return nil
}

// writeEmpty answers with status and no body.
func writeEmpty(q *request, status int) {
	if status != http.StatusNoContent {
		q.w.Header().Set("Content-Length", "0")
	}
	q.w.WriteHeader(status)
}
