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

	"github.com/minio/minio-go/v7"
)

var objectMiB = flag.Int("bench.object-mib", 256, "size in MiB of BenchmarkLargeObject's object (the issue's larger size is 1024)")

// BenchmarkLargeObject PUTs one -bench.object-mib object with minio-go through PiNet's store and
// GETs it back, against writing the same bytes to a file on the same disk (with fsync) and reading
// it back. It reports MB/s of each direction for both and the ratios PiNet/baseline. Beside them,
// as the ceiling of any HTTP GET on this machine, it reports the same file served by net/http's
// file server (with sendfile) on loopback and read with net/http into io.Discard.
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
		mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
		b.ReportMetric(mbps(s3Put), "MB/s-s3-put")
		b.ReportMetric(mbps(s3Get), "MB/s-s3-get")
		b.ReportMetric(mbps(filePut), "MB/s-file-put")
		b.ReportMetric(mbps(fileGet), "MB/s-file-get")
		b.ReportMetric(filePut.Seconds()/s3Put.Seconds(), "put-ratio")
		b.ReportMetric(fileGet.Seconds()/s3Get.Seconds(), "get-ratio")
		b.ReportMetric(mbps(httpGet), "MB/s-http-file-get")
		b.ReportMetric(httpGet.Seconds()/s3Get.Seconds(), "get-ratio-to-http")
		b.Logf("%d MiB: PUT %.0f MB/s vs file write+fsync %.0f MB/s (ratio %.2f); GET %.0f MB/s vs file read %.0f MB/s (ratio %.2f); the file over plain net/http %.0f MB/s (ratio %.2f)",
			*objectMiB, mbps(s3Put), mbps(filePut), filePut.Seconds()/s3Put.Seconds(),
			mbps(s3Get), mbps(fileGet), fileGet.Seconds()/s3Get.Seconds(), mbps(httpGet), httpGet.Seconds()/s3Get.Seconds())
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
	start = time.Now()
	obj, err := mc.GetObject(ctx, bucket, "object", minio.GetObjectOptions{})
	if err != nil {
		b.Fatalf("GET: %v", err)
	}
	n, err := io.Copy(io.Discard, obj)
	obj.Close()
	if err != nil {
		b.Fatalf("GET: %v", err)
	}
	if n != size {
		b.Fatalf("GET read %d bytes, want %d", n, size)
	}
	return put, time.Since(start)
}

func timeFile(b *testing.B, path string, data []byte) (time.Duration, time.Duration) {
	start := time.Now()
	if err := writeSynced(path, data); err != nil {
		b.Fatalf("writing %s: %v", path, err)
	}
	put := time.Since(start)
	start = time.Now()
	fh, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, fh)
	fh.Close()
	if err != nil {
		b.Fatalf("reading %s: %v", path, err)
	}
	if n != int64(len(data)) {
		b.Fatal(fmt.Errorf("read %d bytes of %s, want %d", n, path, len(data)))
	}
	return put, time.Since(start)
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
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		b.Fatalf("GET of the file over net/http read %d bytes (want %d): %v", n, size, err)
	}
	return time.Since(start)
}
