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

package snapshot_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"pinet.io/pinet/internal/snapshot"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

var (
	once   sync.Once
	client *minio.Client
)

const bucket = "snapshots"

// store returns a Store over a real object store, in a bucket of a user of the test cloud, under
// a prefix of its own for each test.
func store(t *testing.T, chunkBytes int64) *snapshot.Store {
	t.Helper()
	once.Do(func() {
		c, err := testcloud.Start(env, testcloud.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c.AddProject(t, "snap")
		client = c.S3(t, c.AddUser(t, "snapper", false, "snap"))
		if err := client.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	})
	return &snapshot.Store{Client: client, Bucket: bucket, Prefix: t.Name() + "/", ChunkBytes: chunkBytes}
}

// sparseFile makes a sparse file of size bytes with data written at the offsets.
func sparseFile(t *testing.T, size int64, data map[int64][]byte) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "volume"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, b := range data {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func digest(t *testing.T, r io.ReaderAt, size int64) [32]byte {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

func objectsUnder(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// A sparse volume with data in a few places: only the chunks holding data are stored, and a
// restore into a new sparse file gives the same bytes.
func TestSaveAndRestoreSparseVolume(t *testing.T) {
	const mib = 1 << 20
	s := store(t, mib)
	size := int64(64*mib + 12345) // the last chunk is short
	src := sparseFile(t, size, map[int64][]byte{
		3 * mib:         randomBytes(t, 1000),
		10*mib - 100:    randomBytes(t, 300), // across a chunk boundary
		size - 10:       randomBytes(t, 10),  // in the short last chunk
		40*mib + 4096*3: bytes.Repeat([]byte{0}, 4096),
	})
	var last [2]int64
	m, err := s.Save(context.Background(), "snap-1", src, size, func(done, total int64) { last = [2]int64{done, total} })
	if err != nil {
		t.Fatal(err)
	}
	var indexes []int64
	for _, c := range m.Chunks {
		indexes = append(indexes, c.Index)
	}
	if got := fmt.Sprint(indexes); got != "[3 9 10 64]" {
		t.Fatalf("stored chunks %s, want [3 9 10 64] (the zero write at 40 MiB stores nothing)", got)
	}
	if last != [2]int64{size, size} {
		t.Fatalf("progress ended at %v, want %d of %d", last, size, size)
	}
	if n := len(objectsUnder(t, s.Prefix)); n != 5 {
		t.Fatalf("%d objects, want 4 chunks and a manifest", n)
	}

	dst := sparseFile(t, size, nil)
	if _, err := s.Restore(context.Background(), "snap-1", dst, nil); err != nil {
		t.Fatal(err)
	}
	if digest(t, src, size) != digest(t, dst, size) {
		t.Fatal("the restored volume differs from the snapshotted one")
	}
	stat, err := s.Stat(context.Background(), "snap-1")
	if err != nil || stat.SizeBytes != size || len(stat.Chunks) != 4 {
		t.Fatalf("stat: %+v %v", stat, err)
	}
}

// A 10 GiB volume with 1 MiB written snapshots to a few MiB of objects, its holes unread.
func TestLargeMostlyEmptyVolumeMakesASmallSnapshot(t *testing.T) {
	s := store(t, 0)
	size := int64(10 << 30)
	src := sparseFile(t, size, map[int64][]byte{5 << 30: randomBytes(t, 1<<20)})
	m, err := s.Save(context.Background(), "snap-big", src, size, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	for o := range client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: s.Prefix, Recursive: true}) {
		stored += o.Size
	}
	if stored >= 20<<20 || m.StoredBytes() != snapshot.DefaultChunkBytes {
		t.Fatalf("a 10 GiB volume with 1 MiB written took %d bytes of objects (%d in chunks)", stored, m.StoredBytes())
	}
}

// A source that is not a file is read, and its all-zero chunks are still left out.
func TestSaveFromAReaderSkipsZeroChunks(t *testing.T) {
	s := store(t, 4096)
	vol := make([]byte, 5*4096)
	copy(vol[4096*4:], "tail")
	copy(vol, "head")
	m, err := s.Save(context.Background(), "snap-r", bytes.NewReader(vol), int64(len(vol)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Chunks) != 2 || m.Chunks[0].Index != 0 || m.Chunks[1].Index != 4 {
		t.Fatalf("chunks %+v", m.Chunks)
	}
	out := make([]byte, len(vol))
	if _, err := s.Restore(context.Background(), "snap-r", writerAt(out), nil); err != nil || !bytes.Equal(out, vol) {
		t.Fatalf("restore: %v", err)
	}
}

type writerAt []byte

func (w writerAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(w)) {
		return 0, errors.New("outside the volume")
	}
	return copy(w[off:], p), nil
}

// failingReader fails on reads at or past an offset, as a disk error would.
type failingReader struct {
	io.ReaderAt
	from int64
}

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.from {
		return 0, errors.New("read error")
	}
	return f.ReaderAt.ReadAt(p, off)
}

// A snapshot that fails half-way has no manifest, so it does not exist; Delete removes what it
// left behind.
func TestInterruptedSaveLeavesNoSnapshot(t *testing.T) {
	s := store(t, 4096)
	s.Parallel = 1
	vol := bytes.Repeat([]byte{7}, 8*4096)
	_, err := s.Save(context.Background(), "snap-x", failingReader{bytes.NewReader(vol), 5 * 4096}, int64(len(vol)), nil)
	if err == nil || !strings.Contains(err.Error(), "read error") {
		t.Fatalf("save over a failing disk: %v", err)
	}
	if _, err := s.Stat(context.Background(), "snap-x"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("stat of an interrupted snapshot: %v", err)
	}
	if _, err := s.Restore(context.Background(), "snap-x", writerAt(make([]byte, len(vol))), nil); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("restore of an interrupted snapshot: %v", err)
	}
	if len(objectsUnder(t, s.Prefix)) == 0 {
		t.Fatal("the interrupted save stored nothing: the test proves nothing")
	}
	if err := s.Delete(context.Background(), "snap-x"); err != nil {
		t.Fatal(err)
	}
	if left := objectsUnder(t, s.Prefix); len(left) != 0 {
		t.Fatalf("left after delete: %v", left)
	}
	if err := s.Delete(context.Background(), "snap-x"); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	// A source shorter than the size asked for is a read error too.
	if _, err := s.Save(context.Background(), "snap-short", bytes.NewReader(vol), int64(len(vol))+1, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("save of a short source: %v", err)
	}
}

// A chunk changed in the store fails the restore instead of giving the guest wrong bytes; a
// manifest that would write outside the volume is refused before anything is written.
func TestRestoreRefusesDamage(t *testing.T) {
	ctx := context.Background()
	s := store(t, 4096)
	vol := bytes.Repeat([]byte{1}, 3*4096)
	if _, err := s.Save(ctx, "snap-d", bytes.NewReader(vol), int64(len(vol)), nil); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Repeat([]byte{2}, 4096)
	if _, err := client.PutObject(ctx, bucket, s.Prefix+"snap-d/chunk-000000000001", bytes.NewReader(bad), 4096, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore(ctx, "snap-d", writerAt(make([]byte, len(vol))), nil); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("restore of a damaged chunk: %v", err)
	}

	manifest := `{"format":1,"sizeBytes":4096,"chunkBytes":4096,"chunks":[{"index":1,"bytes":4096,"sha256":"` + strings.Repeat("0", 64) + `"}]}`
	if _, err := client.PutObject(ctx, bucket, s.Prefix+"snap-m/manifest.json", strings.NewReader(manifest), int64(len(manifest)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	out := writerAt(make([]byte, 8192))
	if _, err := s.Restore(ctx, "snap-m", out, nil); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("restore of a manifest outside the volume: %v", err)
	}
	if !bytes.Equal(out, make([]byte, 8192)) {
		t.Fatal("a refused restore wrote bytes")
	}
	if _, err := s.Stat(ctx, "snap-none"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("stat of a missing snapshot: %v", err)
	}
	if _, err := s.Save(ctx, "", bytes.NewReader(nil), 0, nil); err == nil {
		t.Fatal("a snapshot without an id was saved")
	}
}

// A copy made a few chunks at a time has no manifest until it is whole, picks up where it
// stopped, and then restores to the same bytes; the source is untouched. A missing source is
// ErrNotFound, and leaves nothing.
func TestCopyInSteps(t *testing.T) {
	const mib = 1 << 20
	src := store(t, mib)
	size := int64(20 * mib)
	data := map[int64][]byte{}
	for _, off := range []int64{0, 2 * mib, 5*mib + 7, 11 * mib, 19 * mib} {
		data[off] = randomBytes(t, 4096)
	}
	vol := sparseFile(t, size, data)
	if _, err := src.Save(context.Background(), "snap-src", vol, size, nil); err != nil {
		t.Fatal(err)
	}
	dst := &snapshot.Store{Client: src.Client, Bucket: src.Bucket, Prefix: t.Name() + "-copies/"}
	ctx := context.Background()
	var steps []string
	for {
		m, copied, total, err := dst.CopyFrom(ctx, src, "snap-src", "snap-copy", 2)
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, fmt.Sprintf("%d/%d", copied, total))
		if m != nil {
			break
		}
		if _, err := dst.Stat(ctx, "snap-copy"); !errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("a half-made copy has a manifest: %v", err)
		}
		if len(steps) > 10 {
			t.Fatalf("the copy does not end: %v", steps)
		}
	}
	if got := strings.Join(steps, " "); got != "2/5 4/5 5/5" {
		t.Fatalf("copy steps %s, want 2/5 4/5 5/5", got)
	}
	restored := sparseFile(t, size, nil)
	if _, err := dst.Restore(ctx, "snap-copy", restored, nil); err != nil {
		t.Fatal(err)
	}
	if digest(t, vol, size) != digest(t, restored, size) {
		t.Fatal("the copy restores to other bytes")
	}
	if n := len(objectsUnder(t, src.Prefix+"snap-src/")); n != 6 {
		t.Fatalf("the source holds %d objects, want 5 chunks and a manifest", n)
	}
	if _, _, _, err := dst.CopyFrom(ctx, src, "snap-none", "snap-copy2", 0); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("copying a missing snapshot: %v", err)
	}
	if keys := objectsUnder(t, dst.Prefix+"snap-copy2/"); len(keys) != 0 {
		t.Fatalf("a failed copy left %v", keys)
	}
}
