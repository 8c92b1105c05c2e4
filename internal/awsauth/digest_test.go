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
	"crypto/md5"
	"encoding/base64"
	"errors"
	"hash/crc32"
	"net/http"
	"testing"
)

func TestDeclaredDigestsMatchAndMismatch(t *testing.T) {
	payload := []byte("pinet payload")
	md5sum := md5.Sum(payload)
	crc := crc32.ChecksumIEEE(payload)
	header := http.Header{}
	header.Set("Content-MD5", base64.StdEncoding.EncodeToString(md5sum[:]))
	header.Set("x-amz-checksum-crc32", base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)}))

	d, err := DeclaredDigests(header)
	if err != nil {
		t.Fatal(err)
	}
	d.Write(payload[:5])
	d.Write(payload[5:])
	if err := d.Verify(); err != nil {
		t.Fatalf("the declared digests of the payload: %v", err)
	}

	d, err = DeclaredDigests(header)
	if err != nil {
		t.Fatal(err)
	}
	d.Write([]byte("another payload"))
	err = d.Verify()
	var de *DigestError
	if !errors.As(err, &de) || de.Name != "Content-MD5" || de.Malformed || !errors.Is(err, ErrPayloadMismatch) {
		t.Fatalf("Verify of another payload = %v; want a Content-MD5 mismatch wrapping ErrPayloadMismatch", err)
	}
}

func TestDeclaredDigestsRejectMalformedValues(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"Content-MD5", "not-an-md5"},
		{"Content-MD5", base64.StdEncoding.EncodeToString([]byte("short"))},
		{"x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(make([]byte, 31))},
		{"x-amz-checksum-crc64nvme", "%%%"},
	} {
		header := http.Header{}
		header.Set(tc.name, tc.value)
		_, err := DeclaredDigests(header)
		var de *DigestError
		if !errors.As(err, &de) || de.Name != tc.name || !de.Malformed || !errors.Is(err, ErrPayloadMismatch) {
			t.Errorf("%s %q: error %v; want a malformed-digest error naming the header", tc.name, tc.value, err)
		}
	}
}

func TestChecksumHeadersHaveHashes(t *testing.T) {
	names := ChecksumHeaders()
	if len(names) != 5 {
		t.Fatalf("checksum headers %v", names)
	}
	for _, name := range names {
		if _, ok := newChecksum(name); !ok {
			t.Errorf("no hash for %s", name)
		}
	}
	names[0] = "changed"
	if ChecksumHeaders()[0] == "changed" {
		t.Fatal("ChecksumHeaders hands out its own table")
	}
}
