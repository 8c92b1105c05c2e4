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
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// referenceList is S3's listing semantics computed the slow way, over a sorted key set.
func referenceList(keys []string, q ListQuery, skip string) ListResult {
	var res ListResult
	for _, k := range keys {
		if !strings.HasPrefix(k, q.Prefix) || k <= q.After || (skip != "" && strings.HasPrefix(k, skip)) {
			continue
		}
		item, isPrefix := k, false
		if q.Delimiter != "" {
			if i := strings.Index(k[len(q.Prefix):], q.Delimiter); i >= 0 {
				item, isPrefix = k[:len(q.Prefix)+i+len(q.Delimiter)], true
			}
		}
		if isPrefix && res.Next == item {
			continue
		}
		if len(res.Objects)+len(res.CommonPrefixes) == q.MaxKeys {
			res.IsTruncated = true
			return res
		}
		if isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, item)
		} else {
			res.Objects = append(res.Objects, ObjectInfo{Key: k})
		}
		res.Next = item
	}
	return res
}

func sameListing(a, b ListResult) bool {
	keys := func(r ListResult) []string {
		var out []string
		for _, o := range r.Objects {
			out = append(out, o.Key)
		}
		return out
	}
	return slices.Equal(keys(a), keys(b)) && slices.Equal(a.CommonPrefixes, b.CommonPrefixes) &&
		a.IsTruncated == b.IsTruncated && (!a.IsTruncated || a.Next == b.Next)
}

func TestListMatchesReference(t *testing.T) {
	s, _ := openStore(t, Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "/", "-", ".", "é", "%", "\t", strings.Repeat("L", 130)}
	set := map[string]bool{}
	for len(set) < 150 {
		var b strings.Builder
		for n := 1 + rng.IntN(6); n > 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		set[b.String()] = true
	}
	var keys []string
	for k := range set {
		keys = append(keys, k)
		put(t, s, k, k)
	}
	sort.Strings(keys)

	prefixes := []string{"", "a", "a/", "b/a", "/", "a-", "é", "L"}
	delimiters := []string{"", "/", "-", "a/", "é"}
	for _, prefix := range prefixes {
		for _, delim := range delimiters {
			for _, max := range []int{1, 3, 1000} {
				q := ListQuery{Prefix: prefix, Delimiter: delim, MaxKeys: max}
				// Page through the whole listing, as a client does, comparing every page.
				for page := 0; ; page++ {
					got, err := s.List("bkt", q)
					if err != nil {
						t.Fatal(err)
					}
					skip := ""
					if q.Delimiter != "" && strings.HasPrefix(q.After, q.Prefix) {
						// Resuming after a common prefix skips everything under it.
						if i := strings.Index(q.After[len(q.Prefix):], q.Delimiter); i >= 0 && len(q.Prefix)+i+len(q.Delimiter) == len(q.After) {
							skip = q.After
						}
					}
					want := referenceList(keys, q, skip)
					if !sameListing(got, want) {
						t.Fatalf("List(%+v) page %d:\n got %+v\nwant %+v", q, page, got, want)
					}
					if !got.IsTruncated {
						break
					}
					q.After = got.Next
				}
			}
		}
	}
}

func TestListSkipsEmptyDirectories(t *testing.T) {
	s, _ := openStore(t, Options{})
	put(t, s, "a/b/c", "1")
	put(t, s, "z", "2")
	long := strings.Repeat("D", 300)
	put(t, s, long+"/x", "3")
	for _, k := range []string{"a/b/c", long + "/x"} {
		if _, err := s.DeleteObject("bkt", k); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.List("bkt", ListQuery{Delimiter: "/", MaxKeys: 10})
	if err != nil || len(res.CommonPrefixes) != 0 || len(res.Objects) != 1 || res.Objects[0].Key != "z" {
		t.Fatalf("listing after deletes = %+v, %v", res, err)
	}
	if _, err := s.DeleteObject("bkt", "z"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBucket("bkt"); err != nil {
		t.Fatalf("a bucket with only empty directories is empty: %v", err)
	}
}

func TestListObjectInfo(t *testing.T) {
	s, _ := openStore(t, Options{})
	want := put(t, s, "k", "hello")
	res, err := s.List("bkt", ListQuery{MaxKeys: 1})
	if err != nil || len(res.Objects) != 1 {
		t.Fatalf("List = %+v, %v", res, err)
	}
	got := res.Objects[0]
	if got.Key != "k" || got.Size != 5 || got.ETag != want.ETag || !got.Modified.Equal(want.Modified) {
		t.Fatalf("listed %+v, stored %+v", got, want)
	}
	if res, _ := s.List("bkt", ListQuery{MaxKeys: 0}); len(res.Objects) != 0 || res.IsTruncated {
		t.Fatalf("max-keys 0 = %+v", res)
	}
}
