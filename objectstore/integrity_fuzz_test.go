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
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"pinet.io/pinet/objectstore/fsstore"
)

// FuzzChecksumHeaders feeds the checksum and condition headers of writes to their parsers:
// each answers a known S3 error or a result that keeps its promises.
func FuzzChecksumHeaders(f *testing.F) {
	f.Add("x-amz-checksum-crc32", "AAAAAA==", "x-amz-checksum-crc32", "CRC32", "COMPOSITE", "*", "")
	f.Add("x-amz-checksum-sha256", "x", "x-amz-checksum-crc32c, x-amz-checksum-sha1", "sha1", "FULL_OBJECT", "\"abc\"", "\"e\"")
	f.Add("x-amz-sdk-checksum-algorithm", "CRC64NVME", "", "crc64nvme", "", "", "*")
	f.Add("x-amz-meta-a", "b", "x-amz-checksum-md5", "MD5", "OTHER", "", "")
	f.Fuzz(func(t *testing.T, name, value, trailer, algorithm, typ, ifNoneMatch, ifMatch string) {
		h := http.Header{}
		h.Set(name, value)
		h.Set(headerTrailer, trailer)
		h.Set(headerChecksumAlgorithm, algorithm)
		h.Set(headerChecksumType, typ)
		h.Set("If-None-Match", ifNoneMatch)
		h.Set("If-Match", ifMatch)
		alg, err := declaredChecksumAlgorithm(h)
		knownError(t, err)
		if err == nil && alg != "" && !slices.Contains(checksumAlgorithms, alg) {
			t.Fatalf("declared algorithm %q is not one the store computes", alg)
		}
		cs, err := objectChecksum(h)
		knownError(t, err)
		if err == nil && (cs == nil || newChecksumHash(cs.Algorithm) == nil) {
			t.Fatalf("object checksum %+v has no hash", cs)
		}
		up, err := uploadChecksum(h)
		knownError(t, err)
		if err == nil && up != nil {
			if newChecksumHash(up.Algorithm) == nil || up.Type != checksumComposite && up.Type != checksumFullObject {
				t.Fatalf("upload checksum %+v", up)
			}
			if _, err := partChecksum(h, fsstore.UploadInfo{Meta: fsstore.ObjectMeta{Checksum: up}}); err == nil {
				if pc, _ := partChecksum(h, fsstore.UploadInfo{Meta: fsstore.ObjectMeta{Checksum: up}}); pc == nil || pc.Algorithm != up.Algorithm {
					t.Fatalf("a part of a %s upload records %+v", up.Algorithm, pc)
				}
			}
		}
		c, ok, err := parseWriteCondition(h)
		knownError(t, err)
		if err == nil && ok != (c.ifMatch != "" || c.ifNoneMatch) {
			t.Fatalf("condition %+v, named %v", c, ok)
		}
		if err == nil {
			knownError(t, c.check(nil))
			knownError(t, c.atCommit()(&fsstore.ObjectInfo{ETag: "abc"}))
		}
		_, err = parseObjectAttributes(value)
		knownError(t, err)
	})
}

// FuzzCompletedParts feeds CompleteMultipartUpload bodies to the reader of their part
// checksums and the checksum they compose.
func FuzzCompletedParts(f *testing.F) {
	f.Add(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>`, "CRC32", "COMPOSITE")
	f.Add(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ChecksumSHA1>x</ChecksumSHA1><ChecksumSHA256>y</ChecksumSHA256></Part></CompleteMultipartUpload>`, "SHA256", "COMPOSITE")
	f.Add(`<CompleteMultipartUpload>`, "CRC64NVME", "FULL_OBJECT")
	f.Fuzz(func(t *testing.T, body, alg, typ string) {
		named, err := completedParts([]byte(body))
		knownError(t, err)
		if err != nil {
			return
		}
		h := http.Header{}
		h.Set(headerChecksumAlgorithm, alg)
		h.Set(headerChecksumType, typ)
		cs, err := uploadChecksum(h)
		if err != nil || cs == nil {
			return
		}
		c, err := newCompletion(http.Header{}, fsstore.UploadInfo{Meta: fsstore.ObjectMeta{Checksum: cs}}, named)
		knownError(t, err)
		if err != nil {
			return
		}
		var parts []fsstore.ObjectPart
		for n, f := range named {
			a, v, _ := f.named()
			parts = append(parts, fsstore.ObjectPart{Number: n, Size: 1, Checksum: &fsstore.Checksum{Algorithm: a, Value: v}})
		}
		got, err := c.checksum(parts)
		knownError(t, err)
		if err == nil && (got == nil || got.Algorithm != cs.Algorithm || got.Type != cs.Type || got.Value == "") {
			t.Fatalf("composed checksum %+v for a %+v upload", got, cs)
		}
	})
}

// FuzzURLEncodeKey checks that a listing's URL encoding keeps only unreserved characters and
// "/" and decodes back to the key.
func FuzzURLEncodeKey(f *testing.F) {
	for _, s := range []string{"a b+c", "dir/ü&x", "%41", "~-_.", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		enc := urlEncodeKey(key)
		if strings.ContainsAny(enc, " +&?#") {
			t.Fatalf("encoded %q as %q", key, enc)
		}
		back, err := url.PathUnescape(enc)
		if err != nil || back != key {
			t.Fatalf("%q encoded as %q decodes to %q, %v", key, enc, back, err)
		}
	})
}

// FuzzParseBucketPage feeds ListBuckets' paging parameters to their parser.
func FuzzParseBucketPage(f *testing.F) {
	f.Add("2", "cGFnZS0x", "page-")
	f.Add("0", "", "")
	f.Add("10001", "!!", "x")
	f.Fuzz(func(t *testing.T, max, token, prefix string) {
		p, err := parseBucketPage(url.Values{"max-buckets": {max}, "continuation-token": {token}, "prefix": {prefix}})
		knownError(t, err)
		if err == nil && (p.max < 1 || p.max > maxListBuckets || p.after != "" && fsstore.ValidBucketName(p.after) != nil) {
			t.Fatalf("page %+v", p)
		}
		if err == nil && p.after != "" && bucketToken(p.after) != token {
			t.Fatalf("token %q resumes after %q, whose token is %q", token, p.after, bucketToken(p.after))
		}
	})
}
