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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"
)

// Tag is one tag of an object or a bucket.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// An object's tags are first those written with it (ObjectMeta.Tags, committed with the data).
// PutObjectTagging and DeleteObjectTagging record a replacement beside it, in
// tags/<sha256 of the key>/<version name>, naming the version's stamp, ETag and modification
// time, as ACL replacements do: a record left behind by an overwritten or deleted version names
// another version and is ignored, so a new object never inherits an old one's tags.
type tagRecord struct {
	Stamp    int64     `json:"stamp"`
	ETag     string    `json:"etag"`
	Modified time.Time `json:"modified"`
	Tags     []Tag     `json:"tags"`
}

func (s *Store) tagPath(bucket, key, id string) (dir, file string) {
	sum := sha256.Sum256([]byte(key))
	dir = filepath.Join(s.bucketDir(bucket), "tags", hex.EncodeToString(sum[:]))
	return dir, filepath.Join(dir, VersionName(id))
}

// ObjectTags returns the tags of version id of key ("" for the latest; nil when it has none)
// and the version's description. A delete marker is a *DeleteMarkerError.
func (s *Store) ObjectTags(bucket, key, id string) ([]Tag, ObjectInfo, error) {
	info, err := s.openACLTarget(bucket, key, id)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	tags, err := s.TagsOf(bucket, info)
	return tags, info, err
}

// TagsOf returns the tags of the version info describes (nil when it has none).
func (s *Store) TagsOf(bucket string, info ObjectInfo) ([]Tag, error) {
	_, file := s.tagPath(bucket, info.Key, info.VersionID)
	data, _, err := s.disk.readFile(file)
	if isMissing(err) {
		return info.Meta.Tags, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the tags of %q: %w", info.Key, err)
	}
	var rec tagRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("decoding the tags of %q: %w", info.Key, err)
	}
	if rec.Stamp != info.Stamp || rec.ETag != info.ETag || !rec.Modified.Equal(info.Modified) {
		return info.Meta.Tags, nil
	}
	return rec.Tags, nil
}

// SetObjectTags replaces the tags of version id of key ("" for the latest; an empty set
// removes them) and returns the version's description. The replacement is written atomically.
func (s *Store) SetObjectTags(bucket, key, id string, tags []Tag) (ObjectInfo, error) {
	lock := s.bucketLock(bucket)
	lock.RLock()
	defer lock.RUnlock()
	kl := s.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()
	info, err := s.openACLTarget(bucket, key, id)
	if err != nil {
		return ObjectInfo{}, err
	}
	if tags == nil {
		tags = []Tag{}
	}
	data, err := json.Marshal(tagRecord{Stamp: info.Stamp, ETag: info.ETag, Modified: info.Modified, Tags: tags})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("encoding the tags of %q: %w", key, err)
	}
	dir, file := s.tagPath(bucket, key, info.VersionID)
	if err := s.disk.mkdir(s.bucketDir(bucket), filepath.Dir(dir), ErrNoSuchBucket); err != nil {
		return ObjectInfo{}, fmt.Errorf("storing the tags of %q: %w", key, err)
	}
	if err := s.disk.mkdir(filepath.Dir(dir), dir, ErrNoSuchBucket); err != nil {
		return ObjectInfo{}, fmt.Errorf("storing the tags of %q: %w", key, err)
	}
	if err := s.writeFileAtomic(file, data); err != nil {
		return ObjectInfo{}, err
	}
	return info, nil
}
