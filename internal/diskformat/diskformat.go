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

// Package diskformat tells, from the first bytes of a disk image, the format QEMU takes it for
// when nothing names the format (as the node's qemu-img does with an uploaded image), and
// whether the image can be a root disk's base on its own: a raw image, or a qcow2 that names no
// other file. Where QEMU checks more than a format's magic (parallels, bochs, cloop), the magic
// alone is refused: no raw disk starts with one. It lets the image door refuse at registration
// what a node would refuse at launch; the node's own inspection of the file it boots stays the
// authority.
package diskformat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// ProbeSize is how many bytes from the start of an image Identify looks at: as many as QEMU
// reads to guess a format.
const ProbeSize = 2048

// ErrUnusable is returned for an image that cannot be a root disk's base: one whose bytes name
// other files, or in a format other than raw and qcow2.
var ErrUnusable = errors.New("not a self-contained raw or qcow2 image")

// Header is what the start of an image says about it.
type Header struct {
	// Format is QEMU's name of the format: raw, qcow2, vmdk, ...
	Format string
	// VirtualSize is the size of the disk a qcow2 holds; 0 for raw, whose size is its length.
	VirtualSize uint64
}

// qcow2 header fields (big-endian) this package reads.
const (
	qcow2Magic           = "QFI\xfb"
	qcow2VersionAt       = 4
	qcow2BackingOffsetAt = 8
	qcow2BackingSizeAt   = 16
	qcow2SizeAt          = 24
	qcow2CryptMethodAt   = 32
	qcow2IncompatibleAt  = 72
	// qcow2V2HeaderLength is the length of a version 2 header, the shortest there is.
	qcow2V2HeaderLength = 72
	// qcow2DataFileBit is the incompatible feature of an image whose data is in an external file.
	qcow2DataFileBit = 1 << 2
)

// otherFormats are the formats QEMU recognises by a fixed magic at a fixed place. None can be a
// root disk's base here: vmdk, vhdx, vpc, qed and parallels images can name other files
// (extents, parents, backing files), and the rest are not disks a guest boots as they are.
var otherFormats = []struct {
	name  string
	at    int
	magic string
}{
	{"vmdk", 0, "KDMV"},
	{"vmdk", 0, "COWD"},
	{"qed", 0, "QED\x00"},
	{"vdi", 64, "\x7f\x10\xda\xbe"},
	{"vhdx", 0, "vhdxfile"},
	{"vpc", 0, "conectix"},
	{"parallels", 0, "WithoutFreeSpace"},
	{"parallels", 0, "WithouFreSpacExt"},
	{"luks", 0, "LUKS\xba\xbe"},
	{"bochs", 0, "Bochs Virtual HD Image"},
	{"cloop", 0, "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file="},
}

// Identify reads the start of an image (its first ProbeSize bytes, or all of it when shorter)
// and returns its header, or an error wrapping ErrUnusable that says why it cannot be used.
func Identify(prefix []byte) (Header, error) {
	if len(prefix) > ProbeSize {
		prefix = prefix[:ProbeSize]
	}
	if bytes.HasPrefix(prefix, []byte(qcow2Magic)) {
		return qcow2(prefix)
	}
	for _, f := range otherFormats {
		if len(prefix) >= f.at+len(f.magic) && string(prefix[f.at:f.at+len(f.magic)]) == f.magic {
			return Header{Format: f.name}, fmt.Errorf("%w: it is a %s image", ErrUnusable, f.name)
		}
	}
	if vmdkDescriptor(prefix) {
		return Header{Format: "vmdk"}, fmt.Errorf("%w: it is a vmdk descriptor, which names its extents' files", ErrUnusable)
	}
	return Header{Format: "raw"}, nil
}

// qcow2 checks a header that starts with the qcow magic.
func qcow2(p []byte) (Header, error) {
	if len(p) < qcow2V2HeaderLength {
		return Header{Format: "qcow2"}, fmt.Errorf("%w: its qcow2 header is cut short", ErrUnusable)
	}
	be := binary.BigEndian
	switch v := be.Uint32(p[qcow2VersionAt:]); v {
	case 2, 3:
	case 1:
		return Header{Format: "qcow"}, fmt.Errorf("%w: it is a qcow (version 1) image", ErrUnusable)
	default:
		return Header{Format: "qcow2"}, fmt.Errorf("%w: qcow2 version %d is not supported", ErrUnusable, v)
	}
	h := Header{Format: "qcow2", VirtualSize: be.Uint64(p[qcow2SizeAt:])}
	if be.Uint64(p[qcow2BackingOffsetAt:]) != 0 || be.Uint32(p[qcow2BackingSizeAt:]) != 0 {
		return h, fmt.Errorf("%w: it is an overlay of a backing file", ErrUnusable)
	}
	if be.Uint32(p[qcow2CryptMethodAt:]) != 0 {
		return h, fmt.Errorf("%w: it is encrypted, and a node has no key to open it", ErrUnusable)
	}
	if be.Uint32(p[qcow2VersionAt:]) == 3 {
		if len(p) < qcow2IncompatibleAt+8 {
			return h, fmt.Errorf("%w: its qcow2 header is cut short", ErrUnusable)
		}
		if be.Uint64(p[qcow2IncompatibleAt:])&qcow2DataFileBit != 0 {
			return h, fmt.Errorf("%w: its data is in an external data file", ErrUnusable)
		}
	}
	return h, nil
}

// vmdkDescriptor reports whether the start of an image is a vmdk text descriptor as QEMU
// recognises one: comment lines and lines of spaces, then a line that is exactly version=1, 2
// or 3.
func vmdkDescriptor(p []byte) bool {
	for len(p) > 0 {
		line, rest, found := bytes.Cut(p, []byte("\n"))
		switch {
		case len(line) > 0 && line[0] == '#':
			// A comment.
		case len(line) > 0 && line[0] == ' ':
			if len(bytes.TrimRight(bytes.TrimLeft(line, " "), "\r")) != 0 || !found {
				return false
			}
		default:
			if !found {
				return false
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			return len(line) == len("version=1") && bytes.HasPrefix(line, []byte("version=")) &&
				line[8] >= '1' && line[8] <= '3'
		}
		p = rest
	}
	return false
}
