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

	"pinet.io/pinet/objectstore/fsstore"
)

// CORS operations. OpPreflight answers a browser's OPTIONS preflight of a bucket or object.
const (
	OpGetBucketCors    Operation = "GetBucketCors"
	OpPutBucketCors    Operation = "PutBucketCors"
	OpDeleteBucketCors Operation = "DeleteBucketCors"
	OpPreflight        Operation = "OptionsObject"
)

const (
	maxCORSRules  = 100
	maxCORSRuleID = 255
	errCORSDenied = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
	errCORSOff    = "CORSResponse: CORS is not enabled for this bucket."
)

// corsMethods are the methods a CORS rule may allow.
var corsMethods = []string{http.MethodGet, http.MethodPut, http.MethodHead, http.MethodPost, http.MethodDelete}

// corsConfiguration is the XML of a bucket's CORS configuration.
type corsConfiguration struct {
	XMLName xml.Name  `xml:"CORSConfiguration"`
	Xmlns   string    `xml:"xmlns,attr,omitempty"`
	Rules   []corsXML `xml:"CORSRule"`
}

type corsXML struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds"`
}

// parseCORS reads a PutBucketCors body.
func parseCORS(body []byte) ([]fsstore.CORSRule, error) {
	var doc corsConfiguration
	if len(bytes.TrimSpace(body)) == 0 || xml.Unmarshal(body, &doc) != nil {
		return nil, s3Error(CodeMalformedXML)
	}
	if len(doc.Rules) == 0 {
		return nil, s3Error(CodeMalformedXML, "A CORS configuration needs at least one CORSRule.")
	}
	if len(doc.Rules) > maxCORSRules {
		return nil, s3Error(CodeMalformedXML, "A CORS configuration may have at most 100 rules.")
	}
	rules := make([]fsstore.CORSRule, 0, len(doc.Rules))
	for _, r := range doc.Rules {
		if len(r.AllowedMethods) == 0 || len(r.AllowedOrigins) == 0 {
			return nil, s3Error(CodeMalformedXML, "Every CORSRule needs an AllowedMethod and an AllowedOrigin.")
		}
		if len(r.ID) > maxCORSRuleID {
			return nil, s3Error(CodeInvalidArgument, "The ID of a CORSRule may be at most 255 characters long.")
		}
		if r.MaxAgeSeconds != nil && *r.MaxAgeSeconds < 0 {
			return nil, s3Error(CodeMalformedXML, "MaxAgeSeconds may not be negative.")
		}
		for _, m := range r.AllowedMethods {
			if !contains(corsMethods, m) {
				return nil, s3Error(CodeInvalidRequest, "Found unsupported HTTP method in CORS config. Unsupported method is "+m)
			}
		}
		for _, o := range r.AllowedOrigins {
			if strings.Count(o, "*") > 1 || o == "" {
				return nil, s3Error(CodeInvalidRequest, `AllowedOrigin "`+o+`" can not have more than one wildcard.`)
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 || h == "" {
				return nil, s3Error(CodeInvalidRequest, `AllowedHeader "`+h+`" can not have more than one wildcard.`)
			}
		}
		for _, h := range r.ExposeHeaders {
			if h == "" || strings.ContainsAny(h, "*, \t\r\n") {
				return nil, s3Error(CodeInvalidRequest, `ExposeHeader "`+h+`" contains wildcard. We currently do not support wildcard for ExposeHeader.`)
			}
		}
		rules = append(rules, fsstore.CORSRule{ID: r.ID, AllowedOrigins: r.AllowedOrigins, AllowedMethods: r.AllowedMethods,
			AllowedHeaders: r.AllowedHeaders, ExposeHeaders: r.ExposeHeaders, MaxAgeSeconds: r.MaxAgeSeconds})
	}
	return rules, nil
}

func corsDocument(rules []fsstore.CORSRule) corsConfiguration {
	doc := corsConfiguration{Xmlns: s3Namespace}
	for _, r := range rules {
		doc.Rules = append(doc.Rules, corsXML{ID: r.ID, AllowedHeaders: r.AllowedHeaders, AllowedMethods: r.AllowedMethods,
			AllowedOrigins: r.AllowedOrigins, ExposeHeaders: r.ExposeHeaders, MaxAgeSeconds: r.MaxAgeSeconds})
	}
	return doc
}

// oneStarMatch matches s against pattern, in which one * stands for any run of characters.
func oneStarMatch(pattern, s string) bool {
	before, after, star := strings.Cut(pattern, "*")
	if !star {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// corsMatch finds the first rule allowing origin to use method with headers (lower-case names).
func corsMatch(rules []fsstore.CORSRule, origin, method string, headers []string) (fsstore.CORSRule, bool) {
	for _, r := range rules {
		if !contains(r.AllowedMethods, method) {
			continue
		}
		originOK := false
		for _, o := range r.AllowedOrigins {
			if oneStarMatch(o, origin) {
				originOK = true
				break
			}
		}
		if originOK && headersAllowed(r.AllowedHeaders, headers) {
			return r, true
		}
	}
	return fsstore.CORSRule{}, false
}

func headersAllowed(allowed, headers []string) bool {
	for _, h := range headers {
		ok := false
		for _, a := range allowed {
			if oneStarMatch(strings.ToLower(a), h) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// setCORSHeaders writes the headers that let origin's page read the answer under rule r.
func setCORSHeaders(h http.Header, r fsstore.CORSRule, origin string) {
	if contains(r.AllowedOrigins, "*") && !contains(r.AllowedOrigins, origin) {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(*r.MaxAgeSeconds))
	}
	h.Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

// corsOperation routes the cors subresource of buckets; ok is false for a request that does
// not name it.
func corsOperation(method string, q url.Values) (op Operation, ok bool, err error) {
	if !q.Has("cors") {
		return "", false, nil
	}
	switch method {
	case http.MethodGet:
		return OpGetBucketCors, true, nil
	case http.MethodPut:
		return OpPutBucketCors, true, nil
	case http.MethodDelete:
		return OpDeleteBucketCors, true, nil
	}
	return "", true, s3Error(CodeMethodNotAllowed)
}

// applyCORS adds CORS headers to the answer of an actual (not preflight) request that names an
// Origin, when the bucket's configuration allows that origin the request's method. Errors are
// answered with them too, so the page can read them.
func (s *Server) applyCORS(q *request) {
	origin := q.r.Header.Get("Origin")
	if origin == "" || q.route.Bucket == "" || q.route.Op == OpPreflight {
		return
	}
	b, err := s.store.Bucket(q.route.Bucket)
	if err != nil || len(b.CORS) == 0 {
		return
	}
	if r, ok := corsMatch(b.CORS, origin, q.r.Method, nil); ok {
		setCORSHeaders(q.w.Header(), r, origin)
	}
}

// preflight answers a browser's OPTIONS request: whether the bucket's CORS configuration lets
// the page at Origin send the request Access-Control-Request-Method and -Headers describe.
// Browsers send it unsigned, so no authorization is asked; a bucket that does not exist is
// answered as one without CORS, which tells nothing about its existence.
func (s *Server) preflight(q *request) error {
	origin := q.r.Header.Get("Origin")
	if origin == "" {
		return s3Error(CodeBadRequest, "Insufficient information. Origin request header needed.")
	}
	method := q.r.Header.Get("Access-Control-Request-Method")
	if !contains(corsMethods, method) {
		return s3Error(CodeBadRequest, "Invalid Access-Control-Request-Method: "+method)
	}
	var headers []string
	for _, v := range q.r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				headers = append(headers, name)
			}
		}
	}
	b, err := s.store.Bucket(q.route.Bucket)
	if err != nil || len(b.CORS) == 0 {
		return s3Error(CodeAccessForbidden, errCORSOff)
	}
	r, ok := corsMatch(b.CORS, origin, method, headers)
	if !ok {
		return s3Error(CodeAccessForbidden, errCORSDenied)
	}
	h := q.w.Header()
	setCORSHeaders(h, r, origin)
	if len(headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	writeEmpty(q, http.StatusOK)
	return nil
}

func (s *Server) getBucketCors(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if len(b.CORS) == 0 {
		return s3Error(CodeNoSuchCORSConfiguration)
	}
	s.writeXML(q, http.StatusOK, corsDocument(b.CORS))
	return nil
}

func (s *Server) putBucketCors(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	rules, err := parseCORS(body)
	if err != nil {
		return err
	}
	return s.setBucketConfig(q, b.Name, http.StatusOK, func(bi *fsstore.BucketInfo) { bi.CORS = rules })
}

func (s *Server) deleteBucketCors(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	return s.setBucketConfig(q, b.Name, http.StatusNoContent, func(bi *fsstore.BucketInfo) { bi.CORS = nil })
}
