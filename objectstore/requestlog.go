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
	"time"
)

// logRequest writes the one log line every S3 request gets: who asked for what, how it was
// answered, how many bytes went each way and how long it took. The request id is the one sent
// back as x-amz-request-id, so a client's report leads to the line.
func (s *Server) logRequest(q *request, start time.Time) {
	status := q.w.status
	if status == 0 {
		// Nothing was written: net/http answers 200 with no body.
		status = http.StatusOK
	}
	var in int64
	if q.body != nil {
		in = q.body.read.Load()
	}
	user, project := "", ""
	anonymous := false
	if q.caller != nil {
		user, project, anonymous = q.caller.Principal.User, q.caller.Principal.Project, q.caller.Anonymous
	}
	d := s.now().Sub(start)
	s.metrics.Observe(string(q.route.Op), status, in, q.w.written, d)
	s.log.Info("S3 request", "requestID", q.id, "method", q.r.Method, "operation", string(q.route.Op),
		"user", user, "project", project, "anonymous", anonymous,
		"bucket", q.route.Bucket, "key", q.route.Key, "status", status,
		"bytesIn", in, "bytesOut", q.w.written, "latency", d.String(),
		"remote", q.r.RemoteAddr)
}
