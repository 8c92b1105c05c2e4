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

// Package fsstore keeps S3 buckets, objects and multipart uploads as files: in a local
// directory (Open) or as the objects of a bucket of an S3-compatible cluster, which several
// stores may share (OpenS3). The files go through a disk (disk.go), beneath all of the logic.
//
// Layout under the data directory (or the backend's prefix):
//
//	tmp/                           files being written; emptied by Open
//	buckets/<name>/bucket.json     the bucket's owner project, region and creation time
//	buckets/<name>/objects/...     one file per key: its latest version, see keypath.go and objectfile.go
//	buckets/<name>/versions/...    the older versions of versioned buckets, see version.go
//	buckets/<name>/uploads/<id>/   upload.json and one file per part (p00001 ...)
//	buckets/<name>/acls/<hash>/<v>  ACLs set by PutObjectAcl, see access.go (bucket.json holds the bucket's)
//	buckets/<name>/tags/<hash>/<v>  tags set by Put/DeleteObjectTagging, see tagging.go (bucket.json holds the bucket's)
//
// Every file is written in tmp/ (always local), then committed whole by the disk: on a local
// disk synced, renamed into place and its directory synced, so a crash leaves either the old
// state or the new one, never a partial object. Data is always streamed.
package fsstore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Errors the store returns; callers test them with errors.Is.
var (
	ErrNoSuchBucket   = errors.New("no such bucket")
	ErrNoSuchKey      = errors.New("no such key")
	ErrNoSuchUpload   = errors.New("no such upload")
	ErrBucketNotEmpty = errors.New("bucket is not empty")
	// ErrDeletionInProgress: a bucket of that name is being deleted (by another replica on a
	// shared backend); creating it again is for a moment later.
	ErrDeletionInProgress = errors.New("a deletion of the bucket is under way")
	ErrInvalidKey         = errors.New("invalid object key")
	ErrKeyTooLong         = errors.New("object key is too long")
	ErrInvalidPart        = errors.New("invalid part")
	ErrInvalidPartOrder   = errors.New("parts are not in ascending order")
	ErrEntityTooSmall     = errors.New("part is smaller than the minimum part size")
	ErrEntityTooLarge     = errors.New("object is larger than the maximum object size")
	ErrInvalidPartNum     = errors.New("part number out of range")
	ErrNoSuchVersion      = errors.New("no such version")
	ErrInvalidVersionID   = errors.New("invalid version id")
)

// BucketExistsError says a bucket name is taken, and by which project.
type BucketExistsError struct {
	Bucket string
	Owner  string
}

func (e *BucketExistsError) Error() string {
	return fmt.Sprintf("bucket %q already exists", e.Bucket)
}

// Options tunes a Store. Zero values take the defaults.
type Options struct {
	// Now is the clock for modification times; time.Now by default.
	Now func() time.Time
	// MinPartSize is the smallest size of every part of a multipart upload but the last;
	// 5 MiB by default, as in S3.
	MinPartSize int64
	// MaxObjectSize bounds the size of an object a multipart upload may assemble; 5 TiB by default.
	MaxObjectSize int64
}

const (
	defaultMinPartSize   = 5 << 20
	defaultMaxObjectSize = 5 << 40
	lockStripes          = 64
	keyLockStripes       = 256
	// renameAttempts bounds retries of a commit racing a delete that removes empty directories.
	renameAttempts = 8
	// raceAttempts bounds retries of a change that lost a race with another store replica.
	raceAttempts = 16
)

// Store is a filesystem object store. It is safe for concurrent use.
type Store struct {
	root string
	disk disk
	opts Options
	// locks serialise DeleteBucket against commits into the bucket (striped by bucket name, so
	// the memory they take is fixed).
	locks [lockStripes]sync.RWMutex
	// keyLocks serialise the changes of one key's versions (striped by bucket and key).
	keyLocks [keyLockStripes]sync.Mutex
	// buffers holds the copy buffers data streams through (*[]byte of copyBuffer bytes).
	buffers sync.Pool
	// prunes spaces out the pruning of completed-upload records.
	prunes pruneSchedule
	// clock hands out version stamps: nanoseconds, strictly increasing in this process.
	clock struct {
		sync.Mutex
		last int64
	}
}

// Open opens (creating if needed) the store in dir and removes what crashed writes left behind.
func Open(dir string, opts Options) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving data directory %q: %w", dir, err)
	}
	ld := &localDisk{tmp: filepath.Join(abs, "tmp"), data: filepath.Join(abs, dataDirName)}
	s := newStore(abs, ld, opts)
	for _, d := range []string{s.root, s.bucketsDir(), s.tmpDir(), s.dataDir()} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := s.cleanTmp(); err != nil {
		return nil, err
	}
	if err := ld.sweepData(); err != nil {
		return nil, err
	}
	return s, nil
}

// newStore makes a store of the files under root on d.
func newStore(root string, d disk, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinPartSize <= 0 {
		opts.MinPartSize = defaultMinPartSize
	}
	if opts.MaxObjectSize <= 0 {
		opts.MaxObjectSize = defaultMaxObjectSize
	}
	s := &Store{root: root, disk: d, opts: opts}
	s.buffers.New = func() any {
		b := make([]byte, copyBuffer)
		return &b
	}
	return s
}

// cleanTmp removes files of writes that never committed and buckets deleted half way.
func (s *Store) cleanTmp() error {
	names, err := readNames(s.tmpDir())
	if err != nil {
		return fmt.Errorf("reading %s: %w", s.tmpDir(), err)
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(s.tmpDir(), n)); err != nil {
			return fmt.Errorf("removing leftover %s: %w", n, err)
		}
	}
	return nil
}

func (s *Store) tmpDir() string                { return s.disk.tempDir() }
func (s *Store) bucketsDir() string            { return filepath.Join(s.root, "buckets") }
func (s *Store) bucketDir(b string) string     { return filepath.Join(s.bucketsDir(), b) }
func (s *Store) objectsDir(b string) string    { return filepath.Join(s.bucketDir(b), "objects") }
func (s *Store) uploadsDir(b string) string    { return filepath.Join(s.bucketDir(b), "uploads") }
func (s *Store) versionsDir(b string) string   { return filepath.Join(s.bucketDir(b), "versions") }
func (s *Store) uploadDir(b, id string) string { return filepath.Join(s.uploadsDir(b), id) }
func (s *Store) bucketLock(b string) *sync.RWMutex {
	h := fnv.New32a()
	h.Write([]byte(b))
	return &s.locks[h.Sum32()%lockStripes]
}
func (s *Store) keyLock(b, key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(b))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return &s.keyLocks[h.Sum32()%keyLockStripes]
}

// commitFile moves the finished temporary file src to dst under base, creating the
// directories between them (never base itself: a missing base means the bucket is gone). The
// caller holds the bucket's read lock.
func (s *Store) commitFile(src, base, dst string, dirs []dirStep, missing error) error {
	return s.disk.commit(src, base, dst, dirs, missing, precondition{})
}

// writeFileAtomic replaces a small file in one step.
func (s *Store) writeFileAtomic(path string, data []byte) error {
	return s.disk.writeFile(path, data, precondition{})
}
