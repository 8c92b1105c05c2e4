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
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// The local disk's side of linked objects (see linked.go).

// newDataDir makes a new, empty data directory and returns its id.
func (d *localDisk) newDataDir() (string, error) {
	var raw [dataIDLen / 2]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("making data id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	if err := os.Mkdir(filepath.Join(d.data, id), 0o750); err != nil {
		return "", fmt.Errorf("creating data directory: %w", err)
	}
	return id, syncDir(d.data)
}

// link gives the file src the new name dst.
func (d *localDisk) link(src, dst string) error { return os.Link(src, dst) }

// syncDir makes the entries of dir durable.
func (d *localDisk) syncDir(dir string) error { return syncDir(dir) }

// anchor links the finished file path into the data directory id as its anchor.
func (d *localDisk) anchor(path, id string) error {
	dst := filepath.Join(d.data, id, anchorName)
	if err := os.Link(path, dst); err != nil {
		return fmt.Errorf("anchoring %s: %w", path, err)
	}
	return syncDir(filepath.Dir(dst))
}

// openParts opens the data of a linked object described by info (read from the file named
// name): the files of its parts in dir, in order.
func (d *localDisk) openParts(name, dir string, info ObjectInfo) (diskFile, error) {
	lf := &linkedFile{name: name, size: info.Size}
	var off int64
	for _, p := range info.PartList {
		f, err := os.Open(filepath.Join(dir, partName(p.Number)))
		if err != nil {
			lf.Close()
			return nil, err
		}
		lf.parts = append(lf.parts, &localFile{File: f, size: p.Size})
		lf.starts = append(lf.starts, off)
		off += p.Size
	}
	if off != info.Size {
		lf.Close()
		return nil, fmt.Errorf("%s: %w: parts of %d bytes for an object of %d", name, errCorrupt, off, info.Size)
	}
	return lf, nil
}

// linkedFile reads a linked object's parts as one file.
type linkedFile struct {
	name   string
	size   int64
	parts  []*localFile
	starts []int64
}

func (f *linkedFile) Name() string { return f.name }
func (f *linkedFile) Size() int64  { return f.size }
func (f *linkedFile) Tag() string  { return "" }

func (f *linkedFile) Close() error {
	var first error
	for _, p := range f.parts {
		if err := p.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// part returns the index of the part holding byte off (off < size).
func (f *linkedFile) part(off int64) int {
	return sort.Search(len(f.starts), func(i int) bool { return f.starts[i] > off }) - 1
}

func (f *linkedFile) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset", f.name)
	}
	n := 0
	for len(b) > 0 && off < f.size {
		i := f.part(off)
		want := min(int64(len(b)), f.starts[i]+f.parts[i].size-off)
		m, err := f.parts[i].ReadAt(b[:want], off-f.starts[i])
		n += m
		off += int64(m)
		b = b[m:]
		if err != nil && (err != io.EOF || int64(m) < want) {
			return n, err
		}
	}
	if len(b) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// Section reads n bytes from off, part after part (each with the kernel's help when the
// destination is a socket; see fileSection).
func (f *linkedFile) Section(off, n int64) io.Reader {
	var rs []io.Reader
	for n > 0 && off < f.size {
		i := f.part(off)
		m := min(n, f.starts[i]+f.parts[i].size-off)
		rs = append(rs, f.parts[i].Section(off-f.starts[i], m))
		off += m
		n -= m
	}
	return &sections{rs: rs}
}

// sections reads readers one after another, like io.MultiReader, but passes each one whole to
// a WriteTo so that each can use its own WriteTo, and has the disk read the next one (when it can
// prefetch) while one is sent.
type sections struct{ rs []io.Reader }

func (s *sections) Read(b []byte) (int, error) {
	for len(s.rs) > 0 {
		n, err := s.rs[0].Read(b)
		if err == io.EOF {
			s.rs = s.rs[1:]
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.EOF
}

func (s *sections) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(s.rs) > 0 {
		if len(s.rs) > 1 {
			if p, ok := s.rs[1].(interface{ prefetch() }); ok {
				p.prefetch()
			}
		}
		n, err := io.Copy(w, s.rs[0])
		total += n
		if err != nil {
			return total, err
		}
		s.rs = s.rs[1:]
	}
	return total, nil
}

// releaseObjectFile removes the file path, a name of an object file that the store no longer
// uses (moved into tmp/ by the caller), and the object's data directory if that name was its
// last one but the anchor.
func (d *localDisk) releaseObjectFile(path string) error {
	dataID := d.dataOfFile(path)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	if dataID == "" {
		return nil
	}
	return d.removeUnusedData(filepath.Join(d.data, dataID))
}

// dataOfFile is the data directory id of the object file path; "" for none, or for a file
// that is not an object file.
func (d *localDisk) dataOfFile(path string) string {
	f, err := d.open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := readTrailer(f)
	if err != nil {
		return ""
	}
	return info.Data
}

// removeUnusedData removes the data directory dir if no object file uses it any more: its
// anchor is missing or is the file's only name.
func (d *localDisk) removeUnusedData(dir string) error {
	var st syscall.Stat_t
	err := syscall.Stat(filepath.Join(dir, anchorName), &st)
	switch {
	case err == nil && st.Nlink > 1:
		return nil
	case err != nil && !errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing unused data %s: %w", dir, err)
	}
	return nil
}

// sweepData removes the data directories no object uses: those of objects deleted or replaced
// when the store stopped before it could remove them, and of completions it did not finish.
func (d *localDisk) sweepData() error {
	names, err := readNames(d.data)
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.data, err)
	}
	for _, n := range names {
		if err := d.removeUnusedData(filepath.Join(d.data, n)); err != nil {
			return err
		}
	}
	return nil
}
