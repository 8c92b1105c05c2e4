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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/internal/testmoto"
)

// s3Stores opens n stores on one new bucket of moto_server m, as replicas of the object store.
func s3Stores(t *testing.T, m *testmoto.Server, n int) []*Store {
	t.Helper()
	bucket := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if err := m.NewBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	var out []*Store
	for range n {
		s, err := OpenS3(context.Background(), S3Config{
			Endpoint: m.Endpoint, Bucket: bucket, Prefix: "store/", Region: testmoto.Region,
			AccessKey: testmoto.AccessKey, SecretKey: testmoto.SecretKey, TempDir: t.TempDir(),
		}, Options{MinPartSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// concurrently runs f(store, i) for workers calls on each store at once and fails on any error.
func concurrently(t *testing.T, stores []*Store, workers int, f func(s *Store, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*workers)
	for si, s := range stores {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- f(s, si*workers+w)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestS3ReplicasRace races two stores on one S3 backend where they must coordinate through the
// backend alone: changes of one bucket's description, writes of one versioned key, the
// creation of one bucket name. Nothing may be lost and exactly one creation may win.
func TestS3ReplicasRace(t *testing.T) {
	m := testmoto.Run(t)
	stores := s3Stores(t, m, 2)
	a, b := stores[0], stores[1]
	const workers = 5
	if _, err := a.CreateBucket("race", "proj", "us-east-1"); err != nil {
		t.Fatal(err)
	}

	concurrently(t, stores, workers, func(s *Store, i int) error {
		_, err := s.UpdateBucket("race", func(info *BucketInfo) error {
			if info.ACL == nil {
				info.ACL = &ACL{Owner: "proj"}
			}
			info.ACL.Grants = append(info.ACL.Grants, Grant{Type: "CanonicalUser", ID: fmt.Sprint("user-", i), Permission: "READ"})
			return nil
		})
		return err
	})
	info, err := b.Bucket("race")
	if err != nil || info.ACL == nil || len(info.ACL.Grants) != 2*workers {
		t.Fatalf("after %d concurrent updates the bucket is %+v, %v", 2*workers, info.ACL, err)
	}

	if _, err := b.SetVersioning("race", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	concurrently(t, stores, workers, func(s *Store, i int) error {
		_, err := s.PutObject("race", "hot", strings.NewReader(fmt.Sprint("write ", i)), ObjectMeta{})
		return err
	})
	vs, err := a.ListVersions("race", VersionQuery{MaxKeys: 100})
	if err != nil || len(vs.Versions) != 2*workers {
		t.Fatalf("after %d concurrent writes of one key: %d versions, %v", 2*workers, len(vs.Versions), err)
	}
	seen := map[string]bool{}
	for _, v := range vs.Versions {
		o, err := b.OpenVersion("race", "hot", v.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(o.Section(0, o.Info.Size))
		o.Close()
		if err != nil || seen[string(data)] {
			t.Fatalf("version %s holds %q (seen before: %v), %v", v.VersionID, data, seen[string(data)], err)
		}
		seen[string(data)] = true
	}

	var won, lost int
	var mu sync.Mutex
	concurrently(t, stores, workers, func(s *Store, i int) error {
		_, err := s.CreateBucket("contested", fmt.Sprint("proj-", i), "us-east-1")
		var taken *BucketExistsError
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			won++
		case errors.As(err, &taken):
			lost++
		default:
			return err
		}
		return nil
	})
	if won != 1 || lost != 2*workers-1 {
		t.Fatalf("%d creations of one bucket won, %d lost", won, lost)
	}
}

// TestS3ReadOfReplacedObject opens an object on one store, replaces it through the other and
// checks that the open object's read fails rather than mixing the two.
func TestS3ReadOfReplacedObject(t *testing.T) {
	m := testmoto.Run(t)
	stores := s3Stores(t, m, 2)
	a, b := stores[0], stores[1]
	if _, err := a.CreateBucket("bkt", "proj", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("o"), 3*tailSize)
	if _, err := a.PutObject("bkt", "k", bytes.NewReader(old), ObjectMeta{}); err != nil {
		t.Fatal(err)
	}
	o, err := a.OpenObject("bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := b.PutObject("bkt", "k", bytes.NewReader(bytes.Repeat([]byte("n"), 3*tailSize)), ObjectMeta{}); err != nil {
		t.Fatal(err)
	}
	if data, err := io.ReadAll(o.Section(0, o.Info.Size)); err == nil {
		t.Fatalf("reading a replaced object gave %d bytes and no error", len(data))
	}
	o2, err := a.OpenObject("bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if data, err := io.ReadAll(o2.Section(0, o2.Info.Size)); err != nil || !bytes.Equal(data, bytes.Repeat([]byte("n"), 3*tailSize)) {
		t.Fatalf("reading it again: %d bytes, %v", len(data), err)
	}
}

// TestOpenS3Refuses checks the errors of a backend that cannot be used, and that nothing is
// written to one then.
func TestOpenS3Refuses(t *testing.T) {
	m := testmoto.Run(t)
	ok := S3Config{Endpoint: m.Endpoint, Bucket: "exists", Region: testmoto.Region,
		AccessKey: testmoto.AccessKey, SecretKey: testmoto.SecretKey, TempDir: t.TempDir()}
	if err := m.NewBucket(context.Background(), ok.Bucket); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		mutate func(*S3Config)
		want   string
	}{
		"no endpoint":     {func(c *S3Config) { c.Endpoint = "" }, "needs an endpoint"},
		"no bucket":       {func(c *S3Config) { c.Bucket = "" }, "needs an endpoint, a bucket"},
		"no temp dir":     {func(c *S3Config) { c.TempDir = "" }, "a temporary directory"},
		"absolute prefix": {func(c *S3Config) { c.Prefix = "/x/" }, "must not start with a slash"},
		"missing bucket":  {func(c *S3Config) { c.Bucket = "missing" }, `bucket "missing" does not exist`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			c.mutate(&cfg)
			if _, err := OpenS3(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("OpenS3 = %v, want an error saying %q", err, c.want)
			}
		})
	}
	var n int
	for o := range m.Client().ListObjects(context.Background(), ok.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != 0 {
		t.Fatalf("refused opens wrote %d objects", n)
	}
}

// TestS3LeftoversOfADeletedBucketStayHidden makes the state a write racing DeleteBucket on
// another replica can leave (the bucket's bucket.json gone, an object file still there) and
// checks that a new bucket of that name, of another project, never shows it.
func TestS3LeftoversOfADeletedBucketStayHidden(t *testing.T) {
	m := testmoto.Run(t)
	stores := s3Stores(t, m, 2)
	a, b := stores[0], stores[1]
	if _, err := a.CreateBucket("ghost", "proj-a", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject("ghost", "secret", strings.NewReader("of proj-a"), ObjectMeta{}); err != nil {
		t.Fatal(err)
	}
	d := a.disk.(*s3Disk)
	if err := m.Client().RemoveObject(context.Background(), d.bucket, d.name("buckets/ghost/bucket.json"), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Bucket("ghost"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("a bucket without bucket.json: %v", err)
	}
	if _, err := b.CreateBucket("ghost", "proj-b", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.StatObject("ghost", "secret"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("the new bucket shows the old one's object: %v", err)
	}
	if res, err := a.List("ghost", ListQuery{MaxKeys: 10}); err != nil || len(res.Objects) != 0 {
		t.Fatalf("the new bucket lists %+v, %v", res.Objects, err)
	}
}

// TestS3ReplicasConditionalWrites checks that a client's conditional write holds across
// replicas: while replica a decides its condition, replica b writes the key; a's commit must
// then fail its precondition on the disk and decide again against b's object, instead of
// replacing it. In both an unversioned and a versioned bucket.
func TestS3ReplicasConditionalWrites(t *testing.T) {
	m := testmoto.Run(t)
	stores := s3Stores(t, m, 2)
	a, b := stores[0], stores[1]
	errTaken := errors.New("the key exists")
	for _, versioned := range []bool{false, true} {
		bucket := fmt.Sprint("cond-", versioned)
		if _, err := a.CreateBucket(bucket, "proj", "us-east-1"); err != nil {
			t.Fatal(err)
		}
		if versioned {
			if _, err := a.SetVersioning(bucket, VersioningEnabled); err != nil {
				t.Fatal(err)
			}
		}
		var calls []bool
		// If-None-Match: * on a, with b's write slipped in after a's first decision.
		_, err := a.PutObjectIf(bucket, "once", strings.NewReader("from a"), ObjectMeta{}, func(cur *ObjectInfo) error {
			calls = append(calls, cur != nil)
			if len(calls) == 1 {
				if _, err := b.PutObject(bucket, "once", strings.NewReader("from b"), ObjectMeta{}); err != nil {
					t.Fatal(err)
				}
			}
			if cur != nil {
				return errTaken
			}
			return nil
		})
		if !errors.Is(err, errTaken) || len(calls) != 2 || calls[0] || !calls[1] {
			t.Fatalf("versioned %v: a's conditional write = %v after decisions %v, want it refused on the second", versioned, err, calls)
		}
		o, err := a.OpenObject(bucket, "once")
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(o.Section(0, o.Info.Size))
		o.Close()
		if err != nil || string(data) != "from b" {
			t.Fatalf("versioned %v: the key holds %q, %v; want b's write", versioned, data, err)
		}
		if vs, err := b.ListVersions(bucket, VersionQuery{MaxKeys: 10}); err != nil || len(vs.Versions) != 1 {
			t.Fatalf("versioned %v: %d versions, %v; want b's only", versioned, len(vs.Versions), err)
		}
	}
}

// TestS3ReplicasShareRecords checks that what main's features keep beside objects lives on the
// disk: an upload completed on one replica answers a retry on the other, and tags set through
// one are read through the other.
func TestS3ReplicasShareRecords(t *testing.T) {
	m := testmoto.Run(t)
	stores := s3Stores(t, m, 2)
	a, b := stores[0], stores[1]
	if _, err := a.CreateBucket("recs", "proj", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	up, err := a.CreateUpload("recs", "big", ObjectMeta{}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.PutPart("recs", "big", up.ID, 1, strings.NewReader("part"))
	if err != nil {
		t.Fatal(err)
	}
	parts := []CompletePart{{Number: 1, ETag: p.ETag}}
	first, err := a.CompleteUpload("recs", "big", up.ID, parts)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := b.CompleteUpload("recs", "big", up.ID, parts); err != nil || again.ETag != first.ETag || again.Stamp != first.Stamp {
		t.Fatalf("a retry on the other replica = %+v, %v; want %+v", again, err, first)
	}
	if _, err := a.SetObjectTags("recs", "big", "", []Tag{{Key: "k", Value: "v"}}); err != nil {
		t.Fatal(err)
	}
	if tags, _, err := b.ObjectTags("recs", "big", ""); err != nil || len(tags) != 1 || tags[0] != (Tag{Key: "k", Value: "v"}) {
		t.Fatalf("the other replica reads tags %+v, %v", tags, err)
	}
}

// TestS3BucketRecreatedDuringItsDeletion: while one replica deletes a bucket (its bucket.json
// gone, the rest not yet), creating the name again is refused as S3 refuses it
// (ErrDeletionInProgress) with nothing claimed, and succeeds once the deletion is done.
func TestS3BucketRecreatedDuringItsDeletion(t *testing.T) {
	m := testmoto.Run(t)
	stores := s3Stores(t, m, 2)
	a, b := stores[0], stores[1]
	if _, err := a.CreateBucket("reborn", "proj-a", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	release, deleted := holdDeletion(t, a, "reborn")
	if _, err := b.CreateBucket("reborn", "proj-b", "us-east-1"); !errors.Is(err, ErrDeletionInProgress) {
		t.Fatalf("creating a bucket being deleted: %v, want ErrDeletionInProgress", err)
	}
	if ok, err := b.disk.(*s3Disk).exists("buckets/reborn/bucket.json"); ok || err != nil {
		t.Fatalf("the refused creation claimed the name (%v, %v)", ok, err)
	}
	release()
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateBucket("reborn", "proj-b", "us-east-1"); err != nil {
		t.Fatalf("creating the bucket once its deletion is done: %v", err)
	}
	usable(t, b, "reborn", "proj-b")
}

// TestS3DeletionStartedDuringACreationIsWaitedFor: a creation looked for deletions before a
// bucket of the name was made and deleted again by other replicas, and claims the name while
// that deletion removes the old files. The deletion must not remove the new bucket's: the
// creation waits for it, claims again if it lost its claim, and its bucket holds what is
// written into it.
func TestS3DeletionStartedDuringACreationIsWaitedFor(t *testing.T) {
	m := testmoto.Run(t)
	stores := s3Stores(t, m, 3)
	a, b := stores[0], stores[1]
	created := make(chan error, 1)
	var release func()
	var deleted <-chan error
	b.disk.(*s3Disk).claiming = func() {
		b.disk.(*s3Disk).claiming = nil
		if _, err := a.CreateBucket("reborn", "proj-a", "us-east-1"); err != nil {
			t.Error(err)
		}
		release, deleted = holdDeletion(t, a, "reborn")
	}
	go func() {
		_, err := b.CreateBucket("reborn", "proj-b", "us-east-1")
		created <- err
	}()
	// Let the creation claim the name and wait while the deletion is held.
	testenv.Eventually(t, 30*time.Second, "the creation to claim the name", func() error {
		if release == nil {
			return errors.New("not yet")
		}
		if ok, _ := a.disk.(*s3Disk).exists("buckets/reborn/bucket.json"); !ok {
			return errors.New("no claim yet")
		}
		return nil
	})
	select {
	case err := <-created:
		t.Fatalf("the creation did not wait for the deletion under way: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		usable(t, s, "reborn", "proj-b")
	}
}

// holdDeletion starts deleting bucket on s and holds the deletion once bucket.json is gone,
// until release is called; the deletion's error then comes on the channel.
func holdDeletion(t *testing.T, s *Store, bucket string) (release func(), deleted <-chan error) {
	t.Helper()
	unmarked, hold := make(chan struct{}), make(chan struct{})
	d := s.disk.(*s3Disk)
	d.unmarked = func() {
		d.unmarked = nil
		close(unmarked)
		<-hold
	}
	done := make(chan error, 1)
	go func() { done <- s.DeleteBucket(bucket) }()
	<-unmarked
	var once sync.Once
	return func() { once.Do(func() { close(hold) }) }, done
}

// usable checks that bucket is project's on s and takes an object, which reads back.
func usable(t *testing.T, s *Store, bucket, project string) {
	t.Helper()
	info, err := s.Bucket(bucket)
	if err != nil || info.Project != project {
		t.Fatalf("bucket %s is %+v, %v; want %s's", bucket, info, err, project)
	}
	if _, err := s.PutObject(bucket, "k", strings.NewReader("of "+project), ObjectMeta{}); err != nil {
		t.Fatalf("writing into bucket %s: %v", bucket, err)
	}
	o, err := s.OpenObject(bucket, "k")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(o.Section(0, o.Info.Size))
	o.Close()
	if err != nil || string(data) != "of "+project {
		t.Fatalf("bucket %s holds %q, %v", bucket, data, err)
	}
}

// TestS3CrashedDeletionIsFinishedByTheNextCreation: a replica that died deleting a bucket left
// its tombstone and the bucket's files. Creating the name is refused while the tombstone is
// young; once it is stale, a creation finishes the deletion itself and the new bucket shows
// nothing of the old one.
func TestS3CrashedDeletionIsFinishedByTheNextCreation(t *testing.T) {
	m := testmoto.Run(t)
	stores := s3Stores(t, m, 2)
	a, b := stores[0], stores[1]
	if _, err := a.CreateBucket("crashed", "proj-a", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject("crashed", "old", strings.NewReader("of proj-a"), ObjectMeta{}); err != nil {
		t.Fatal(err)
	}
	// The deletion's first two steps, and then nothing: its replica is gone.
	d := a.disk.(*s3Disk)
	tomb := "buckets/crashed/" + tombstonePrefix + "dead"
	if err := d.writeFile(tomb, nil, precondition{}); err != nil {
		t.Fatal(err)
	}
	if err := d.remove("buckets/crashed/bucket.json"); err != nil {
		t.Fatal(err)
	}
	b.disk.(*s3Disk).staleDeletion = 2 * time.Second
	if _, err := b.CreateBucket("crashed", "proj-b", "us-east-1"); !errors.Is(err, ErrDeletionInProgress) {
		t.Fatalf("creating the name while the deletion may go on: %v", err)
	}
	testenv.Eventually(t, time.Minute, "a creation once the deletion is stale", func() error {
		_, err := b.CreateBucket("crashed", "proj-b", "us-east-1")
		return err
	})
	if ok, err := d.exists(tomb); ok || err != nil {
		t.Fatalf("the dead deletion's tombstone is still there (%v, %v)", ok, err)
	}
	if _, err := a.StatObject("crashed", "old"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("the new bucket shows the old one's object: %v", err)
	}
	usable(t, a, "crashed", "proj-b")
}

// TestS3ClaimTakenDuringADeletionIsLost: a creation waiting for a deletion whose removal took
// its claim, and another creator's claim made meanwhile, loses the name to that creator.
func TestS3ClaimTakenDuringADeletionIsLost(t *testing.T) {
	m := testmoto.Run(t)
	a := s3Stores(t, m, 1)[0]
	d := a.disk.(*s3Disk)
	tomb := "buckets/taken/" + tombstonePrefix + "held"
	// A deletion begins after the creation looked for one.
	d.claiming = func() {
		if err := d.writeFile(tomb, nil, precondition{}); err != nil {
			t.Error(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.CreateBucket("taken", "proj-b", "us-east-1")
		done <- err
	}()
	marker := "buckets/taken/bucket.json"
	testenv.Eventually(t, 30*time.Second, "the creation to claim the name", func() error {
		if ok, err := d.exists(marker); !ok {
			return fmt.Errorf("no claim yet (%v)", err)
		}
		return nil
	})
	// The deletion removes the claim; another creator claims the name.
	data, err := json.Marshal(BucketInfo{Name: "taken", Project: "proj-c", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.remove(marker); err != nil {
		t.Fatal(err)
	}
	opts := putOptions(precondition{absent: true}, int64(len(data)))
	opts.UserMetadata = map[string]string{claimMeta: "another creator"}
	if _, err := m.Client().PutObject(context.Background(), d.bucket, d.name(marker), bytes.NewReader(data), int64(len(data)), opts); err != nil {
		t.Fatal(err)
	}
	if err := d.remove(tomb); err != nil {
		t.Fatal(err)
	}
	var taken *BucketExistsError
	if err := <-done; !errors.As(err, &taken) || taken.Owner != "proj-c" {
		t.Fatalf("the creation whose claim was taken: %v, want the bucket taken by proj-c", err)
	}
}
