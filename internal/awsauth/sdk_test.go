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
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func sdkCredentials(secret string) aws.Credentials {
	return aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret}
}

func hexSHA256Bytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sdkSign signs r in its Authorization header with the SDK's signer, as of at.
func sdkSign(t *testing.T, r *http.Request, payloadHash, service string, at time.Time, secret string) {
	t.Helper()
	sdkSignAs(t, r, payloadHash, service, at, testKey, secret)
}

// sdkSignAs signs r with any key.
func sdkSignAs(t *testing.T, r *http.Request, payloadHash, service string, at time.Time, key, secret string) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash, service, testRegion, at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == ServiceS3 })
	if err != nil {
		t.Fatal(err)
	}
}

// sdkPresign presigns r with the SDK's signer for the given validity, returning the request
// to send.
func sdkPresign(t *testing.T, r *http.Request, payloadHash, service string, at time.Time, expires time.Duration) *http.Request {
	t.Helper()
	q := r.URL.Query()
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(expires/time.Second), 10))
	r.URL.RawQuery = q.Encode()
	signed, headers, err := v4.NewSigner().PresignHTTP(context.Background(), sdkCredentials(testSecret), r, payloadHash, service, testRegion, at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == ServiceS3 })
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest(r.Method, signed, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k != "Host" {
			out.Header[k] = v
		}
	}
	return out
}

func crc32Base64(data []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data)))
}

func send(t *testing.T, c *http.Client, r *http.Request) *http.Response {
	t.Helper()
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestSDKSignerEC2 sends requests signed by the SDK's signer for EC2 in each form the shim sees.
func TestSDKSignerEC2(t *testing.T) {
	srv := newAuthServer(t, ServiceEC2, false)
	form := "Action=DescribeRegions&Version=2016-11-15&RegionName.1=us-east-1&Filter.1.Name=tag%3AName&Filter.1.Value.1=a+b%2Fc"

	t.Run("form post", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sdkSign(t, r, hexSHA256Bytes([]byte(form)), ServiceEC2, time.Now(), testSecret)
		send(t, srv.Client(), r)
		o := srv.last(t)
		expectOK(t, o)
		if o.id.Method != MethodSigV4Header || o.id.Region != testRegion || o.id.PayloadHash != hexSHA256Bytes([]byte(form)) {
			t.Errorf("identity %+v", o.id)
		}
		if string(o.body) != form {
			t.Errorf("the handler read %q after Verify, want %q", o.body, form)
		}
	})
	t.Run("query get", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, srv.URL+"/?"+form+"&Empty=&Unicode=%C3%BC%20%E2%82%AC", nil)
		sdkSign(t, r, emptySHA256, ServiceEC2, time.Now(), testSecret)
		send(t, srv.Client(), r)
		expectOK(t, srv.last(t))
	})
	t.Run("presigned", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, srv.URL+"/?Action=DescribeRegions&Version=2016-11-15", nil)
		send(t, srv.Client(), sdkPresign(t, r, emptySHA256, ServiceEC2, time.Now(), 5*time.Minute))
		o := srv.last(t)
		expectOK(t, o)
		if o.id.Method != MethodSigV4Query {
			t.Errorf("method %q", o.id.Method)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sdkSign(t, r, hexSHA256Bytes([]byte(form)), ServiceEC2, time.Now(), wrongSecret)
		if resp := send(t, srv.Client(), r); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d", resp.StatusCode)
		}
		expectKind(t, srv.last(t), ErrSignatureMismatch)
	})
}

// TestSDKSignerS3 signs S3 requests with the SDK's signer: the path is signed as sent.
func TestSDKSignerS3(t *testing.T) {
	srv := newAuthServer(t, ServiceS3, false)
	data := []byte("hello, world\n")
	key := "/bucket/dir/a b+c=d!(x)*'~ü€.txt"
	target := func() *url.URL {
		u, _ := url.Parse(srv.URL)
		u.Path, u.RawPath = key, escapeAWS(key, true)
		return u
	}

	t.Run("put with hex payload", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPut, target().String(), bytes.NewReader(data))
		r.Header.Set("X-Amz-Content-Sha256", hexSHA256Bytes(data))
		r.Header.Set("X-Amz-Meta-Color", "  blue   and  green ")
		r.Header.Set("Content-Type", "text/plain")
		sdkSign(t, r, hexSHA256Bytes(data), ServiceS3, time.Now(), testSecret)
		if resp := send(t, srv.Client(), r); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		o := srv.last(t)
		expectOK(t, o)
		if !bytes.Equal(o.body, data) || o.id.PayloadHash != hexSHA256Bytes(data) {
			t.Errorf("body %q, identity %+v", o.body, o.id)
		}
	})
	t.Run("presigned get", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, target().String()+"?response-content-type=text%2Fplain", nil)
		resp := send(t, srv.Client(), sdkPresign(t, r, UnsignedPayload, ServiceS3, time.Now(), time.Hour))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		o := srv.last(t)
		expectOK(t, o)
		if o.id.Method != MethodSigV4Query || o.id.PayloadHash != UnsignedPayload {
			t.Errorf("identity %+v", o.id)
		}
	})
	t.Run("tampered body", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPut, target().String(), bytes.NewReader([]byte("hello, World\n")))
		r.Header.Set("X-Amz-Content-Sha256", hexSHA256Bytes(data))
		sdkSign(t, r, hexSHA256Bytes(data), ServiceS3, time.Now(), testSecret)
		if resp := send(t, srv.Client(), r); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d", resp.StatusCode)
		}
		expectKind(t, srv.last(t), ErrPayloadMismatch)
	})
}

// sdkConfig is the SDK's default configuration, as LoadDefaultConfig resolves it (with
// checksums computed whenever an operation supports them), aimed at srv.
func sdkConfig(t *testing.T, srv *authServer, secret string) aws.Config {
	t.Helper()
	// The machine's AWS settings (a CA bundle, a profile, endpoints) are not the test's.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testKey, secret, "")),
		config.WithHTTPClient(srv.Client()),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSDKEC2Client drives the server with the SDK's EC2 client.
func TestSDKEC2Client(t *testing.T) {
	srv := newAuthServer(t, ServiceEC2, false)
	client := ec2.NewFromConfig(sdkConfig(t, srv, testSecret), func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	out, err := client.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{RegionNames: []string{"us-east-1", "a b/ü"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Regions) != 1 || aws.ToString(out.Regions[0].RegionName) != testRegion {
		t.Errorf("regions %+v", out.Regions)
	}
	o := srv.last(t)
	expectOK(t, o)
	if o.id.Method != MethodSigV4Header || o.id.Region != testRegion || !strings.Contains(string(o.body), "Action=DescribeRegions") {
		t.Errorf("identity %+v, body %q", o.id, o.body)
	}

	bad := ec2.NewFromConfig(sdkConfig(t, srv, wrongSecret), func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	if _, err := bad.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{}); err == nil || !strings.Contains(err.Error(), "AuthFailure") {
		t.Errorf("with the wrong secret: %v, want AuthFailure", err)
	}
	expectKind(t, srv.last(t), ErrSignatureMismatch)
}

// TestSDKS3Client drives the server with the SDK's S3 client: over HTTP it signs the payload
// hash and sends a CRC32 header; over TLS its default is an unsigned aws-chunked payload with
// a CRC32 trailer.
func TestSDKS3Client(t *testing.T) {
	data := make([]byte, 300<<10)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		tls         bool
		payloadHash string
		// checksum is the header that carries the CRC32: a header or the trailer's name.
		checksum, checksumValue string
	}{
		{name: "http", payloadHash: hexSHA256Bytes(data), checksum: "X-Amz-Checksum-Crc32", checksumValue: crc32Base64(data)},
		{name: "tls", tls: true, payloadHash: StreamingUnsignedPayloadTrailer, checksum: "X-Amz-Trailer", checksumValue: "x-amz-checksum-crc32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAuthServer(t, ServiceS3, tc.tls)
			client := s3.NewFromConfig(sdkConfig(t, srv, testSecret), func(o *s3.Options) {
				o.BaseEndpoint = aws.String(srv.URL)
				o.UsePathStyle = true
			})
			ctx := context.Background()
			key := "images/hello wörld+1.bin"
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
				t.Fatal(err)
			}
			o := srv.last(t)
			expectOK(t, o)
			if o.id.PayloadHash != tc.payloadHash || !bytes.Equal(o.body, data) {
				t.Errorf("payload hash %q (want %q), %d bytes decoded (want %d)", o.id.PayloadHash, tc.payloadHash, len(o.body), len(data))
			}
			if got := o.header.Get(tc.checksum); got != tc.checksumValue {
				t.Errorf("%s: %q, want %q", tc.checksum, got, tc.checksumValue)
			}
			got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil || !bytes.Equal(back, data) {
				t.Errorf("GetObject returned %d bytes (%v), want the %d put", len(back), err, len(data))
			}
			expectOK(t, srv.last(t))

			bad := s3.NewFromConfig(sdkConfig(t, srv, wrongSecret), func(o *s3.Options) {
				o.BaseEndpoint = aws.String(srv.URL)
				o.UsePathStyle = true
			})
			if _, err := bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader(data)}); err == nil {
				t.Error("PutObject with the wrong secret succeeded")
			}
			expectKind(t, srv.last(t), ErrSignatureMismatch)
		})
	}
}
