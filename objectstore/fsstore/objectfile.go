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
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"time"
)

// An object file (and a multipart part file) is the data followed by a trailer: the object's
// metadata as JSON, its length as a big-endian uint32, and trailerMagic. Data and metadata are
// therefore committed by one rename and can never disagree.
const (
	trailerMagic   = "PNO1"
	trailerTailLen = 4 + len(trailerMagic)
	// maxMetaLen bounds the metadata a reader accepts; S3 user metadata is at most 2 KiB, and
	// the part list of an object of 10,000 parts takes well under 1 MiB.
	maxMetaLen = 2 << 20
	copyBuffer = 1 << 20
)

// ObjectMeta is what a client says about an object when it writes it.
type ObjectMeta struct {
	ContentType        string `json:"contentType,omitempty"`
	ContentEncoding    string `json:"contentEncoding,omitempty"`
	ContentDisposition string `json:"contentDisposition,omitempty"`
	ContentLanguage    string `json:"contentLanguage,omitempty"`
	CacheControl       string `json:"cacheControl,omitempty"`
	Expires            string `json:"expires,omitempty"`
	// User holds the x-amz-meta-* headers by lower-case name without the prefix.
	User map[string]string `json:"user,omitempty"`
	// ACL is the object's access control list as written with it; nil for none (private).
	ACL *ACL `json:"acl,omitempty"`
	// Checksum is the object's flexible checksum (x-amz-checksum-*); nil for none. An upload in
	// progress keeps only its algorithm and type. For PutObject, the reader handed to the store
	// may set its Value when it reaches the end of the data: the store records it after that.
	Checksum *Checksum `json:"checksum,omitempty"`
	// Tags is the object's tag set as written with it (see tagging.go for later changes).
	Tags []Tag `json:"tags,omitempty"`
	// Encryption says how the data is encrypted; nil when it is not.
	Encryption *Encryption `json:"encryption,omitempty"`
}

// ObjectInfo describes a stored object or part.
type ObjectInfo struct {
	// Key is empty for parts.
	Key  string `json:"key,omitempty"`
	Size int64  `json:"size"`
	// ETag is the hex MD5 of the data, or for a completed multipart upload the hex MD5 of the
	// parts' MD5s followed by "-" and the number of parts. It carries no quotes.
	ETag     string     `json:"etag"`
	Modified time.Time  `json:"modified"`
	Meta     ObjectMeta `json:"meta"`
	// Parts is the number of parts of an object made by a multipart upload, else 0.
	Parts int `json:"parts,omitempty"`
	// PartList describes those parts in order (sizes and checksums); nil for other objects
	// and for objects completed before it was kept.
	PartList []ObjectPart `json:"partList,omitempty"`
	// VersionID names the version; "" is the null version (every object of a bucket that was
	// never versioned, and those written while versioning was suspended).
	VersionID string `json:"versionId,omitempty"`
	// DeleteMarker says the version is a delete marker: it has no data.
	DeleteMarker bool `json:"deleteMarker,omitempty"`
	// Stamp orders the versions of a key: when it was written, in nanoseconds, strictly
	// increasing within a process. Objects written before versioning existed have none (0).
	Stamp int64 `json:"stamp,omitempty"`
	// Data names the data directory of an object whose parts are linked rather than copied
	// (see linked.go): its file then holds no data, only this trailer. "" for other objects.
	Data string `json:"data,omitempty"`
	// DataCRC is, for a part written with PartOptions.CRC, that CRC of its stored data; nil
	// for objects and other parts. It is the store's own and never shown to clients.
	DataCRC *Checksum `json:"dataCRC,omitempty"`
	// IsLatest is set by ListVersions on a key's latest version; it is not stored.
	IsLatest bool `json:"-"`
}

// tempFile is a file being written in the store's temporary directory.
type tempFile struct {
	f    *os.File
	size int64
	md5  hash.Hash
	// crc, when set, is fed the data with md5, in the same pass.
	crc hash.Hash
	// anchor, when set, is called by finish with the finished file's name (see linked.go).
	anchor func(path string) error
}

func newTempFile(dir, pattern string) (*tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("creating temporary file: %w", err)
	}
	return &tempFile{f: f, md5: md5.New()}, nil
}

// copyFrom streams r into the file, hashing it (MD5, and crc when set), through a buffer of the pool's.
func (t *tempFile) copyFrom(r io.Reader, pool *sync.Pool) error {
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	buf := *bp
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := t.f.Write(buf[:n]); err != nil {
				return fmt.Errorf("writing %s: %w", t.f.Name(), err)
			}
			t.md5.Write(buf[:n])
			if t.crc != nil {
				t.crc.Write(buf[:n])
			}
			t.size += int64(n)
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return &ReadError{Err: rerr}
		}
	}
}

// finish writes the trailer and makes the file durable; the file is then ready to be renamed.
func (t *tempFile) finish(info ObjectInfo) error {
	meta, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encoding object metadata: %w", err)
	}
	if len(meta) > maxMetaLen {
		return fmt.Errorf("object metadata of %d bytes is too large", len(meta))
	}
	tail := make([]byte, 0, len(meta)+trailerTailLen)
	tail = append(tail, meta...)
	tail = binary.BigEndian.AppendUint32(tail, uint32(len(meta)))
	tail = append(tail, trailerMagic...)
	if _, err := t.f.Write(tail); err != nil {
		return fmt.Errorf("writing %s: %w", t.f.Name(), err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", t.f.Name(), err)
	}
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", t.f.Name(), err)
	}
	if t.anchor == nil {
		return nil
	}
	return t.anchor(t.f.Name())
}

func (t *tempFile) md5Hex() string { return hex.EncodeToString(t.md5.Sum(nil)) }

// ETagReader is a reader handed to PutObject or PutPart that decides the ETag of the data it
// yielded (hex, no quotes), once it has ended: encrypted data's is its plaintext's MD5. An empty
// ETag leaves the MD5 of the stored data.
type ETagReader interface {
	io.Reader
	ETag() string
}

// etagOf is the ETag of data written to t from r.
func (t *tempFile) etagOf(r io.Reader) string {
	if er, ok := r.(ETagReader); ok {
		if etag := er.ETag(); etag != "" {
			return etag
		}
	}
	return t.md5Hex()
}

// discard removes an unfinished or uncommitted file.
func (t *tempFile) discard() {
	_ = t.f.Close()
	_ = os.Remove(t.f.Name())
}

// readTrailer reads the metadata of an open object file and returns it with the data length.
func readTrailer(f diskFile) (ObjectInfo, error) {
	size := f.Size()
	if size < int64(trailerTailLen) {
		return ObjectInfo{}, fmt.Errorf("%s: %w: too short", f.Name(), errCorrupt)
	}
	var tail [trailerTailLen]byte
	if _, err := f.ReadAt(tail[:], size-int64(trailerTailLen)); err != nil {
		return ObjectInfo{}, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	if string(tail[4:]) != trailerMagic {
		return ObjectInfo{}, fmt.Errorf("%s: %w: no trailer", f.Name(), errCorrupt)
	}
	metaLen := int64(binary.BigEndian.Uint32(tail[:4]))
	if metaLen > maxMetaLen || metaLen > size-int64(trailerTailLen) {
		return ObjectInfo{}, fmt.Errorf("%s: %w: bad metadata length", f.Name(), errCorrupt)
	}
	meta := make([]byte, metaLen)
	if _, err := f.ReadAt(meta, size-int64(trailerTailLen)-metaLen); err != nil {
		return ObjectInfo{}, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	var info ObjectInfo
	if err := json.Unmarshal(meta, &info); err != nil {
		return ObjectInfo{}, fmt.Errorf("%s: %w: %v", f.Name(), errCorrupt, err)
	}
	dataLen := size - int64(trailerTailLen) - metaLen
	if info.Data != "" && dataLen != 0 || info.Data == "" && info.Size != dataLen {
		return ObjectInfo{}, fmt.Errorf("%s: %w: size disagrees with metadata", f.Name(), errCorrupt)
	}
	return info, nil
}

// statFile reads an object file's metadata; a missing file is os.ErrNotExist.
func (s *Store) statFile(path string) (ObjectInfo, error) {
	info, _, err := s.statTagged(path)
	return info, err
}

// statTagged reads an object file's metadata and the tag of the file it read it from.
func (s *Store) statTagged(path string) (ObjectInfo, string, error) {
	f, err := s.disk.open(path)
	if err != nil {
		return ObjectInfo{}, "", err
	}
	defer f.Close()
	info, err := readTrailer(f)
	return info, f.Tag(), err
}

// errCorrupt marks a file that is not an object file; the store never commits such a file.
var errCorrupt = errors.New("corrupt object file")

// ReadError is a failure of the reader a caller handed to the store, as opposed to a failure of
// the store itself. The caller's reader decides what the error means (a client that went away,
// a payload that does not match its signature, too much data).
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "reading request body: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }
