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
	"errors"
	"fmt"
	"path/filepath"
)

// ErrVersionMarkerWithoutKey says a listing of versions named a version to start after but no key.
var ErrVersionMarkerWithoutKey = errors.New("a version-id marker cannot be specified without a key marker")

// VersionQuery selects the versions of a listing.
type VersionQuery struct {
	// Prefix limits the listing to keys that start with it.
	Prefix string
	// Delimiter, when set, rolls keys that contain it after the prefix up into common prefixes.
	Delimiter string
	// KeyMarker skips the keys up to and including it; with VersionIDMarker, only the versions
	// of KeyMarker up to and including that one (newest first) are skipped.
	KeyMarker string
	// VersionIDMarker is a version id as S3 names it ("null" for the null version).
	VersionIDMarker string
	// MaxKeys bounds the number of versions plus common prefixes returned.
	MaxKeys int
}

// VersionList is one page of a listing of versions: keys in lexicographic order, each key's
// versions newest first, delete markers among them.
type VersionList struct {
	// Versions have Key, VersionID, IsLatest and DeleteMarker set.
	Versions       []ObjectInfo
	CommonPrefixes []string
	// IsTruncated says there is more: list again with the next markers.
	IsTruncated bool
	// NextKeyMarker is the last key or common prefix returned; NextVersionIDMarker the last
	// version returned, or "" when the page ended on a common prefix.
	NextKeyMarker, NextVersionIDMarker string
}

// ListVersions lists the versions of a bucket's keys. A bucket that was never versioned lists
// each object as its null version.
func (s *Store) ListVersions(bucket string, q VersionQuery) (VersionList, error) {
	if _, err := s.Bucket(bucket); err != nil {
		return VersionList{}, err
	}
	if q.VersionIDMarker != "" {
		if q.KeyMarker == "" {
			return VersionList{}, ErrVersionMarkerWithoutKey
		}
		if !ValidVersionID(q.VersionIDMarker) {
			return VersionList{}, ErrInvalidVersionID
		}
	}
	if q.MaxKeys <= 0 {
		return VersionList{}, nil
	}
	l := &lister{
		s:           s,
		q:           ListQuery{Prefix: q.Prefix, Delimiter: q.Delimiter, After: q.KeyMarker, MaxKeys: q.MaxKeys},
		versions:    true,
		objectsRoot: s.objectsDir(bucket), versionsRoot: s.versionsDir(bucket),
		resume: q.VersionIDMarker != "", resumeAfter: storedID(q.VersionIDMarker),
	}
	if q.Delimiter != "" && q.KeyMarker != "" && l.commonPrefix(q.KeyMarker) == q.KeyMarker {
		l.skip = q.KeyMarker
	}
	dir, dirPrefix := prefixDir(q.Prefix)
	if err := l.walk(filepath.Join(l.objectsRoot, dir), dirPrefix); err != nil {
		return VersionList{}, fmt.Errorf("listing versions of bucket %q: %w", bucket, err)
	}
	out := VersionList{Versions: l.res.Objects, CommonPrefixes: l.res.CommonPrefixes, IsTruncated: l.res.IsTruncated}
	if out.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = l.res.Next, l.res.NextVersion
	}
	return out, nil
}
