/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package fsstore keeps S3 buckets, objects and multipart uploads in a directory.
//
// Layout under the data directory:
//
//	tmp/                           files being written; emptied by Open
//	buckets/<name>/bucket.json     the bucket's owner project, region and creation time
//	buckets/<name>/objects/...     one file per key: its latest version, see keypath.go and objectfile.go
//	buckets/<name>/versions/...    the older versions of versioned buckets, see version.go
//	buckets/<name>/uploads/<id>/   upload.json and one file per part (p00001 ...)
//	buckets/<name>/acls/<hash>/<v>  ACLs set by PutObjectAcl, see access.go (bucket.json holds the bucket's)
//	buckets/<name>/tags/<hash>/<v>  tags set by Put/DeleteObjectTagging, see tagging.go (bucket.json holds the bucket's)
//
// Every file is written in tmp/, synced, renamed into place and its directory synced, so a crash
// leaves either the old state or the new one, never a partial object. Data is always streamed.
package fsstore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Errors the store returns; callers test them with errors.Is.
var (
	ErrNoSuchBucket     = errors.New("no such bucket")
	ErrNoSuchKey        = errors.New("no such key")
	ErrNoSuchUpload     = errors.New("no such upload")
	ErrBucketNotEmpty   = errors.New("bucket is not empty")
	ErrInvalidKey       = errors.New("invalid object key")
	ErrKeyTooLong       = errors.New("object key is too long")
	ErrInvalidPart      = errors.New("invalid part")
	ErrInvalidPartOrder = errors.New("parts are not in ascending order")
	ErrEntityTooSmall   = errors.New("part is smaller than the minimum part size")
	ErrEntityTooLarge   = errors.New("object is larger than the maximum object size")
	ErrInvalidPartNum   = errors.New("part number out of range")
	ErrNoSuchVersion    = errors.New("no such version")
	ErrInvalidVersionID = errors.New("invalid version id")
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
)

// Store is a filesystem object store. It is safe for concurrent use.
type Store struct {
	root string
	opts Options
	// locks serialise DeleteBucket against commits into the bucket (striped by bucket name, so
	// the memory they take is fixed).
	locks [lockStripes]sync.RWMutex
	// keyLocks serialise the changes of one key's versions (striped by bucket and key).
	keyLocks [keyLockStripes]sync.Mutex
	// buffers holds the copy buffers data streams through (*[]byte of copyBuffer bytes).
	buffers sync.Pool
	// clock hands out version stamps: nanoseconds, strictly increasing in this process.
	clock struct {
		sync.Mutex
		last int64
	}
}

// Open opens (creating if needed) the store in dir and removes what crashed writes left behind.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinPartSize <= 0 {
		opts.MinPartSize = defaultMinPartSize
	}
	if opts.MaxObjectSize <= 0 {
		opts.MaxObjectSize = defaultMaxObjectSize
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving data directory %q: %w", dir, err)
	}
	s := &Store{root: abs, opts: opts}
	s.buffers.New = func() any {
		b := make([]byte, copyBuffer)
		return &b
	}
	for _, d := range []string{s.root, s.bucketsDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := s.cleanTmp(); err != nil {
		return nil, err
	}
	return s, nil
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

func (s *Store) tmpDir() string                { return filepath.Join(s.root, "tmp") }
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

// commitFile renames the finished temporary file src to dst under base, creating the
// directories between them (never base itself: a missing base means the bucket is gone). It
// syncs every directory it changed. The caller holds the bucket's read lock.
func (s *Store) commitFile(src, base, dst string, dirs []dirStep, missing error) error {
	for attempt := 0; ; attempt++ {
		if err := s.makeDirs(base, dirs, missing); err != nil {
			return err
		}
		err := os.Rename(src, filepath.Join(base, dst))
		if err == nil {
			return syncDir(filepath.Dir(filepath.Join(base, dst)))
		}
		// A concurrent delete may have pruned a directory that had just become empty.
		if !errors.Is(err, syscall.ENOENT) || attempt == renameAttempts {
			return fmt.Errorf("committing %s: %w", dst, err)
		}
	}
}

// makeDirs creates each of dirs under base that does not exist yet.
func (s *Store) makeDirs(base string, dirs []dirStep, missing error) error {
	for attempt := 0; ; attempt++ {
		err := s.tryMakeDirs(base, dirs, missing)
		// A directory vanished between two steps (a delete pruned it): start again.
		if !errors.Is(err, syscall.ENOENT) || attempt == renameAttempts {
			return err
		}
	}
}

func (s *Store) tryMakeDirs(base string, dirs []dirStep, missing error) error {
	if _, err := os.Stat(base); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return missing
		}
		return fmt.Errorf("stat %s: %w", base, err)
	}
	parent := base
	for _, d := range dirs {
		p := filepath.Join(base, d.rel)
		err := os.Mkdir(p, 0o750)
		switch {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return err
			}
		case errors.Is(err, os.ErrExist):
		default:
			return fmt.Errorf("creating %s: %w", p, err)
		}
		if err := s.ensureLongDirName(p, d.seg); err != nil {
			return err
		}
		parent = p
	}
	return nil
}

// ensureLongDirName writes the segment of a D directory into it before anything else goes there.
func (s *Store) ensureLongDirName(path, seg string) error {
	if filepath.Base(path)[0] != longDirTag {
		return nil
	}
	nf := filepath.Join(path, longDirNameFile)
	if _, err := os.Stat(nf); err == nil {
		return nil
	}
	return s.writeFileAtomic(nf, []byte(seg))
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic writes a small file through a temporary file.
func (s *Store) writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(s.tmpDir(), "small-*")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("renaming %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// readNames lists a directory's entries, unsorted.
func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
