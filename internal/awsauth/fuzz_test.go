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
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// fuzzTime is the clock of every fuzz target, and the date of their seeds' signatures.
var fuzzTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// exactlyOneKind fails unless err wraps exactly one error kind.
func exactlyOneKind(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, k := range errorKinds {
		if errors.Is(err, k) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q wraps %d kinds", err, n)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Fatalf("error %q reveals the secret", err)
	}
}

// FuzzParseAuthorizationV4 feeds arbitrary Authorization headers to the SigV4 header parser.
func FuzzParseAuthorizationV4(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	v := &Verifier{Store: testStore(), Service: ServiceEC2, Now: func() time.Time { return fuzzTime }}
	f.Fuzz(func(t *testing.T, auth string) {
		a, err := parseAuthorizationV4(auth)
		if err != nil {
			assertKind(t, err, ErrMalformed)
			return
		}
		if a.credential == "" || a.signedHeaders == "" || a.signature == "" {
			t.Fatalf("parsed %q into %+v", auth, a)
		}
		r, _ := http.NewRequest(http.MethodGet, "http://ec2.pinet.test/", nil)
		r.Header.Set("X-Amz-Date", fuzzTime.Format(amzDateLayout))
		p, err := v.parseV4Header(r, auth)
		if err != nil {
			assertKind(t, err, ErrMalformed)
			return
		}
		if p.accessKey == "" || len(p.signature) != sha256.Size || !slices.Contains(p.signedNames, "host") || len(p.date) != 8 {
			t.Fatalf("parsed %q into %+v", auth, p)
		}
		r.Header.Set("Authorization", auth)
		if _, err := v.Verify(r); err == nil {
			t.Fatalf("a fuzzed signature was accepted: %q", auth)
		} else {
			exactlyOneKind(t, err)
		}
	})
}

// FuzzParsePresignedQuery feeds arbitrary query strings to the presigned-request parser.
func FuzzParsePresignedQuery(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d")
	v := &Verifier{Store: testStore(), Service: ServiceS3, Now: func() time.Time { return fuzzTime }}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		q, err := parseQuery(rawQuery)
		if err != nil {
			assertKind(t, err, ErrMalformed)
			return
		}
		for _, pair := range strings.Split(canonicalQuery(q, "X-Amz-Signature"), "&") {
			if strings.HasPrefix(pair, "X-Amz-Signature=") {
				t.Fatalf("the canonical query of %q keeps the signature", rawQuery)
			}
		}
		p, err := v.parseV4Query(q)
		if err != nil {
			assertKind(t, err, ErrMalformed)
			return
		}
		if !p.presigned || p.expires < 0 || p.expires > MaxPresignExpiry || len(p.signature) != sha256.Size || p.accessKey == "" {
			t.Fatalf("parsed %q into %+v", rawQuery, p)
		}
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/b/k", RawQuery: rawQuery}, RequestURI: "/b/k?" + rawQuery, Host: "s3.pinet.test", Header: http.Header{}}
		if _, err := v.Verify(r); err == nil {
			t.Fatalf("a fuzzed presigned request was accepted: %q", rawQuery)
		} else {
			exactlyOneKind(t, err)
		}
	})
}

// FuzzParseSigV2 feeds arbitrary SigV2 inputs to Verify: an S3 Authorization header and query
// (S3's header and presigned forms), and an EC2 form body.
func FuzzParseSigV2(f *testing.F) {
	f.Add("AWS AKIAEXAMPLEEXAMPLE12:research:c2lnbmF0dXJlc2lnbmF0dXJlMTI=", "acl&versionId=1", "Action=DescribeRegions&AWSAccessKeyId=K&SignatureVersion=2&SignatureMethod=HmacSHA256&Timestamp=2026-01-02T03%3A04%3A05Z&Signature=c2ln")
	s3 := &Verifier{Store: testStore(), Service: ServiceS3, Now: func() time.Time { return fuzzTime }}
	ec2 := &Verifier{Store: testStore(), Service: ServiceEC2, Now: func() time.Time { return fuzzTime }}
	f.Fuzz(func(t *testing.T, auth, rawQuery, form string) {
		requests := []struct {
			v *Verifier
			r *http.Request
		}{
			{s3, &http.Request{Method: http.MethodPut, Header: http.Header{"Authorization": {auth}, "Date": {fuzzTime.Format(http.TimeFormat)}}}},
			{s3, &http.Request{Method: http.MethodGet, Header: http.Header{}}},
			{ec2, &http.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: io.NopCloser(strings.NewReader(form))}},
		}
		for _, req := range requests {
			req.r.URL = &url.URL{Path: "/bucket/key", RawQuery: rawQuery}
			req.r.RequestURI = req.r.URL.RequestURI()
			req.r.Host = "pinet.test"
			if _, err := req.v.Verify(req.r); err == nil {
				t.Fatalf("a fuzzed SigV2 request was accepted: %q %q %q", auth, rawQuery, form)
			} else {
				exactlyOneKind(t, err)
			}
		}
	})
}

// chunkedMode is one aws-chunked form with a verified request to decode bodies against.
type chunkedMode struct {
	name    string
	request *http.Request
	id      *Identity
	encoded []byte // what the client sent for fuzzData
}

// fuzzData is the payload of every chunkedMode's seed.
var fuzzData = []byte("PiNet aws-chunked fuzz payload: 0123456789abcdefghijklmnopqrstuvwxyz")

// chunkedModes signs fuzzData with minio-go in each aws-chunked form, as of fuzzTime, and
// verifies each request.
func chunkedModes(tb testing.TB) []chunkedMode {
	tb.Helper()
	trailer := http.Header{"X-Amz-Checksum-Crc32c": {crc32cBase64(fuzzData)}}
	var modes []chunkedMode
	for _, m := range []struct {
		name    string
		trailer http.Header
	}{{"signed", nil}, {"signed trailer", trailer}} {
		r, _ := http.NewRequest(http.MethodPut, "http://s3.pinet.test/bucket/key", bytes.NewReader(fuzzData))
		r.Trailer = m.trailer
		r = signer.StreamingSignV4(r, testKey, testSecret, "", testRegion, int64(len(fuzzData)), fuzzTime, minioHasher{sha256.New()})
		modes = append(modes, chunkedMode{name: m.name, request: r})
	}
	r, _ := http.NewRequest(http.MethodPut, "http://s3.pinet.test/bucket/key", bytes.NewReader(fuzzData))
	r.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
	r = signer.SignV4Trailer(*r, testKey, testSecret, "", testRegion, trailer)
	modes = append(modes, chunkedMode{name: "unsigned trailer", request: r})
	for i := range modes {
		m := &modes[i]
		var err error
		if m.encoded, err = io.ReadAll(m.request.Body); err != nil {
			tb.Fatal(err)
		}
		r := overTheWire(tb, withBody(m.request, m.encoded))
		// The unsigned form is dated by minio-go's own clock.
		at, err := time.Parse(amzDateLayout, r.Header.Get("X-Amz-Date"))
		if err != nil {
			tb.Fatal(err)
		}
		v := &Verifier{Store: testStore(), Service: ServiceS3, Now: func() time.Time { return at }}
		if m.id, err = v.Verify(r); err != nil {
			tb.Fatalf("%s: %v", m.name, err)
		}
		m.request = r
	}
	return modes
}

// FuzzChunkedDecoder decodes arbitrary bodies as each aws-chunked form. Only the client's own
// stream, or one with the same payload and checksum, may decode without error.
func FuzzChunkedDecoder(f *testing.F) {
	modes := chunkedModes(f)
	for i, m := range modes {
		f.Add(byte(i), m.encoded)
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	f.Fuzz(func(t *testing.T, mode byte, body []byte) {
		m := modes[int(mode)%len(modes)]
		r := m.request.Clone(m.request.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		payload, err := m.id.Body(r)
		if err != nil {
			t.Fatalf("%s: Body: %v", m.name, err)
		}
		out, err := io.ReadAll(payload)
		if len(out) > len(body) {
			t.Fatalf("%s: decoded %d bytes from %d", m.name, len(out), len(body))
		}
		if err != nil {
			exactlyOneKind(t, err)
			if !errors.Is(err, ErrPayloadMismatch) {
				t.Fatalf("%s: %v", m.name, err)
			}
			return
		}
		if m.id.chunks != nil && !bytes.Equal(out, fuzzData) {
			t.Fatalf("%s: signed chunks decoded to %q", m.name, out)
		}
		if len(out) != len(fuzzData) || crc32.Checksum(out, castagnoli) != crc32.Checksum(fuzzData, castagnoli) {
			t.Fatalf("%s: decoded %q, whose length or checksum differs from the declared", m.name, out)
		}
	})
}
