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
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// ListQuery selects the objects of a listing.
type ListQuery struct {
	// Prefix limits the listing to keys that start with it.
	Prefix string
	// Delimiter, when set, rolls keys that contain it after the prefix up into common prefixes.
	Delimiter string
	// After skips keys up to and including it (S3's marker, start-after and continuation token).
	// If it is itself a common prefix, every key under it is skipped.
	After string
	// MaxKeys bounds the number of objects plus common prefixes returned.
	MaxKeys int
}

// ListResult is one page of a listing, in lexicographic key order.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	// IsTruncated says there is more; list again with After set to Next.
	IsTruncated bool
	// Next is the last key or common prefix returned.
	Next string
	// NextVersion is the id (as S3 names it) of the last version returned by a listing of
	// versions, if the page ended on a version rather than a common prefix.
	NextVersion string
}

// List lists a bucket's objects.
func (s *Store) List(bucket string, q ListQuery) (ListResult, error) {
	if _, err := s.Bucket(bucket); err != nil {
		return ListResult{}, err
	}
	if q.MaxKeys <= 0 {
		return ListResult{}, nil
	}
	l := &lister{s: s, q: q}
	if q.Delimiter != "" && q.After != "" && l.commonPrefix(q.After) == q.After {
		l.skip = q.After
	}
	dir, dirPrefix := prefixDir(q.Prefix)
	if err := l.walk(filepath.Join(s.objectsDir(bucket), dir), dirPrefix); err != nil {
		return ListResult{}, fmt.Errorf("listing bucket %q: %w", bucket, err)
	}
	return l.res, nil
}

type lister struct {
	s   *Store
	q   ListQuery
	res ListResult
	// skip is a common prefix already returned: nothing under it is listed again.
	skip string
	done bool
	// versions lists every version of the keys (delete markers too), rather than the latest
	// versions that are objects.
	versions bool
	// objectsRoot and versionsRoot are the bucket's objects/ and versions/ directories.
	objectsRoot, versionsRoot string
	// resume, with versions, lists the versions of key q.After older than the one whose
	// VersionID is resumeAfter (S3's key-marker with a version-id-marker).
	resume      bool
	resumeAfter string
}

// child is a directory entry with its key (objects) or key prefix (directories, ending in "/").
type child struct {
	entry
	full string
}

// children reads dir's entries, keyed and sorted. A missing dir has none.
func (s *Store) children(dir, prefix string) ([]child, error) {
	names, err := s.disk.readNames(dir)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]child, 0, len(names))
	for _, n := range names {
		e, ok := parseEntry(n)
		if !ok {
			continue
		}
		if e.long {
			seg, ok := s.longSegment(filepath.Join(dir, n), e.dir, prefix)
			if !ok {
				continue
			}
			e.seg = seg
		}
		c := child{entry: e, full: prefix + e.seg}
		if e.dir {
			c.full += "/"
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].full < out[j].full })
	return out, nil
}

// longSegment reads the segment a hashed entry stands for; ok is false when it cannot be read
// (a directory whose name file was never written holds nothing yet).
func (s *Store) longSegment(path string, dir bool, prefix string) (string, bool) {
	if dir {
		b, _, err := s.disk.readFile(filepath.Join(path, longDirNameFile))
		return string(b), err == nil
	}
	info, err := s.statFile(path)
	if err != nil || !strings.HasPrefix(info.Key, prefix) {
		return "", false
	}
	return info.Key[len(prefix):], true
}

func (l *lister) walk(dir, prefix string) error {
	kids, err := l.s.children(dir, prefix)
	if err != nil {
		return err
	}
	for _, c := range kids {
		if l.done {
			return nil
		}
		p := filepath.Join(dir, c.name)
		if !c.dir {
			if err := l.visitObject(p, c.full); err != nil {
				return err
			}
			continue
		}
		if err := l.visitDir(p, c.full); err != nil {
			return err
		}
	}
	return nil
}

func (l *lister) visitObject(path, key string) error {
	if !strings.HasPrefix(key, l.q.Prefix) || l.skipped(key) {
		return nil
	}
	if key < l.q.After || key == l.q.After && !l.resume {
		return nil
	}
	info, err := l.s.statFile(path)
	if isMissing(err) || errors.Is(err, errCorrupt) {
		return nil // deleted since the directory was read, or never an object
	}
	if err != nil {
		return err
	}
	if info.DeleteMarker && !l.versions {
		return nil
	}
	if cp := l.commonPrefix(key); cp != "" {
		l.addPrefix(cp)
		return nil
	}
	info.Key = key
	if l.versions {
		return l.visitVersions(path, info)
	}
	l.add(func() { l.res.Objects = append(l.res.Objects, info) }, key)
	return nil
}

// visitVersions lists the versions of a key, newest first, given its latest version.
func (l *lister) visitVersions(path string, latest ObjectInfo) error {
	rel, err := filepath.Rel(l.objectsRoot, path)
	if err != nil {
		return err
	}
	older, err := l.s.olderVersions(filepath.Join(l.versionsRoot, rel), latest.VersionID)
	if err != nil {
		return err
	}
	latest.IsLatest = true
	all := append([]ObjectInfo{latest}, older...)
	if l.resume && latest.Key == l.q.After {
		start := len(all) // a marker that names no version of the key skips it
		for i, v := range all {
			if v.VersionID == l.resumeAfter {
				start = i + 1
				break
			}
		}
		all = all[start:]
	}
	for _, v := range all {
		v.Key = latest.Key
		l.add(func() {
			l.res.Objects = append(l.res.Objects, v)
			l.res.NextVersion = VersionName(v.VersionID)
		}, v.Key)
		if l.done {
			return nil
		}
	}
	return nil
}

// visitDir lists the subtree of keys starting with p (which ends in "/").
func (l *lister) visitDir(path, p string) error {
	if !strings.HasPrefix(p, l.q.Prefix) && !strings.HasPrefix(l.q.Prefix, p) {
		return nil
	}
	if p <= l.q.After && !strings.HasPrefix(l.q.After, p) {
		return nil // every key under p sorts before After
	}
	if l.skipped(p) {
		return nil
	}
	if strings.HasPrefix(p, l.q.Prefix) {
		// All keys under p share p's common prefix, if it has one: report it once, if any
		// key under p is listable, without reading the whole subtree.
		if cp := l.commonPrefix(p); cp != "" {
			found, err := l.s.hasObjectAfter(path, p, l.q.After, l.skip, !l.versions)
			if err != nil || !found {
				return err
			}
			l.addPrefix(cp)
			return nil
		}
	}
	return l.walk(path, p)
}

// skipped reports whether key lies under a common prefix already returned.
func (l *lister) skipped(key string) bool {
	return l.skip != "" && strings.HasPrefix(key, l.skip)
}

// commonPrefix is the prefix key rolls up into, or "".
func (l *lister) commonPrefix(key string) string {
	if l.q.Delimiter == "" || !strings.HasPrefix(key, l.q.Prefix) {
		return ""
	}
	rest := key[len(l.q.Prefix):]
	i := strings.Index(rest, l.q.Delimiter)
	if i < 0 {
		return ""
	}
	return l.q.Prefix + rest[:i+len(l.q.Delimiter)]
}

func (l *lister) addPrefix(cp string) {
	if l.skipped(cp) {
		return
	}
	l.add(func() {
		l.res.CommonPrefixes = append(l.res.CommonPrefixes, cp)
		l.res.NextVersion = ""
	}, cp)
	l.skip = cp
}

func (l *lister) add(appendItem func(), item string) {
	if len(l.res.Objects)+len(l.res.CommonPrefixes) == l.q.MaxKeys {
		l.res.IsTruncated = true
		l.done = true
		return
	}
	appendItem()
	l.res.Next = item
}

// hasObjectAfter reports whether the subtree dir (whose keys start with prefix) holds an object
// whose key sorts after after and does not start with skip. With live, keys whose latest
// version is a delete marker do not count.
func (s *Store) hasObjectAfter(dir, prefix, after, skip string, live bool) (bool, error) {
	kids, err := s.children(dir, prefix)
	if err != nil {
		return false, err
	}
	for _, c := range kids {
		if skip != "" && strings.HasPrefix(c.full, skip) {
			continue
		}
		p := filepath.Join(dir, c.name)
		if !c.dir {
			if c.full <= after {
				continue
			}
			if ok, err := s.isObjectFile(p, live); ok || err != nil {
				return ok, err
			}
			continue
		}
		if c.full <= after && !strings.HasPrefix(after, c.full) {
			continue
		}
		found, err := s.hasObjectAfter(p, c.full, after, skip, live)
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}

// isObjectFile reports whether path holds a key's latest version, and with live, one that is
// not a delete marker.
func (s *Store) isObjectFile(path string, live bool) (bool, error) {
	if !live {
		ok, err := s.disk.exists(path)
		return ok, err
	}
	info, err := s.statFile(path)
	if isMissing(err) || errors.Is(err, errCorrupt) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !info.DeleteMarker, nil
}
