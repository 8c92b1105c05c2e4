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
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// PutObject stores the data r yields as key's latest version once r is exhausted: in a
// versioned bucket a new version (with a VersionID), else the null version, replacing the
// previous null version. If r fails, nothing changes and the error is a *ReadError wrapping r's
// error.
func (s *Store) PutObject(bucket, key string, r io.Reader, meta ObjectMeta) (ObjectInfo, error) {
	return s.PutObjectIf(bucket, key, r, meta, nil)
}

// PutObjectIf is PutObject that commits only if cond (when not nil) allows it; see
// WriteCondition.
func (s *Store) PutObjectIf(bucket, key string, r io.Reader, meta ObjectMeta, cond WriteCondition) (ObjectInfo, error) {
	if err := ValidKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if _, err := s.Bucket(bucket); err != nil {
		return ObjectInfo{}, err
	}
	t, err := newTempFile(s.tmpDir(), "put-*")
	if err != nil {
		return ObjectInfo{}, err
	}
	defer t.discard()
	if err := t.copyFrom(r, &s.buffers); err != nil {
		return ObjectInfo{}, err
	}
	info := ObjectInfo{Key: key, Size: t.size, ETag: t.etagOf(r), Meta: meta}
	return s.commitNew(bucket, key, t, info, cond)
}

// commitNew makes the data written to t key's latest version: it stamps info (reading the
// bucket's versioning state now, after the data arrived), finishes t and commits it if cond
// (when not nil) allows it.
func (s *Store) commitNew(bucket, key string, t *tempFile, info ObjectInfo, cond WriteCondition) (ObjectInfo, error) {
	b, err := s.Bucket(bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	info.Modified = s.opts.Now().UTC()
	if err := s.newVersion(b, &info); err != nil {
		return ObjectInfo{}, err
	}
	if err := t.finish(info); err != nil {
		return ObjectInfo{}, err
	}
	if err := s.commitVersion(b, key, t.f.Name(), info, cond); err != nil {
		return ObjectInfo{}, err
	}
	info.IsLatest = true
	return info, nil
}

// Object is an open object. Its data stays readable even if the object is replaced or deleted
// while it is open.
type Object struct {
	Info ObjectInfo
	f    diskFile
}

// Section returns a reader of n bytes of the data from off.
func (o *Object) Section(off, n int64) io.Reader { return o.f.Section(off, n) }

// ReaderAt reads the object's data (Info.Size bytes) at any offset. On an s3 disk each read
// is a ranged GET: prefer Section for long sequential reads.
func (o *Object) ReaderAt() io.ReaderAt { return io.NewSectionReader(o.f, 0, o.Info.Size) }

// Close releases the object.
func (o *Object) Close() error { return o.f.Close() }

// OpenObject opens key's latest version for reading. If that is a delete marker, the error is a
// *DeleteMarkerError (which is ErrNoSuchKey).
func (s *Store) OpenObject(bucket, key string) (*Object, error) {
	f, info, err := s.openLatest(bucket, key)
	if err != nil {
		return nil, err
	}
	if f, err = s.dataOf(f, info); err != nil {
		return nil, s.missingObject(bucket, key, err)
	}
	return &Object{Info: info, f: f}, nil
}

// openLatest opens the file of key's latest version and reads its description.
func (s *Store) openLatest(bucket, key string) (diskFile, ObjectInfo, error) {
	if err := ValidKey(key); err != nil {
		return nil, ObjectInfo{}, err
	}
	file, _ := keyPath(key)
	f, err := s.disk.open(filepath.Join(s.objectsDir(bucket), file))
	if err != nil {
		return nil, ObjectInfo{}, s.missingObject(bucket, key, err)
	}
	info, err := readTrailer(f)
	if err != nil {
		f.Close()
		return nil, ObjectInfo{}, fmt.Errorf("reading object %q: %w", key, err)
	}
	if info.DeleteMarker {
		f.Close()
		return nil, ObjectInfo{}, &DeleteMarkerError{Marker: info}
	}
	info.IsLatest = true
	return f, info, nil
}

// dataOf returns the file to read the data of the object info, read from f: f itself, or (f
// closed) the parts of a linked object.
func (s *Store) dataOf(f diskFile, info ObjectInfo) (diskFile, error) {
	if info.Data == "" {
		return f, nil
	}
	defer f.Close()
	return s.openData(f.Name(), info)
}

// StatObject returns key's description.
func (s *Store) StatObject(bucket, key string) (ObjectInfo, error) {
	f, info, err := s.openLatest(bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	f.Close()
	return info, nil
}

// missingObject turns an open failure into ErrNoSuchBucket or ErrNoSuchKey when it is one.
func (s *Store) missingObject(bucket, key string, err error) error {
	// ENOTDIR: a segment of the key names an object file where a directory would be.
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("opening object %q: %w", key, err)
	}
	if _, berr := s.Bucket(bucket); berr != nil {
		return berr
	}
	return ErrNoSuchKey
}

// DeleteObject deletes key as S3 does without a version id. In a bucket that was never
// versioned it removes the object (removing a missing key succeeds, as in S3) and returns a
// zero ObjectInfo. In a versioned or suspended bucket it makes a delete marker the latest
// version (a null one when suspended, replacing the null version) and returns the marker.
func (s *Store) DeleteObject(bucket, key string) (ObjectInfo, error) {
	if err := ValidKey(key); err != nil {
		return ObjectInfo{}, err
	}
	b, err := s.Bucket(bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	if b.Versioning == "" {
		lock := s.bucketLock(bucket)
		lock.RLock()
		defer lock.RUnlock()
		return ObjectInfo{}, s.removeLatest(bucket, key)
	}
	t, err := newTempFile(s.tmpDir(), "marker-*")
	if err != nil {
		return ObjectInfo{}, err
	}
	defer t.discard()
	return s.commitNew(bucket, key, t, ObjectInfo{Key: key, DeleteMarker: true}, nil)
}
