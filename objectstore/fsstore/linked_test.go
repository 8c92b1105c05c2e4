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
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// uploadLinked completes an upload of key from parts and returns the object.
func uploadLinked(t *testing.T, s *Store, key string, parts ...string) ObjectInfo {
	t.Helper()
	up, err := s.CreateUpload("bkt", key, ObjectMeta{}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var named []CompletePart
	for i, d := range parts {
		p, err := s.PutPart("bkt", key, up.ID, i+1, strings.NewReader(d))
		if err != nil {
			t.Fatal(err)
		}
		named = append(named, CompletePart{Number: i + 1, ETag: p.ETag})
	}
	info, err := s.CompleteUpload("bkt", key, up.ID, named)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// openLinkingStore opens a store on a local disk (the only one that links parts).
func openLinkingStore(t *testing.T) (*Store, string) {
	t.Helper()
	s, dir := openStore(t, Options{MinPartSize: 4})
	if !s.linksParts() {
		t.Skip("only a local disk links parts")
	}
	return s, dir
}

// dataDirs lists the store's data directories.
func dataDirs(t *testing.T, dir string) []string {
	t.Helper()
	names, err := readNames(filepath.Join(dir, dataDirName))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestCompletionLinksParts checks that a completed upload's object keeps its parts' files
// instead of copying them, reads as their concatenation at every offset, and that its data
// goes with its last version.
func TestCompletionLinksParts(t *testing.T) {
	s, dir := openLinkingStore(t)
	parts := []string{"aaaa", "bbbbb", "cc"}
	info := uploadLinked(t, s, "big", parts...)
	whole := strings.Join(parts, "")
	if info.Data == "" || info.Size != int64(len(whole)) {
		t.Fatalf("completed object = %+v, want linked data of %d bytes", info, len(whole))
	}
	if got := read(t, s, "big"); got != whole {
		t.Fatalf("object = %q, want %q", got, whole)
	}
	// The object's file holds the trailer only, and each part has one name: the data's.
	file, _ := keyPath("big")
	meta, err := os.ReadFile(filepath.Join(s.objectsDir("bkt"), file))
	if err != nil || bytes.Contains(meta, []byte("bbbbb")) {
		t.Fatalf("the object file holds %q, %v: data", meta, err)
	}
	var pst syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, dataDirName, info.Data, partName(2)), &pst); err != nil || pst.Nlink != 1 {
		t.Fatalf("part 2 in the data directory: nlink %d, %v", pst.Nlink, err)
	}
	o, err := s.OpenObject("bkt", "big")
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < info.Size; off++ {
		for n := int64(0); off+n <= info.Size; n++ {
			b := make([]byte, n)
			if _, err := o.ReaderAt().ReadAt(b, off); err != nil || string(b) != whole[off:off+n] {
				t.Fatalf("ReadAt(%d, %d) = %q, %v", off, n, b, err)
			}
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, o.Section(off, n)); err != nil || buf.String() != whole[off:off+n] {
				t.Fatalf("Section(%d, %d) = %q, %v", off, n, buf.String(), err)
			}
		}
	}
	if _, err := o.ReaderAt().ReadAt(make([]byte, 3), info.Size-2); err != io.EOF {
		t.Fatalf("ReadAt past the end = %v, want EOF", err)
	}
	// An open object stays readable after its deletion.
	if _, err := s.DeleteObject("bkt", "big"); err != nil {
		t.Fatal(err)
	}
	if got := dataDirs(t, dir); len(got) != 0 {
		t.Fatalf("data directories after delete: %v", got)
	}
	b, err := io.ReadAll(o.Section(0, info.Size))
	if err != nil || string(b) != whole {
		t.Fatalf("open object after delete = %q, %v", b, err)
	}
	o.Close()
}

// TestLinkedDataFollowsVersions checks that a linked object's data stays as long as any version
// uses it: overwritten in an unversioned bucket it goes; archived in a versioned one it stays
// until that version is deleted.
func TestLinkedDataFollowsVersions(t *testing.T) {
	s, dir := openLinkingStore(t)
	uploadLinked(t, s, "k", "1111", "2")
	put(t, s, "k", "plain")
	if got := dataDirs(t, dir); len(got) != 0 {
		t.Fatalf("data directories after overwrite: %v", got)
	}
	if _, err := s.SetVersioning("bkt", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	v1 := uploadLinked(t, s, "k", "3333", "4")
	v2 := uploadLinked(t, s, "k", "5555", "6")
	if got := dataDirs(t, dir); len(got) != 2 {
		t.Fatalf("data directories with two linked versions: %v", got)
	}
	o, err := s.OpenVersion("bkt", "k", v1.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(o.Section(0, o.Info.Size))
	o.Close()
	if err != nil || string(b) != "33334" {
		t.Fatalf("older version = %q, %v", b, err)
	}
	// Deleting the latest makes v1 the latest again: v2's data goes, v1's stays.
	if _, err := s.DeleteVersion("bkt", "k", v2.VersionID); err != nil {
		t.Fatal(err)
	}
	if got := dataDirs(t, dir); len(got) != 1 || got[0] != v1.Data {
		t.Fatalf("data directories = %v, want only %s", got, v1.Data)
	}
	if got := read(t, s, "k"); got != "33334" {
		t.Fatalf("latest = %q", got)
	}
	if _, err := s.DeleteVersion("bkt", "k", v1.VersionID); err != nil {
		t.Fatal(err)
	}
	if got := dataDirs(t, dir); len(got) != 0 {
		t.Fatalf("data directories after deleting every version: %v", got)
	}
}

// TestRefusedCompletionLeavesNoData checks that a completion refused by its write condition
// leaves no data directory and the upload as it was.
func TestRefusedCompletionLeavesNoData(t *testing.T) {
	s, dir := openLinkingStore(t)
	up, err := s.CreateUpload("bkt", "k", ObjectMeta{}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PutPart("bkt", "k", up.ID, 1, strings.NewReader("data"))
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	_, err = s.CompleteUploadWith("bkt", "k", up.ID, []CompletePart{{Number: 1, ETag: p.ETag}},
		CompleteOptions{Condition: func(*ObjectInfo) error { return refused }})
	if !errors.Is(err, refused) {
		t.Fatalf("CompleteUploadWith = %v, want the condition's error", err)
	}
	if got := dataDirs(t, dir); len(got) != 0 {
		t.Fatalf("data directories after a refused completion: %v", got)
	}
	if _, err := s.CompleteUpload("bkt", "k", up.ID, []CompletePart{{Number: 1, ETag: p.ETag}}); err != nil {
		t.Fatalf("completing after the refusal: %v", err)
	}
	if got := read(t, s, "k"); got != "data" {
		t.Fatalf("object = %q", got)
	}
}

// TestOpenRemovesUnusedData checks that Open removes the data directories a crash left behind
// (a completion that never committed, an object file moved out but not released) and keeps
// those in use.
func TestOpenRemovesUnusedData(t *testing.T) {
	s, dir := openLinkingStore(t)
	kept := uploadLinked(t, s, "kept", "aaaa", "b")
	gone := uploadLinked(t, s, "gone", "cccc", "d")
	// A crash after the object file was moved into tmp/ but before its data went.
	ld := s.disk.(*localDisk)
	file, _ := keyPath("gone")
	if err := os.Rename(filepath.Join(s.objectsDir("bkt"), file), filepath.Join(ld.tmp, "removed-x")); err != nil {
		t.Fatal(err)
	}
	// A crash in a completion, before its object file was anchored.
	if err := os.Mkdir(filepath.Join(dir, dataDirName, strings.Repeat("0", dataIDLen)), 0o750); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir, Options{MinPartSize: 4})
	if got := dataDirs(t, dir); len(got) != 1 || got[0] != kept.Data {
		t.Fatalf("data directories after Open = %v, want only %s (not %s)", got, kept.Data, gone.Data)
	}
	if got := read(t, s, "kept"); got != "aaaab" {
		t.Fatalf("object = %q", got)
	}
}

// TestRenameOverReleasesData checks the replacement used where the file system lacks
// renameat2's flags: the replaced object's data goes once unused.
func TestRenameOverReleasesData(t *testing.T) {
	s, dir := openLinkingStore(t)
	uploadLinked(t, s, "k", "aaaa", "b")
	ld := s.disk.(*localDisk)
	tmp := filepath.Join(ld.tmp, "new")
	if err := os.WriteFile(tmp, []byte("not an object"), 0o640); err != nil {
		t.Fatal(err)
	}
	file, _ := keyPath("k")
	if err := ld.renameOver(tmp, filepath.Join(s.objectsDir("bkt"), file)); err != nil {
		t.Fatal(err)
	}
	if got := dataDirs(t, dir); len(got) != 0 {
		t.Fatalf("data directories after renameOver: %v", got)
	}
}
