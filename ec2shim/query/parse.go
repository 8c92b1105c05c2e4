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

package query

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

const formContentType = "application/x-www-form-urlencoded"

// Request is a parsed EC2 Query API request.
type Request struct {
	// Action names the operation, e.g. RunInstances.
	Action string
	// Version is the API version the client speaks, e.g. 2016-11-15.
	Version string
	// Params holds the operation's parameters by wire name (InstanceId.1, Filter.1.Value.2), one
	// value each.
	Params map[string][]string
	// Auth holds the authentication parameters (Signature Version 2 and presigned Signature
	// Version 4), which are not part of Params, for the signature check.
	Auth map[string][]string
}

// IsAuthParam tells whether a parameter name belongs to request authentication (Signature
// Version 2, a session token, or a presigned Signature Version 4 request's X-Amz-* parameters)
// rather than to the operation.
func IsAuthParam(name string) bool {
	switch name {
	case "AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "Timestamp",
		"Expires", "SecurityToken":
		return true
	}
	return len(name) >= 6 && strings.EqualFold(name[:6], "X-Amz-")
}

// Parse reads an EC2 query request: GET with the query string, or POST with an
// application/x-www-form-urlencoded body (the body may also carry Action). It rejects a body over
// maxBody, malformed percent-encoding, and duplicate parameter names with clear *Error values.
//
// Action must be a plain name (a letter, then letters and digits), so it can name the response
// element; whether the action exists is the caller's business, as is which Version it accepts.
// Parameters of the URL and of a POST body form one set: a name given in both is a duplicate.
// Names and values must be valid UTF-8. After Parse, r.Body reads the same bytes again, so a
// signature check that hashes the payload can run after it.
func Parse(r *http.Request, maxBody int64) (*Request, error) {
	var body []byte
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var err error
		if body, err = readForm(r, maxBody); err != nil {
			return nil, err
		}
	default:
		return nil, Errorf(CodeUnsupportedHTTPVerb, http.StatusMethodNotAllowed,
			"The HTTP method %s is not supported; use GET or POST", clip(r.Method))
	}

	all := make(map[string][]string)
	if err := parsePairs(r.URL.RawQuery, all); err != nil {
		return nil, err
	}
	if err := parsePairs(string(body), all); err != nil {
		return nil, err
	}

	req := &Request{Params: make(map[string][]string), Auth: make(map[string][]string)}
	for name, values := range all {
		switch {
		case name == "Action":
			req.Action = values[0]
		case name == "Version":
			req.Version = values[0]
		case IsAuthParam(name):
			req.Auth[name] = values
		default:
			req.Params[name] = values
		}
	}
	switch {
	case req.Action == "":
		return nil, Errorf(CodeMissingAction, http.StatusBadRequest,
			"The request must contain the parameter Action")
	case !isXMLName(req.Action):
		// Action names an element of the response, so only plain names get through.
		return nil, Errorf(CodeInvalidAction, http.StatusBadRequest,
			"The action %q is not valid for this web service.", clip(req.Action))
	}
	if req.Version == "" {
		return nil, missingParameter("Version")
	}
	return req, nil
}

// readForm reads a POST body of at most maxBody bytes and puts it back for later readers.
func readForm(r *http.Request, maxBody int64) ([]byte, error) {
	tooLarge := Errorf(CodeRequestTooLarge, http.StatusRequestEntityTooLarge,
		"The request body exceeds the limit of %d bytes", maxBody)
	if r.ContentLength > maxBody {
		return nil, tooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return nil, tooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) == 0 {
		return nil, nil
	}
	// A body is only parameters when it says it is form data; SDKs always send the type.
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != formContentType {
		return nil, Errorf(CodeUnsupportedMediaType, http.StatusUnsupportedMediaType,
			"A request body must have the content type %s", formContentType)
	}
	return body, nil
}

// parsePairs decodes name=value pairs separated by & into into, rejecting duplicates.
// Unlike url.ParseQuery it reports the first malformed pair instead of skipping it.
func parsePairs(s string, into map[string][]string) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return malformed(pair)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return malformed(pair)
		}
		switch {
		case name == "":
			return Errorf(CodeMalformedQueryString, http.StatusBadRequest,
				"The query string contains a parameter with no name: %q", clip(pair))
		case !utf8.ValidString(name) || !utf8.ValidString(value):
			return Errorf(CodeMalformedQueryString, http.StatusBadRequest,
				"The query string contains a parameter that is not valid UTF-8: %q", clip(pair))
		}
		if _, dup := into[name]; dup {
			return Errorf(CodeInvalidQueryParameter, http.StatusBadRequest,
				"The parameter %s is given more than once", clip(name))
		}
		into[name] = []string{value}
	}
	return nil
}

func malformed(pair string) *Error {
	return Errorf(CodeMalformedQueryString, http.StatusBadRequest,
		"The query string contains malformed percent-encoding: %q", clip(pair))
}

// PageScope identifies the query a NextToken belongs to: the action and every parameter except
// NextToken and MaxResults, so a token cannot be replayed against a different query.
func (r *Request) PageScope() string {
	names := make([]string, 0, len(r.Params))
	for name := range r.Params {
		if name != "NextToken" && name != "MaxResults" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(url.QueryEscape(r.Action))
	for _, name := range names {
		for _, v := range r.Params[name] {
			b.WriteByte('&')
			b.WriteString(url.QueryEscape(name))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}
