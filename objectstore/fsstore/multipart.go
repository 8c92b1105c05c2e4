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
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	uploadFile = "upload.json"
	// MaxPartNumber is the highest part number S3 accepts.
	MaxPartNumber = 10000
	uploadIDLen   = 32
)

// UploadInfo describes a multipart upload in progress.
type UploadInfo struct {
	ID        string     `json:"id"`
	Key       string     `json:"key"`
	Initiated time.Time  `json:"initiated"`
	Meta      ObjectMeta `json:"meta"`
	// Initiator names who started the upload.
	Initiator string `json:"initiator"`
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	Number   int
	Size     int64
	ETag     string
	Modified time.Time
	// Checksum is the part's flexible checksum; nil for none.
	Checksum *Checksum
}

// CompletePart names a part to assemble and the ETag the client got for it.
type CompletePart struct {
	Number int
	ETag   string
}

// CreateUpload starts a multipart upload of key and returns its description.
func (s *Store) CreateUpload(bucket, key string, meta ObjectMeta, initiator string) (UploadInfo, error) {
	if err := ValidKey(key); err != nil {
		return UploadInfo{}, err
	}
	var id [uploadIDLen / 2]byte
	if _, err := rand.Read(id[:]); err != nil {
		return UploadInfo{}, fmt.Errorf("making upload id: %w", err)
	}
	info := UploadInfo{ID: hex.EncodeToString(id[:]), Key: key, Initiated: s.opts.Now().UTC(), Meta: meta, Initiator: initiator}
	data, err := json.Marshal(info)
	if err != nil {
		return UploadInfo{}, fmt.Errorf("encoding upload: %w", err)
	}
	lock := s.bucketLock(bucket)
	lock.RLock()
	defer lock.RUnlock()
	if _, err := s.Bucket(bucket); err != nil {
		return UploadInfo{}, err
	}
	err = s.disk.createDir(s.uploadDir(bucket, info.ID), []string{uploadFile}, map[string][]byte{uploadFile: data})
	if errors.Is(err, os.ErrNotExist) {
		return UploadInfo{}, ErrNoSuchBucket
	}
	if err != nil {
		return UploadInfo{}, fmt.Errorf("creating upload: %w", err)
	}
	return info, nil
}

// Upload returns the upload id of key, or ErrNoSuchUpload.
func (s *Store) Upload(bucket, key, id string) (UploadInfo, error) {
	if _, err := s.Bucket(bucket); err != nil {
		return UploadInfo{}, err
	}
	info, err := s.readUpload(bucket, id)
	if err != nil {
		return UploadInfo{}, err
	}
	if info.Key != key {
		return UploadInfo{}, ErrNoSuchUpload
	}
	return info, nil
}

func (s *Store) readUpload(bucket, id string) (UploadInfo, error) {
	if !validUploadID(id) {
		return UploadInfo{}, ErrNoSuchUpload
	}
	data, _, err := s.disk.readFile(filepath.Join(s.uploadDir(bucket, id), uploadFile))
	if errors.Is(err, os.ErrNotExist) {
		return UploadInfo{}, ErrNoSuchUpload
	}
	if err != nil {
		return UploadInfo{}, fmt.Errorf("reading upload %s: %w", id, err)
	}
	var info UploadInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return UploadInfo{}, fmt.Errorf("decoding upload %s: %w", id, err)
	}
	return info, nil
}

// validUploadID keeps ids that come from a request from naming anything but an upload.
func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !(id[i] >= '0' && id[i] <= '9' || id[i] >= 'a' && id[i] <= 'f') {
			return false
		}
	}
	return true
}

func partName(n int) string { return fmt.Sprintf("p%05d", n) }

// PutPart stores part n of an upload from r, replacing an earlier upload of that part.
func (s *Store) PutPart(bucket, key, id string, n int, r io.Reader) (PartInfo, error) {
	return s.PutPartChecksum(bucket, key, id, n, r, nil)
}

// PutPartChecksum is PutPart that records the part's checksum cs (nil for none); as with
// PutObject, r may set cs's Value when it reaches the end of the data.
func (s *Store) PutPartChecksum(bucket, key, id string, n int, r io.Reader, cs *Checksum) (PartInfo, error) {
	return s.PutPartWith(bucket, key, id, n, r, PartOptions{Checksum: cs})
}

// PartOptions are the options of PutPartWith.
type PartOptions struct {
	// Checksum is the part's checksum (nil for none); as with PutObject, the reader may set its
	// Value when it reaches the end of the data.
	Checksum *Checksum
	// CRC, when set, is computed over the part's data as it is stored and recorded with the
	// part, for the completion to combine (see CRC).
	CRC *CRC
}

// PutPartWith is PutPart with options.
func (s *Store) PutPartWith(bucket, key, id string, n int, r io.Reader, opts PartOptions) (PartInfo, error) {
	if n < 1 || n > MaxPartNumber {
		return PartInfo{}, ErrInvalidPartNum
	}
	if _, err := s.Upload(bucket, key, id); err != nil {
		return PartInfo{}, err
	}
	t, err := newTempFile(s.tmpDir(), "part-*")
	if err != nil {
		return PartInfo{}, err
	}
	defer t.discard()
	if opts.CRC != nil {
		t.crc = opts.CRC.New()
	}
	if err := t.copyFrom(r, &s.buffers); err != nil {
		return PartInfo{}, err
	}
	cs := opts.Checksum
	info := ObjectInfo{Size: t.size, ETag: t.etagOf(r), Modified: s.opts.Now().UTC(), Meta: ObjectMeta{Checksum: cs}}
	if t.crc != nil {
		info.DataCRC = &Checksum{Algorithm: opts.CRC.Algorithm, Value: base64.StdEncoding.EncodeToString(t.crc.Sum(nil))}
	}
	if err := t.finish(info); err != nil {
		return PartInfo{}, err
	}
	if err := s.disk.commit(t.f.Name(), s.uploadDir(bucket, id), partName(n), nil, ErrNoSuchUpload, precondition{}); err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNoSuchUpload) {
			return PartInfo{}, ErrNoSuchUpload // aborted or completed meanwhile
		}
		return PartInfo{}, fmt.Errorf("storing part %d: %w", n, err)
	}
	return PartInfo{Number: n, Size: info.Size, ETag: info.ETag, Modified: info.Modified, Checksum: cs}, nil
}

// ListParts returns the parts of an upload numbered above marker, at most limit of them, and
// whether there are more.
func (s *Store) ListParts(bucket, key, id string, marker, limit int) ([]PartInfo, bool, error) {
	if _, err := s.Upload(bucket, key, id); err != nil {
		return nil, false, err
	}
	nums, err := s.partNumbers(bucket, id)
	if err != nil {
		return nil, false, err
	}
	var out []PartInfo
	for _, n := range nums {
		if n <= marker {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		info, err := s.statFile(filepath.Join(s.uploadDir(bucket, id), partName(n)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		out = append(out, PartInfo{Number: n, Size: info.Size, ETag: info.ETag, Modified: info.Modified, Checksum: info.Meta.Checksum})
	}
	return out, false, nil
}

// partNumbers lists the numbers of an upload's parts in ascending order.
func (s *Store) partNumbers(bucket, id string) ([]int, error) {
	names, err := s.disk.readNames(s.uploadDir(bucket, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoSuchUpload
	}
	if err != nil {
		return nil, fmt.Errorf("listing parts of %s: %w", id, err)
	}
	var nums []int
	for _, name := range names {
		if len(name) != 6 || name[0] != 'p' {
			continue
		}
		if n, err := strconv.Atoi(name[1:]); err == nil {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	return nums, nil
}

// CompleteUpload assembles the named parts, in order, into the object and ends the upload.
func (s *Store) CompleteUpload(bucket, key, id string, parts []CompletePart) (ObjectInfo, error) {
	return s.CompleteUploadWith(bucket, key, id, parts, CompleteOptions{})
}

// CompleteUploadWith is CompleteUpload with options. An upload completed within the last
// completedRetention answers again with the object it made (as S3 answers a retried
// completion), whatever parts are named.
func (s *Store) CompleteUploadWith(bucket, key, id string, parts []CompletePart, opts CompleteOptions) (ObjectInfo, error) {
	up, err := s.Upload(bucket, key, id)
	if errors.Is(err, ErrNoSuchUpload) {
		if done, ok := s.completedUpload(bucket, key, id); ok {
			return done, nil
		}
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := s.checkParts(bucket, id, parts); err != nil {
		return ObjectInfo{}, err
	}
	t, err := newTempFile(s.tmpDir(), "complete-*")
	if err != nil {
		return ObjectInfo{}, err
	}
	defer t.discard()
	var sums [][]byte
	var list []ObjectPart
	var dataID string
	if s.linksParts() {
		dataID, sums, list, err = s.linkParts(bucket, id, parts, opts.CRC)
		if dataID != "" {
			ld := s.disk.(*localDisk)
			t.anchor = func(path string) error { return ld.anchor(path, dataID) }
			// Once the temporary file is gone, the data is unused unless it was committed.
			defer func() { t.discard(); _ = ld.removeUnusedData(filepath.Join(s.dataDir(), dataID)) }()
		}
	} else {
		sums, list, err = s.copyParts(t, bucket, id, parts, opts.CRC)
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	etag := md5.New()
	var size int64
	for i := range list {
		etag.Write(sums[i])
		size += list[i].Size
	}
	info := ObjectInfo{
		Key:      key,
		Size:     size,
		ETag:     fmt.Sprintf("%s-%d", hex.EncodeToString(etag.Sum(nil)), len(parts)),
		Meta:     up.Meta,
		Parts:    len(parts),
		PartList: list,
		Data:     dataID,
	}
	if opts.Checksum != nil {
		if info.Meta.Checksum, err = opts.Checksum(list); err != nil {
			return ObjectInfo{}, err
		}
	}
	info, err = s.commitNew(bucket, key, t, info, opts.Condition)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := s.recordCompletion(bucket, id, info); err != nil {
		return ObjectInfo{}, err
	}
	if err := s.removeUpload(bucket, id); err != nil && !errors.Is(err, ErrNoSuchUpload) {
		return ObjectInfo{}, err
	}
	return info, nil
}

// checkParts validates a completion request against the stored parts before anything is read.
func (s *Store) checkParts(bucket, id string, parts []CompletePart) error {
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			return ErrInvalidPartOrder
		}
	}
	var total int64
	for i, p := range parts {
		info, err := s.statFile(filepath.Join(s.uploadDir(bucket, id), partName(p.Number)))
		if errors.Is(err, os.ErrNotExist) || p.Number < 1 || p.Number > MaxPartNumber {
			return fmt.Errorf("%w: part %d was not uploaded", ErrInvalidPart, p.Number)
		}
		if err != nil {
			return err
		}
		if normalETag(p.ETag) != info.ETag {
			return fmt.Errorf("%w: part %d has a different ETag", ErrInvalidPart, p.Number)
		}
		if i < len(parts)-1 && info.Size < s.opts.MinPartSize {
			return fmt.Errorf("%w: part %d is %d bytes", ErrEntityTooSmall, p.Number, info.Size)
		}
		total += info.Size
	}
	if total > s.opts.MaxObjectSize {
		return ErrEntityTooLarge
	}
	return nil
}

// copyParts copies the named parts, in order, into the object being assembled in t, giving
// each a CRC of crc's algorithm (when crc is set; see CompleteOptions.CRC), and returns their
// binary MD5s and descriptions.
func (s *Store) copyParts(t *tempFile, bucket, id string, parts []CompletePart, crc *CRC) ([][]byte, []ObjectPart, error) {
	sums := make([][]byte, 0, len(parts))
	list := make([]ObjectPart, 0, len(parts))
	for _, p := range parts {
		sum, part, err := s.appendPart(t, bucket, id, p, crc)
		if err != nil {
			return nil, nil, err
		}
		sums = append(sums, sum)
		list = append(list, part)
	}
	return sums, list, nil
}

// appendPart copies a part into the object being assembled (computing its CRC of crc's
// algorithm on the way when it has none recorded) and returns the part's binary MD5 and its
// description. It reads the part's ETag again from the file it copies, in case the part was
// replaced.
func (s *Store) appendPart(t *tempFile, bucket, id string, p CompletePart, crc *CRC) ([]byte, ObjectPart, error) {
	f, info, err := s.openPart(filepath.Join(s.uploadDir(bucket, id), partName(p.Number)), p)
	if err != nil {
		return nil, ObjectPart{}, err
	}
	defer f.Close()
	sum, part, err := completedPart(info, p)
	if err != nil {
		return nil, ObjectPart{}, err
	}
	var src io.Reader = f.Section(0, info.Size)
	h := missingCRC(part, crc)
	if h != nil {
		src = io.TeeReader(src, h)
	}
	if err := t.copyFrom(src, &s.buffers); err != nil {
		return nil, ObjectPart{}, fmt.Errorf("copying part %d: %w", p.Number, err)
	}
	if h != nil {
		part.DataCRC = &Checksum{Algorithm: crc.Algorithm, Value: base64.StdEncoding.EncodeToString(h.Sum(nil))}
	}
	return sum, part, nil
}

// missingCRC is a new hash of crc's algorithm when part has no CRC of it recorded, else nil.
func missingCRC(part ObjectPart, crc *CRC) hash.Hash {
	if crc == nil || part.CRCOf(crc.Algorithm) != nil {
		return nil
	}
	return crc.New()
}

func normalETag(etag string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(etag), `"`))
}

// AbortUpload discards an upload and its parts.
func (s *Store) AbortUpload(bucket, key, id string) error {
	if _, err := s.Upload(bucket, key, id); err != nil {
		return err
	}
	return s.removeUpload(bucket, id)
}

// removeUpload renames the upload away at once, then deletes its files.
func (s *Store) removeUpload(bucket, id string) error {
	err := s.disk.removeDir(s.uploadDir(bucket, id), uploadFile)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNoSuchUpload
	}
	if err != nil {
		return fmt.Errorf("removing upload %s: %w", id, err)
	}
	return nil
}
