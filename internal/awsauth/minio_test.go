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

package awsauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func newMinioClient(t *testing.T, srv *authServer, creds *credentials.Credentials, trailing bool) *minio.Client {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds: creds, Region: testRegion, TrailingHeaders: trailing, MaxRetries: 1,
		Secure: u.Scheme == "https", Transport: srv.Client().Transport,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMinioPutObject uploads with minio-go over plain HTTP in each payload form it uses; the
// handler decodes and checks the payload through Identity.Body and serves it back.
func TestMinioPutObject(t *testing.T) {
	data := make([]byte, 200<<10+17) // several 64 KiB chunks and a short one
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	v4 := credentials.NewStaticV4(testKey, testSecret, "")
	for _, tc := range []struct {
		name        string
		creds       *credentials.Credentials
		tls         bool
		trailing    bool
		opts        minio.PutObjectOptions
		payloadHash string
		method      string
		header      string // a header the request must carry
	}{
		{name: "streaming", creds: v4, payloadHash: StreamingPayload, header: "X-Amz-Decoded-Content-Length"},
		{name: "streaming with content-md5", creds: v4, opts: minio.PutObjectOptions{SendContentMd5: true}, payloadHash: StreamingPayload, header: "Content-Md5"},
		{name: "signed trailer crc32c", creds: v4, trailing: true, opts: minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}, payloadHash: StreamingPayloadTrailer, header: "X-Amz-Trailer"},
		{name: "signed trailer crc64nvme", creds: v4, trailing: true, opts: minio.PutObjectOptions{Checksum: minio.ChecksumCRC64NVME}, payloadHash: StreamingPayloadTrailer, header: "X-Amz-Trailer"},
		{name: "signed trailer sha256", creds: v4, trailing: true, opts: minio.PutObjectOptions{Checksum: minio.ChecksumSHA256}, payloadHash: StreamingPayloadTrailer, header: "X-Amz-Trailer"},
		{name: "unsigned trailer", creds: v4, trailing: true, opts: minio.PutObjectOptions{DisableContentSha256: true, Checksum: minio.ChecksumCRC32}, payloadHash: StreamingUnsignedPayloadTrailer, header: "X-Amz-Trailer"},
		{name: "unsigned trailer over tls", creds: v4, tls: true, trailing: true, opts: minio.PutObjectOptions{Checksum: minio.ChecksumSHA1}, payloadHash: StreamingUnsignedPayloadTrailer, header: "X-Amz-Trailer"},
		{name: "unsigned payload", creds: v4, opts: minio.PutObjectOptions{DisableContentSha256: true}, payloadHash: UnsignedPayload},
		{name: "unsigned payload declaring its checksum", creds: v4, trailing: true, opts: minio.PutObjectOptions{DisableContentSha256: true}, payloadHash: UnsignedPayload, header: "X-Amz-Checksum-Algorithm"},
		{name: "signature version 2", creds: credentials.NewStaticV2(testKey, testSecret, ""), opts: minio.PutObjectOptions{SendContentMd5: true}, method: MethodSigV2Header, header: "Content-Md5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAuthServer(t, ServiceS3, tc.tls)
			c := newMinioClient(t, srv, tc.creds, tc.trailing)
			ctx := context.Background()
			name := "images/ünïcode name (1).img"
			tc.opts.ContentType = "application/octet-stream"
			if _, err := c.PutObject(ctx, "bucket", name, bytes.NewReader(data), int64(len(data)), tc.opts); err != nil {
				t.Fatal(err)
			}
			o := srv.last(t)
			expectOK(t, o)
			if tc.method == "" {
				tc.method = MethodSigV4Header
			}
			if o.id.PayloadHash != tc.payloadHash || o.id.Method != tc.method {
				t.Errorf("payload hash %q, method %q; want %q, %q", o.id.PayloadHash, o.id.Method, tc.payloadHash, tc.method)
			}
			if tc.header != "" && o.header.Get(tc.header) == "" {
				t.Errorf("the upload carried no %s header: %v", tc.header, o.header)
			}
			if !bytes.Equal(o.body, data) {
				t.Fatalf("the handler decoded %d bytes, want the %d sent", len(o.body), len(data))
			}

			obj, err := c.GetObject(ctx, "bucket", name, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(back, data) {
				t.Errorf("GetObject read %d bytes (%v), want %d", len(back), err, len(data))
			}
			expectOK(t, srv.last(t))
		})
	}
}

// TestMinioPresignedGet fetches an object through minio-go's presigned URLs, SigV4 and SigV2.
func TestMinioPresignedGet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		creds  *credentials.Credentials
		method string
	}{
		{name: "v4", creds: credentials.NewStaticV4(testKey, testSecret, ""), method: MethodSigV4Query},
		{name: "v2", creds: credentials.NewStaticV2(testKey, testSecret, ""), method: MethodSigV2Query},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAuthServer(t, ServiceS3, false)
			srv.objects["/bucket/dir/report 2026.txt"] = []byte("presigned content\n")
			c := newMinioClient(t, srv, tc.creds, false)
			params := url.Values{"response-content-type": {"text/plain"}, "response-content-disposition": {`attachment; filename="r.txt"`}}
			u, err := c.PresignedGetObject(context.Background(), "bucket", "dir/report 2026.txt", 10*time.Minute, params)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "presigned content\n" {
				t.Errorf("status %d, body %q", resp.StatusCode, body)
			}
			o := srv.last(t)
			expectOK(t, o)
			if o.id.Method != tc.method {
				t.Errorf("method %q, want %q", o.id.Method, tc.method)
			}

			// The same URL with the key changed is refused.
			tampered := *u
			tampered.Path += "x"
			resp, err = srv.Client().Get(tampered.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			expectKind(t, srv.last(t), ErrSignatureMismatch)
		})
	}
}
