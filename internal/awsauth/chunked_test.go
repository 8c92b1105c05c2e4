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
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// minioHasher adapts a hash to the interface minio-go's signer takes.
type minioHasher struct{ hash.Hash }

func (minioHasher) Close() {}

// chunkData is two full 64 KiB chunks and a short one, as minio-go cuts them.
func chunkData() []byte {
	data := make([]byte, 2*64<<10+1000)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	return data
}

func crc32cBase64(data []byte) string {
	sum := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
}

// minioStreaming returns the server side of a PUT that minio-go's signer streams with chunk
// signatures (and a signed trailer when given one), and its encoded body.
func minioStreaming(t *testing.T, data []byte, trailer http.Header) (*http.Request, []byte) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPut, "http://s3.pinet.test:3333/bucket/key", bytes.NewReader(data))
	r.Trailer = trailer
	r = signer.StreamingSignV4(r, testKey, testSecret, "", testRegion, int64(len(data)), time.Now().UTC(), minioHasher{sha256.New()})
	encoded, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return withBody(overTheWire(t, withBody(r, encoded)), encoded), encoded
}

// minioUnsignedTrailer returns the server side of a PUT signed by minio-go with an unsigned
// aws-chunked payload and a trailer, and its encoded body.
func minioUnsignedTrailer(t *testing.T, data []byte, trailer http.Header) (*http.Request, []byte) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPut, "http://s3.pinet.test:3333/bucket/key", bytes.NewReader(data))
	r.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
	r = signer.SignV4Trailer(*r, testKey, testSecret, "", testRegion, trailer)
	encoded, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return withBody(overTheWire(t, withBody(r, encoded)), encoded), encoded
}

// withBody gives r another body, keeping its headers.
func withBody(r *http.Request, body []byte) *http.Request {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Del("Content-Length")
	return r
}

// decode verifies r and reads its payload through Identity.Body.
func decode(t *testing.T, r *http.Request) ([]byte, error) {
	t.Helper()
	v := &Verifier{Store: testStore(), Service: ServiceS3}
	id, err := v.Verify(r)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	body, err := id.Body(r)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(body)
}

// TestChunkedForms decodes each aws-chunked form, including trailer layouts other clients use.
func TestChunkedForms(t *testing.T) {
	data := chunkData()
	trailer := http.Header{"X-Amz-Checksum-Crc32c": {crc32cBase64(data)}}
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) *http.Request
		data  []byte
	}{
		{name: "signed chunks", data: data, build: func(t *testing.T) *http.Request { r, _ := minioStreaming(t, data, nil); return r }},
		{name: "signed chunks, empty payload", data: []byte{}, build: func(t *testing.T) *http.Request { r, _ := minioStreaming(t, nil, nil); return r }},
		{name: "signed trailer", data: data, build: func(t *testing.T) *http.Request { r, _ := minioStreaming(t, data, trailer); return r }},
		{name: "signed trailer, CRLF after each field", data: data, build: func(t *testing.T) *http.Request {
			// The layout of AWS's documentation: no empty line before the signature.
			r, enc := minioStreaming(t, data, trailer)
			return withBody(r, bytes.Replace(enc, []byte("\n\r\nx-amz-trailer-signature"), []byte("\r\nx-amz-trailer-signature"), 1))
		}},
		{name: "unsigned trailer", data: data, build: func(t *testing.T) *http.Request { r, _ := minioUnsignedTrailer(t, data, trailer); return r }},
		{name: "unsigned trailer, one final CRLF", data: data, build: func(t *testing.T) *http.Request {
			r, enc := minioUnsignedTrailer(t, data, trailer)
			return withBody(r, bytes.Replace(enc, []byte("\n\r\n\r\n"), []byte("\r\n\r\n"), 1))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(t, tc.build(t))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(tc.data))
			}
		})
	}
}

// chunkBreak is a broken aws-chunked request and what its error must name.
type chunkBreak struct {
	name    string
	build   func(t *testing.T) *http.Request
	mention string
}

// TestChunkedRefusals breaks a valid stream in every way the decoder must notice.
func TestChunkedRefusals(t *testing.T) {
	data := chunkData()
	for _, tc := range append(framingBreaks(data), trailerBreaks(data)...) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(t, tc.build(t))
			if err == nil {
				t.Fatalf("decoded %d bytes without error", len(got))
			}
			assertKind(t, err, ErrPayloadMismatch)
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("message %q does not mention %q", err, tc.mention)
			}
		})
	}
}

// framingBreaks break the chunks: their signatures, sizes and order, and the stream's end.
func framingBreaks(data []byte) []chunkBreak {
	chunk1 := 64 << 10
	return []chunkBreak{
		{name: "bad chunk signature", mention: "signature of chunk 1", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			i := bytes.Index(enc, []byte("chunk-signature=")) + len("chunk-signature=")
			enc[i] = changeHex(string(enc[i : i+1]))[0]
			return withBody(r, enc)
		}},
		{name: "changed data", mention: "signature of chunk 3", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			enc[bytes.LastIndex(enc, []byte("chunk-signature="))-500] ^= 1
			return withBody(r, enc)
		}},
		{name: "chunks swapped", mention: "signature of chunk 1", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, append(bytes.Repeat([]byte{'a'}, chunk1), bytes.Repeat([]byte{'b'}, chunk1)...), nil)
			n := bytes.Index(enc[1:], []byte("10000;chunk-signature")) + 1
			swapped := append(append(append([]byte{}, enc[n:2*n]...), enc[:n]...), enc[2*n:]...)
			return withBody(r, swapped)
		}},
		{name: "truncated inside a chunk", mention: "ends inside chunk 2", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			return withBody(r, enc[:len(enc)/2])
		}},
		{name: "truncated before the final chunk", mention: "truncated", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			return withBody(r, enc[:bytes.LastIndex(enc, []byte("0;chunk-signature"))])
		}},
		{name: "no final CRLF", mention: "truncated", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			return withBody(r, enc[:len(enc)-2])
		}},
		{name: "cut by the connection", mention: "unexpected EOF", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(enc[:1000]), errReader{io.ErrUnexpectedEOF}))
			return r
		}},
		{name: "chunk longer than declared", mention: "longer than its declared size", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			i := bytes.Index(enc[1:], []byte("\r\n10000;")) + 1
			return withBody(r, append(append(append([]byte{}, enc[:i]...), 'x'), enc[i:]...))
		}},
		{name: "bad chunk size", mention: "not hexadecimal", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			return withBody(r, append([]byte("-"), enc[1:]...))
		}},
		{name: "data after the final chunk", mention: "unexpected trailer", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, nil)
			return withBody(r, append(enc, "x-amz-checksum-crc32:AAAAAA==\r\n\r\n"...))
		}},
	}
}

// trailerBreaks break the trailer and what it declares.
func trailerBreaks(data []byte) []chunkBreak {
	trailer := http.Header{"X-Amz-Checksum-Crc32c": {crc32cBase64(data)}}
	badTrailer := http.Header{"X-Amz-Checksum-Crc32c": {crc32cBase64(data[1:])}}
	return []chunkBreak{
		{name: "bad trailer signature", mention: "trailer signature", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, trailer)
			i := bytes.Index(enc, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
			enc[i] = changeHex(string(enc[i : i+1]))[0]
			return withBody(r, enc)
		}},
		{name: "trailer changed after signing", mention: "trailer signature", build: func(t *testing.T) *http.Request {
			r, enc := minioStreaming(t, data, trailer)
			return withBody(r, bytes.Replace(enc, []byte(trailer.Get("X-Amz-Checksum-Crc32c")), []byte(crc32cBase64(data[1:])), 1))
		}},
		{name: "signed trailer's checksum does not match", mention: "x-amz-checksum-crc32c", build: func(t *testing.T) *http.Request {
			r, _ := minioStreaming(t, data, badTrailer)
			return r
		}},
		{name: "unsigned trailer's checksum does not match", mention: "x-amz-checksum-crc32c", build: func(t *testing.T) *http.Request {
			r, _ := minioUnsignedTrailer(t, data, badTrailer)
			return r
		}},
		{name: "trailer missing", mention: "never arrived", build: func(t *testing.T) *http.Request {
			r, enc := minioUnsignedTrailer(t, data, trailer)
			return withBody(r, append(enc[:bytes.LastIndex(enc, []byte("x-amz-checksum"))], "\r\n"...))
		}},
		{name: "trailer not declared", mention: "not declared", build: func(t *testing.T) *http.Request {
			r, enc := minioUnsignedTrailer(t, data, trailer)
			return withBody(r, bytes.Replace(enc, []byte("x-amz-checksum-crc32c:"), []byte("x-amz-checksum-sha1:"), 1))
		}},
		{name: "shorter than x-amz-decoded-content-length", mention: "x-amz-decoded-content-length", build: func(t *testing.T) *http.Request {
			// The last chunk, 1000 bytes, loses one: the chunk framing stays consistent.
			r, enc := minioUnsignedTrailer(t, data, trailer)
			i := bytes.Index(enc, []byte("\r\n3e8\r\n"))
			if i < 0 {
				t.Fatalf("no 1000-byte chunk in %q", enc[len(enc)-1100:])
			}
			short := append(append(append([]byte{}, enc[:i]...), "\r\n3e7\r\n"...), enc[i+len("\r\n3e8\r\n")+1:]...)
			return withBody(r, short)
		}},
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestPayloadDigests checks the digests a request declares besides its signature.
func TestPayloadDigests(t *testing.T) {
	data := []byte("the payload")
	md5OfData := "BmnZhRGJIlN3YtqBUQKAog=="
	for _, tc := range []struct {
		name    string
		change  func(*http.Request)
		body    []byte
		kind    error // from Body, or nil when reading fails
		mention string
	}{
		{name: "content-md5 mismatch", change: func(r *http.Request) { r.Header.Set("Content-Md5", "AAAAAAAAAAAAAAAAAAAAAA==") }, mention: "Content-MD5"},
		{name: "content-md5 not base64", change: func(r *http.Request) { r.Header.Set("Content-Md5", "xyz") }, kind: ErrPayloadMismatch, mention: "Content-MD5"},
		{name: "crc32 header mismatch", change: func(r *http.Request) { r.Header.Set("X-Amz-Checksum-Crc32", crc32Base64([]byte("other"))) }, mention: "x-amz-checksum-crc32"},
		{name: "sha256 mismatch", body: []byte("the pAyload"), mention: "x-amz-content-sha256"},
		{name: "trailer form without x-amz-trailer", change: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer) }, kind: ErrMalformed, mention: "x-amz-trailer"},
		{name: "unsupported trailer", change: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
			r.Header.Set("X-Amz-Trailer", "x-amz-checksum-md5")
		}, kind: ErrMalformed, mention: "x-amz-checksum-md5"},
		{name: "bad decoded length", change: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
			r.Header.Set("X-Amz-Decoded-Content-Length", "-1")
		}, kind: ErrMalformed, mention: "x-amz-decoded-content-length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPut, "http://s3.pinet.test/bucket/key", bytes.NewReader(data))
			r.Header.Set("X-Amz-Content-Sha256", hexSHA256Bytes(data))
			if tc.change != nil {
				tc.change(r)
			}
			sdkSign(t, r, r.Header.Get("X-Amz-Content-Sha256"), ServiceS3, time.Now(), testSecret)
			sr := overTheWire(t, r)
			if tc.body != nil {
				sr = withBody(sr, tc.body)
			}
			v := &Verifier{Store: testStore(), Service: ServiceS3}
			id, err := v.Verify(sr)
			if err != nil {
				t.Fatal(err)
			}
			body, err := id.Body(sr)
			if tc.kind != nil {
				assertKind(t, err, tc.kind)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				_, err = io.ReadAll(body)
				assertKind(t, err, ErrPayloadMismatch)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("message %q does not mention %q", err, tc.mention)
			}
		})
	}
	t.Run("matching digests", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPut, "http://s3.pinet.test/bucket/key", bytes.NewReader(data))
		r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
		r.Header.Set("Content-Md5", md5OfData)
		r.Header.Set("X-Amz-Checksum-Crc32", crc32Base64(data))
		sdkSign(t, r, UnsignedPayload, ServiceS3, time.Now(), testSecret)
		got, err := decode(t, overTheWire(t, r))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %q, %v", got, err)
		}
	})
}

// crc64NVMEPoly is the CRC-64/NVME polynomial (0xad93d23594c93659) bit-reversed, the form
// hash/crc64 takes.
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

// TestCRC64NVME checks the CRC-64/NVME parameters against the catalogue's check value, and the
// hash the package uses against hash/crc64 with those parameters, over lengths around the sizes
// where its vector code changes strides, fed in pieces.
func TestCRC64NVME(t *testing.T) {
	table := crc64.MakeTable(crc64NVMEPoly)
	if got := crc64.Checksum([]byte("123456789"), table); got != 0xae8b14860a799888 {
		t.Fatalf("CRC-64/NVME of 123456789 is %#x, want 0xae8b14860a799888", got)
	}
	data := make([]byte, 1<<16+333)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	for _, n := range []int{0, 1, 9, 127, 128, 129, 255, 256, 1000, 1024, 4097, len(data)} {
		for _, piece := range []int{1, 100, 1 << 20} {
			h, _ := ChecksumHash("x-amz-checksum-crc64nvme")
			for off := 0; off < n; off += piece {
				h.Write(data[off:min(off+piece, n)])
			}
			want := binary.BigEndian.AppendUint64(nil, crc64.Checksum(data[:n], table))
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("CRC-64/NVME of %d bytes in pieces of %d = %x, want %x", n, piece, got, want)
			}
		}
	}
}
