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
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWritesAndDeletes races writers, deleters (which prune directories that become
// empty) and listers over the same directories; every write must land and every read see a
// whole object.
func TestConcurrentWritesAndDeletes(t *testing.T) {
	s, _ := openStore(t, Options{})
	const workers, rounds = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				key := fmt.Sprintf("shared/dir/%d/%d", w, i%3)
				data := strings.Repeat(fmt.Sprint(w), 100+i)
				if _, err := s.PutObject("bkt", key, strings.NewReader(data), ObjectMeta{}); err != nil {
					errs <- fmt.Errorf("put %s: %w", key, err)
					return
				}
				if o, err := s.OpenObject("bkt", key); err == nil {
					if o.Info.Size < 100 {
						errs <- fmt.Errorf("partial object %s", key)
					}
					o.Close()
				}
				if i%2 == 0 {
					if _, err := s.DeleteObject("bkt", key); err != nil {
						errs <- fmt.Errorf("delete %s: %w", key, err)
					}
				}
				if _, err := s.List("bkt", ListQuery{Prefix: "shared/", Delimiter: "/", MaxKeys: 10}); err != nil {
					errs <- fmt.Errorf("list: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDeleteBucketRacesPut checks a bucket deleted while objects are written into it never
// comes back half made: each put either lands before the delete (which then fails as not
// empty) or fails with ErrNoSuchBucket.
func TestDeleteBucketRacesPut(t *testing.T) {
	for round := range 20 {
		s, _ := openStore(t, Options{})
		var wg sync.WaitGroup
		var putErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, putErr = s.PutObject("bkt", fmt.Sprintf("a/b/%d", round), strings.NewReader("x"), ObjectMeta{})
		}()
		delErr := s.DeleteBucket("bkt")
		wg.Wait()
		switch {
		case delErr == nil && putErr == nil:
			// The put committed before the delete took its lock and the delete saw no
			// object, which cannot happen: it checks under the lock.
			t.Fatal("both the delete and the put succeeded")
		case delErr == nil:
			if !errors.Is(putErr, ErrNoSuchBucket) {
				t.Fatalf("put after delete = %v", putErr)
			}
			if _, err := s.Bucket("bkt"); !errors.Is(err, ErrNoSuchBucket) {
				t.Fatalf("bucket after delete = %v", err)
			}
		default:
			if !errors.Is(delErr, ErrBucketNotEmpty) || putErr != nil {
				t.Fatalf("delete = %v, put = %v", delErr, putErr)
			}
		}
	}
}
