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

	"pinet.io/pinet/objectstore/fsstore"
)

// complete completes an upload: its object's checksum is worked out and checked against what
// the request names, and its write condition checked before and as it commits. A completion
// retried after it succeeded answers as the first did, and no condition is asked again.
func (s *Server) complete(q *request, id string, parts []fsstore.CompletePart, body []byte) (fsstore.ObjectInfo, error) {
	up, err := s.store.Upload(q.route.Bucket, q.route.Key, id)
	if errors.Is(err, fsstore.ErrNoSuchUpload) {
		// Perhaps completed already: the store answers with what it made.
		return s.store.CompleteUpload(q.route.Bucket, q.route.Key, id, parts)
	}
	if err != nil {
		return fsstore.ObjectInfo{}, err
	}
	named, err := completedParts(body)
	if err != nil {
		return fsstore.ObjectInfo{}, err
	}
	c, err := newCompletion(q.r.Header, up, named)
	if err != nil {
		return fsstore.ObjectInfo{}, err
	}
	cond, err := s.conditionFor(q)
	if err != nil {
		return fsstore.ObjectInfo{}, err
	}
	return s.store.CompleteUploadWith(q.route.Bucket, q.route.Key, id, parts,
		fsstore.CompleteOptions{Condition: cond, CRC: c.crc, Checksum: c.checksum})
}
