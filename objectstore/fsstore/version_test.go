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
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// modelVersion is a version as the reference model of TestVersionsMatchModel keeps it.
type modelVersion struct {
	id     string // as S3 names it
	marker bool
	data   string
}

// versionModel is what S3 would hold: each key's versions, newest first.
type versionModel map[string][]modelVersion

func (m versionModel) add(key string, v modelVersion) {
	vs := m[key]
	if v.id == NullVersion {
		vs = slices.DeleteFunc(vs, func(o modelVersion) bool { return o.id == NullVersion })
	}
	m[key] = append([]modelVersion{v}, vs...)
}

func (m versionModel) remove(key, id string) {
	m[key] = slices.DeleteFunc(m[key], func(o modelVersion) bool { return o.id == id })
	if len(m[key]) == 0 {
		delete(m, key)
	}
}

// listAllVersions pages through every version with page size n.
func listAllVersions(t *testing.T, s *Store, q VersionQuery) ([]ObjectInfo, []string) {
	t.Helper()
	var all []ObjectInfo
	var prefixes []string
	for pages := 0; ; pages++ {
		res, err := s.ListVersions("bkt", q)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Versions)+len(res.CommonPrefixes) > q.MaxKeys || pages > 10000 {
			t.Fatalf("page of %d entries for max %d", len(res.Versions)+len(res.CommonPrefixes), q.MaxKeys)
		}
		all = append(all, res.Versions...)
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			return all, prefixes
		}
		q.KeyMarker, q.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	}
}

// TestVersionsMatchModel applies random writes, deletes and version deletes, under every
// versioning state in turn, and compares the store's versions, latest objects and reads with
// a model of S3.
func TestVersionsMatchModel(t *testing.T) {
	s, _ := openStore(t, Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "a/b", "a/c", "b", "c/d/e", "c/f", strings.Repeat("L", 300), "d/" + strings.Repeat("M", 300) + "/z"}
	m := versionModel{}
	for round, state := range []Versioning{"", VersioningEnabled, VersioningSuspended, VersioningEnabled} {
		if state != "" {
			if _, err := s.SetVersioning("bkt", state); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 120; i++ {
			key := keys[rng.IntN(len(keys))]
			switch op := rng.IntN(10); {
			case op < 6:
				data := fmt.Sprintf("%d-%d", round, i)
				info := put(t, s, key, data)
				if (info.VersionID != "") != (state == VersioningEnabled) {
					t.Fatalf("state %q made version %q", state, info.VersionID)
				}
				m.add(key, modelVersion{id: VersionName(info.VersionID), data: data})
			case op < 8:
				marker, err := s.DeleteObject("bkt", key)
				if err != nil {
					t.Fatal(err)
				}
				if state == "" {
					delete(m, key)
					continue
				}
				if !marker.DeleteMarker {
					t.Fatalf("no delete marker in state %q", state)
				}
				m.add(key, modelVersion{id: VersionName(marker.VersionID), marker: true})
			default:
				vs := m[key]
				id := "0123456789abcdef0123456789abcdef" // no such version: a no-op
				if len(vs) > 0 {
					id = vs[rng.IntN(len(vs))].id
				}
				if _, err := s.DeleteVersion("bkt", key, id); err != nil {
					t.Fatal(err)
				}
				m.remove(key, id)
			}
		}
		checkAgainstModel(t, s, m)
	}
}

func checkAgainstModel(t *testing.T, s *Store, m versionModel) {
	t.Helper()
	var want []string
	var live []string
	sorted := make([]string, 0, len(m))
	for k := range m {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		for i, v := range m[k] {
			want = append(want, fmt.Sprintf("%s %s latest=%v marker=%v", k, v.id, i == 0, v.marker))
			obj, err := s.OpenVersion("bkt", k, v.id)
			if err != nil {
				t.Fatalf("OpenVersion(%q, %s): %v", k, v.id, err)
			}
			b, _ := io.ReadAll(obj.Section(0, obj.Info.Size))
			obj.Close()
			if string(b) != v.data || obj.Info.DeleteMarker != v.marker || obj.Info.IsLatest != (i == 0) {
				t.Fatalf("version %s of %q = %q %+v, want %+v", v.id, k, b, obj.Info, v)
			}
		}
		if !m[k][0].marker {
			live = append(live, k)
			if got := read(t, s, k); got != m[k][0].data {
				t.Fatalf("latest of %q = %q, want %q", k, got, m[k][0].data)
			}
		} else if _, err := s.OpenObject("bkt", k); !errors.Is(err, ErrNoSuchKey) {
			t.Fatalf("reading %q behind a delete marker: %v", k, err)
		}
	}
	for _, n := range []int{1, 2, 7, 1000} {
		vs, _ := listAllVersions(t, s, VersionQuery{MaxKeys: n})
		var got []string
		for _, v := range vs {
			got = append(got, fmt.Sprintf("%s %s latest=%v marker=%v", v.Key, VersionName(v.VersionID), v.IsLatest, v.DeleteMarker))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("versions paged by %d:\n%s\nwant:\n%s", n, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	res, err := s.List("bkt", ListQuery{MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var gotLive []string
	for _, o := range res.Objects {
		gotLive = append(gotLive, o.Key)
	}
	if !slices.Equal(gotLive, live) {
		t.Fatalf("objects = %q, want %q", gotLive, live)
	}
	// With a delimiter, a prefix holding only delete markers is no common prefix of objects.
	res, err = s.List("bkt", ListQuery{Delimiter: "/", MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range res.CommonPrefixes {
		if !slices.ContainsFunc(live, func(k string) bool { return strings.HasPrefix(k, cp) }) {
			t.Fatalf("common prefix %q has no live object (live %q)", cp, live)
		}
	}
	empty, err := s.isEmpty("bkt")
	if err != nil || empty != (len(m) == 0) {
		t.Fatalf("isEmpty = %v, %v with %d keys", empty, err, len(m))
	}
}

func TestListVersionsDelimiterAndMarkers(t *testing.T) {
	s, _ := openStore(t, Options{})
	if _, err := s.SetVersioning("bkt", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"x/1", "x/2", "y", "z/1"} {
		put(t, s, k, "one")
		put(t, s, k, "two")
	}
	if _, err := s.DeleteObject("bkt", "z/1"); err != nil {
		t.Fatal(err)
	}
	vs, cps := listAllVersions(t, s, VersionQuery{Delimiter: "/", MaxKeys: 1})
	if len(vs) != 2 || vs[0].Key != "y" || !slices.Equal(cps, []string{"x/", "z/"}) {
		t.Fatalf("versions %+v, prefixes %q", vs, cps)
	}
	vs, _ = listAllVersions(t, s, VersionQuery{Prefix: "x/", MaxKeys: 3})
	if len(vs) != 4 || vs[0].Key != "x/1" || vs[3].Key != "x/2" || !vs[2].IsLatest || vs[3].IsLatest {
		t.Fatalf("versions under x/ = %+v", vs)
	}
	// A key marker alone skips the whole key.
	res, err := s.ListVersions("bkt", VersionQuery{KeyMarker: "x/2", MaxKeys: 1000})
	if err != nil || len(res.Versions) != 5 || res.Versions[0].Key != "y" {
		t.Fatalf("after x/2: %+v, %v", res, err)
	}
	if _, err := s.ListVersions("bkt", VersionQuery{VersionIDMarker: "null", MaxKeys: 5}); !errors.Is(err, ErrVersionMarkerWithoutKey) {
		t.Fatalf("version marker without key marker: %v", err)
	}
	if _, err := s.ListVersions("bkt", VersionQuery{KeyMarker: "y", VersionIDMarker: "nope", MaxKeys: 5}); !errors.Is(err, ErrInvalidVersionID) {
		t.Fatalf("bad version marker: %v", err)
	}
}

// TestLeftoverOfACrashIsIgnored makes the state a crash between keeping the latest version and
// renaming the new one over it leaves (the latest also under versions/), and checks that it
// lists once, deletes cleanly and is replaced by the next write.
func TestLeftoverOfACrashIsIgnored(t *testing.T) {
	s, dir := openStore(t, Options{})
	put(t, s, "k", "legacy") // a null version, from before versioning
	if _, err := s.SetVersioning("bkt", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	v1 := put(t, s, "k", "one")
	if err := s.archive("bkt", "k", v1.VersionID, ""); err != nil {
		t.Fatal(err)
	}
	vs, _ := listAllVersions(t, s, VersionQuery{MaxKeys: 10})
	if len(vs) != 2 || vs[0].VersionID != v1.VersionID || vs[1].VersionID != "" {
		t.Fatalf("versions with a leftover = %+v", vs)
	}
	if _, err := s.DeleteVersion("bkt", "k", VersionName(v1.VersionID)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "k"); got != "legacy" {
		t.Fatalf("after deleting the latest, read %q", got)
	}
	if _, err := s.OpenVersion("bkt", "k", v1.VersionID); !errors.Is(err, ErrNoSuchVersion) {
		t.Fatalf("deleted version still opens: %v", err)
	}
	if _, err := s.DeleteVersion("bkt", "k", NullVersion); err != nil {
		t.Fatal(err)
	}
	if empty, err := s.isEmpty("bkt"); err != nil || !empty {
		t.Fatalf("bucket not empty after deleting every version: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "buckets", "bkt", "versions")); len(entries) != 0 {
		t.Fatalf("versions/ keeps %d entries", len(entries))
	}
	if err := s.DeleteBucket("bkt"); err != nil {
		t.Fatal(err)
	}
}

func TestVersionErrors(t *testing.T) {
	s, _ := openStore(t, Options{})
	put(t, s, "k", "data")
	for _, id := range []string{"", "NULL", "abc", strings.Repeat("g", 32), strings.Repeat("A", 32)} {
		if _, err := s.OpenVersion("bkt", "k", id); !errors.Is(err, ErrInvalidVersionID) {
			t.Fatalf("OpenVersion(%q) = %v", id, err)
		}
		if _, err := s.DeleteVersion("bkt", "k", id); !errors.Is(err, ErrInvalidVersionID) {
			t.Fatalf("DeleteVersion(%q) = %v", id, err)
		}
	}
	if _, err := s.OpenVersion("bkt", "k", strings.Repeat("0", 32)); !errors.Is(err, ErrNoSuchVersion) {
		t.Fatalf("missing version: %v", err)
	}
	if _, err := s.OpenVersion("nobkt", "k", NullVersion); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("missing bucket: %v", err)
	}
	if _, err := s.SetVersioning("bkt", "Disabled"); err == nil {
		t.Fatal("SetVersioning accepted an unknown state")
	}
	if b, _ := s.Bucket("bkt"); b.Versioning != "" {
		t.Fatalf("a refused state changed the bucket: %q", b.Versioning)
	}
	if got := read(t, s, "k"); got != "data" {
		t.Fatalf("read %q", got)
	}
}

// TestConcurrentVersionsOfOneKey writes one key from many goroutines at once, with deletes and
// listings in between, and checks that no version is lost.
func TestConcurrentVersionsOfOneKey(t *testing.T) {
	s, _ := openStore(t, Options{})
	if _, err := s.SetVersioning("bkt", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	const writers, each = 6, 15
	ids := make(chan string, writers*each*2)
	errs := make(chan error, writers+1)
	done := make(chan struct{})
	go func() { // a reader listing while the writers write
		defer func() { errs <- nil }()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.ListVersions("bkt", VersionQuery{MaxKeys: 1000}); err != nil {
				errs <- err
				return
			}
		}
	}()
	var writersDone = make(chan struct{}, writers)
	for w := range writers {
		go func() {
			defer func() { writersDone <- struct{}{} }()
			for i := range each {
				info, err := s.PutObject("bkt", "hot/key", strings.NewReader(fmt.Sprint(w, i)), ObjectMeta{})
				if err != nil {
					errs <- err
					return
				}
				ids <- info.VersionID
				if i%5 == 4 {
					m, err := s.DeleteObject("bkt", "hot/key")
					if err != nil {
						errs <- err
						return
					}
					ids <- m.VersionID
				}
			}
		}()
	}
	for range writers {
		<-writersDone
	}
	close(done)
	close(ids)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	vs, _ := listAllVersions(t, s, VersionQuery{MaxKeys: 7})
	if len(vs) != len(want) || len(want) != writers*each+writers*each/5 {
		t.Fatalf("listed %d versions, wrote %d", len(vs), len(want))
	}
	for i, v := range vs {
		if !want[v.VersionID] || v.IsLatest != (i == 0) {
			t.Fatalf("listed version %+v", v)
		}
		if i > 0 && v.Stamp >= vs[i-1].Stamp {
			t.Fatalf("versions out of order at %d", i)
		}
	}
}

func TestCompletedUploadIsAVersion(t *testing.T) {
	s, _ := openStore(t, Options{MinPartSize: 1})
	put(t, s, "mp", "before")
	if _, err := s.SetVersioning("bkt", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	up, err := s.CreateUpload("bkt", "mp", ObjectMeta{}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PutPart("bkt", "mp", up.ID, 1, strings.NewReader("after"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.CompleteUpload("bkt", "mp", up.ID, []CompletePart{{Number: 1, ETag: p.ETag}})
	if err != nil || info.VersionID == "" || !info.IsLatest {
		t.Fatalf("CompleteUpload = %+v, %v", info, err)
	}
	vs, _ := listAllVersions(t, s, VersionQuery{MaxKeys: 10})
	if len(vs) != 2 || vs[0].VersionID != info.VersionID || vs[1].VersionID != "" || vs[0].Parts != 1 {
		t.Fatalf("versions = %+v", vs)
	}
	if got := read(t, s, "mp"); got != "after" {
		t.Fatalf("latest = %q", got)
	}
}
