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

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/minio/minio-go/v7"
)

var (
	objectMiB = flag.Int("bench.object-mib", 256, "size in MiB of BenchmarkLargeObject's object (the issue's larger size is 1024)")
	readKiB   = flag.Int("bench.read-kib", 0, "buffer in KiB every GET and file read of BenchmarkLargeObject reads into (0: io.Copy into io.Discard, which reads 8 KiB at a time)")
)

// drain reads r to its end the way -bench.read-kib says, and returns how many bytes it read.
// Every reader of the benchmark (the object, the file, the file over net/http) goes through it,
// so both sides of a ratio read with the same buffer.
func drain(r io.Reader) (int64, error) {
	if *readKiB <= 0 {
		return io.Copy(io.Discard, r)
	}
	buf := make([]byte, *readKiB<<10)
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// BenchmarkLargeObject PUTs one -bench.object-mib object with minio-go through PiNet's store and
// GETs it back, against writing the same bytes to a file on the same disk (with fsync) and reading
// it back. It reports MB/s of each direction for both and the ratios PiNet/baseline. Each GET is
// timed twice: warm (the bytes just written are in the page cache, so the baseline is a memory
// copy) and cold (both sides' files dropped from the page cache first, so both read the disk).
// Beside them, as the ceiling of any HTTP GET on this machine, it reports the same file served by
// net/http's file server (with sendfile) on loopback and read with net/http into io.Discard.
func BenchmarkLargeObject(b *testing.B) {
	f := setup(b)
	size := int64(*objectMiB) << 20
	if size <= 0 {
		b.Fatalf("-bench.object-mib must be positive, got %d", *objectMiB)
	}
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	mc := f.cloud.S3(b, f.creds)
	ctx := context.Background()
	bucket := "bench-large"
	if ok, _ := mc.BucketExists(ctx, bucket); !ok {
		if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	path := filepath.Join(b.TempDir(), "object")
	b.SetBytes(size)
	for b.Loop() {
		s3Put, s3Get := timeS3(b, mc, bucket, data)
		filePut, fileGet := timeFile(b, path, data)
		httpGet := timeHTTPFile(b, path, size)
		// Cold: the store's files and the baseline's, out of the page cache.
		left := dropCached(b, f.cloud.ObjectDataDir()) + dropCached(b, path)
		s3Cold := timeS3Get(b, mc, bucket, size)
		fileCold := timeFileGet(b, path, size)
		left += dropCached(b, path)
		httpCold := timeHTTPFile(b, path, size)

		mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
		b.ReportMetric(mbps(s3Put), "MB/s-s3-put")
		b.ReportMetric(mbps(s3Get), "MB/s-s3-get")
		b.ReportMetric(mbps(filePut), "MB/s-file-put")
		b.ReportMetric(mbps(fileGet), "MB/s-file-get")
		b.ReportMetric(filePut.Seconds()/s3Put.Seconds(), "put-ratio")
		b.ReportMetric(fileGet.Seconds()/s3Get.Seconds(), "get-ratio")
		b.ReportMetric(mbps(httpGet), "MB/s-http-file-get")
		b.ReportMetric(httpGet.Seconds()/s3Get.Seconds(), "get-ratio-to-http")
		b.ReportMetric(mbps(s3Cold), "MB/s-s3-get-cold")
		b.ReportMetric(mbps(fileCold), "MB/s-file-get-cold")
		b.ReportMetric(fileCold.Seconds()/s3Cold.Seconds(), "get-ratio-cold")
		b.ReportMetric(mbps(httpCold), "MB/s-http-file-get-cold")
		b.Logf("%d MiB: PUT %.0f MB/s vs file write+fsync %.0f MB/s (ratio %.2f); GET warm %.0f MB/s vs file read %.0f MB/s (ratio %.2f); the file over plain net/http %.0f MB/s (ratio %.2f); GET cold %.0f MB/s vs file read cold %.0f MB/s (ratio %.2f; net/http cold %.0f MB/s; %.1f%% of the bytes still cached after the drops)",
			*objectMiB, mbps(s3Put), mbps(filePut), filePut.Seconds()/s3Put.Seconds(),
			mbps(s3Get), mbps(fileGet), fileGet.Seconds()/s3Get.Seconds(), mbps(httpGet), httpGet.Seconds()/s3Get.Seconds(),
			mbps(s3Cold), mbps(fileCold), fileCold.Seconds()/s3Cold.Seconds(), mbps(httpCold), 100*float64(left)/float64(3*size))
	}
}

func timeS3(b *testing.B, mc *minio.Client, bucket string, data []byte) (time.Duration, time.Duration) {
	ctx := context.Background()
	size := int64(len(data))
	start := time.Now()
	if _, err := mc.PutObject(ctx, bucket, "object", bytes.NewReader(data), size, minio.PutObjectOptions{}); err != nil {
		b.Fatalf("PUT: %v", err)
	}
	put := time.Since(start)
	return put, timeS3Get(b, mc, bucket, size)
}

// timeS3Get times a GET of the object into io.Discard.
func timeS3Get(b *testing.B, mc *minio.Client, bucket string, size int64) time.Duration {
	start := time.Now()
	obj, err := mc.GetObject(context.Background(), bucket, "object", minio.GetObjectOptions{})
	if err != nil {
		b.Fatalf("GET: %v", err)
	}
	n, err := drain(obj)
	obj.Close()
	if err != nil {
		b.Fatalf("GET: %v", err)
	}
	if n != size {
		b.Fatalf("GET read %d bytes, want %d", n, size)
	}
	return time.Since(start)
}

func timeFile(b *testing.B, path string, data []byte) (time.Duration, time.Duration) {
	start := time.Now()
	if err := writeSynced(path, data); err != nil {
		b.Fatalf("writing %s: %v", path, err)
	}
	put := time.Since(start)
	return put, timeFileGet(b, path, int64(len(data)))
}

// timeFileGet times reading the file at path into io.Discard.
func timeFileGet(b *testing.B, path string, size int64) time.Duration {
	start := time.Now()
	fh, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	n, err := drain(fh)
	fh.Close()
	if err != nil {
		b.Fatalf("reading %s: %v", path, err)
	}
	if n != size {
		b.Fatal(fmt.Errorf("read %d bytes of %s, want %d", n, path, size))
	}
	return time.Since(start)
}

// dropCached asks the kernel to drop every regular file under root (or root itself) from the page
// cache, and returns how many of their bytes are still cached afterwards (pages of files the
// kernel kept, e.g. ones another process maps). The files were written with fsync, so their pages
// are clean and can go.
func dropCached(b *testing.B, root string) int64 {
	var left int64
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		if err := unix.Fadvise(int(fh.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return fmt.Errorf("dropping %s from the page cache: %w", path, err)
		}
		n, err := cachedBytes(fh)
		left += n
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return left
}

// cachedBytes is how many bytes of the open file are in the page cache.
func cachedBytes(fh *os.File) (int64, error) {
	st, err := fh.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	m, err := unix.Mmap(int(fh.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("mapping %s: %w", fh.Name(), err)
	}
	defer unix.Munmap(m)
	page := int64(os.Getpagesize())
	vec := make([]byte, (st.Size()+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, fmt.Errorf("mincore of %s: %w", fh.Name(), errno)
	}
	var n int64
	for _, v := range vec {
		if v&1 != 0 {
			n += page
		}
	}
	return n, nil
}

// timeHTTPFile times a GET of the file at path from net/http's file server on loopback, read
// with net/http into io.Discard: what moving the bytes over HTTP costs on this machine.
func timeHTTPFile(b *testing.B, path string, size int64) time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	start := time.Now()
	resp, err := client.Get("http://" + ln.Addr().String() + "/object")
	if err != nil {
		b.Fatal(err)
	}
	n, err := drain(resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		b.Fatalf("GET of the file over net/http read %d bytes (want %d): %v", n, size, err)
	}
	return time.Since(start)
}
