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
	"io"
)

// A disk is where a Store keeps its files: the narrow layer beneath the store's logic. The
// store names files by slash-separated paths under its root (the layout in store.go) and asks
// the disk only for these steps; everything an S3 feature decides (versions, ACLs, listing
// order, uploads) is written once above it. Two disks exist: a local directory (localDisk, the
// default) and a prefix in a bucket of an S3-compatible cluster (s3Disk), which several store
// replicas may share.
//
// Files being written always go to a local temporary directory first (tempDir) and reach the
// disk whole through commit, so a reader never sees a partial file on either disk.
type disk interface {
	// tempDir is a local directory for files being written, emptied when the store opens.
	tempDir() string
	// shared says other store processes may change the files at the same time.
	shared() bool
	// commit moves the finished local file src to base/dst (creating the directories dirs
	// between them, never base itself: a missing base is the error missing) under the
	// precondition c, replacing what was there in one step.
	commit(src, base, dst string, dirs []dirStep, missing error, c precondition) error
	// copyFile puts a copy of the file src, as long as it is still the content tagged srcTag,
	// at base/dst, as commit does; the copy keeps src's bytes even if src is later replaced.
	copyFile(src, srcTag, base, dst string, dirs []dirStep, missing error) error
	// writeFile replaces the small file path with data in one step, under the precondition c.
	writeFile(path string, data []byte, c precondition) error
	// readFile reads a small file whole, with its tag. A missing file is os.ErrNotExist.
	readFile(path string) ([]byte, string, error)
	// open opens a file for reading; a missing file is os.ErrNotExist (or ENOTDIR).
	open(path string) (diskFile, error)
	// exists reports whether the file path is there.
	exists(path string) (bool, error)
	// rename moves the file src over dst (whose directory exists) under the precondition c
	// on dst. dst changes in one step; on a disk without renames src goes afterwards.
	rename(src, dst string, c precondition) error
	// remove removes a file; a missing file is os.ErrNotExist.
	remove(path string) error
	// prune removes the directories dirs under base that are now empty, innermost first.
	prune(base string, dirs []dirStep)
	// readNames lists a directory's entries (files and directories), unsorted. A missing
	// directory is os.ErrNotExist.
	readNames(dir string) ([]string, error)
	// mkdir makes the directory dir in parent, which must exist (else the error missing).
	mkdir(parent, dir string, missing error) error
	// createDir makes the directory dir holding files (name to content) in one step: it
	// appears whole or not at all. The first of order names the file whose presence is the
	// directory's. A taken dir is os.ErrExist.
	createDir(dir string, order []string, files map[string][]byte) error
	// removeDir makes the directory dir vanish at once (the file marker, whose presence is
	// the directory's, goes first) and then removes what it held. A missing dir is
	// os.ErrNotExist.
	removeDir(dir, marker string) error
}

// diskFile is an open file of a disk. Its data stays the data it had when opened, or its
// reads fail (an s3Disk's file whose object was replaced); they never mix two versions.
type diskFile interface {
	io.ReaderAt
	Name() string
	Size() int64
	// Section reads n bytes from off.
	Section(off, n int64) io.Reader
	// Tag identifies this content of the file, for a precondition; "" on a local disk.
	Tag() string
	Close() error
}

// precondition guards a write across store replicas sharing a disk. The zero value writes
// unconditionally. A local disk has one store process, which serialises writes with its own
// locks, and ignores preconditions.
type precondition struct {
	// absent says the file must not exist.
	absent bool
	// tag, when set, is the tag the file must still have.
	tag string
}

// errChanged says a precondition failed: another replica changed the file meanwhile.
var errChanged = errors.New("changed by another store replica")

// ifUnchanged is the precondition that the file read with tag (or found missing, when
// missing is true) is still so.
func ifUnchanged(tag string, missing bool) precondition {
	if missing {
		return precondition{absent: true}
	}
	return precondition{tag: tag}
}
