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
	"errors"
	"net/http"

	"pinet.io/pinet/objectstore/fsstore"
)

// writeCondition is what a conditional write (PutObject, CompleteMultipartUpload) asks of the
// key's latest version: If-None-Match "*" that there is none, If-Match that its ETag is one of
// those named. It is checked before the data is read (412 PreconditionFailed, or NoSuchKey
// for If-Match on a missing key) and again as the write commits, under the key's lock: a write
// that lost a race then gets 412 too, or 409 ConditionalRequestConflict when the object it was
// to replace was deleted meanwhile.
type writeCondition struct {
	ifMatch     string
	ifNoneMatch bool
}

// parseWriteCondition reads If-Match and If-None-Match; ok is false when the write names neither.
func parseWriteCondition(h http.Header) (c writeCondition, ok bool, err error) {
	c.ifMatch = h.Get("If-Match")
	if v := h.Get("If-None-Match"); v != "" {
		if v != "*" {
			return writeCondition{}, false, s3Error(CodeNotImplemented, "A header you provided implies functionality that is not implemented: If-None-Match accepts only *.")
		}
		c.ifNoneMatch = true
	}
	return c, c.ifMatch != "" || c.ifNoneMatch, nil
}

// check decides the condition against the latest version (nil for none).
func (c writeCondition) check(cur *fsstore.ObjectInfo) error {
	if c.ifNoneMatch && cur != nil {
		return s3Error(CodePreconditionFailed)
	}
	if c.ifMatch == "" {
		return nil
	}
	if cur == nil {
		return s3Error(CodeNoSuchKey)
	}
	if !etagListMatches(c.ifMatch, cur.ETag) {
		return s3Error(CodePreconditionFailed)
	}
	return nil
}

// atCommit is the condition as the store checks it when the write commits.
func (c writeCondition) atCommit() fsstore.WriteCondition {
	return func(cur *fsstore.ObjectInfo) error {
		if c.ifMatch != "" && cur == nil {
			return s3Error(CodeConditionalRequestConflict)
		}
		return c.check(cur)
	}
}

// precheck decides the condition against the key's latest version before the data is read.
func (s *Server) precheckWrite(q *request, c writeCondition) error {
	info, err := s.store.StatObject(q.route.Bucket, q.route.Key)
	switch {
	case err == nil:
		return c.check(&info)
	case errors.Is(err, fsstore.ErrNoSuchKey):
		return c.check(nil)
	}
	return err
}

// conditionFor reads a write's condition and prechecks it; the store's form is nil when the
// write names none.
func (s *Server) conditionFor(q *request) (fsstore.WriteCondition, error) {
	c, ok, err := parseWriteCondition(q.r.Header)
	if err != nil || !ok {
		return nil, err
	}
	if err := s.precheckWrite(q, c); err != nil {
		return nil, err
	}
	return c.atCommit(), nil
}

// withoutWriteConditions is a copy of h without the headers conditional writes use, for the
// checks of what the store does not do.
func withoutWriteConditions(h http.Header) http.Header {
	c := h.Clone()
	c.Del("If-Match")
	c.Del("If-None-Match")
	return c
}
