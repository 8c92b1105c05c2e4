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
	"time"

	"pinet.io/pinet/objectstore/fsstore"
)

const (
	userMetaPrefix     = "x-amz-meta-"
	defaultContentType = "binary/octet-stream"
)

// metaFromHeaders reads what a write says about the object.
func metaFromHeaders(h http.Header) (fsstore.ObjectMeta, error) {
	m := fsstore.ObjectMeta{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    withoutAWSChunked(h.Get("Content-Encoding")),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	size := 0
	for name, vals := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, userMetaPrefix) {
			continue
		}
		if m.User == nil {
			m.User = map[string]string{}
		}
		k, v := lower[len(userMetaPrefix):], strings.Join(vals, ",")
		m.User[k] = v
		size += len(k) + len(v)
	}
	if size > maxUserMetadata {
		return fsstore.ObjectMeta{}, s3Error(CodeMetadataTooLarge, "Your metadata headers exceed the maximum allowed metadata size of 2048 bytes.")
	}
	tags, err := tagsFromHeader(h)
	if err != nil {
		return fsstore.ObjectMeta{}, err
	}
	m.Tags = tags
	return m, nil
}

// withoutAWSChunked drops the aws-chunked transfer coding, which describes the request, not the
// object.
func withoutAWSChunked(enc string) string {
	if !strings.Contains(enc, "aws-chunked") {
		return enc
	}
	var keep []string
	for _, e := range strings.Split(enc, ",") {
		if e = strings.TrimSpace(e); e != "" && e != "aws-chunked" {
			keep = append(keep, e)
		}
	}
	return strings.Join(keep, ",")
}

// refuseUnsupported rejects writes that ask for what the store does not do (object lock,
// website redirects, conditional writes other than PutObject's, which drops those headers
// first) instead of silently ignoring it.
func refuseUnsupported(h http.Header) error {
	for name := range h {
		lower := strings.ToLower(name)
		for _, p := range []string{"x-amz-object-lock-", "x-amz-website-redirect-location"} {
			if strings.HasPrefix(lower, p) {
				return s3Error(CodeNotImplemented, "The header "+lower+" is not implemented.")
			}
		}
	}
	if h.Get("If-Match") != "" || h.Get("If-None-Match") != "" {
		return s3Error(CodeNotImplemented, "Conditional writes are not implemented.")
	}
	return nil
}

// setObjectHeaders writes an object's description into response headers.
func setObjectHeaders(h http.Header, info fsstore.ObjectInfo) {
	h.Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	h.Set("ETag", quoteETag(info.ETag))
	h.Set("Accept-Ranges", "bytes")
	ct := info.Meta.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	h.Set("Content-Type", ct)
	for name, v := range map[string]string{
		"Content-Encoding":    info.Meta.ContentEncoding,
		"Content-Disposition": info.Meta.ContentDisposition,
		"Content-Language":    info.Meta.ContentLanguage,
		"Cache-Control":       info.Meta.CacheControl,
		"Expires":             info.Meta.Expires,
	} {
		if v != "" {
			h.Set(name, v)
		}
	}
	for k, v := range info.Meta.User {
		// Lower case, as S3 sends them: some clients keep the name's case as it comes.
		h[userMetaPrefix+k] = []string{v}
	}
}

// responseOverrides are the GetObject query parameters that replace response headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

func applyOverrides(h http.Header, query url.Values) {
	for param, header := range responseOverrides {
		if v := query.Get(param); v != "" {
			h.Set(header, v)
		}
	}
}

func quoteETag(etag string) string { return `"` + etag + `"` }

// conditions are the preconditions of a read (If-*) or of a copy's source
// (x-amz-copy-source-if-*).
type conditions struct {
	match, noneMatch               string
	modifiedSince, unmodifiedSince string
}

func readConditions(h http.Header) conditions {
	return conditions{h.Get("If-Match"), h.Get("If-None-Match"), h.Get("If-Modified-Since"), h.Get("If-Unmodified-Since")}
}

func copyConditions(h http.Header) conditions {
	return conditions{
		h.Get("x-amz-copy-source-if-match"), h.Get("x-amz-copy-source-if-none-match"),
		h.Get("x-amz-copy-source-if-modified-since"), h.Get("x-amz-copy-source-if-unmodified-since"),
	}
}

// check evaluates the conditions against an object, in the order of RFC 9110. It returns
// notModified when a read should answer 304, and PreconditionFailed when it should answer 412.
func (c conditions) check(info fsstore.ObjectInfo) (notModified bool, err error) {
	mod := info.Modified.Truncate(time.Second)
	if c.match != "" {
		if !etagListMatches(c.match, info.ETag) {
			return false, s3Error(CodePreconditionFailed)
		}
	} else if t, ok := parseHTTPTime(c.unmodifiedSince); ok && mod.After(t) {
		return false, s3Error(CodePreconditionFailed)
	}
	if c.noneMatch != "" {
		return etagListMatches(c.noneMatch, info.ETag), nil
	}
	if t, ok := parseHTTPTime(c.modifiedSince); ok && !mod.After(t) {
		return true, nil
	}
	return false, nil
}

func etagListMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimPrefix(strings.TrimSpace(e), "W/")
		if e == "*" || strings.Trim(e, `"`) == etag {
			return true
		}
	}
	return false
}

func parseHTTPTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	return t, err == nil
}

// parseRange reads a Range header against an object of size bytes. An absent, malformed or
// multi-range header selects the whole object (S3 ignores what it does not understand); a
// range that starts past the end is InvalidRange.
func parseRange(h string, size int64) (start, length int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	unsatisfiable := s3Error(CodeInvalidRange)
	if first == "" {
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n < 0 {
			return 0, size, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, unsatisfiable
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	a, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || a < 0 {
		return 0, size, false, nil
	}
	b := size - 1
	if last != "" {
		if b, perr = strconv.ParseInt(last, 10, 64); perr != nil || b < a {
			return 0, size, false, nil
		}
	}
	if a >= size {
		return 0, 0, false, unsatisfiable
	}
	b = min(b, size-1)
	return a, b - a + 1, true, nil
}
