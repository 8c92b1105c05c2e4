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
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// testMasterKey is the SSE-S3 master key of stores made by newSSEEnv.
var testMasterKey = bytes.Repeat([]byte{0x5a}, 32)

func newSSEEnv(t *testing.T) *testEnv {
	return newTestEnv(t, func(c *Config) { c.SSEMasterKey = testMasterKey })
}

// customer is an SSE-C key as the SDK sends it.
type customer struct{ raw []byte }

func newCustomer(b byte) customer { return customer{bytes.Repeat([]byte{b}, 32)} }
func (c customer) key() *string   { return aws.String(base64.StdEncoding.EncodeToString(c.raw)) }
func (c customer) md5() *string {
	sum := md5.Sum(c.raw)
	return aws.String(base64.StdEncoding.EncodeToString(sum[:]))
}

// patternData is n bytes that differ from chunk to chunk.
func patternData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/sseChunk)
	}
	return b
}

// noPlaintextOnDisk fails if any file under dir holds secret.
func noPlaintextOnDisk(t *testing.T, dir string, secrets ...[]byte) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, s) {
				return fmt.Errorf("%s holds %q", path, s[:min(len(s), 16)])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func getRange(t *testing.T, c *s3.Client, in *s3.GetObjectInput, rng string) []byte {
	t.Helper()
	in.Range = aws.String(rng)
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("GetObject %s: %v", rng, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSSECustomerKeys(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "ssec"
	mustCreate(t, c, bucket, "")
	k1, k2 := newCustomer(1), newCustomer(2)
	data := patternData(3*sseChunk + 1234)
	marker := []byte("a plaintext marker that must never reach the disk")
	copy(data[sseChunk-10:], marker)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: k1.key(), SSECustomerKeyMD5: k1.md5()})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	if aws.ToString(put.SSECustomerKeyMD5) != aws.ToString(k1.md5()) || aws.ToString(put.SSECustomerAlgorithm) != "AES256" {
		t.Fatalf("PutObject answered %+v", put)
	}
	noPlaintextOnDisk(t, e.dir, marker, k1.raw, []byte(*k1.key()))

	in := func() *s3.GetObjectInput {
		return &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret"),
			SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: k1.key(), SSECustomerKeyMD5: k1.md5()}
	}
	if got := getRange(t, c, in(), "bytes=0-"); !bytes.Equal(got, data) {
		t.Fatal("the object read back differs")
	}
	for _, r := range [][2]int{{0, 0}, {sseChunk - 5, sseChunk + 5}, {sseChunk, 2 * sseChunk}, {len(data) - 7, len(data) - 1}, {100, 3*sseChunk + 2}} {
		if got := getRange(t, c, in(), fmt.Sprintf("bytes=%d-%d", r[0], r[1])); !bytes.Equal(got, data[r[0]:r[1]+1]) {
			t.Fatalf("range %v differs", r)
		}
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: k1.key(), SSECustomerKeyMD5: k1.md5()})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(data)) || aws.ToString(head.SSECustomerKeyMD5) != aws.ToString(k1.md5()) {
		t.Fatalf("HeadObject = %+v, %v", head, err)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(list.Contents) != 1 || aws.ToInt64(list.Contents[0].Size) != int64(len(data)) {
		t.Fatalf("ListObjectsV2 = %+v, %v", list, err)
	}

	// Without the key, or with another, the object cannot be read.
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret")}); apiCode(err) != CodeInvalidRequest {
		t.Fatalf("GetObject without the key = %v", err)
	}
	wrong := in()
	wrong.SSECustomerKey, wrong.SSECustomerKeyMD5 = k2.key(), k2.md5()
	if _, err := c.GetObject(ctx, wrong); apiCode(err) != CodeAccessDenied {
		t.Fatalf("GetObject with another key = %v", err)
	}
	badMD5 := in()
	badMD5.SSECustomerKeyMD5 = k2.md5()
	if _, err := c.GetObject(ctx, badMD5); apiCode(err) != CodeInvalidArgument {
		t.Fatalf("GetObject with a wrong key MD5 = %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("secret")}); err == nil {
		t.Fatal("HeadObject without the key succeeded")
	}

	// Copies: to another customer key, and to no encryption; each needs the source's key.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy"), CopySource: aws.String(bucket + "/secret"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: k2.key(), SSECustomerKeyMD5: k2.md5()}); apiCode(err) != CodeInvalidRequest {
		t.Fatalf("CopyObject without the source's key = %v", err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy"), CopySource: aws.String(bucket + "/secret"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: k1.key(), CopySourceSSECustomerKeyMD5: k1.md5(),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: k2.key(), SSECustomerKeyMD5: k2.md5()}); err != nil {
		t.Fatalf("CopyObject to another key: %v", err)
	}
	cin := in()
	cin.Key, cin.SSECustomerKey, cin.SSECustomerKeyMD5 = aws.String("copy"), k2.key(), k2.md5()
	if got := getRange(t, c, cin, "bytes=0-"); !bytes.Equal(got, data) {
		t.Fatal("the copy differs")
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("plain"), CopySource: aws.String(bucket + "/secret"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: k1.key(), CopySourceSSECustomerKeyMD5: k1.md5()}); err != nil {
		t.Fatalf("CopyObject to plaintext: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("plain")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("the decrypted copy differs")
	}
	// Customer keys on an object that has none are refused.
	pin := in()
	pin.Key = aws.String("plain")
	if _, err := c.GetObject(ctx, pin); apiCode(err) != CodeInvalidRequest {
		t.Fatalf("GetObject of a plain object with a key = %v", err)
	}
}

func TestSSECRefusals(t *testing.T) {
	e := newSSEEnv(t)
	c := sdkClient(e, alice)
	const bucket = "ssec-refusals"
	mustCreate(t, c, bucket, "")
	k := newCustomer(7)
	md5k := *k.md5()
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		code   string
	}{
		{"no key", http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"}}, 400, CodeInvalidArgument},
		{"no algorithm", http.Header{"X-Amz-Server-Side-Encryption-Customer-Key": {*k.key()}, "X-Amz-Server-Side-Encryption-Customer-Key-Md5": {md5k}}, 400, CodeInvalidArgument},
		{"bad algorithm", http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"DES"}, "X-Amz-Server-Side-Encryption-Customer-Key": {*k.key()}, "X-Amz-Server-Side-Encryption-Customer-Key-Md5": {md5k}}, 400, CodeInvalidEncryptionAlgorithm},
		{"short key", http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"}, "X-Amz-Server-Side-Encryption-Customer-Key": {base64.StdEncoding.EncodeToString([]byte("short"))}, "X-Amz-Server-Side-Encryption-Customer-Key-Md5": {md5k}}, 400, CodeInvalidArgument},
		{"no MD5", http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"}, "X-Amz-Server-Side-Encryption-Customer-Key": {*k.key()}}, 400, CodeInvalidArgument},
		{"wrong MD5", http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"}, "X-Amz-Server-Side-Encryption-Customer-Key": {*k.key()}, "X-Amz-Server-Side-Encryption-Customer-Key-Md5": {*newCustomer(8).md5()}}, 400, CodeInvalidArgument},
		{"both kinds", http.Header{"X-Amz-Server-Side-Encryption": {"AES256"}, "X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"}, "X-Amz-Server-Side-Encryption-Customer-Key": {*k.key()}, "X-Amz-Server-Side-Encryption-Customer-Key-Md5": {md5k}}, 400, CodeInvalidArgument},
		{"kms", http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}}, 501, CodeNotImplemented},
		{"unknown", http.Header{"X-Amz-Server-Side-Encryption": {"rot13"}}, 400, CodeInvalidArgument},
	} {
		res := e.do(t, alice, rawRequest{method: "PUT", path: "/" + bucket + "/k", header: tc.header, body: []byte("data")})
		if res.status != tc.status {
			t.Fatalf("%s: %d %s", tc.name, res.status, res.body)
		}
		expectError(t, res, "PUT", tc.status, tc.code)
		res = e.do(t, alice, rawRequest{method: "POST", path: "/" + bucket + "/k", query: map[string][]string{"uploads": {""}}, header: tc.header})
		expectError(t, res, "POST", tc.status, tc.code)
	}
	if got := keysOf(t, c, bucket); len(got) != 0 {
		t.Fatalf("refused writes left %q", got)
	}
	ups, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("refused uploads left %+v, %v", ups.Uploads, err)
	}
}

func TestSSEMultipart(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "sse-multipart"
	mustCreate(t, c, bucket, "")
	k := newCustomer(3)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("big"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: k.key(), SSECustomerKeyMD5: k.md5()})
	if err != nil {
		t.Fatal(err)
	}
	data := patternData(5<<20 + 3*sseChunk + 99)
	cut := 5 << 20
	// A part without the upload's key is refused and leaves no part.
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("big"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(data[:cut])}); apiCode(err) != CodeInvalidRequest {
		t.Fatalf("UploadPart without the key = %v", err)
	}
	var parts []types.CompletedPart
	for i, chunk := range [][]byte{data[:cut], data[cut:]} {
		p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("big"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(chunk),
			SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: k.key(), SSECustomerKeyMD5: k.md5()})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: p.ETag})
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("big"), UploadId: up.UploadId})
	if err != nil || len(lp.Parts) != 2 || aws.ToInt64(lp.Parts[0].Size) != int64(cut) {
		t.Fatalf("ListParts = %+v, %v", lp, err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("big"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	in := func() *s3.GetObjectInput {
		return &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("big"),
			SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: k.key(), SSECustomerKeyMD5: k.md5()}
	}
	if got := getRange(t, c, in(), "bytes=0-"); !bytes.Equal(got, data) {
		t.Fatal("the assembled object differs")
	}
	if got := getRange(t, c, in(), fmt.Sprintf("bytes=%d-%d", cut-100, cut+100)); !bytes.Equal(got, data[cut-100:cut+101]) {
		t.Fatal("a range across the parts differs")
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || aws.ToInt64(list.Contents[0].Size) != int64(len(data)) {
		t.Fatalf("ListObjectsV2 = %+v, %v", list.Contents, err)
	}
	// An upload part copied from an encrypted object into an SSE-S3 upload.
	up2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("recopied"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String("recopied"), UploadId: up2.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String(bucket + "/big"), CopySourceRange: aws.String(fmt.Sprintf("bytes=10-%d", cut+500)),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: k.key(), CopySourceSSECustomerKeyMD5: k.md5()})
	if err != nil {
		t.Fatalf("UploadPartCopy: %v", err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("recopied"), UploadId: up2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("recopied")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, data[10:cut+501]) || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("the recopied object differs (%d bytes, encryption %q)", len(got), out.ServerSideEncryption)
	}
}

func TestSSES3AndBucketDefault(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	c := sdkClient(e, alice)
	const bucket = "sse-s3"
	mustCreate(t, c, bucket, "")
	marker := []byte("another plaintext marker kept off the disk")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), Body: bytes.NewReader(marker),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)}); apiCode(err) != CodeNoSuchEncryptionConfiguration {
		t.Fatalf("GetBucketEncryption without one = %v", err)
	}
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(bucket),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms}}}}}); apiCode(err) != CodeNotImplemented {
		t.Fatalf("PutBucketEncryption with KMS = %v", err)
	}
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(bucket),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}}); err != nil {
		t.Fatal(err)
	}
	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
	if err != nil || enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatalf("GetBucketEncryption = %+v, %v", enc, err)
	}
	if _, err := sdkClient(e, bob).GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob's GetBucketEncryption = %v", err)
	}
	mustPut(t, c, bucket, "b", string(marker)+" by default", "")
	for _, k := range []string{"a", "b"} {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.HasPrefix(got, marker) || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
			t.Fatalf("%s read back as %q, encryption %q", k, got, out.ServerSideEncryption)
		}
	}
	noPlaintextOnDisk(t, e.dir, marker, testMasterKey)
	if _, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("c"), Body: strings.NewReader("plain")})
	if err != nil || out.ServerSideEncryption != "" {
		t.Fatalf("PutObject after DeleteBucketEncryption = %+v, %v", out, err)
	}

	// Without a master key, SSE-S3 is refused and nothing is written.
	bare := newTestEnv(t)
	bc := sdkClient(bare, alice)
	mustCreate(t, bc, bucket, "")
	if _, err := bc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); apiCode(err) != CodeNotImplemented {
		t.Fatalf("SSE-S3 without a master key = %v", err)
	}
	if _, err := bc.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(bucket),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}}); apiCode(err) != CodeNotImplemented {
		t.Fatalf("PutBucketEncryption without a master key = %v", err)
	}
	if got := keysOf(t, bc, bucket); len(got) != 0 {
		t.Fatalf("refused writes left %q", got)
	}
}

func TestSSEMinio(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	c := minioClient(t, e, alice)
	const bucket = "minio-sse"
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatal(err)
	}
	data := patternData(2*sseChunk + 17)
	if _, err := c.PutObject(ctx, bucket, "obj", bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE()}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	st, err := c.StatObject(ctx, bucket, "obj", minio.StatObjectOptions{})
	if err != nil || st.Size != int64(len(data)) {
		t.Fatalf("StatObject = %+v, %v", st, err)
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(sseChunk-3, sseChunk+3); err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx, bucket, "obj", opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, data[sseChunk-3:sseChunk+4]) {
		t.Fatalf("range read = %d bytes, %v", len(got), err)
	}
}

const ssePython = `
import json, sys, os
import boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
key = os.urandom(32)
out = {}
s3.create_bucket(Bucket="py-sse")
s3.put_object(Bucket="py-sse", Key="c", Body=b"customer data", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
out["c"] = s3.get_object(Bucket="py-sse", Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)["Body"].read().decode()
try:
    s3.get_object(Bucket="py-sse", Key="c")
except ClientError as e:
    out["nokey"] = e.response["Error"]["Code"]
print(json.dumps(out))
`

func TestSSEBoto3AndCLI(t *testing.T) {
	e := newSSEEnv(t)
	cmd := exec.Command("python3", "-c", ssePython, e.url)
	cmd.Env = clientEnv(t, alice)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, raw)
	}
	var out struct{ C, Nokey string }
	if err := json.Unmarshal(raw, &out); err != nil || out.C != "customer data" || out.Nokey != CodeInvalidRequest {
		t.Fatalf("boto3 saw %s (%v)", raw, err)
	}
	src := filepath.Join(t.TempDir(), "file")
	data := patternData(300 << 10)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, e, alice, "s3", "cp", "--sse", "AES256", src, "s3://py-sse/cli")
	head := runCLI(t, e, alice, "s3api", "head-object", "--bucket", "py-sse", "--key", "cli")
	if !strings.Contains(head, `"ServerSideEncryption": "AES256"`) || !strings.Contains(head, fmt.Sprintf(`"ContentLength": %d`, len(data))) {
		t.Fatalf("head-object = %s", head)
	}
	dst := filepath.Join(t.TempDir(), "back")
	runCLI(t, e, alice, "s3", "cp", "s3://py-sse/cli", dst)
	if back, err := os.ReadFile(dst); err != nil || !bytes.Equal(back, data) {
		t.Fatalf("the CLI read back %d bytes, %v", len(back), err)
	}
}
