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

package awsauth

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// pathRules say how a service turns the request path into the canonical URI.
type pathRules struct {
	// normalize removes dot segments and empty segments.
	normalize bool
	// escape percent-encodes the path as sent once more (so %20 becomes %2520).
	escape bool
}

// pathRules: S3 signs the path exactly as sent; every other service normalises it and
// encodes it again.
func (v *Verifier) pathRules() pathRules {
	if v.Service == ServiceS3 {
		return pathRules{}
	}
	return pathRules{normalize: true, escape: true}
}

// requestPath is the path as the client sent it, still percent-encoded. The request line is
// preferred over r.URL because it is what the client signed, even when a router rewrote the URL.
func requestPath(r *http.Request) string {
	if uri := r.RequestURI; strings.HasPrefix(uri, "/") {
		path, _, _ := strings.Cut(uri, "?")
		return path
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// canonicalURI applies a service's path rules to the path as sent.
func canonicalURI(path string, rules pathRules) string {
	if path == "" {
		path = "/"
	}
	if rules.normalize {
		path = removeDotSegments(path)
	}
	if rules.escape {
		path = escapeAWS(path, true)
	}
	return path
}

// removeDotSegments resolves "." and ".." segments and drops empty ones, keeping a leading and
// (when anything remains) a trailing slash: "//a/./b/../" becomes "/a/".
func removeDotSegments(path string) string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if strings.HasPrefix(path, "/") {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if len(out) > 0 && strings.HasSuffix(path, "/") {
		b.WriteByte('/')
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// escapeAWS percent-encodes every byte but the unreserved characters of RFC 3986 (and '/'
// when keepSlash), with upper-case hex, as every AWS signature version requires.
func escapeAWS(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// queryParam is one decoded name=value pair of a query string or form body.
type queryParam struct {
	key, value string
}

// queryParams keeps every pair in order, repeated names included.
type queryParams []queryParam

// parseQuery decodes a query string or form body: pairs split on '&', '+' is a space.
func parseQuery(raw string) (queryParams, error) {
	var params queryParams
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("%w: the query parameter name %s is not properly percent-encoded", ErrMalformed, quoted(k))
		}
		value, err := url.QueryUnescape(val)
		if err != nil {
			return nil, fmt.Errorf("%w: the value of query parameter %s is not properly percent-encoded", ErrMalformed, quoted(key))
		}
		params = append(params, queryParam{key: key, value: value})
	}
	return params, nil
}

func (q queryParams) has(key string) bool {
	return q.count(key) > 0
}

func (q queryParams) count(key string) int {
	n := 0
	for _, p := range q {
		if p.key == key {
			n++
		}
	}
	return n
}

// get returns the value of a parameter that must appear at most once.
func (q queryParams) get(key string) (string, bool, error) {
	value, found := "", false
	for _, p := range q {
		if p.key != key {
			continue
		}
		if found {
			return "", false, fmt.Errorf("%w: the parameter %s appears more than once", ErrMalformed, key)
		}
		value, found = p.value, true
	}
	return value, found, nil
}

// require returns the value of a parameter that must appear exactly once and not be empty.
func (q queryParams) require(key string) (string, error) {
	value, found, err := q.get(key)
	switch {
	case err != nil:
		return "", err
	case !found:
		return "", fmt.Errorf("%w: the parameter %s is missing", ErrMalformed, key)
	case value == "":
		return "", fmt.Errorf("%w: the parameter %s is empty", ErrMalformed, key)
	}
	return value, nil
}

// canonicalQuery encodes every pair but those named exclude, sorted by encoded name, then value.
func canonicalQuery(q queryParams, exclude string) string {
	pairs := make([]queryParam, 0, len(q))
	for _, p := range q {
		if p.key != exclude {
			pairs = append(pairs, queryParam{key: escapeAWS(p.key, false), value: escapeAWS(p.value, false)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].key != pairs[j].key {
			return pairs[i].key < pairs[j].key
		}
		return pairs[i].value < pairs[j].value
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.key + "=" + p.value
	}
	return strings.Join(parts, "&")
}

// canonicalHeaders renders the signed headers as "name:value\n" lines, in the signed order.
func canonicalHeaders(r *http.Request, names []string) (string, error) {
	var b strings.Builder
	for _, name := range names {
		values, ok := headerValues(r, name)
		if !ok {
			return "", fmt.Errorf("%w: the signed header %s is missing from the request", ErrSignatureMismatch, name)
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, value := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(canonicalHeaderValue(value))
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// headerValues finds a header by its lower-case name, including those net/http keeps outside
// r.Header (Host, and the Content-Length and Transfer-Encoding of a request a client built).
func headerValues(r *http.Request, name string) ([]string, bool) {
	switch name {
	case "host":
		return []string{r.Host}, r.Host != ""
	case "content-length":
		if values := r.Header.Values("Content-Length"); len(values) > 0 {
			return values, true
		}
		return []string{strconv.FormatInt(r.ContentLength, 10)}, r.ContentLength > 0
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}, true
		}
	}
	if values := r.Header.Values(name); len(values) > 0 {
		return values, true
	}
	// Names that are not valid tokens are kept as sent, not in canonical form.
	for key, values := range r.Header {
		if strings.EqualFold(key, name) {
			return values, true
		}
	}
	return nil, false
}

// canonicalHeaderValue trims a value and folds each run of whitespace into one space.
func canonicalHeaderValue(value string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case ' ', '\t', '\r', '\n':
			space = true
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
		}
	}
	return b.String()
}
