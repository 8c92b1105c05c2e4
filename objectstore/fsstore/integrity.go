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

package fsstore

import (
	"encoding/json"
	"fmt"
	"hash"
	"path/filepath"
	"sync"
	"time"
)

// Checksum is an object's (or a part's) flexible checksum, as S3 reports it.
type Checksum struct {
	// Algorithm is CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.
	Algorithm string `json:"algorithm"`
	// Type is FULL_OBJECT (a checksum of the whole data) or COMPOSITE (of the parts' checksums).
	Type string `json:"type,omitempty"`
	// Value is the base64 checksum; a composite one ends in "-" and the number of parts.
	Value string `json:"value,omitempty"`
}

// ObjectPart describes one part of an object made by a multipart upload.
type ObjectPart struct {
	Number   int       `json:"n"`
	Size     int64     `json:"size"`
	Checksum *Checksum `json:"checksum,omitempty"`
	// DataCRC is the CRC the store computed over the part's stored data (see CRC), for a
	// completion to combine; it is the store's own, no client named it, and it is not kept in
	// the object's part list.
	DataCRC *Checksum `json:"-"`
}

// CRC names a CRC algorithm as S3 does (CRC32, CRC32C, CRC64NVME) and makes its hash. A part
// written with PartOptions.CRC records that CRC of its stored data, computed in the pass that
// writes the data; a completion with CompleteOptions.CRC has every part's CRC of the algorithm
// (reading the data only of a part that has none recorded), so the object's FULL_OBJECT
// checksum is combined from the parts' CRCs without reading the object again.
type CRC struct {
	Algorithm string
	New       func() hash.Hash
}

// CRCOf is the part's CRC of algorithm alg: its own checksum when that is of alg, else the
// store's DataCRC when that is; nil for none.
func (p ObjectPart) CRCOf(alg string) *Checksum {
	for _, cs := range []*Checksum{p.Checksum, p.DataCRC} {
		if cs != nil && cs.Algorithm == alg && cs.Value != "" {
			return cs
		}
	}
	return nil
}

// WriteCondition decides whether a write may replace key's latest version. It is called under
// the key's lock just before the write commits, with that version (nil when the key has none,
// or its latest version is a delete marker); an error refuses the write and is returned as it
// is, with nothing written.
type WriteCondition func(cur *ObjectInfo) error

// checkCondition calls cond with the latest version read as cur, err (statFile's answer).
func checkCondition(cond WriteCondition, key string, cur ObjectInfo, err error) error {
	switch {
	case err == nil && !cur.DeleteMarker:
		return cond(&cur)
	case err == nil || isMissing(err):
		return cond(nil)
	}
	return fmt.Errorf("reading the latest version of %q: %w", key, err)
}

// CompleteOptions refine CompleteUploadWith.
type CompleteOptions struct {
	// Condition, when set, must allow the object to replace the key's latest version.
	Condition WriteCondition
	// CRC, when set, gives every part passed to Checksum a CRC of its algorithm (CRCOf): the
	// one recorded with the part, or for a part that has none (written without
	// PartOptions.CRC, or before the store recorded them) one computed by reading its data.
	CRC *CRC
	// Checksum, when set, gives the object's checksum once its data is assembled, from its
	// parts; an error refuses the completion, with nothing written.
	Checksum func(parts []ObjectPart) (*Checksum, error)
}

const (
	completedDir = "completed"
	// completedRetention is how long a completed upload answers a retried completion.
	completedRetention = 24 * time.Hour
)

func (s *Store) completedDir(b string) string { return filepath.Join(s.bucketDir(b), completedDir) }

// recordCompletion remembers what upload id made, so a retried completion gets the same
// answer. The record lives on the store's disk, so a retry sent to another replica finds it;
// records older than completedRetention are pruned now and then.
func (s *Store) recordCompletion(bucket, id string, info ObjectInfo) error {
	dir := s.completedDir(bucket)
	if err := s.disk.mkdir(s.bucketDir(bucket), dir, ErrNoSuchBucket); err != nil {
		return fmt.Errorf("recording completed upload %s: %w", id, err)
	}
	info.PartList = nil
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encoding completed upload %s: %w", id, err)
	}
	if err := s.writeFileAtomic(filepath.Join(dir, id), data); err != nil {
		return err
	}
	if s.prunes.due(bucket, s.opts.Now()) {
		s.pruneCompletions(dir)
	}
	return nil
}

// pruneCompletions removes the records of completions older than completedRetention (a
// record's age is its object's modification time, the completion's). It is best effort: a
// record left behind is never answered (completedUpload checks the age too).
func (s *Store) pruneCompletions(dir string) {
	names, err := s.disk.readNames(dir)
	if err != nil {
		return
	}
	cutoff := s.opts.Now().Add(-completedRetention)
	for _, n := range names {
		if !validUploadID(n) {
			continue
		}
		data, _, err := s.disk.readFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		var info ObjectInfo
		if json.Unmarshal(data, &info) != nil || info.Modified.Before(cutoff) {
			_ = s.disk.remove(filepath.Join(dir, n))
		}
	}
}

// completedUpload returns what upload id of key made, if it was completed recently.
func (s *Store) completedUpload(bucket, key, id string) (ObjectInfo, bool) {
	if !validUploadID(id) {
		return ObjectInfo{}, false
	}
	data, _, err := s.disk.readFile(filepath.Join(s.completedDir(bucket), id))
	if err != nil {
		return ObjectInfo{}, false
	}
	var info ObjectInfo
	if json.Unmarshal(data, &info) != nil || info.Key != key || info.Modified.Before(s.opts.Now().Add(-completedRetention)) {
		return ObjectInfo{}, false
	}
	return info, true
}

// pruneSchedule spaces out the pruning of a bucket's completion records (each pass reads them
// all, which on an s3 disk is a request per record).
type pruneSchedule struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// pruneInterval is how often one store prunes a bucket's completion records.
const pruneInterval = time.Hour

// due says whether bucket's records should be pruned at now, and if so notes that they are.
func (p *pruneSchedule) due(bucket string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if last, ok := p.last[bucket]; ok && now.Sub(last) < pruneInterval && !now.Before(last) {
		return false
	}
	if p.last == nil {
		p.last = map[string]time.Time{}
	}
	p.last[bucket] = now
	return true
}
