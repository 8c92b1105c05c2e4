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

// Package filestamp tells one version of a file from another without reading it: what the node
// agent learned from a file (its MD5, what qemu-img found in it) holds while its stamp is
// unchanged.
package filestamp

import (
	"os"
	"syscall"
)

// Stamp is a file's device, inode, size and modification time.
type Stamp struct {
	dev, ino    uint64
	size, mtime int64
}

// Of returns the stamp of the file fi describes.
func Of(fi os.FileInfo) Stamp {
	s := Stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
	}
	return s
}
