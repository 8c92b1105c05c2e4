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

package fsstore

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/crc64nvme"
)

// testCRC is the CRC the tests have the store compute: CRC32, as S3 names it.
var testCRC = &CRC{Algorithm: "CRC32", New: func() hash.Hash { return crc32.NewIEEE() }}

// crc32Value is data's CRC32 as S3 writes it.
func crc32Value(data []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data)))
}

// partData is part n's data, of size bytes.
func partData(n, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(n*31 + i*7)
	}
	return b
}

// TestCompletionHasEveryPartsCRC completes uploads whose parts were written with a CRC
// computed as they streamed in, without one (as a part left by a crash or written before the
// store recorded them), and with a checksum of the CRC's algorithm of their own: the
// completion hands every part's CRC to the object's checksum, reading only the parts that have
// none, and the object holds the parts' bytes.
func TestCompletionHasEveryPartsCRC(t *testing.T) {
	s, _ := openStore(t, Options{MinPartSize: 8})
	for _, tc := range []struct {
		name  string
		sizes []int
		// recorded says which parts are written with PartOptions.CRC.
		recorded func(n int) bool
	}{
		{"single part", []int{13}, func(int) bool { return true }},
		{"empty single part", []int{0}, func(int) bool { return true }},
		{"equal parts", []int{8, 8, 8}, func(int) bool { return true }},
		{"short last part", []int{9, 9, 2}, func(int) bool { return true }},
		{"uneven parts", []int{40, 8, 17, 1}, func(int) bool { return true }},
		{"no recorded CRC", []int{9, 9, 2}, func(int) bool { return false }},
		{"some recorded", []int{10, 12, 14, 3}, func(n int) bool { return n%2 == 0 }},
		{"single part without one", []int{5}, func(int) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "k-" + tc.name
			up, err := s.CreateUpload("bkt", key, ObjectMeta{}, "alice")
			if err != nil {
				t.Fatal(err)
			}
			var parts []CompletePart
			var whole []byte
			want := map[int]string{}
			for i, size := range tc.sizes {
				n := i + 1
				data := partData(n, size)
				opts := PartOptions{}
				if tc.recorded(n) {
					opts.CRC = testCRC
				}
				p, err := s.PutPartWith("bkt", key, up.ID, n, bytes.NewReader(data), opts)
				if err != nil {
					t.Fatal(err)
				}
				parts = append(parts, CompletePart{Number: n, ETag: p.ETag})
				whole = append(whole, data...)
				want[n] = crc32Value(data)
			}
			var seen []ObjectPart
			info, err := s.CompleteUploadWith("bkt", key, up.ID, parts, CompleteOptions{CRC: testCRC,
				Checksum: func(ps []ObjectPart) (*Checksum, error) { seen = ps; return nil, nil }})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != len(tc.sizes) {
				t.Fatalf("the checksum saw %d parts, want %d", len(seen), len(tc.sizes))
			}
			for _, p := range seen {
				got := p.CRCOf("CRC32")
				if got == nil || got.Value != want[p.Number] || p.Checksum != nil {
					t.Fatalf("part %d: CRC %+v (checksum %+v), want CRC32 %s and no checksum", p.Number, got, p.Checksum, want[p.Number])
				}
			}
			if got := read(t, s, key); got != string(whole) || info.Size != int64(len(whole)) {
				t.Fatalf("object of %d bytes reads back %d bytes that differ", info.Size, len(got))
			}
			// The store's CRCs are its own: the object's part list keeps only the parts' checksums.
			st, err := s.StatObject("bkt", key)
			if err != nil || len(st.PartList) != len(tc.sizes) {
				t.Fatalf("stored part list %+v, %v", st.PartList, err)
			}
			for _, p := range st.PartList {
				if p.DataCRC != nil || p.Checksum != nil {
					t.Fatalf("stored part %+v has a CRC", p)
				}
			}
		})
	}
}

// TestCompletionUsesRecordedCRCs checks that a completion takes a part's CRC from what the part
// recorded and does not read its data: a part's checksum of the CRC's algorithm is used as it
// is, and a part whose data changed on disk after its CRC was recorded keeps the recorded CRC.
func TestCompletionUsesRecordedCRCs(t *testing.T) {
	localOnly(t, "changes a part's file in the data directory")
	s, _ := openStore(t, Options{MinPartSize: 4})
	up, err := s.CreateUpload("bkt", "k", ObjectMeta{}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	first, second := partData(1, 16), partData(2, 5)
	p1, err := s.PutPartWith("bkt", "k", up.ID, 1, bytes.NewReader(first), PartOptions{CRC: testCRC})
	if err != nil {
		t.Fatal(err)
	}
	own := &Checksum{Algorithm: "CRC32", Value: "given"}
	p2, err := s.PutPartWith("bkt", "k", up.ID, 2, bytes.NewReader(second), PartOptions{Checksum: own, CRC: nil})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(s.uploadDir("bkt", up.ID), partName(1)), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{first[0] + 1}, 0); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	var seen []ObjectPart
	_, err = s.CompleteUploadWith("bkt", "k", up.ID, []CompletePart{{Number: 1, ETag: p1.ETag}, {Number: 2, ETag: p2.ETag}},
		CompleteOptions{CRC: testCRC, Checksum: func(ps []ObjectPart) (*Checksum, error) { seen = ps; return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(seen[0].CRCOf("CRC32").Value, " ", seen[1].CRCOf("CRC32").Value)
	if want := crc32Value(first) + " given"; got != want {
		t.Fatalf("parts' CRCs = %s, want %s (recorded, not read)", got, want)
	}
}

// BenchmarkCompleteUpload times the completion of an upload of 256 MiB in 16 parts whose
// object's checksum needs every part's CRC64NVME: recorded as the parts were written, or read
// back at completion (as before parts recorded them) with hash/crc64 or with crc64nvme.
func BenchmarkCompleteUpload(b *testing.B) {
	tableCRC := &CRC{Algorithm: "CRC64NVME", New: func() hash.Hash { return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5)) }}
	fastCRC := &CRC{Algorithm: "CRC64NVME", New: func() hash.Hash { return crc64nvme.New() }}
	data := partData(1, 16<<20)
	for _, bc := range []struct {
		name     string
		put, end *CRC
	}{{"recorded", fastCRC, fastCRC}, {"read-back/hash-crc64", nil, tableCRC}, {"read-back/crc64nvme", nil, fastCRC}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{MinPartSize: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.CreateBucket("bkt", "proj", "us-east-1"); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(16 * int64(len(data)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				up, err := s.CreateUpload("bkt", "k", ObjectMeta{}, "alice")
				if err != nil {
					b.Fatal(err)
				}
				var parts []CompletePart
				for n := 1; n <= 16; n++ {
					p, err := s.PutPartWith("bkt", "k", up.ID, n, bytes.NewReader(data), PartOptions{CRC: bc.put})
					if err != nil {
						b.Fatal(err)
					}
					parts = append(parts, CompletePart{Number: n, ETag: p.ETag})
				}
				b.StartTimer()
				if _, err := s.CompleteUploadWith("bkt", "k", up.ID, parts, CompleteOptions{CRC: bc.end}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
