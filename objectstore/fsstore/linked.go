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
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// On a local disk a completed multipart upload's object does not copy its parts: its file
// holds only the trailer (with Data naming a data directory and PartList the parts in order),
// and the parts' files are hard-linked into data/<Data>/ under their part names. The object's
// bytes are the concatenation of those files' data. So the bytes are written (and synced) once,
// when each part arrives.
//
// data/<Data>/anchor is one more hard link of the object file itself: the directory is in use
// exactly as long as that file has another name (under objects/ or versions/). Whenever the
// local disk drops a name of an object file (remove, or a commit or rename replacing it), it
// removes the data directory once the anchor is the file's last name; Open removes those left
// by a crash.
const (
	dataDirName = "data"
	anchorName  = "anchor"
	dataIDLen   = 32
)

// linksParts says whether completions link parts instead of copying them: only on a local disk.
func (s *Store) linksParts() bool {
	_, ok := s.disk.(*localDisk)
	return ok
}

func (s *Store) dataDir() string { return filepath.Join(s.root, dataDirName) }

// linkParts hard-links the named parts of an upload into a new data directory, giving each a
// CRC of crc's algorithm (when crc is set; see CompleteOptions.CRC), and returns the
// directory's id, the parts' binary MD5s and their descriptions. The caller removes the
// directory on failure (or Open does, after a crash).
func (s *Store) linkParts(bucket, id string, parts []CompletePart, crc *CRC) (string, [][]byte, []ObjectPart, error) {
	ld := s.disk.(*localDisk)
	dataID, err := ld.newDataDir()
	if err != nil {
		return "", nil, nil, err
	}
	dir := filepath.Join(s.dataDir(), dataID)
	sums := make([][]byte, 0, len(parts))
	list := make([]ObjectPart, 0, len(parts))
	for _, p := range parts {
		dst := filepath.Join(dir, partName(p.Number))
		err := ld.link(filepath.Join(s.uploadDir(bucket, id), partName(p.Number)), dst)
		if errors.Is(err, os.ErrNotExist) {
			return dataID, nil, nil, ErrNoSuchUpload
		}
		if err != nil {
			return dataID, nil, nil, fmt.Errorf("linking part %d: %w", p.Number, err)
		}
		// The ETag is read again from the linked file, in case the part was replaced.
		sum, part, err := s.readPart(dst, p, crc)
		if err != nil {
			return dataID, nil, nil, err
		}
		sums = append(sums, sum)
		list = append(list, part)
	}
	return dataID, sums, list, ld.syncDir(dir)
}

// readPart checks the part file path against p and returns its binary MD5 and description,
// with a CRC of crc's algorithm (when crc is set): the one recorded with the part, else one
// computed by reading the part's data (a part written without one, e.g. before the store
// recorded them).
func (s *Store) readPart(path string, p CompletePart, crc *CRC) ([]byte, ObjectPart, error) {
	f, info, err := s.openPart(path, p)
	if err != nil {
		return nil, ObjectPart{}, err
	}
	defer f.Close()
	sum, part, err := completedPart(info, p)
	if err != nil {
		return nil, ObjectPart{}, err
	}
	if h := missingCRC(part, crc); h != nil {
		if err := s.copyBuffered(h, f.Section(0, info.Size)); err != nil {
			return nil, ObjectPart{}, fmt.Errorf("reading part %d: %w", p.Number, err)
		}
		part.DataCRC = &Checksum{Algorithm: crc.Algorithm, Value: base64.StdEncoding.EncodeToString(h.Sum(nil))}
	}
	return sum, part, nil
}

// openPart opens the part file path and checks that it is still the part p names (its ETag is
// read again, in case the part was replaced). The caller closes the file.
func (s *Store) openPart(path string, p CompletePart) (diskFile, ObjectInfo, error) {
	f, err := s.disk.open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ObjectInfo{}, ErrNoSuchUpload
	}
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("opening part %d: %w", p.Number, err)
	}
	info, err := readTrailer(f)
	if err == nil && normalETag(p.ETag) != info.ETag {
		err = fmt.Errorf("%w: part %d changed", ErrInvalidPart, p.Number)
	}
	if err != nil {
		_ = f.Close()
		return nil, ObjectInfo{}, err
	}
	return f, info, nil
}

// completedPart is the binary MD5 and the description of a part whose trailer is info.
func completedPart(info ObjectInfo, p CompletePart) ([]byte, ObjectPart, error) {
	sum, err := hex.DecodeString(info.ETag)
	return sum, ObjectPart{Number: p.Number, Size: info.Size, Checksum: info.Meta.Checksum, DataCRC: info.DataCRC}, err
}

// copyBuffered copies r to w through one of the store's large buffers.
func (s *Store) copyBuffered(w io.Writer, r io.Reader) error {
	bp := s.buffers.Get().(*[]byte)
	defer s.buffers.Put(bp)
	_, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, *bp)
	return err
}

// openData opens the data of a linked object described by info (read from the file named
// name). A data directory gone meanwhile (the object was deleted) is os.ErrNotExist.
func (s *Store) openData(name string, info ObjectInfo) (diskFile, error) {
	return s.disk.(*localDisk).openParts(name, filepath.Join(s.dataDir(), info.Data), info)
}
