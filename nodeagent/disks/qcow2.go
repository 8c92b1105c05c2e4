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

package disks

import (
	"encoding/binary"
	"fmt"
	"os"
)

// An empty qcow2 (version 3) overlay is written here rather than by running qemu-img create: its
// start and end cost a launch more CPU on the node than everything else the agent does for an
// instance, and the file is four small tables. The layout is the one qemu-img makes: the header
// with its extensions and the backing file's name in cluster 0, the refcount table in cluster 1,
// its one refcount block in cluster 2 and the L1 table (all entries empty: no cluster of the
// overlay is allocated, every read goes to the backing file) from cluster 3.
const (
	qcow2Magic         = 0x514649fb // "QFI\xfb"
	qcow2ClusterBits   = 16
	qcow2ClusterSize   = 1 << qcow2ClusterBits
	qcow2HeaderLength  = 112 // version 3's fields and the compression type, padded to 8
	qcow2RefcountOrder = 4   // 16-bit refcounts
	// qcow2BackingFormatExt is the header extension that names the backing file's format.
	qcow2BackingFormatExt = 0xe2792aca
	// qcow2MaxBackingName is qemu's limit on the backing file's name.
	qcow2MaxBackingName = 1023
)

// writeOverlay writes to path a new qcow2 image of size bytes (rounded up to 512) whose data,
// until written, are those of the image at backing, of format backingFormat.
func writeOverlay(path, backing, backingFormat string, size int64) error {
	if size <= 0 {
		return fmt.Errorf("overlay of %s: size %d", backing, size)
	}
	if len(backing) == 0 || len(backing) > qcow2MaxBackingName {
		return fmt.Errorf("overlay of %q: the backing file's name must have 1 to %d bytes", backing, qcow2MaxBackingName)
	}
	size = (size + 511) &^ 511
	// Each L2 table (one cluster of 8-byte entries) maps cluster-size/8 clusters.
	const bytesPerL1Entry = qcow2ClusterSize * (qcow2ClusterSize / 8)
	l1Entries := (size + bytesPerL1Entry - 1) / bytesPerL1Entry
	l1Clusters := (l1Entries*8 + qcow2ClusterSize - 1) / qcow2ClusterSize
	const refcountTable, refcountBlock, l1Table = 1 * qcow2ClusterSize, 2 * qcow2ClusterSize, 3 * qcow2ClusterSize
	metaClusters := 3 + l1Clusters
	if metaClusters > qcow2ClusterSize/2 {
		// One refcount block counts cluster-size/2 clusters (16-bit entries).
		return fmt.Errorf("overlay of %s: size %d needs more than one refcount block", backing, size)
	}

	header := make([]byte, qcow2ClusterSize)
	be := binary.BigEndian
	be.PutUint32(header[0:], qcow2Magic)
	be.PutUint32(header[4:], 3) // version
	// The backing file's name follows the header extensions.
	ext := qcow2HeaderLength
	be.PutUint32(header[ext:], qcow2BackingFormatExt)
	be.PutUint32(header[ext+4:], uint32(len(backingFormat)))
	copy(header[ext+8:], backingFormat)
	ext += 8 + (len(backingFormat)+7)&^7
	ext += 8 // the end of the extensions: type 0, length 0
	nameAt := ext
	if nameAt+len(backing) > qcow2ClusterSize {
		return fmt.Errorf("overlay of %s: the header does not fit its first cluster", backing)
	}
	copy(header[nameAt:], backing)
	be.PutUint64(header[8:], uint64(nameAt))
	be.PutUint32(header[16:], uint32(len(backing)))
	be.PutUint32(header[20:], qcow2ClusterBits)
	be.PutUint64(header[24:], uint64(size))
	be.PutUint32(header[32:], 0) // no encryption
	be.PutUint32(header[36:], uint32(l1Entries))
	be.PutUint64(header[40:], l1Table)
	be.PutUint64(header[48:], refcountTable)
	be.PutUint32(header[56:], 1) // refcount table clusters
	// No snapshots (60, 64); no incompatible, compatible or autoclear features (72, 80, 88).
	be.PutUint32(header[96:], qcow2RefcountOrder)
	be.PutUint32(header[100:], qcow2HeaderLength)
	// header[104], the compression type, is 0: zlib.

	tables := make([]byte, 2*qcow2ClusterSize)
	be.PutUint64(tables[0:], refcountBlock) // refcount table entry 0: the block
	for c := range metaClusters {           // every metadata cluster is referenced once
		be.PutUint16(tables[qcow2ClusterSize+2*c:], 1)
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(header)
	if err == nil {
		_, err = f.Write(tables)
	}
	if err == nil {
		// The L1 table is all zeros: a hole, as long as the entries it holds.
		err = f.Truncate(l1Table + l1Entries*8)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("writing the overlay %s: %w", path, err)
	}
	return nil
}
