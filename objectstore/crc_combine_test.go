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
	"encoding/base64"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"pinet.io/pinet/objectstore/fsstore"
)

// TestCRCCombiner checks combined CRCs against each algorithm computed over the whole data by
// the test's own reference implementations, for pieces of many sizes (empty ones included).
func TestCRCCombiner(t *testing.T) {
	data := patternData(3*sseChunk + 4099)
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme} {
		for _, cuts := range [][]int{{}, {0}, {1}, {len(data)}, {7, 7, 70000}, {sseChunk, 2 * sseChunk, 2*sseChunk + 1}} {
			c := newCRCCombiner(string(alg))
			from := 0
			for _, to := range append(cuts, len(data)) {
				piece := data[from:to]
				c.add(&fsstore.Checksum{Algorithm: string(alg), Value: referenceSum(alg, piece)}, int64(len(piece)))
				from = to
			}
			if got, want := c.value(), referenceSum(alg, data); got != want {
				t.Errorf("%s cut at %v: combined %s, want %s", alg, cuts, got, want)
			}
		}
	}
	c := newCRCCombiner("CRC32")
	c.add(&fsstore.Checksum{Algorithm: "CRC32C", Value: base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4})}, 10)
	if c.value() != "" {
		t.Error("a piece of another algorithm was combined")
	}
	c = newCRCCombiner("CRC64NVME")
	c.add(&fsstore.Checksum{Algorithm: "CRC64NVME", Value: base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4})}, 10)
	if c.value() != "" {
		t.Error("a CRC of the wrong width was combined")
	}
	if newCRCCombiner("SHA256") != nil {
		t.Error("SHA256 has a combiner")
	}
}
