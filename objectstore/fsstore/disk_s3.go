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
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3 backend keeps the store's files: objects under Prefix in Bucket
// of an S3-compatible cluster (Ceph RGW, AWS S3, MinIO, ...), reached with path-style requests.
type S3Config struct {
	// Endpoint is the cluster's host[:port]; Secure selects https.
	Endpoint string
	Secure   bool
	// Region is the backend bucket's region; "" lets the client find it.
	Region string
	// Bucket must exist; the store never creates or deletes it.
	Bucket string
	// Prefix, when set, is put before every object name the store uses (such as "pinet/").
	Prefix string
	// AccessKey and SecretKey sign the requests.
	AccessKey, SecretKey string
	// TempDir is a local directory for files being written; emptied when the store opens.
	TempDir string
	// Transport, when set, carries the requests (tests and custom CAs).
	Transport http.RoundTripper
}

// The largest file an s3Disk writes with one PUT, which is the only kind of write whose
// preconditions every S3 implementation honours; larger files go up in a multipart upload.
const maxSingleBackendPut = 5 << 30

// dirMarker is the empty file that says a directory exists on an S3 backend, where directories
// are otherwise only prefixes. Its name is no entry of the store's (see parseEntry).
const dirMarker = "=dir"

// OpenS3 opens the store kept in an S3 backend. Several stores (replicas of the object store)
// may open the same backend and see each other's buckets and objects; see s3Disk for what
// holds when they change the same thing at once.
func OpenS3(ctx context.Context, cfg S3Config, opts Options) (*Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" || cfg.TempDir == "" {
		return nil, errors.New("an S3 backend needs an endpoint, a bucket and a temporary directory")
	}
	if strings.HasPrefix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("S3 backend prefix %q must not start with a slash", cfg.Prefix)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 backend %s: %w", cfg.Endpoint, err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("S3 backend %s: checking bucket %q: %w", cfg.Endpoint, cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("S3 backend %s: bucket %q does not exist", cfg.Endpoint, cfg.Bucket)
	}
	if err := os.MkdirAll(cfg.TempDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating %s: %w", cfg.TempDir, err)
	}
	d := &s3Disk{core: minio.Core{Client: client}, bucket: cfg.Bucket, prefix: cfg.Prefix, tmp: cfg.TempDir,
		staleDeletion: defaultStaleDeletion}
	s := newStore("", d, opts)
	if err := s.cleanTmp(); err != nil {
		return nil, err
	}
	if err := d.writeFile(path.Join(s.bucketsDir(), dirMarker), nil, precondition{}); err != nil {
		return nil, err
	}
	return s, nil
}

// s3Disk keeps the store's files as objects of one backend bucket: the file at path p is the
// object prefix+p. Directories are prefixes; the directories the store checks for (a bucket's,
// its objects/, versions/ and uploads/, an upload's) hold a dirMarker.
//
// Every file reaches the backend in one PUT or server-side copy, which S3 makes visible whole
// or not at all. Replicas sharing the backend coordinate through preconditions: bucket.json is
// replaced only If-Match the ETag it was read with, a bucket (and an upload) is created only
// If-None-Match "*" on its marker file, and a new latest version of a versioned key is written
// only if the latest is still the one the writer archived (If-Match, or If-None-Match "*" for a
// new key), the archive copy itself read If-Match the archived version's ETag. A write that
// loses retries on the new state; one whose version a racing write replaced anyway (a backend
// whose check-and-write is not atomic) puts it among the older versions. A bucket's deletion
// leaves a tombstone in its directory until everything under it is removed: a creation of the
// same name is refused meanwhile, or, if it claimed the name as the deletion began, waits for
// the tombstones to go before it writes anything but its claim (see removeDir, createDir). What does not hold across replicas (it holds
// within one through its locks): deleting a bucket while another replica writes into it may
// leave that write's files behind, invisible, until the name is claimed again (the claimant
// removes them before the new bucket accepts writes); a deletion stalled for longer than
// staleDeletion is taken for a crashed one; deleting the only version of a key while another
// replica writes a new one may remove the new one (S3 has no conditional delete everyone
// implements); a read of an object that another replica replaces meanwhile fails rather than
// finishing with the old data (reads are If-Match the ETag the object was opened with).
type s3Disk struct {
	core   minio.Core
	bucket string
	prefix string
	tmp    string
	// staleDeletion is how old a deletion's tombstone must be for a creation to finish the
	// deletion itself instead of waiting for it (its replica is taken to have died).
	staleDeletion time.Duration
	// unmarked, when set, runs in removeDir once the marker is gone (tests hold a deletion
	// there); claiming runs in createDir between its look for deletions and its claim.
	unmarked, claiming func()
}

// defaultStaleDeletion: a bucket is deleted only when empty, so its deletion removes a few
// files and takes well under a second.
const defaultStaleDeletion = time.Minute

// tombstonePrefix starts the name of the file a deletion leaves in the directory it removes
// (followed by a random id): like dirMarker, no entry of the store's.
const tombstonePrefix = "=deleting-"

// claimMeta is the user metadata on a directory's marker file that tells one creator's claim
// from another's whose marker has the same content.
const claimMeta = "Pinet-Claim"

func (d *s3Disk) tempDir() string { return d.tmp }
func (d *s3Disk) shared() bool    { return true }

func (d *s3Disk) name(p string) string { return d.prefix + filepath.ToSlash(p) }

// s3Error maps the backend's answers to the errors the store tests for.
func s3Error(op, p string, err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == minio.NoSuchKey || resp.StatusCode == http.StatusNotFound && resp.Code != minio.NoSuchBucket:
		return fmt.Errorf("%s %s: %w", op, p, os.ErrNotExist)
	case resp.StatusCode == http.StatusPreconditionFailed || resp.Code == minio.PreconditionFailed:
		return fmt.Errorf("%s %s: %w", op, p, errChanged)
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}

// checkDir says missing unless the directory dir exists.
func (d *s3Disk) checkDir(dir string, missing error) error {
	ok, err := d.exists(path.Join(dir, dirMarker))
	if err != nil {
		return err
	}
	if !ok {
		return missing
	}
	return nil
}

// putOptions turns a precondition into the headers of a PUT.
func putOptions(c precondition, size int64) minio.PutObjectOptions {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: size <= maxSingleBackendPut}
	switch {
	case c.absent:
		opts.SetMatchETagExcept("*")
	case c.tag != "":
		opts.SetMatchETag(c.tag)
	}
	return opts
}

func (d *s3Disk) commit(src, base, dst string, dirs []dirStep, missing error, c precondition) error {
	if err := d.checkDir(base, missing); err != nil {
		return err
	}
	for _, step := range dirs {
		if err := ensureLongDirName(d, filepath.Join(base, step.rel), step.seg); err != nil {
			return err
		}
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("committing %s: %w", dst, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("committing %s: %w", dst, err)
	}
	p := filepath.Join(base, dst)
	_, err = d.core.Client.PutObject(context.Background(), d.bucket, d.name(p), f, st.Size(), putOptions(c, st.Size()))
	return d.writeError("committing", p, c, err)
}

// writeError maps a failed write; a precondition on a file that is gone failed too.
func (d *s3Disk) writeError(op, p string, c precondition, err error) error {
	err = s3Error(op, p, err)
	if c.tag != "" && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, p, errChanged)
	}
	return err
}

func (d *s3Disk) copyFile(src, srcTag, base, dst string, dirs []dirStep, missing error) error {
	if err := d.checkDir(base, missing); err != nil {
		return err
	}
	for _, step := range dirs {
		if err := ensureLongDirName(d, filepath.Join(base, step.rel), step.seg); err != nil {
			return err
		}
	}
	p := filepath.Join(base, dst)
	if srcTag != "" {
		// Not every S3 honours x-amz-copy-source-if-match (moto ignores it), and a copy of
		// a newer latest under this version's name would lose the version: the bytes pass
		// through the store, read If-Match the tag.
		return d.copyThrough(src, srcTag, p, precondition{})
	}
	from := minio.CopySrcOptions{Bucket: d.bucket, Object: d.name(src)}
	to := minio.CopyDestOptions{Bucket: d.bucket, Object: d.name(p)}
	_, err := d.core.Client.CopyObject(context.Background(), to, from)
	if resp := minio.ToErrorResponse(err); err != nil && (resp.Code == "InvalidRequest" || resp.Code == "EntityTooLarge") {
		// A copy of more than 5 GiB is a multipart copy.
		_, err = d.core.Client.ComposeObject(context.Background(), to, from)
	}
	return s3Error("copying to", p, err)
}

func (d *s3Disk) writeFile(p string, data []byte, c precondition) error {
	_, err := d.core.Client.PutObject(context.Background(), d.bucket, d.name(p), bytes.NewReader(data), int64(len(data)), putOptions(c, int64(len(data))))
	return d.writeError("writing", p, c, err)
}

func (d *s3Disk) readFile(p string) ([]byte, string, error) {
	body, info, _, err := d.core.GetObject(context.Background(), d.bucket, d.name(p), minio.GetObjectOptions{})
	if err != nil {
		return nil, "", s3Error("reading", p, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", p, err)
	}
	return data, info.ETag, nil
}

func (d *s3Disk) exists(p string) (bool, error) {
	_, err := d.core.Client.StatObject(context.Background(), d.bucket, d.name(p), minio.StatObjectOptions{})
	err = s3Error("stat", p, err)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *s3Disk) rename(src, dst string, c precondition) error {
	if c == (precondition{}) {
		from := minio.CopySrcOptions{Bucket: d.bucket, Object: d.name(src)}
		if _, err := d.core.Client.CopyObject(context.Background(), minio.CopyDestOptions{Bucket: d.bucket, Object: d.name(dst)}, from); err != nil {
			return s3Error("copying to", dst, err)
		}
	} else if err := d.copyThrough(src, "", dst, c); err != nil {
		return err
	}
	// A crash here leaves src behind as well; the store ignores such a leftover.
	return d.remove(src)
}

// copyThrough copies src (if srcTag is set, only while it is still that content) to dst
// under a precondition on dst, which a server-side copy cannot carry everywhere: the bytes
// pass through the store.
func (d *s3Disk) copyThrough(src, srcTag, dst string, c precondition) error {
	var opts minio.GetObjectOptions
	if srcTag != "" {
		if err := opts.SetMatchETag(srcTag); err != nil {
			return err
		}
	}
	body, info, _, err := d.core.GetObject(context.Background(), d.bucket, d.name(src), opts)
	if err != nil {
		err = s3Error("reading", src, err)
		if srcTag != "" && errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reading %s: %w", src, errChanged)
		}
		return err
	}
	defer body.Close()
	_, err = d.core.Client.PutObject(context.Background(), d.bucket, d.name(dst), body, info.Size, putOptions(c, info.Size))
	return d.writeError("writing", dst, c, err)
}

func (d *s3Disk) remove(p string) error {
	err := d.core.Client.RemoveObject(context.Background(), d.bucket, d.name(p), minio.RemoveObjectOptions{})
	return s3Error("removing", p, err)
}

// prune has nothing to do: a prefix with no objects under it is no directory.
func (d *s3Disk) prune(string, []dirStep) {}

func (d *s3Disk) readNames(dir string) ([]string, error) {
	prefix := d.name(dir) + "/"
	var names []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for o := range d.core.Client.ListObjects(ctx, d.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, s3Error("listing", dir, o.Err)
		}
		n := strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), "/")
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

func (d *s3Disk) mkdir(parent, dir string, missing error) error {
	if ok, err := d.exists(path.Join(dir, dirMarker)); ok || err != nil {
		return err
	}
	if err := d.checkDir(parent, missing); err != nil {
		return err
	}
	return d.writeFile(path.Join(dir, dirMarker), nil, precondition{})
}

// createDir claims the directory by writing its marker file (order[0]) If-None-Match "*": that
// write decides races. A deletion of an earlier directory of this name under way (a tombstone
// younger than staleDeletion, by this host's clock) refuses the creation first
// (ErrDeletionInProgress). One that began between that look and the claim is waited for after
// the claim, until its tombstone is gone, since a deletion removes everything under the name,
// the new claim included; a claim a deletion removed is made again, and one another creator
// made meanwhile wins. The winner then removes what a write racing the deletion of an
// earlier directory of this name left behind (it belongs to no directory and must never be seen
// as the new one's), and only then writes the other files and the dirMarkers, without which no
// file can be committed into the directory: nothing new is there yet to be removed. A crash
// between the claim and the dirMarkers leaves a directory that refuses commits (delete and
// create it again).
func (d *s3Disk) createDir(dir string, order []string, files map[string][]byte) error {
	if err := d.checkDir(filepath.Dir(dir), os.ErrNotExist); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// A deletion under way refuses the creation before it claims anything (S3's
	// OperationAborted); one that started meanwhile is waited for after the claim.
	tombs, err := d.tombstones(dir)
	if err != nil {
		return err
	}
	for _, at := range tombs {
		if time.Since(at) <= d.staleDeletion {
			return fmt.Errorf("creating %s: %w", dir, ErrDeletionInProgress)
		}
	}
	if d.claiming != nil {
		d.claiming()
	}
	marker := filepath.Join(dir, order[0])
	if err := d.claim(dir, marker, files[order[0]]); err != nil {
		return err
	}
	if err := d.removeAll(dir, func(key string) bool { return key == d.name(marker) || d.isTombstone(dir, key) }); err != nil {
		return err
	}
	for _, name := range order[1:] {
		p := filepath.Join(dir, name)
		if files[name] == nil {
			p = path.Join(p, dirMarker)
		}
		if err := d.writeFile(p, files[name], precondition{}); err != nil {
			return err
		}
	}
	return d.writeFile(path.Join(dir, dirMarker), nil, precondition{})
}

// maxClaims bounds how often a creation claims a name again after deletions removed its claim.
const maxClaims = 10

// claim writes marker If-None-Match "*" and returns once the claim is the creator's with no
// deletion of the name under way: os.ErrExist if another creator holds the name.
func (d *s3Disk) claim(dir, marker string, data []byte) error {
	id := uuid.NewString()
	for range maxClaims {
		opts := putOptions(precondition{absent: true}, int64(len(data)))
		opts.UserMetadata = map[string]string{claimMeta: id}
		_, err := d.core.Client.PutObject(context.Background(), d.bucket, d.name(marker), bytes.NewReader(data), int64(len(data)), opts)
		if err = d.writeError("writing", marker, precondition{absent: true}, err); errors.Is(err, errChanged) {
			return fmt.Errorf("creating %s: %w", dir, os.ErrExist)
		}
		if err != nil {
			return err
		}
		if err := d.awaitDeletions(dir, marker); err != nil {
			return err
		}
		st, err := d.core.Client.StatObject(context.Background(), d.bucket, d.name(marker), minio.StatObjectOptions{})
		if err = s3Error("stat", marker, err); errors.Is(err, os.ErrNotExist) {
			continue // a deletion removed the claim: claim again
		}
		if err != nil {
			return err
		}
		if st.UserMetadata[claimMeta] != id {
			return fmt.Errorf("creating %s: %w", dir, os.ErrExist)
		}
		return nil
	}
	return fmt.Errorf("creating %s: deletions of the name removed %d claims", dir, maxClaims)
}

// awaitDeletions waits until no tombstone is left under dir. A tombstone older than
// staleDeletion (by the backend's clock: the claim's marker's time, plus the time waited since)
// is a deletion whose replica died: the creator finishes it, removing everything but the claim
// and any younger tombstones, then the stale tombstones.
func (d *s3Disk) awaitDeletions(dir, marker string) error {
	var claimed time.Time
	start := time.Now()
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		tombs, err := d.tombstones(dir)
		if err != nil || len(tombs) == 0 {
			return err
		}
		if claimed.IsZero() {
			st, err := d.core.Client.StatObject(context.Background(), d.bucket, d.name(marker), minio.StatObjectOptions{})
			if err = s3Error("stat", marker, err); errors.Is(err, os.ErrNotExist) {
				return nil // taken by a deletion already: the caller claims again
			}
			if err != nil {
				return err
			}
			claimed = st.LastModified
		}
		now := claimed.Add(time.Since(start))
		var stale []string
		for key, at := range tombs {
			if now.Sub(at) > d.staleDeletion {
				stale = append(stale, key)
			}
		}
		if len(stale) == len(tombs) {
			if err := d.removeAll(dir, func(key string) bool { return key == d.name(marker) || d.isTombstone(dir, key) }); err != nil {
				return err
			}
			for _, key := range stale {
				if err := d.core.Client.RemoveObject(context.Background(), d.bucket, key, minio.RemoveObjectOptions{}); err != nil {
					return s3Error("removing", key, err)
				}
			}
			return nil
		}
		time.Sleep(wait)
	}
}

// tombstones lists the tombstones under dir: object name to time written.
func (d *s3Disk) tombstones(dir string) (map[string]time.Time, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := map[string]time.Time{}
	for o := range d.core.Client.ListObjects(ctx, d.bucket, minio.ListObjectsOptions{Prefix: d.name(path.Join(dir, tombstonePrefix))}) {
		if o.Err != nil {
			return nil, s3Error("listing", dir, o.Err)
		}
		out[o.Key] = o.LastModified
	}
	return out, nil
}

// isTombstone reports whether the backend object key is a tombstone of dir.
func (d *s3Disk) isTombstone(dir, key string) bool {
	return strings.HasPrefix(key, d.name(path.Join(dir, tombstonePrefix)))
}

// removeDir leaves a tombstone in the directory, removes the marker file, which makes the
// directory vanish, then the rest, and the tombstone last: until then a creation of the same
// name waits (createDir) rather than have its first files removed with the old ones.
func (d *s3Disk) removeDir(dir, marker string) error {
	if ok, err := d.exists(filepath.Join(dir, marker)); !ok || err != nil {
		if err != nil {
			return err
		}
		return fmt.Errorf("removing %s: %w", dir, os.ErrNotExist)
	}
	tomb := path.Join(dir, tombstonePrefix+uuid.NewString())
	if err := d.writeFile(tomb, nil, precondition{}); err != nil {
		return err
	}
	if err := d.remove(filepath.Join(dir, marker)); err != nil {
		return err
	}
	if d.unmarked != nil {
		d.unmarked()
	}
	// Other deletions' tombstones stay for them to remove when they are done.
	if err := d.removeAll(dir, func(key string) bool { return d.isTombstone(dir, key) }); err != nil {
		return err
	}
	return d.remove(tomb)
}

// removeAll removes every file under dir but the objects keep reports.
func (d *s3Disk) removeAll(dir string, keep func(key string) bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	objects := make(chan minio.ObjectInfo)
	var listErr error
	go func() {
		defer close(objects)
		for o := range d.core.Client.ListObjects(ctx, d.bucket, minio.ListObjectsOptions{Prefix: d.name(dir) + "/", Recursive: true}) {
			if o.Err != nil {
				listErr = o.Err
				return
			}
			if keep(o.Key) {
				continue
			}
			select {
			case objects <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	for e := range d.core.Client.RemoveObjects(ctx, d.bucket, objects, minio.RemoveObjectsOptions{}) {
		if e.Err != nil {
			return s3Error("removing", dir, e.Err)
		}
	}
	// RemoveObjects has read objects to its end, so the listing is over.
	return s3Error("listing", dir, listErr)
}

// tailSize is how much of the end of a file open reads at once: the trailer of an object
// file, which readTrailer reads first, is there.
const tailSize = 8 << 10

// open reads the file's end (its trailer) and its ETag in one ranged GET.
func (d *s3Disk) open(p string) (diskFile, error) {
	f := &s3File{d: d, path: p}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(0, -tailSize); err != nil {
		return nil, err
	}
	body, info, hdr, err := d.core.GetObject(context.Background(), d.bucket, d.name(p), opts)
	if err != nil {
		if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			return d.openEmpty(p) // some backends refuse a suffix range of an empty object
		}
		return nil, s3Error("opening", p, err)
	}
	defer body.Close()
	if f.tail, err = io.ReadAll(body); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	f.etag, f.size = info.ETag, int64(len(f.tail))
	if cr := hdr.Get("Content-Range"); cr != "" {
		var first, last, total int64
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &first, &last, &total); err != nil {
			return nil, fmt.Errorf("opening %s: unreadable Content-Range %q", p, cr)
		}
		f.size = total
	}
	return f, nil
}

func (d *s3Disk) openEmpty(p string) (diskFile, error) {
	info, err := d.core.Client.StatObject(context.Background(), d.bucket, d.name(p), minio.StatObjectOptions{})
	if err != nil {
		return nil, s3Error("opening", p, err)
	}
	return &s3File{d: d, path: p, etag: info.ETag, size: info.Size}, nil
}

// s3File is an open file of an s3Disk. Its reads are If-Match the ETag it was opened with.
type s3File struct {
	d    *s3Disk
	path string
	etag string
	size int64
	// tail is the file's last len(tail) bytes.
	tail []byte
	// bodies are the responses its sections are reading, closed with the file.
	mu     sync.Mutex
	bodies []io.Closer
}

func (f *s3File) Name() string { return f.path }
func (f *s3File) Size() int64  { return f.size }
func (f *s3File) Tag() string  { return f.etag }

func (f *s3File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("reading %s: negative offset", f.path)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	if start := f.size - int64(len(f.tail)); off >= start {
		n := copy(p, f.tail[off-start:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	r := f.Section(off, min(int64(len(p)), f.size-off))
	n, err := io.ReadFull(r, p[:min(int64(len(p)), f.size-off)])
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// Section reads n bytes from off in one ranged GET, made at the first read.
func (f *s3File) Section(off, n int64) io.Reader {
	if n <= 0 {
		return bytes.NewReader(nil)
	}
	return &s3Section{f: f, off: off, n: n}
}

func (f *s3File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.bodies {
		b.Close()
	}
	f.bodies = nil
	return nil
}

type s3Section struct {
	f      *s3File
	off, n int64
	body   io.Reader
}

func (s *s3Section) Read(p []byte) (int, error) {
	if s.body == nil {
		var opts minio.GetObjectOptions
		if err := opts.SetRange(s.off, s.off+s.n-1); err != nil {
			return 0, err
		}
		if err := opts.SetMatchETag(s.f.etag); err != nil {
			return 0, err
		}
		body, _, _, err := s.f.d.core.GetObject(context.Background(), s.f.d.bucket, s.f.d.name(s.f.path), opts)
		if err != nil {
			return 0, s3Error("reading", s.f.path, err)
		}
		s.f.mu.Lock()
		s.f.bodies = append(s.f.bodies, body)
		s.f.mu.Unlock()
		s.body = io.LimitReader(body, s.n)
	}
	return s.body.Read(p)
}
