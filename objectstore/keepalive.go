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
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"pinet.io/pinet/objectstore/fsstore"
)

// assembled is the outcome of assembling a multipart upload.
type assembled struct {
	info fsstore.ObjectInfo
	err  error
}

// assemble completes upload id from parts. A quick assembly is answered as any request; one
// that takes longer than s.keepAlive is answered as S3 answers it: 200 and the XML declaration
// at once, a space every s.keepAlive so that clients and proxies keep the connection, then the
// CompleteMultipartUploadResult, or an Error document if the assembly failed (S3's clients
// read the body's root element to tell). The assembly goes on if the client leaves.
func (s *Server) assemble(q *request, id string, complete func() (fsstore.ObjectInfo, error)) error {
	done := make(chan assembled, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- assembled{err: fmt.Errorf("assembling upload %s panicked: %v", id, v)}
			}
		}()
		if s.beforeAssembly != nil {
			s.beforeAssembly()
		}
		info, err := complete()
		done <- assembled{info: info, err: err}
	}()
	timer := time.NewTimer(s.keepAlive)
	defer timer.Stop()
	select {
	case c := <-done:
		if c.err != nil {
			return c.err
		}
		setNewVersion(q.w.Header(), c.info)
		setSSEHeaders(q.w.Header(), c.info.Meta.Encryption)
		s.writeXML(q, http.StatusOK, s.completeResult(q, c.info))
		return nil
	case <-timer.C:
	}
	h := q.w.Header()
	h.Set("Content-Type", "application/xml")
	q.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(q.w.ResponseWriter)
	// A failed write means the client left; the assembly still runs to its end.
	_, werr := q.w.Write([]byte(xml.Header))
	if werr == nil {
		werr = rc.Flush()
	}
	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	for {
		select {
		case c := <-done:
			if werr == nil {
				s.writeLate(q, c)
			}
			return nil
		case <-tick.C:
			if werr == nil {
				if _, werr = q.w.Write([]byte(" ")); werr == nil {
					werr = rc.Flush()
				}
			}
		}
	}
}

// writeLate writes the body that ends a keep-alive answer.
func (s *Server) writeLate(q *request, c assembled) {
	var doc any = s.completeResult(q, c.info)
	if c.err != nil {
		ae, internal := toAPIError(c.err)
		if internal {
			s.log.Error(c.err, "Request failed", "requestID", q.id, "operation", q.route.Op, "bucket", q.route.Bucket, "key", q.route.Key)
		}
		doc = errorResponse{Code: ae.code, Message: ae.message, Resource: q.r.URL.Path, RequestID: q.id}
	}
	body, err := xml.Marshal(doc)
	if err != nil {
		s.log.Error(err, "Encoding response", "requestID", q.id)
		body, _ = xml.Marshal(errorResponse{Code: CodeInternalError, Message: codes[CodeInternalError].message, RequestID: q.id})
	}
	_, _ = q.w.Write(body)
}

func (s *Server) completeResult(q *request, info fsstore.ObjectInfo) completeUploadResult {
	loc := (&url.URL{Scheme: "http", Host: q.r.Host, Path: "/" + q.route.Bucket + "/" + q.route.Key}).String()
	res := completeUploadResult{Xmlns: s3Namespace, Location: loc, Bucket: q.route.Bucket, Key: q.route.Key, ETag: quoteETag(info.ETag)}
	if cs := info.Meta.Checksum; cs != nil {
		res.checksumFields, res.ChecksumType = newChecksumFields(cs), cs.Type
	}
	return res
}
