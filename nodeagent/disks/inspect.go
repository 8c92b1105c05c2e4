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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"pinet.io/pinet/nodeagent/filestamp"
)

// ErrUnusableImage is returned for an image that cannot back a root disk: one whose bytes name
// other files (a backing file, an external data file) or in a format that can.
var ErrUnusableImage = errors.New("the image cannot be used as a root disk")

// usableFormats are the formats a cached image may have. Both hold their data in the image's
// own file once a qcow2 is checked to name no other file; formats such as vmdk's descriptor name
// their extents' files by path.
var usableFormats = map[string]bool{"raw": true, "qcow2": true}

// inspectTimeout bounds qemu-img's look at an uploaded image: it is the project's bytes.
const inspectTimeout = time.Minute

// Base is what an inspection found in a cached image.
type Base struct {
	Format      string
	VirtualSize int64
}

// Maker makes instances' disks over cached images. It inspects each cached image once (as long
// as its file is the same) rather than for every instance: the image is the same for them all,
// and qemu-img's start costs more CPU than the rest of a launch on the node. Its zero value is
// ready to use.
type Maker struct {
	mu    sync.Mutex
	bases map[string]inspection
}

// inspection is the outcome of inspecting the file a stamp describes.
type inspection struct {
	stamp filestamp.Stamp
	base  Base
	err   error
}

// inspect returns what the image at path holds, or ErrUnusableImage, from the last inspection
// of the same file when there was one.
func (m *Maker) inspect(ctx context.Context, path string) (Base, error) {
	fi, err := os.Stat(path)
	if err != nil {
		m.forget(path)
		return Base{}, err
	}
	stamp := filestamp.Of(fi)
	m.mu.Lock()
	seen, ok := m.bases[path]
	m.mu.Unlock()
	if ok && seen.stamp == stamp {
		return seen.base, seen.err
	}
	base, err := inspect(ctx, path)
	m.mu.Lock()
	defer m.mu.Unlock()
	// A refusal is as lasting as an answer; a qemu-img that failed to run is tried again.
	if err == nil || errors.Is(err, ErrUnusableImage) {
		if m.bases == nil {
			m.bases = map[string]inspection{}
		}
		m.bases[path] = inspection{stamp: stamp, base: base, err: err}
	}
	return base, err
}

func (m *Maker) forget(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.bases, path)
}

// imageFacts is the part of qemu-img info's JSON an inspection reads.
type imageFacts struct {
	Format          string `json:"format"`
	VirtualSize     int64  `json:"virtual-size"`
	BackingFilename string `json:"backing-filename"`
	Encrypted       bool   `json:"encrypted"`
	FormatSpecific  struct {
		Data struct {
			DataFile string `json:"data-file"`
		} `json:"data"`
	} `json:"format-specific"`
}

// inspect reads an uploaded image's format and size with qemu-img and refuses one that names
// another file: a qcow2 whose backing file (or external data file) is a path on the node would
// give its guest that file's bytes — another instance's disk, a volume, the node's own files.
func inspect(ctx context.Context, path string) (Base, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	out, err := run(ctx, "qemu-img", "info", "--output=json", path)
	if err != nil {
		return Base{}, err
	}
	var f imageFacts
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		return Base{}, fmt.Errorf("parsing qemu-img info of %s: %w", path, err)
	}
	switch {
	case !usableFormats[f.Format]:
		return Base{}, fmt.Errorf("%w: its format is %s (raw and qcow2 are accepted)", ErrUnusableImage, f.Format)
	case f.BackingFilename != "":
		return Base{}, fmt.Errorf("%w: it is an overlay of another file (%q)", ErrUnusableImage, f.BackingFilename)
	case f.FormatSpecific.Data.DataFile != "":
		return Base{}, fmt.Errorf("%w: its data is in another file (%q)", ErrUnusableImage, f.FormatSpecific.Data.DataFile)
	case f.Encrypted:
		// No node holds a key to it: the guest could not start.
		return Base{}, fmt.Errorf("%w: it is encrypted", ErrUnusableImage)
	}
	return Base{Format: f.Format, VirtualSize: f.VirtualSize}, nil
}
