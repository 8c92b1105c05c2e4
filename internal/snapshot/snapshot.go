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

// Package snapshot stores a volume's bytes as objects in the S3 store and brings them back. A
// snapshot is a set of fixed-size chunks under one prefix plus a manifest written last: chunks
// that hold only zeros are not stored (a mostly empty volume makes a small snapshot), holes of a
// sparse backing file are skipped without being read, and every chunk is checked against its
// SHA-256 when it is restored.
package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sys/unix"
)

// DefaultChunkBytes is the chunk size when the Store names none: large enough that a big volume
// is a few thousand objects, small enough that a little data makes a little snapshot.
const DefaultChunkBytes = 4 << 20

// manifestFormat is the version of the manifest's layout.
const manifestFormat = 1

// ErrNotFound means the snapshot has no manifest: it was never completed, or was deleted.
var ErrNotFound = errors.New("snapshot not found")

// Manifest lists a snapshot's stored chunks; a chunk not listed holds only zeros.
type Manifest struct {
	Format     int     `json:"format"`
	SizeBytes  int64   `json:"sizeBytes"`
	ChunkBytes int64   `json:"chunkBytes"`
	Chunks     []Chunk `json:"chunks"`
}

// Chunk is one stored chunk: bytes [Index*ChunkBytes, +Bytes) of the volume.
type Chunk struct {
	Index  int64  `json:"index"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// StoredBytes is what the snapshot's chunks take in the store.
func (m *Manifest) StoredBytes() int64 {
	var n int64
	for _, c := range m.Chunks {
		n += c.Bytes
	}
	return n
}

// Store keeps snapshots in one bucket under Prefix.
type Store struct {
	Client *minio.Client
	Bucket string
	// Prefix goes before every snapshot's id ("snapshots/").
	Prefix string
	// ChunkBytes is the chunk size of new snapshots (DefaultChunkBytes when 0).
	ChunkBytes int64
	// Parallel is how many chunks move at once (4 when 0).
	Parallel int
}

func (s *Store) manifestKey(id string) string { return s.Prefix + id + "/manifest.json" }

func (s *Store) chunkKey(id string, index int64) string {
	return s.Prefix + id + "/chunk-" + fmt.Sprintf("%012d", index)
}

func (s *Store) parallel() int {
	if s.Parallel > 0 {
		return s.Parallel
	}
	return 4
}

// Progress is told how many of the volume's bytes have been dealt with so far.
type Progress func(done, total int64)

// Save stores size bytes of src as snapshot id and returns its manifest. The manifest is written
// after every chunk, so a snapshot interrupted half-way has no manifest (Stat says ErrNotFound)
// and Delete removes what it left. When src is an *os.File, its holes are skipped unread.
func (s *Store) Save(ctx context.Context, id string, src io.ReaderAt, size int64, progress Progress) (*Manifest, error) {
	if id == "" || size < 0 {
		return nil, fmt.Errorf("snapshot %q of %d bytes: bad request", id, size)
	}
	chunkBytes := s.ChunkBytes
	if chunkBytes <= 0 {
		chunkBytes = DefaultChunkBytes
	}
	m := &Manifest{Format: manifestFormat, SizeBytes: size, ChunkBytes: chunkBytes}
	count := (size + chunkBytes - 1) / chunkBytes
	var (
		mu   sync.Mutex
		done atomic.Int64
		errs = make(chan error, 1)
		sem  = make(chan struct{}, s.parallel())
		wg   sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		cancel()
	}
	for index := int64(0); index < count && ctx.Err() == nil; index++ {
		off := index * chunkBytes
		n := min(chunkBytes, size-off)
		if f, ok := src.(*os.File); ok && isHole(f, off, n) {
			report(progress, done.Add(n), size)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := s.saveChunk(ctx, id, src, index, off, n)
			if err != nil {
				fail(err)
				return
			}
			if c != nil {
				mu.Lock()
				m.Chunks = append(m.Chunks, *c)
				mu.Unlock()
			}
			report(progress, done.Add(n), size)
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sortChunks(m.Chunks)
	if err := s.putManifest(ctx, id, m); err != nil {
		return nil, err
	}
	return m, nil
}

func report(p Progress, done, total int64) {
	if p != nil {
		p(done, total)
	}
}

// saveChunk stores one chunk unless it holds only zeros (then it returns nil).
func (s *Store) saveChunk(ctx context.Context, id string, src io.ReaderAt, index, off, n int64) (*Chunk, error) {
	buf := make([]byte, n)
	// ReadAt may say io.EOF with a full buffer at the end of the source; only a short read fails.
	if k, err := src.ReadAt(buf, off); int64(k) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading bytes %d-%d of the volume: %w", off, off+n, err)
	}
	if allZero(buf) {
		return nil, nil
	}
	sum := sha256.Sum256(buf)
	if _, err := s.Client.PutObject(ctx, s.Bucket, s.chunkKey(id, index), bytes.NewReader(buf), n,
		minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
		return nil, fmt.Errorf("storing chunk %d of snapshot %s: %w", index, id, err)
	}
	return &Chunk{Index: index, Bytes: n, SHA256: hex.EncodeToString(sum[:])}, nil
}

// Stat reads a completed snapshot's manifest.
func (s *Store) Stat(ctx context.Context, id string) (*Manifest, error) {
	obj, err := s.Client.GetObject(ctx, s.Bucket, s.manifestKey(id), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of snapshot %s: %w", id, err)
	}
	defer obj.Close()
	body, err := io.ReadAll(io.LimitReader(obj, 64<<20))
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, fmt.Errorf("snapshot %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("reading the manifest of snapshot %s: %w", id, err)
	}
	m := &Manifest{}
	if err := json.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("the manifest of snapshot %s: %w", id, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("the manifest of snapshot %s: %w", id, err)
	}
	return m, nil
}

// check refuses a manifest whose chunks would write outside the volume.
func (m *Manifest) check() error {
	if m.Format != manifestFormat || m.SizeBytes < 0 || m.ChunkBytes <= 0 {
		return fmt.Errorf("format %d, %d bytes in chunks of %d: not a snapshot manifest", m.Format, m.SizeBytes, m.ChunkBytes)
	}
	for _, c := range m.Chunks {
		if c.Index < 0 || c.Bytes <= 0 || c.Bytes > m.ChunkBytes || c.Index*m.ChunkBytes+c.Bytes > m.SizeBytes || len(c.SHA256) != 64 {
			return fmt.Errorf("chunk %d of %d bytes does not fit the volume", c.Index, c.Bytes)
		}
	}
	return nil
}

// Restore writes snapshot id into dst, which must already be the snapshot's size (or larger)
// and read as zeros where the snapshot has no chunk — a new sparse file, say. It returns the
// manifest. A chunk whose bytes do not match its SHA-256 fails the restore.
func (s *Store) Restore(ctx context.Context, id string, dst io.WriterAt, progress Progress) (*Manifest, error) {
	m, err := s.Stat(ctx, id)
	if err != nil {
		return nil, err
	}
	total := m.StoredBytes()
	var done atomic.Int64
	err = s.eachChunk(ctx, m.Chunks, func(ctx context.Context, c Chunk) error {
		if err := s.restoreChunk(ctx, id, m, c, dst); err != nil {
			return err
		}
		report(progress, done.Add(c.Bytes), total)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// eachChunk runs do for each chunk, Parallel at a time; the first error stops the others and is
// returned (or the context's, if it ended).
func (s *Store) eachChunk(ctx context.Context, cs []Chunk, do func(context.Context, Chunk) error) error {
	var (
		errs = make(chan error, 1)
		sem  = make(chan struct{}, s.parallel())
		wg   sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range cs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := do(ctx, c); err != nil {
				select {
				case errs <- err:
				default:
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return ctx.Err()
}

func (s *Store) restoreChunk(ctx context.Context, id string, m *Manifest, c Chunk, dst io.WriterAt) error {
	obj, err := s.Client.GetObject(ctx, s.Bucket, s.chunkKey(id, c.Index), minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("reading chunk %d of snapshot %s: %w", c.Index, id, err)
	}
	defer obj.Close()
	buf, err := io.ReadAll(io.LimitReader(obj, c.Bytes+1))
	if err != nil {
		return fmt.Errorf("reading chunk %d of snapshot %s: %w", c.Index, id, err)
	}
	sum := sha256.Sum256(buf)
	if int64(len(buf)) != c.Bytes || hex.EncodeToString(sum[:]) != c.SHA256 {
		return fmt.Errorf("chunk %d of snapshot %s is damaged (%d bytes, sha256 %x)", c.Index, id, len(buf), sum)
	}
	if _, err := dst.WriteAt(buf, c.Index*m.ChunkBytes); err != nil {
		return fmt.Errorf("writing chunk %d of snapshot %s: %w", c.Index, id, err)
	}
	return nil
}

// CopyFrom copies completed snapshot srcID of src (the same object store, any bucket or prefix)
// into this store as id, at most budget chunks per call (all when budget <= 0), chunk by chunk
// with server-side copies, and the manifest last: until the copy is whole, id has no manifest,
// so a half-made copy is never restored from. A call picks up where the last one stopped (the
// chunks already copied are left alone), so a caller copies a big snapshot over several calls;
// copied counts the chunks in place, of total; m is the manifest once the copy is whole.
func (s *Store) CopyFrom(ctx context.Context, src *Store, srcID, id string, budget int) (_ *Manifest, copied, total int, _ error) {
	if id == "" || srcID == "" {
		return nil, 0, 0, fmt.Errorf("copying snapshot %q to %q: bad request", srcID, id)
	}
	m, err := src.Stat(ctx, srcID)
	if err != nil {
		return nil, 0, 0, err
	}
	have := map[string]bool{}
	for o := range s.Client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: s.Prefix + id + "/", Recursive: true}) {
		if o.Err != nil {
			return nil, 0, 0, fmt.Errorf("listing the copy %s: %w", id, o.Err)
		}
		have[o.Key] = true
	}
	var missing []Chunk
	for _, c := range m.Chunks {
		if !have[s.chunkKey(id, c.Index)] {
			missing = append(missing, c)
		}
	}
	total, todo := len(m.Chunks), missing
	if budget > 0 && len(todo) > budget {
		todo = todo[:budget]
	}
	err = s.eachChunk(ctx, todo, func(ctx context.Context, c Chunk) error {
		_, err := s.Client.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.Bucket, Object: s.chunkKey(id, c.Index)},
			minio.CopySrcOptions{Bucket: src.Bucket, Object: src.chunkKey(srcID, c.Index)})
		if err != nil {
			return fmt.Errorf("copying chunk %d of snapshot %s: %w", c.Index, srcID, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, total, err
	}
	if copied = total - (len(missing) - len(todo)); copied < total {
		return nil, copied, total, nil
	}
	if err := s.putManifest(ctx, id, m); err != nil {
		return nil, copied, total, err
	}
	return m, copied, total, nil
}

func (s *Store) putManifest(ctx context.Context, id string, m *Manifest) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := s.Client.PutObject(ctx, s.Bucket, s.manifestKey(id), bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("writing the manifest of snapshot %s: %w", id, err)
	}
	return nil
}

// Delete removes every object of snapshot id, complete or not. Deleting a snapshot that is not
// there succeeds.
func (s *Store) Delete(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("deleting a snapshot without an id")
	}
	keys := s.Client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: s.Prefix + id + "/", Recursive: true})
	for e := range s.Client.RemoveObjects(ctx, s.Bucket, keys, minio.RemoveObjectsOptions{}) {
		if e.Err != nil {
			return fmt.Errorf("deleting %s of snapshot %s: %w", e.ObjectName, id, e.Err)
		}
	}
	return nil
}

// isHole says whether [off, off+n) of f holds no data (lies in a hole of a sparse file). An
// error asking the file system counts as "not a hole": the bytes are then read and checked.
func isHole(f *os.File, off, n int64) bool {
	data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
	if err != nil {
		// ENXIO: no data at or after off.
		return errors.Is(err, unix.ENXIO)
	}
	return data >= off+n
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func sortChunks(cs []Chunk) {
	slices.SortFunc(cs, func(a, b Chunk) int { return cmp.Compare(a.Index, b.Index) })
}
