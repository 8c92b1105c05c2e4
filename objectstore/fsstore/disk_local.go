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
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// localDisk keeps the store's files in a local directory. Every file is written in tmp/,
// synced, renamed into place and its directory synced, so a crash leaves either the old state
// or the new one.
type localDisk struct {
	tmp string
	// data holds the data directories of objects whose parts are linked (see linked.go).
	data string
}

func (d *localDisk) tempDir() string { return d.tmp }
func (d *localDisk) shared() bool    { return false }

// commit renames src into place, creating the directories between base and dst. It syncs
// every directory it changed.
func (d *localDisk) commit(src, base, dst string, dirs []dirStep, missing error, _ precondition) error {
	for attempt := 0; ; attempt++ {
		if err := d.makeDirs(base, dirs, missing); err != nil {
			return err
		}
		err := d.replace(src, filepath.Join(base, dst))
		if err == nil {
			return nil
		}
		// A concurrent delete may have pruned a directory that had just become empty.
		if !errors.Is(err, syscall.ENOENT) || attempt == renameAttempts {
			return fmt.Errorf("committing %s: %w", dst, err)
		}
	}
}

// copyFile hard-links src into place (through tmp/, so that a stale file of that name is
// replaced in one rename): the link keeps the bytes, since files are only ever replaced.
func (d *localDisk) copyFile(src, _, base, dst string, dirs []dirStep, missing error) error {
	f, err := os.CreateTemp(d.tmp, "link-*")
	if err != nil {
		return fmt.Errorf("naming a link: %w", err)
	}
	link := f.Name()
	f.Close()
	os.Remove(link)
	if err := os.Link(src, link); err != nil {
		return err
	}
	defer os.Remove(link) // gone already once committed
	return d.commit(link, base, dst, dirs, missing, precondition{})
}

// makeDirs creates each of dirs under base that does not exist yet.
func (d *localDisk) makeDirs(base string, dirs []dirStep, missing error) error {
	for attempt := 0; ; attempt++ {
		err := d.tryMakeDirs(base, dirs, missing)
		// A directory vanished between two steps (a delete pruned it): start again.
		if !errors.Is(err, syscall.ENOENT) || attempt == renameAttempts {
			return err
		}
	}
}

func (d *localDisk) tryMakeDirs(base string, dirs []dirStep, missing error) error {
	if _, err := os.Stat(base); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return missing
		}
		return fmt.Errorf("stat %s: %w", base, err)
	}
	parent := base
	for _, step := range dirs {
		p := filepath.Join(base, step.rel)
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
		if err := ensureLongDirName(d, p, step.seg); err != nil {
			return err
		}
		parent = p
	}
	return nil
}

// ensureLongDirName writes the segment of a D directory into it before anything else goes there.
func ensureLongDirName(d disk, path, seg string) error {
	if filepath.Base(path)[0] != longDirTag {
		return nil
	}
	nf := filepath.Join(path, longDirNameFile)
	if ok, err := d.exists(nf); ok || err != nil {
		return err
	}
	return d.writeFile(nf, []byte(seg), precondition{})
}

// writeFile writes a small file through a temporary file.
func (d *localDisk) writeFile(path string, data []byte, _ precondition) error {
	f, err := os.CreateTemp(d.tmp, "small-*")
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

func (d *localDisk) readFile(path string) ([]byte, string, error) {
	b, err := os.ReadFile(path)
	return b, "", err
}

func (d *localDisk) open(path string) (diskFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return &localFile{File: f, size: st.Size()}, nil
}

// localFile is an open local file; its size is taken when it is opened (files are never
// changed in place, only replaced).
type localFile struct {
	*os.File
	size int64
	// seek serialises the sections' WriteTo, which move the file's offset.
	seek sync.Mutex
}

func (f *localFile) Size() int64 { return f.size }
func (f *localFile) Tag() string { return "" }

func (f *localFile) Section(off, n int64) io.Reader {
	return &fileSection{SectionReader: io.NewSectionReader(f.File, off, n), f: f}
}

// fileSection is a section of a local file whose WriteTo hands the destination the file
// itself (limited to the section), so that a socket's ReadFrom can send it with sendfile(2)
// instead of copying it through user space.
type fileSection struct {
	*io.SectionReader
	f *localFile
}

func (s *fileSection) WriteTo(w io.Writer) (int64, error) {
	pos, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	_, off, n := s.Outer()
	// Read ahead the way a whole-file read does: a section is sent front to back, and the
	// kernel's default window, grown from small per open file, leaves a cold disk idle
	// between sendfile calls.
	_ = unix.Fadvise(int(s.f.File.Fd()), off+pos, n-pos, unix.FADV_SEQUENTIAL)
	s.f.seek.Lock()
	defer s.f.seek.Unlock()
	if _, err := s.f.File.Seek(off+pos, io.SeekStart); err != nil {
		return 0, err
	}
	lr := &io.LimitedReader{R: s.f.File, N: n - pos}
	var written int64
	if _, ok := w.(io.ReaderFrom); ok {
		written, err = io.Copy(w, lr)
	} else {
		written, err = io.CopyBuffer(w, lr, make([]byte, sectionBuffer))
	}
	s.Seek(written, io.SeekCurrent)
	return written, err
}

// prefetch asks the kernel to start reading the section into the page cache, so that the disk
// works on it while the section before it is being sent.
func (s *fileSection) prefetch() {
	_, off, n := s.Outer()
	_ = unix.Fadvise(int(s.f.File.Fd()), off, n, unix.FADV_WILLNEED)
}

// sectionBuffer is the buffer a section copies through when the destination cannot read from
// the file itself.
const sectionBuffer = 256 << 10

func (d *localDisk) exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if isMissing(err) {
		return false, nil
	}
	return err == nil, err
}

func (d *localDisk) rename(src, dst string, _ precondition) error {
	if err := d.replace(src, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(src))
}

// replace renames src over dst and syncs dst's directory. The file it replaces, if any, is
// swapped out into src's place in one step (so exactly that file is known) and released.
func (d *localDisk) replace(src, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return syncDir(filepath.Dir(dst))
	case noRenameFlags(err):
		return d.renameOver(src, dst)
	case !errors.Is(err, syscall.EEXIST):
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	// Only a file is replaced, as rename(2) would refuse to put a file over a directory.
	if st, err := os.Lstat(dst); err == nil && st.IsDir() {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: syscall.EISDIR}
	}
	err = unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE)
	switch {
	case errors.Is(err, syscall.ENOENT):
		return d.replace(src, dst) // dst went meanwhile
	case noRenameFlags(err):
		return d.renameOver(src, dst)
	case err != nil:
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	return d.releaseObjectFile(src)
}

// noRenameFlags says the file system (or kernel) does not know renameat2's flags.
func noRenameFlags(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS)
}

// renameOver is replace on a file system without renameat2's flags: the file it releases is
// the one found at dst just before, which a concurrent replacement may make the wrong one. That
// can only leave unused data behind (until Open), never remove data in use.
func (d *localDisk) renameOver(src, dst string) error {
	old := d.dataOfFile(dst)
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	if old == "" {
		return nil
	}
	return d.removeUnusedData(filepath.Join(d.data, old))
}

// remove moves the file into tmp/ first, so that exactly the file removed is released.
func (d *localDisk) remove(path string) error {
	f, err := os.CreateTemp(d.tmp, "removed-*")
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	f.Close()
	if err := os.Rename(path, f.Name()); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	return d.releaseObjectFile(f.Name())
}

// prune removes the now empty directories above a deleted file, innermost first. Long
// directories keep their name file and stay; listing skips empty directories anyway.
func (d *localDisk) prune(base string, dirs []dirStep) {
	for i := len(dirs) - 1; i >= 0; i-- {
		p := filepath.Join(base, dirs[i].rel)
		if filepath.Base(p)[0] == longDirTag || os.Remove(p) != nil {
			return
		}
	}
}

func (d *localDisk) readNames(dir string) ([]string, error) { return readNames(dir) }

func (d *localDisk) mkdir(parent, dir string, missing error) error {
	err := os.Mkdir(dir, 0o750)
	switch {
	case err == nil:
		return syncDir(parent)
	case errors.Is(err, os.ErrExist):
		return nil
	case errors.Is(err, os.ErrNotExist):
		return missing
	}
	return fmt.Errorf("creating %s: %w", dir, err)
}

// createDir builds the directory in tmp/ and renames it into place: the rename decides races
// and a crash leaves either no directory or a complete one.
func (d *localDisk) createDir(dir string, order []string, files map[string][]byte) error {
	staging, err := os.MkdirTemp(d.tmp, "dir-*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	defer os.RemoveAll(staging)
	for _, name := range order {
		p := filepath.Join(staging, name)
		if files[name] == nil {
			err = os.Mkdir(p, 0o750)
		} else {
			err = d.writeFile(p, files[name], precondition{})
		}
		if err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	if err := syncDir(staging); err != nil {
		return err
	}
	if err := os.Rename(staging, dir); err != nil {
		if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return fmt.Errorf("creating %s: %w", dir, os.ErrExist)
		}
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return syncDir(filepath.Dir(dir))
}

// removeDir renames the directory into tmp/ first, which makes it vanish at once; the files go
// afterwards (or when the store next opens, if this process dies first).
func (d *localDisk) removeDir(dir, _ string) error {
	trash, err := os.MkdirTemp(d.tmp, "deleted-*")
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	defer os.RemoveAll(trash)
	if err := os.Rename(dir, filepath.Join(trash, filepath.Base(dir))); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
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

// readNames lists a directory's entries, unsorted.
func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
