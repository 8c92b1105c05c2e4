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
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"pinet.io/pinet/internal/awsauth"
)

// TestMinioChecksums uploads with minio-go's checksums (signed aws-chunked trailers, and
// multipart uploads with composite and full-object checksums it computes itself), and reads
// the checksums back with StatObject and single parts with GetObject.
func TestMinioChecksums(t *testing.T) {
	e := newTestEnv(t)
	c, err := minio.New(e.host, &minio.Options{
		Creds: miniocreds.NewStaticV4(alice.ak, alice.sk, ""), Region: testRegion,
		BucketLookup: minio.BucketLookupPath, TrailingHeaders: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.MakeBucket(ctx, "minio-sums", minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	small := []byte("minio payload")
	e.sawPayloadHash("") // drain
	if _, err := c.PutObject(ctx, "minio-sums", "small", bytes.NewReader(small), int64(len(small)), minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}); err != nil {
		t.Fatal(err)
	}
	if !e.sawPayloadHash(awsauth.StreamingPayloadTrailer) {
		t.Fatal("minio-go did not send its checksum as a signed trailer")
	}
	st, err := c.StatObject(ctx, "minio-sums", "small", minio.StatObjectOptions{Checksum: true})
	if err != nil || st.ChecksumCRC32C != referenceSum(types.ChecksumAlgorithmCrc32c, small) || st.ChecksumMode != checksumFullObject {
		t.Fatalf("StatObject of a CRC32C object = %+v, %v", st, err)
	}
	const partSize = 5 << 20
	whole := bytes.Repeat([]byte("minio multipart "), (2*partSize+12345)/16)
	parts := [][]byte{whole[:partSize], whole[partSize : 2*partSize], whole[2*partSize:]}
	for _, tc := range []struct {
		key  string
		ck   minio.ChecksumType
		alg  types.ChecksumAlgorithm
		mode string
		want string
	}{
		{"full-crc32", minio.ChecksumFullObjectCRC32, types.ChecksumAlgorithmCrc32, checksumFullObject, referenceSum(types.ChecksumAlgorithmCrc32, whole)},
		{"composite-sha256", minio.ChecksumSHA256, types.ChecksumAlgorithmSha256, checksumComposite, composite(types.ChecksumAlgorithmSha256, parts...)},
	} {
		if _, err := c.PutObject(ctx, "minio-sums", tc.key, bytes.NewReader(whole), int64(len(whole)),
			minio.PutObjectOptions{Checksum: tc.ck, PartSize: partSize, DisableContentSha256: true}); err != nil {
			t.Fatalf("multipart PutObject with %s: %v", tc.ck, err)
		}
		st, err := c.StatObject(ctx, "minio-sums", tc.key, minio.StatObjectOptions{Checksum: true})
		got := checksumOf(tc.alg, &st.ChecksumCRC32, &st.ChecksumCRC32C, &st.ChecksumCRC64NVME, &st.ChecksumSHA1, &st.ChecksumSHA256)
		if err != nil || got != tc.want || st.ChecksumMode != tc.mode {
			t.Fatalf("StatObject of %s = %q %q, %v; want %q %s", tc.key, got, st.ChecksumMode, err, tc.want, tc.mode)
		}
		for n, p := range parts {
			opts := minio.GetObjectOptions{PartNumber: n + 1}
			obj, err := c.GetObject(ctx, "minio-sums", tc.key, opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(b, p) {
				t.Fatalf("part %d of %s: %d bytes, %v", n+1, tc.key, len(b), err)
			}
		}
	}
}
