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

package capture_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"pinet.io/pinet/internal/capture"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func TestNames(t *testing.T) {
	prefix := capture.Prefix("ami-0123456789abcdef0", "uid-1")
	for key, want := range map[string]bool{
		prefix + "result":                                true,
		capture.PartKey(prefix, 0):                       true,
		capture.PartKey(prefix, 123456):                  true,
		prefix + "part-1":                                false,
		prefix + "part-00000a":                           false,
		prefix + "part-0000000":                          false,
		prefix + "results":                               false,
		prefix:                                           false,
		prefix + "x/result":                              false,
		"captures/ami-0123456789abcdef0.uid-2/result":    false,
		"captures/ami-0123456789abcdef0.uid-1/../result": false,
	} {
		if got := capture.Names(prefix, key); got != want {
			t.Errorf("Names(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestUploadAndRead writes a disk of two parts and its result to a real object store, reads the
// bytes back as one stream, and refuses records and parts that do not agree.
func TestUploadAndRead(t *testing.T) {
	ctx := context.Background()
	c, err := testcloud.Start(env, testcloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.AddProject(t, "capture")
	mc := c.S3(t, c.AddUser(t, "capturer", false, "capture"))
	const bucket = "captures-test"
	if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	disk := make([]byte, capture.PartBytes+4096)
	if _, err := rand.Read(disk); err != nil {
		t.Fatal(err)
	}
	prefix := capture.Prefix("ami-0123456789abcdef0", "uid-1")
	if _, err := capture.ReadResult(ctx, mc, bucket, prefix); !errors.Is(err, capture.ErrNoResult) {
		t.Fatalf("before the upload: %v", err)
	}
	res, err := capture.Upload(ctx, mc, bucket, prefix, bytes.NewReader(disk), int64(len(disk)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := capture.ReadResult(ctx, mc, bucket, prefix)
	if err != nil || got != res || got.Parts != 2 || got.SizeBytes != int64(len(disk)) {
		t.Fatalf("result %+v, %v; uploaded %+v", got, err, res)
	}
	read := func(r capture.Result) ([]byte, error) {
		parts := capture.Open(ctx, mc, bucket, prefix, r)
		defer parts.Close()
		data, err := io.ReadAll(parts)
		if bad := parts.Bad(); (bad != nil) != (err != nil) || (bad != nil && !errors.Is(bad, capture.ErrBadResult)) {
			t.Errorf("reading %+v: error %v, but Bad says %v", r, err, bad)
		}
		return data, err
	}
	back, err := read(got)
	if err != nil || !bytes.Equal(back, disk) {
		t.Fatalf("read back %d bytes (%v), want the %d uploaded", len(back), err, len(disk))
	}
	// A record claiming fewer or more bytes or parts than are there ends the stream in an error.
	for r, says := range map[capture.Result]string{
		{Parts: 2, SizeBytes: capture.PartBytes + 100}:    "longer than its record says",
		{Parts: 2, SizeBytes: capture.PartBytes + 8192}:   "shorter than its record says",
		{Parts: 3, SizeBytes: 2*capture.PartBytes + 4096}: "shorter than its record says",
	} {
		if _, err := read(r); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("reading %+v: %v, want %q", r, err, says)
		}
	}
	// A part gone from the store.
	if err := mc.RemoveObject(ctx, bucket, capture.PartKey(prefix, 1), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := read(got); err == nil || !strings.Contains(err.Error(), "part 1 of the copy is missing") {
		t.Errorf("reading with a part gone: %v", err)
	}

	// The node's failure is read back; a record that does not describe its parts is refused.
	failed := capture.Prefix("ami-0123456789abcdef1", "uid-2")
	if err := capture.Fail(ctx, mc, bucket, failed, "no root disk"); err != nil {
		t.Fatal(err)
	}
	if r, err := capture.ReadResult(ctx, mc, bucket, failed); err != nil || r.Failed != "no root disk" {
		t.Fatalf("failure record %+v, %v", r, err)
	}
	forged := capture.Prefix("ami-0123456789abcdef2", "uid-3")
	for _, body := range []string{`{"parts":1,"sizeBytes":999999999999}`, `{"parts":0,"sizeBytes":0}`, `not json`} {
		if _, err := mc.PutObject(ctx, bucket, capture.ResultKey(forged), strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := capture.ReadResult(ctx, mc, bucket, forged); !errors.Is(err, capture.ErrBadResult) {
			t.Errorf("record %s: %v", body, err)
		}
	}

	for _, p := range []string{prefix, failed, forged} {
		if err := capture.Remove(ctx, mc, bucket, p); err != nil {
			t.Fatal(err)
		}
	}
	for obj := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "captures/", Recursive: true}) {
		t.Errorf("left after Remove: %s %v", obj.Key, obj.Err)
	}
}
