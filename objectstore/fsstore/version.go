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
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// Versions. A key's latest version is its file under objects/ (a delete marker is such a file
// with no data; listings of objects skip it). Its older versions live under versions/, in a
// directory at the key's own path, one file per version named by its id ("null" for the null
// version):
//
//	objects/dlogs/oa.txt          the latest version of "logs/a.txt"
//	versions/dlogs/oa.txt/<id>    an older version of it
//
// A key with older versions always has a latest one, and every change keeps each version
// readable whatever point a crash stops it at:
//   - A new version is written whole in tmp/. Then the latest is hard-linked into versions/
//     (through tmp/, so that a stale file of that name is replaced in one rename), and only
//     then is the new file renamed over the latest. A crash between the two leaves the latest
//     also under versions/: a file there with the latest's own id is such a leftover; it is
//     ignored, and removed by the key's next change.
//   - A null version written over a versioned latest replaces the older null version: that one
//     is removed after the new one is in place (a crash in between leaves a leftover, as above).
//   - Deleting the latest version renames the newest older version over it, in one step.
//
// Buckets that were never versioned have no versions/ directory: their objects are null
// versions, written as before.

// Versioning is a bucket's versioning state.
type Versioning string

// The versioning states a bucket can be put in. A bucket that was never versioned has the
// state "", and can never return to it.
const (
	VersioningEnabled   Versioning = "Enabled"
	VersioningSuspended Versioning = "Suspended"
)

const (
	// NullVersion is how S3 names the null version.
	NullVersion = "null"
	// A version id is 32 lower-case hex digits: the version's stamp, then 8 random bytes.
	versionIDLen = 32
)

// ValidVersionID reports whether id can name a version: NullVersion, or an id of the store's
// making.
func ValidVersionID(id string) bool {
	if id == NullVersion {
		return true
	}
	if len(id) != versionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// VersionName is the id S3 shows for a version whose VersionID is id: NullVersion for "".
func VersionName(id string) string {
	if id == "" {
		return NullVersion
	}
	return id
}

// storedID is the VersionID of the version S3 names id.
func storedID(id string) string {
	if id == NullVersion {
		return ""
	}
	return id
}

// DeleteMarkerError says a key's latest version is a delete marker. It is ErrNoSuchKey to
// errors.Is.
type DeleteMarkerError struct {
	Marker ObjectInfo
}

func (e *DeleteMarkerError) Error() string { return "the latest version is a delete marker" }

// Is makes the error ErrNoSuchKey.
func (e *DeleteMarkerError) Is(target error) bool { return target == ErrNoSuchKey }

// SetVersioning puts a bucket in state v (VersioningEnabled or VersioningSuspended).
func (s *Store) SetVersioning(bucket string, v Versioning) (BucketInfo, error) {
	if v != VersioningEnabled && v != VersioningSuspended {
		return BucketInfo{}, fmt.Errorf("unknown versioning state %q", v)
	}
	return s.UpdateBucket(bucket, func(info *BucketInfo) error {
		info.Versioning = v
		return nil
	})
}

// nextStamp is the stamp of a new version: the clock in nanoseconds, strictly increasing.
func (s *Store) nextStamp() int64 {
	s.clock.Lock()
	defer s.clock.Unlock()
	now := s.opts.Now().UnixNano()
	if now <= s.clock.last {
		now = s.clock.last + 1
	}
	s.clock.last = now
	return now
}

// newVersion stamps an object about to be written into bucket b, and gives it a version id if
// b is versioned (a suspended bucket writes null versions).
func (s *Store) newVersion(b BucketInfo, info *ObjectInfo) error {
	info.Stamp = s.nextStamp()
	if b.Versioning != VersioningEnabled {
		return nil
	}
	var id [versionIDLen / 2]byte
	binary.BigEndian.PutUint64(id[:8], uint64(info.Stamp))
	if _, err := rand.Read(id[8:]); err != nil {
		return fmt.Errorf("making version id: %w", err)
	}
	info.VersionID = hex.EncodeToString(id[:])
	return nil
}

// commitVersion moves the finished file tmp (holding info) into place as key's latest version,
// keeping the previous latest as an older version unless the new one replaces it. A condition
// is decided under the key's lock, against the latest version as it is then.
func (s *Store) commitVersion(b BucketInfo, key, tmp string, info ObjectInfo, cond WriteCondition) error {
	lock := s.bucketLock(b.Name)
	lock.RLock()
	defer lock.RUnlock()
	file, dirs := keyPath(key)
	if b.Versioning == "" && cond == nil {
		return s.commitFile(tmp, s.objectsDir(b.Name), file, dirs, ErrNoSuchBucket)
	}
	kl := s.keyLock(b.Name, key)
	kl.Lock()
	defer kl.Unlock()
	// Store replicas sharing a disk serialise through preconditions on the latest version:
	// one that lost a race reads the new latest (deciding cond again) and tries again.
	for attempt := 0; ; attempt++ {
		err := s.tryCommitVersion(b, key, tmp, info, cond)
		if !errors.Is(err, errChanged) || attempt == raceAttempts {
			return err
		}
	}
}

func (s *Store) tryCommitVersion(b BucketInfo, key, tmp string, info ObjectInfo, cond WriteCondition) error {
	file, dirs := keyPath(key)
	cur, tag, err := s.statTagged(filepath.Join(s.objectsDir(b.Name), file))
	if cond != nil {
		if err := checkCondition(cond, key, cur, err); err != nil {
			return err
		}
	}
	if b.Versioning == "" {
		// The condition held for the latest as read: it must still be that file.
		return s.disk.commit(tmp, s.objectsDir(b.Name), file, dirs, ErrNoSuchBucket, ifUnchanged(tag, err != nil))
	}
	switch {
	case err == nil && info.VersionID != "" && cur.Stamp > info.Stamp:
		// A write that began later finished first: as in S3, the latest timestamp wins, so this
		// version goes in among the older ones and the listing's order stays the stamps' order.
		if err := s.ensureVersionsDir(b.Name); err != nil {
			return err
		}
		vdirs := append(dirs, dirStep{rel: file})
		return s.commitFile(tmp, s.versionsDir(b.Name), filepath.Join(file, VersionName(info.VersionID)), vdirs, ErrNoSuchBucket)
	case err == nil:
		// A null version replaces a null latest; anything else keeps the latest.
		if cur.VersionID != "" || info.VersionID != "" {
			if err := s.archive(b.Name, key, cur.VersionID, tag); err != nil {
				return err
			}
		}
	case !isMissing(err):
		return fmt.Errorf("reading the latest version of %q: %w", key, err)
	}
	if err := s.disk.commit(tmp, s.objectsDir(b.Name), file, dirs, ErrNoSuchBucket, ifUnchanged(tag, err != nil)); err != nil {
		return err
	}
	if info.VersionID == "" {
		return s.removeOlder(b.Name, key, "")
	}
	if s.disk.shared() {
		return s.keepIfOverwritten(b, key, tmp, info)
	}
	return nil
}

// keepIfOverwritten makes sure the version info, just committed from tmp as key's latest, is
// still kept: a backend whose conditional writes are not atomic (moto's check and write are
// two steps) may let a racing replica's write replace it without archiving it first. Then it
// goes among the older versions.
func (s *Store) keepIfOverwritten(b BucketInfo, key, tmp string, info ObjectInfo) error {
	file, dirs := keyPath(key)
	cur, err := s.statFile(filepath.Join(s.objectsDir(b.Name), file))
	if err == nil && cur.VersionID == info.VersionID {
		return nil
	}
	if err != nil && !isMissing(err) {
		return fmt.Errorf("reading the latest version of %q: %w", key, err)
	}
	older := filepath.Join(file, VersionName(info.VersionID))
	if ok, err := s.disk.exists(filepath.Join(s.versionsDir(b.Name), older)); ok || err != nil {
		return err
	}
	if err := s.ensureVersionsDir(b.Name); err != nil {
		return err
	}
	return s.commitFile(tmp, s.versionsDir(b.Name), older, append(dirs, dirStep{rel: file}), ErrNoSuchBucket)
}

// archive copies key's latest version (whose id is id, in the file tagged tag) into versions/.
func (s *Store) archive(bucket, key, id, tag string) error {
	file, dirs := keyPath(key)
	if err := s.ensureVersionsDir(bucket); err != nil {
		return err
	}
	vdirs := append(dirs, dirStep{rel: file})
	err := s.disk.copyFile(filepath.Join(s.objectsDir(bucket), file), tag, s.versionsDir(bucket), filepath.Join(file, VersionName(id)), vdirs, ErrNoSuchBucket)
	if err != nil && !errors.Is(err, errChanged) {
		return fmt.Errorf("keeping version %s of %q: %w", VersionName(id), key, err)
	}
	return err
}

// ensureVersionsDir creates a bucket's versions/ directory, but never the bucket itself.
func (s *Store) ensureVersionsDir(bucket string) error {
	return s.disk.mkdir(s.bucketDir(bucket), s.versionsDir(bucket), ErrNoSuchBucket)
}

// removeOlder removes the older version id of key, if there is one, and the directories that
// leaves empty.
func (s *Store) removeOlder(bucket, key, id string) error {
	file, dirs := keyPath(key)
	dir := filepath.Join(s.versionsDir(bucket), file)
	err := s.disk.remove(filepath.Join(dir, VersionName(id)))
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting version %s of %q: %w", VersionName(id), key, err)
	}
	s.disk.prune(s.versionsDir(bucket), append(dirs, dirStep{rel: file}))
	return nil
}

// olderVersions reads the older versions of a key kept in dir, newest first, leaving out a
// leftover copy of the latest (whose id is latest).
func (s *Store) olderVersions(dir, latest string) ([]ObjectInfo, error) {
	names, err := s.disk.readNames(dir)
	if isMissing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]ObjectInfo, 0, len(names))
	for _, n := range names {
		if !ValidVersionID(n) || n == VersionName(latest) {
			continue
		}
		info, err := s.statFile(filepath.Join(dir, n))
		if isMissing(err) || errors.Is(err, errCorrupt) {
			continue // removed since the directory was read, or never a version
		}
		if err != nil {
			return nil, err
		}
		if VersionName(info.VersionID) != n {
			continue
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stamp != out[j].Stamp {
			return out[i].Stamp > out[j].Stamp
		}
		return out[i].VersionID > out[j].VersionID
	})
	return out, nil
}

// OpenVersion opens version id (as S3 names it) of key. A delete marker opens too, with no
// data; Info.IsLatest tells whether it is the latest version.
func (s *Store) OpenVersion(bucket, key, id string) (*Object, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	if !ValidVersionID(id) {
		return nil, ErrInvalidVersionID
	}
	file, _ := keyPath(key)
	vid := storedID(id)
	for i, path := range []string{
		filepath.Join(s.objectsDir(bucket), file),
		filepath.Join(s.versionsDir(bucket), file, id),
	} {
		f, err := s.disk.open(path)
		if isMissing(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("opening version %s of %q: %w", id, key, err)
		}
		info, err := readTrailer(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("reading version %s of %q: %w", id, key, err)
		}
		if info.VersionID != vid {
			f.Close()
			continue
		}
		if f, err = s.dataOf(f, info); isMissing(err) {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, fmt.Errorf("opening version %s of %q: %w", id, key, err)
		}
		info.IsLatest = i == 0
		return &Object{Info: info, f: f}, nil
	}
	if _, err := s.Bucket(bucket); err != nil {
		return nil, err
	}
	return nil, ErrNoSuchVersion
}

// DeleteVersion removes version id (as S3 names it) of key and returns what it was; the newest
// older version, if any, becomes the latest. Removing a version that does not exist succeeds,
// as in S3, and returns an ObjectInfo with only Key and VersionID.
func (s *Store) DeleteVersion(bucket, key, id string) (ObjectInfo, error) {
	if err := ValidKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if !ValidVersionID(id) {
		return ObjectInfo{}, ErrInvalidVersionID
	}
	if _, err := s.Bucket(bucket); err != nil {
		return ObjectInfo{}, err
	}
	lock := s.bucketLock(bucket)
	lock.RLock()
	defer lock.RUnlock()
	kl := s.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()
	file, _ := keyPath(key)
	vid := storedID(id)
	none := ObjectInfo{Key: key, VersionID: vid}
	cur, tag, err := s.statTagged(filepath.Join(s.objectsDir(bucket), file))
	if isMissing(err) {
		return none, nil
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("reading the latest version of %q: %w", key, err)
	}
	if cur.VersionID == vid {
		return cur, s.deleteLatest(bucket, key, cur, tag)
	}
	old, err := s.statFile(filepath.Join(s.versionsDir(bucket), file, id))
	if isMissing(err) {
		return none, nil
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("reading version %s of %q: %w", id, key, err)
	}
	return old, s.removeOlder(bucket, key, vid)
}

// deleteLatest removes key's latest version cur, putting the newest older version in its place.
// The caller holds the key's lock; tag is the tag of cur's file.
func (s *Store) deleteLatest(bucket, key string, cur ObjectInfo, tag string) error {
	if err := s.removeOlder(bucket, key, cur.VersionID); err != nil { // a leftover copy
		return err
	}
	file, dirs := keyPath(key)
	vdir := filepath.Join(s.versionsDir(bucket), file)
	older, err := s.olderVersions(vdir, cur.VersionID)
	if err != nil {
		return fmt.Errorf("reading the versions of %q: %w", key, err)
	}
	if len(older) == 0 {
		return s.removeLatest(bucket, key)
	}
	latest := filepath.Join(s.objectsDir(bucket), file)
	if err := s.disk.rename(filepath.Join(vdir, VersionName(older[0].VersionID)), latest, ifUnchanged(tag, false)); err != nil {
		return fmt.Errorf("making version %s of %q the latest: %w", VersionName(older[0].VersionID), key, err)
	}
	if len(older) == 1 {
		s.disk.prune(s.versionsDir(bucket), append(dirs, dirStep{rel: file}))
	}
	return nil
}

// removeLatest removes key's file under objects/ and the directories that leaves empty.
func (s *Store) removeLatest(bucket, key string) error {
	base := s.objectsDir(bucket)
	file, dirs := keyPath(key)
	err := s.disk.remove(filepath.Join(base, file))
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting object %q: %w", key, err)
	}
	s.disk.prune(base, dirs)
	return nil
}

// isMissing reports whether err says a file is not there (ENOTDIR: a segment of its path names
// a file where a directory would be).
func isMissing(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
