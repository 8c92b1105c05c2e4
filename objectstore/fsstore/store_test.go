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
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func openStore(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s := openAt(t, dir, opts)
	if _, err := s.CreateBucket("bkt", "proj", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func put(t *testing.T, s *Store, key, data string) ObjectInfo {
	t.Helper()
	info, err := s.PutObject("bkt", key, strings.NewReader(data), ObjectMeta{ContentType: "text/plain"})
	if err != nil {
		t.Fatalf("PutObject(%q): %v", key, err)
	}
	return info
}

func read(t *testing.T, s *Store, key string) string {
	t.Helper()
	o, err := s.OpenObject("bkt", key)
	if err != nil {
		t.Fatalf("OpenObject(%q): %v", key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o.Section(0, o.Info.Size))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPutGetDelete(t *testing.T) {
	s, _ := openStore(t, Options{})
	keys := []string{"a", "a/b", "a/", "/", "//x", "a/../b", "./.", "x%y", "t\tab", "ü/€", strings.Repeat("L", 600), "d/" + strings.Repeat("M", 600) + "/z"}
	for i, k := range keys {
		info := put(t, s, k, strings.Repeat("v", i))
		sum := md5.Sum([]byte(strings.Repeat("v", i)))
		if info.ETag != hex.EncodeToString(sum[:]) || info.Size != int64(i) || info.Key != k {
			t.Fatalf("PutObject(%q) = %+v", k, info)
		}
	}
	for i, k := range keys {
		if got := read(t, s, k); got != strings.Repeat("v", i) {
			t.Fatalf("object %q = %q", k, got)
		}
	}
	put(t, s, "a", "replaced")
	if got := read(t, s, "a"); got != "replaced" {
		t.Fatalf("overwritten object = %q", got)
	}
	for _, k := range keys {
		if _, err := s.DeleteObject("bkt", k); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StatObject("bkt", k); !errors.Is(err, ErrNoSuchKey) {
			t.Fatalf("StatObject(%q) after delete = %v", k, err)
		}
	}
	if _, err := s.DeleteObject("bkt", "never"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if err := s.DeleteBucket("bkt"); err != nil {
		t.Fatalf("DeleteBucket after deleting everything: %v", err)
	}
}

func TestFailedReadLeavesPreviousObject(t *testing.T) {
	s, dir := openStore(t, Options{})
	put(t, s, "k", "old")
	r := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(errors.New("client went away")))
	_, err := s.PutObject("bkt", "k", r, ObjectMeta{})
	var re *ReadError
	if !errors.As(err, &re) {
		t.Fatalf("PutObject with a failing reader = %v, want a *ReadError", err)
	}
	if got := read(t, s, "k"); got != "old" {
		t.Fatalf("object after a failed overwrite = %q", got)
	}
	if _, err := s.PutObject("bkt", "new", io.MultiReader(strings.NewReader("x"), iotest.ErrReader(io.ErrUnexpectedEOF)), ObjectMeta{}); err == nil {
		t.Fatal("PutObject with a failing reader succeeded")
	}
	if _, err := s.StatObject("bkt", "new"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("new key after a failed put: %v", err)
	}
	if names, _ := readNames(filepath.Join(dir, "tmp")); len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
}

func TestOpenCleansLeftovers(t *testing.T) {
	s, dir := openStore(t, Options{})
	put(t, s, "k", "data")
	for _, n := range []string{"put-123", "part-9"} {
		if err := os.WriteFile(filepath.Join(dir, "tmp", n), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp", "deleted-1", "old"), 0o750); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir, Options{})
	if names, _ := readNames(filepath.Join(dir, "tmp")); len(names) != 0 {
		t.Fatalf("leftovers after Open: %v", names)
	}
	if got := read(t, s, "k"); got != "data" {
		t.Fatalf("object after reopening = %q", got)
	}
}

func TestCorruptObjectFile(t *testing.T) {
	localOnly(t, "it corrupts a file of the data directory")
	s, dir := openStore(t, Options{})
	put(t, s, "k", "data")
	file, _ := keyPath("k")
	p := filepath.Join(dir, "buckets", "bkt", "objects", file)
	if err := os.WriteFile(p, []byte("not an object file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenObject("bkt", "k"); !errors.Is(err, errCorrupt) {
		t.Fatalf("OpenObject on a corrupt file = %v", err)
	}
	res, err := s.List("bkt", ListQuery{MaxKeys: 10})
	if err != nil || len(res.Objects) != 0 {
		t.Fatalf("listing skips corrupt files: %+v, %v", res, err)
	}
}

func TestBuckets(t *testing.T) {
	s, _ := openStore(t, Options{})
	_, err := s.CreateBucket("bkt", "other", "us-east-1")
	var exists *BucketExistsError
	if !errors.As(err, &exists) || exists.Owner != "proj" {
		t.Fatalf("CreateBucket of a taken name = %v", err)
	}
	if _, err := s.CreateBucket("Bad_Name", "proj", "us-east-1"); err == nil {
		t.Fatal("CreateBucket accepted an invalid name")
	}
	if _, err := s.CreateBucket("second", "proj", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListBuckets()
	if err != nil || len(list) != 2 || list[0].Name != "bkt" || list[1].Name != "second" {
		t.Fatalf("ListBuckets = %+v, %v", list, err)
	}
	put(t, s, "x/y", "1")
	if err := s.DeleteBucket("bkt"); !errors.Is(err, ErrBucketNotEmpty) {
		t.Fatalf("DeleteBucket of a full bucket = %v", err)
	}
	if err := s.DeleteBucket("nope"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("DeleteBucket of a missing bucket = %v", err)
	}
	if _, err := s.PutObject("nope", "k", strings.NewReader(""), ObjectMeta{}); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("PutObject into a missing bucket = %v", err)
	}
	if _, err := s.OpenObject("nope", "k"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("OpenObject in a missing bucket = %v", err)
	}
}

func TestValidBucketName(t *testing.T) {
	good := []string{"abc", "a.b-c", "0-9", strings.Repeat("a", 63), "192.168.1.1a"}
	bad := []string{"ab", strings.Repeat("a", 64), "ABC", "a_b", "-ab", "ab-", ".ab", "a..b", "192.168.1.1", "xn--abc", "sthree-x", "amzn-s3-demo-x", "abc-s3alias", "abc--ol-s3", "abc.mrap", "abc--x-s3", "abc--table-s3", "a b", "ab/c"}
	for _, n := range good {
		if err := ValidBucketName(n); err != nil {
			t.Errorf("ValidBucketName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidBucketName(n); err == nil {
			t.Errorf("ValidBucketName(%q) accepted", n)
		}
	}
}

func TestMultipart(t *testing.T) {
	s, _ := openStore(t, Options{MinPartSize: 4})
	up, err := s.CreateUpload("bkt", "big", ObjectMeta{ContentType: "app/x"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	data := []string{"aaaa", "bbbbb", "cc"}
	var parts []CompletePart
	var sums []byte
	for i, d := range data {
		p, err := s.PutPart("bkt", "big", up.ID, i+1, strings.NewReader(d))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, CompletePart{Number: i + 1, ETag: `"` + p.ETag + `"`})
		sum := md5.Sum([]byte(d))
		sums = append(sums, sum[:]...)
	}
	listed, truncated, err := s.ListParts("bkt", "big", up.ID, 0, 2)
	if err != nil || !truncated || len(listed) != 2 || listed[1].Number != 2 {
		t.Fatalf("ListParts = %+v, %v, %v", listed, truncated, err)
	}
	if _, err := s.CompleteUpload("bkt", "big", up.ID, []CompletePart{parts[1], parts[0]}); !errors.Is(err, ErrInvalidPartOrder) {
		t.Fatalf("out of order = %v", err)
	}
	if _, err := s.CompleteUpload("bkt", "big", up.ID, []CompletePart{{Number: 1, ETag: "ffff"}}); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("wrong etag = %v", err)
	}
	if _, err := s.CompleteUpload("bkt", "big", up.ID, []CompletePart{parts[0], {Number: 7, ETag: parts[1].ETag}}); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("missing part = %v", err)
	}
	if _, err := s.CompleteUpload("bkt", "big", up.ID, []CompletePart{parts[1], {Number: 4, ETag: parts[2].ETag}}); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("missing part = %v", err)
	}
	if _, err := s.CompleteUpload("bkt", "big", up.ID, []CompletePart{parts[2]}); err != nil {
		t.Fatalf("a short last part alone must be fine: %v", err)
	}
	// The upload is gone once completed.
	if _, err := s.PutPart("bkt", "big", up.ID, 1, strings.NewReader("x")); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("PutPart after complete = %v", err)
	}

	up, _ = s.CreateUpload("bkt", "big", ObjectMeta{ContentType: "app/x"}, "alice")
	parts = parts[:0]
	for i, d := range data {
		p, _ := s.PutPart("bkt", "big", up.ID, i+1, strings.NewReader(d))
		parts = append(parts, CompletePart{Number: i + 1, ETag: p.ETag})
	}
	small, _ := s.PutPart("bkt", "big", up.ID, 9, strings.NewReader("s"))
	if _, err := s.CompleteUpload("bkt", "big", up.ID, []CompletePart{parts[2], {Number: 9, ETag: small.ETag}}); !errors.Is(err, ErrEntityTooSmall) {
		t.Fatalf("small middle part = %v", err)
	}
	info, err := s.CompleteUpload("bkt", "big", up.ID, parts)
	if err != nil {
		t.Fatal(err)
	}
	all := md5.Sum(sums)
	if want := hex.EncodeToString(all[:]) + "-3"; info.ETag != want || info.Parts != 3 || info.Meta.ContentType != "app/x" {
		t.Fatalf("completed object = %+v, want etag %s", info, want)
	}
	if got := read(t, s, "big"); got != strings.Join(data, "") {
		t.Fatalf("assembled object = %q", got)
	}
	if err := s.AbortUpload("bkt", "big", up.ID); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("abort after complete = %v", err)
	}
	for _, id := range []string{"", "../../x", strings.Repeat("z", 32)} {
		if _, err := s.PutPart("bkt", "big", id, 1, strings.NewReader("x")); !errors.Is(err, ErrNoSuchUpload) {
			t.Fatalf("PutPart with upload id %q = %v", id, err)
		}
	}
	if _, err := s.PutPart("bkt", "big", up.ID, 10001, strings.NewReader("x")); !errors.Is(err, ErrInvalidPartNum) {
		t.Fatalf("part 10001 = %v", err)
	}
}

func TestUploadsListing(t *testing.T) {
	s, _ := openStore(t, Options{})
	var ids []string
	for _, k := range []string{"a/1", "a/2", "b", "b", "c"} {
		up, err := s.CreateUpload("bkt", k, ObjectMeta{}, "u")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, up.ID)
	}
	res, err := s.ListUploads("bkt", UploadQuery{Delimiter: "/", MaxUploads: 2})
	if err != nil || !res.IsTruncated || len(res.CommonPrefixes) != 1 || len(res.Uploads) != 1 || res.Uploads[0].Key != "b" {
		t.Fatalf("first page = %+v, %v", res, err)
	}
	res2, err := s.ListUploads("bkt", UploadQuery{Delimiter: "/", MaxUploads: 10, KeyMarker: res.NextKeyMarker, UploadIDMarker: res.NextUploadIDMarker})
	if err != nil || res2.IsTruncated || len(res2.Uploads) != 2 || res2.Uploads[0].Key != "b" || res2.Uploads[1].Key != "c" {
		t.Fatalf("second page = %+v, %v", res2, err)
	}
	res3, _ := s.ListUploads("bkt", UploadQuery{Delimiter: "/", MaxUploads: 10, KeyMarker: "a/"})
	if len(res3.CommonPrefixes) != 0 || len(res3.Uploads) != 3 {
		t.Fatalf("after the common prefix a/ = %+v", res3)
	}
	if err := s.AbortUpload("bkt", "a/1", ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortUpload("bkt", "a/2", ids[0]); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("abort twice = %v", err)
	}
	if err := s.DeleteBucket("bkt"); err != nil {
		t.Fatalf("DeleteBucket with uploads in progress: %v", err)
	}
}

func TestObjectMetaPersists(t *testing.T) {
	s, dir := openStore(t, Options{})
	meta := ObjectMeta{ContentType: "image/png", CacheControl: "no-cache", User: map[string]string{"color": "blue"}}
	if _, err := s.PutObject("bkt", "m", bytes.NewReader([]byte{1, 2, 3}), meta); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, dir, Options{})
	info, err := s2.StatObject("bkt", "m")
	if err != nil || info.Meta.ContentType != "image/png" || info.Meta.User["color"] != "blue" || info.Size != 3 {
		t.Fatalf("StatObject after reopening = %+v, %v", info, err)
	}
}

func TestCompleteBeyondMaxObjectSize(t *testing.T) {
	s, _ := openStore(t, Options{MinPartSize: 1, MaxObjectSize: 5})
	up, err := s.CreateUpload("bkt", "k", ObjectMeta{}, "u")
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := s.PutPart("bkt", "k", up.ID, 1, strings.NewReader("abc"))
	p2, _ := s.PutPart("bkt", "k", up.ID, 2, strings.NewReader("def"))
	_, err = s.CompleteUpload("bkt", "k", up.ID, []CompletePart{{1, p1.ETag}, {2, p2.ETag}})
	if !errors.Is(err, ErrEntityTooLarge) {
		t.Fatalf("completing 6 bytes with a 5-byte limit = %v", err)
	}
}
