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
	"strings"
	"time"

	"pinet.io/pinet/objectstore/fsstore"
)

// Lifecycle configuration operations.
const (
	OpGetBucketLifecycle    Operation = "GetBucketLifecycleConfiguration"
	OpPutBucketLifecycle    Operation = "PutBucketLifecycleConfiguration"
	OpDeleteBucketLifecycle Operation = "DeleteBucketLifecycle"
)

const (
	maxLifecycleRules       = 1000
	maxLifecycleRuleID      = 255
	maxNewerNoncurrent      = 100
	lifecycleEnabled        = "Enabled"
	lifecycleDisabled       = "Disabled"
	errLifecycleTransitions = "Lifecycle transitions are not implemented: the store has a single storage class."
)

// lifecycleConfiguration is the XML of a bucket's lifecycle configuration.
type lifecycleConfiguration struct {
	XMLName xml.Name       `xml:"LifecycleConfiguration"`
	Xmlns   string         `xml:"xmlns,attr,omitempty"`
	Rules   []lifecycleXML `xml:"Rule"`
}

type lifecycleXML struct {
	ID         string               `xml:"ID,omitempty"`
	Prefix     *string              `xml:"Prefix"`
	Filter     *lifecycleFilterXML  `xml:"Filter"`
	Status     string               `xml:"Status"`
	Expiration *lifecycleExpiration `xml:"Expiration"`
	Noncurrent *struct {
		NoncurrentDays          *int `xml:"NoncurrentDays"`
		NewerNoncurrentVersions *int `xml:"NewerNoncurrentVersions"`
	} `xml:"NoncurrentVersionExpiration"`
	Abort *struct {
		DaysAfterInitiation *int `xml:"DaysAfterInitiation"`
	} `xml:"AbortIncompleteMultipartUpload"`
	Transitions           []struct{} `xml:"Transition"`
	NoncurrentTransitions []struct{} `xml:"NoncurrentVersionTransition"`
}

type lifecycleExpiration struct {
	Days                      *int    `xml:"Days"`
	Date                      *string `xml:"Date"`
	ExpiredObjectDeleteMarker *bool   `xml:"ExpiredObjectDeleteMarker"`
}

type lifecycleFilterXML struct {
	Prefix                *string    `xml:"Prefix"`
	Tag                   *tagXML    `xml:"Tag"`
	ObjectSizeGreaterThan *int64     `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64     `xml:"ObjectSizeLessThan"`
	And                   *filterAnd `xml:"And"`
}

type filterAnd struct {
	Prefix                *string  `xml:"Prefix"`
	Tags                  []tagXML `xml:"Tag"`
	ObjectSizeGreaterThan *int64   `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64   `xml:"ObjectSizeLessThan"`
}

// lifecycleOperation routes the lifecycle subresource of buckets; ok is false for a request
// that does not name it.
func lifecycleOperation(method string, q url.Values) (op Operation, ok bool, err error) {
	if !q.Has("lifecycle") {
		return "", false, nil
	}
	switch method {
	case http.MethodGet:
		return OpGetBucketLifecycle, true, nil
	case http.MethodPut:
		return OpPutBucketLifecycle, true, nil
	case http.MethodDelete:
		return OpDeleteBucketLifecycle, true, nil
	}
	return "", true, s3Error(CodeMethodNotAllowed)
}

// parseLifecycle reads a PutBucketLifecycleConfiguration body.
func parseLifecycle(body []byte) ([]fsstore.LifecycleRule, error) {
	var doc lifecycleConfiguration
	if len(bytes.TrimSpace(body)) == 0 || xml.Unmarshal(body, &doc) != nil || len(doc.Rules) == 0 {
		return nil, s3Error(CodeMalformedXML)
	}
	if len(doc.Rules) > maxLifecycleRules {
		return nil, s3Error(CodeInvalidRequest, "The number of lifecycle rules must not exceed 1000.")
	}
	ids := map[string]bool{}
	rules := make([]fsstore.LifecycleRule, 0, len(doc.Rules))
	for _, x := range doc.Rules {
		if x.ID != "" {
			if ids[x.ID] {
				return nil, s3Error(CodeInvalidArgument, "Rule ID must be unique. Found same ID for more than one rule")
			}
			ids[x.ID] = true
		}
		r, err := parseLifecycleRule(x)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseLifecycleRule(x lifecycleXML) (fsstore.LifecycleRule, error) {
	r := fsstore.LifecycleRule{ID: x.ID}
	if len(x.ID) > maxLifecycleRuleID {
		return r, s3Error(CodeInvalidArgument, "ID length should not exceed allowed limit of 255")
	}
	switch x.Status {
	case lifecycleEnabled:
		r.Enabled = true
	case lifecycleDisabled:
	default:
		return r, s3Error(CodeMalformedXML)
	}
	if len(x.Transitions) > 0 || len(x.NoncurrentTransitions) > 0 {
		return r, s3Error(CodeNotImplemented, errLifecycleTransitions)
	}
	if err := parseLifecycleFilter(x, &r); err != nil {
		return r, err
	}
	if err := parseExpiration(x.Expiration, &r); err != nil {
		return r, err
	}
	if n := x.Noncurrent; n != nil {
		if n.NoncurrentDays == nil || *n.NoncurrentDays <= 0 {
			return r, s3Error(CodeInvalidArgument, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
		}
		r.NoncurrentDays = *n.NoncurrentDays
		if v := n.NewerNoncurrentVersions; v != nil {
			if *v <= 0 || *v > maxNewerNoncurrent {
				return r, s3Error(CodeInvalidArgument, "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer up to 100")
			}
			r.NewerNoncurrent = *v
		}
	}
	if a := x.Abort; a != nil {
		if a.DaysAfterInitiation == nil || *a.DaysAfterInitiation <= 0 {
			return r, s3Error(CodeInvalidArgument, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
		}
		if len(r.Tags) > 0 || r.SizeGreaterThan > 0 || r.SizeLessThan > 0 {
			return r, s3Error(CodeInvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with Tags or object size filters.")
		}
		r.AbortUploadDays = *a.DaysAfterInitiation
	}
	if r.ExpirationDays == 0 && r.ExpirationDate == nil && !r.ExpiredDeleteMarker && r.NoncurrentDays == 0 && r.AbortUploadDays == 0 {
		return r, s3Error(CodeInvalidRequest, "At least one action needs to be specified in a rule")
	}
	return r, nil
}

func parseExpiration(e *lifecycleExpiration, r *fsstore.LifecycleRule) error {
	if e == nil {
		return nil
	}
	set := 0
	if e.Days != nil {
		set++
		if *e.Days <= 0 {
			return s3Error(CodeInvalidArgument, "'Days' for Expiration action must be a positive integer")
		}
		r.ExpirationDays = *e.Days
	}
	if e.Date != nil {
		set++
		d, err := time.Parse(time.RFC3339, strings.TrimSpace(*e.Date))
		if err != nil {
			return s3Error(CodeInvalidArgument, "'Date' must be a date in ISO 8601 format")
		}
		if d = d.UTC(); !d.Equal(d.Truncate(24 * time.Hour)) {
			return s3Error(CodeInvalidArgument, "'Date' must be at midnight GMT")
		}
		r.ExpirationDate = &d
	}
	if e.ExpiredObjectDeleteMarker != nil {
		if set > 0 {
			return s3Error(CodeInvalidRequest, "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy.")
		}
		if *e.ExpiredObjectDeleteMarker && len(r.Tags) > 0 {
			return s3Error(CodeInvalidRequest, "ExpiredObjectDeleteMarker cannot be specified with object tag filters.")
		}
		r.ExpiredDeleteMarker = *e.ExpiredObjectDeleteMarker
		set++
	}
	if set != 1 {
		return s3Error(CodeMalformedXML)
	}
	return nil
}

// parseLifecycleFilter reads a rule's filter: the legacy Prefix or a Filter with one of
// Prefix, Tag, an object size bound, or And.
func parseLifecycleFilter(x lifecycleXML, r *fsstore.LifecycleRule) error {
	if (x.Prefix == nil) == (x.Filter == nil) {
		return s3Error(CodeMalformedXML)
	}
	if x.Prefix != nil {
		r.Prefix, r.LegacyPrefix = *x.Prefix, true
		return nil
	}
	f := x.Filter
	n := 0
	for _, present := range []bool{f.Prefix != nil, f.Tag != nil, f.ObjectSizeGreaterThan != nil, f.ObjectSizeLessThan != nil, f.And != nil} {
		if present {
			n++
		}
	}
	if n > 1 {
		return s3Error(CodeMalformedXML)
	}
	var tags []tagXML
	prefix, gt, lt := f.Prefix, f.ObjectSizeGreaterThan, f.ObjectSizeLessThan
	if f.Tag != nil {
		tags = []tagXML{*f.Tag}
	}
	if a := f.And; a != nil {
		prefix, gt, lt, tags = a.Prefix, a.ObjectSizeGreaterThan, a.ObjectSizeLessThan, a.Tags
	}
	if prefix != nil {
		r.Prefix = *prefix
	}
	for _, t := range tags {
		if t.Key == nil || t.Value == nil {
			return s3Error(CodeMalformedXML)
		}
		r.Tags = append(r.Tags, fsstore.Tag{Key: *t.Key, Value: *t.Value})
	}
	if err := validTags(r.Tags, true); err != nil {
		return err
	}
	if gt != nil {
		if *gt < 0 {
			return s3Error(CodeInvalidArgument, "ObjectSizeGreaterThan must be a non-negative integer")
		}
		r.SizeGreaterThan = *gt
	}
	if lt != nil {
		if *lt <= 0 {
			return s3Error(CodeInvalidArgument, "ObjectSizeLessThan must be a positive integer")
		}
		r.SizeLessThan = *lt
	}
	if r.SizeLessThan > 0 && r.SizeGreaterThan >= r.SizeLessThan {
		return s3Error(CodeInvalidArgument, "ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
	}
	return nil
}

// lifecycleDocument is the XML the store answers for rules.
func lifecycleDocument(rules []fsstore.LifecycleRule) lifecycleConfiguration {
	doc := lifecycleConfiguration{Xmlns: s3Namespace}
	for _, r := range rules {
		x := lifecycleXML{ID: r.ID, Status: lifecycleDisabled}
		if r.Enabled {
			x.Status = lifecycleEnabled
		}
		x.Prefix, x.Filter = filterDocument(r)
		if r.ExpirationDays > 0 || r.ExpirationDate != nil || r.ExpiredDeleteMarker {
			x.Expiration = &lifecycleExpiration{}
			switch {
			case r.ExpirationDays > 0:
				x.Expiration.Days = ptr(r.ExpirationDays)
			case r.ExpirationDate != nil:
				x.Expiration.Date = ptr(r.ExpirationDate.UTC().Format("2006-01-02T15:04:05.000Z"))
			default:
				x.Expiration.ExpiredObjectDeleteMarker = ptr(true)
			}
		}
		if r.NoncurrentDays > 0 {
			x.Noncurrent = &struct {
				NoncurrentDays          *int `xml:"NoncurrentDays"`
				NewerNoncurrentVersions *int `xml:"NewerNoncurrentVersions"`
			}{NoncurrentDays: ptr(r.NoncurrentDays)}
			if r.NewerNoncurrent > 0 {
				x.Noncurrent.NewerNoncurrentVersions = ptr(r.NewerNoncurrent)
			}
		}
		if r.AbortUploadDays > 0 {
			x.Abort = &struct {
				DaysAfterInitiation *int `xml:"DaysAfterInitiation"`
			}{ptr(r.AbortUploadDays)}
		}
		doc.Rules = append(doc.Rules, x)
	}
	return doc
}

func filterDocument(r fsstore.LifecycleRule) (*string, *lifecycleFilterXML) {
	if r.LegacyPrefix {
		return ptr(r.Prefix), nil
	}
	tags := make([]tagXML, 0, len(r.Tags))
	for _, t := range r.Tags {
		tags = append(tags, tagXML{Key: ptr(t.Key), Value: ptr(t.Value)})
	}
	var gt, lt *int64
	if r.SizeGreaterThan > 0 {
		gt = ptr(r.SizeGreaterThan)
	}
	if r.SizeLessThan > 0 {
		lt = ptr(r.SizeLessThan)
	}
	parts := len(tags)
	for _, p := range []bool{r.Prefix != "", gt != nil, lt != nil} {
		if p {
			parts++
		}
	}
	f := &lifecycleFilterXML{}
	switch {
	case parts > 1:
		f.And = &filterAnd{Tags: tags, ObjectSizeGreaterThan: gt, ObjectSizeLessThan: lt}
		if r.Prefix != "" {
			f.And.Prefix = ptr(r.Prefix)
		}
	case len(tags) == 1:
		f.Tag = &tags[0]
	case gt != nil:
		f.ObjectSizeGreaterThan = gt
	case lt != nil:
		f.ObjectSizeLessThan = lt
	default:
		f.Prefix = ptr(r.Prefix)
	}
	return nil, f
}

func ptr[T any](v T) *T { return &v }

func (s *Server) getBucketLifecycle(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if len(b.Lifecycle) == 0 {
		return s3Error(CodeNoSuchLifecycleConfiguration)
	}
	s.writeXML(q, http.StatusOK, lifecycleDocument(b.Lifecycle))
	return nil
}

func (s *Server) putBucketLifecycle(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	rules, err := parseLifecycle(body)
	if err != nil {
		return err
	}
	return s.setBucketConfig(q, b.Name, http.StatusOK, func(bi *fsstore.BucketInfo) { bi.Lifecycle = rules })
}

func (s *Server) deleteBucketLifecycle(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	return s.setBucketConfig(q, b.Name, http.StatusNoContent, func(bi *fsstore.BucketInfo) { bi.Lifecycle = nil })
}
