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

package objectstore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"pinet.io/pinet/objectstore/fsstore"
)

// memoryDataDir is a data directory in memory when the machine has one (/dev/shm), so that
// writing tens of thousands of versions does not wait on the disk's syncs.
func memoryDataDir(t *testing.T) func(*Config) {
	dir, err := os.MkdirTemp("/dev/shm", "pinet-objectstore-*")
	if err != nil {
		dir = t.TempDir()
	} else {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	return func(c *Config) { c.DataDir = dir }
}

// TestTenThousandObjectsInThreeVersions writes 10,000 keys in 3 versions each (through the
// store itself: it is the listing under test) and checks that ListObjectVersions, paged by
// aws-sdk-go-v2's paginator, returns every version exactly once, in S3's order.
func TestTenThousandObjectsInThreeVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("30,000 versions")
	}
	if os.Getenv(backendEnv) == "s3" && os.Getenv(s3ScaleEnv) == "" {
		t.Skipf("30,000 versions through moto_server take too long; set %s=1 to run them", s3ScaleEnv)
	}
	const keys, versions = 10000, 3
	e := newTestEnv(t, memoryDataDir(t))
	c := sdkClient(e, alice)
	ctx := context.Background()
	const bucket = "many-versions"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	setVersioning(t, c, bucket, types.BucketVersioningStatusEnabled)

	// want[key] holds the key's version ids, oldest first.
	want := make(map[string][]string, keys)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < keys; i += 2 {
				key := fmt.Sprintf("d%02d/k%05d", i%100, i)
				for v := range versions {
					info, err := e.srv.store.PutObject(bucket, key, strings.NewReader(fmt.Sprintf("%s@%d", key, v)), fsstore.ObjectMeta{})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					want[key] = append(want[key], info.VersionID)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	seen := make(map[string]bool, keys*versions)
	prevKey, pos, pages := "", 0, 0
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(page.Versions) > 1000 || len(page.DeleteMarkers) != 0 {
			t.Fatalf("page %d has %d versions and %d markers", pages, len(page.Versions), len(page.DeleteMarkers))
		}
		for _, v := range page.Versions {
			key, id := aws.ToString(v.Key), aws.ToString(v.VersionId)
			if seen[key+" "+id] {
				t.Fatalf("version %s of %s listed twice", id, key)
			}
			seen[key+" "+id] = true
			if key != prevKey {
				if key < prevKey {
					t.Fatalf("key %s listed after %s", key, prevKey)
				}
				prevKey, pos = key, 0
			}
			ids := want[key]
			if pos >= len(ids) || ids[len(ids)-1-pos] != id || aws.ToBool(v.IsLatest) != (pos == 0) {
				t.Fatalf("version %d of %s listed is %s (latest %v), want newest first of %q", pos, key, id, aws.ToBool(v.IsLatest), ids)
			}
			pos++
		}
	}
	if len(seen) != keys*versions {
		t.Fatalf("listed %d versions, want %d", len(seen), keys*versions)
	}
	if pages != keys*versions/1000 {
		t.Fatalf("listed in %d pages", pages)
	}
}
