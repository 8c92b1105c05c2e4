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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var errTaken = errors.New("taken")

// TestWriteConditionDecidedAtCommit races writers that each may only create the key: exactly
// one wins, in an unversioned and a versioned bucket, and the losers leave nothing.
func TestWriteConditionDecidedAtCommit(t *testing.T) {
	for _, versioned := range []bool{false, true} {
		t.Run(fmt.Sprint("versioned=", versioned), func(t *testing.T) {
			s, dir := openStore(t, Options{})
			if versioned {
				if _, err := s.SetVersioning("bkt", VersioningEnabled); err != nil {
					t.Fatal(err)
				}
			}
			onlyNew := func(cur *ObjectInfo) error {
				if cur != nil {
					return errTaken
				}
				return nil
			}
			const writers = 8
			var wg sync.WaitGroup
			results := make(chan error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.PutObjectIf("bkt", "k", strings.NewReader(fmt.Sprint("writer ", i)), ObjectMeta{}, onlyNew)
					results <- err
				}()
			}
			wg.Wait()
			close(results)
			won := 0
			for err := range results {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, errTaken):
					t.Fatalf("a losing writer failed with %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d writers won, want 1", won)
			}
			vs, _ := listAllVersions(t, s, VersionQuery{MaxKeys: 100})
			if len(vs) != 1 || !strings.HasPrefix(read(t, s, "k"), "writer ") {
				t.Fatalf("versions after the race = %+v", vs)
			}
			if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
				t.Fatalf("%d temporary files left", len(entries))
			}
			// A delete marker counts as no object.
			if versioned {
				if _, err := s.DeleteObject("bkt", "k"); err != nil {
					t.Fatal(err)
				}
				if _, err := s.PutObjectIf("bkt", "k", strings.NewReader("again"), ObjectMeta{}, onlyNew); err != nil {
					t.Fatalf("creating over a delete marker: %v", err)
				}
			}
		})
	}
}

// TestCompletionRecord checks that a completed upload answers a retry with what it made until
// its record is older than completedRetention, and that the object keeps its part list.
func TestCompletionRecord(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, _ := openStore(t, Options{MinPartSize: 1, Now: clock})
	complete := func(key string) (UploadInfo, []CompletePart, ObjectInfo) {
		up, err := s.CreateUpload("bkt", key, ObjectMeta{Checksum: &Checksum{Algorithm: "CRC32", Type: "COMPOSITE"}}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		var parts []CompletePart
		for n := 1; n <= 2; n++ {
			cs := &Checksum{Algorithm: "CRC32", Value: fmt.Sprint("part", n)}
			p, err := s.PutPartChecksum("bkt", key, up.ID, n, strings.NewReader(strings.Repeat("x", n)), cs)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, CompletePart{Number: n, ETag: p.ETag})
		}
		info, err := s.CompleteUploadWith("bkt", key, up.ID, parts, CompleteOptions{Checksum: func(ps []ObjectPart) (*Checksum, error) {
			if len(ps) != 2 || ps[1].Size != 2 || ps[1].Checksum == nil || ps[1].Checksum.Value != "part2" {
				return nil, fmt.Errorf("parts = %+v", ps)
			}
			return &Checksum{Algorithm: "CRC32", Type: "COMPOSITE", Value: "whole-2"}, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		return up, parts, info
	}
	up, parts, first := complete("a")
	again, err := s.CompleteUpload("bkt", "a", up.ID, parts)
	if err != nil || again.ETag != first.ETag || again.Meta.Checksum == nil || again.Meta.Checksum.Value != "whole-2" {
		t.Fatalf("retried completion = %+v, %v", again, err)
	}
	st, err := s.StatObject("bkt", "a")
	if err != nil || len(st.PartList) != 2 || st.PartList[0].Size != 1 || st.PartList[1].Checksum.Value != "part2" {
		t.Fatalf("stored part list = %+v, %v", st.PartList, err)
	}
	if _, err := s.CompleteUpload("bkt", "b", up.ID, parts); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("the upload id under another key = %v", err)
	}
	// A day later another completion prunes the first one's record.
	mu.Lock()
	now = now.Add(completedRetention + time.Hour)
	mu.Unlock()
	complete("c")
	if _, err := s.CompleteUpload("bkt", "a", up.ID, parts); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("a retry past the retention = %v, want ErrNoSuchUpload", err)
	}
}

// TestPartListFitsTheTrailer checks that the part list of an object of 10,000 parts with
// SHA-256 checksums fits the metadata an object file may carry.
func TestPartListFitsTheTrailer(t *testing.T) {
	info := ObjectInfo{Key: strings.Repeat("k", 1024), Size: 5 << 40, Parts: MaxPartNumber}
	for n := 1; n <= MaxPartNumber; n++ {
		info.PartList = append(info.PartList, ObjectPart{Number: n, Size: 5 << 30,
			Checksum: &Checksum{Algorithm: "SHA256", Value: strings.Repeat("A", 43) + "="}})
	}
	meta, err := json.Marshal(info)
	if err != nil || len(meta) > maxMetaLen {
		t.Fatalf("metadata of %d bytes, limit %d: %v", len(meta), maxMetaLen, err)
	}
}
