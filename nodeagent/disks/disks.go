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

// Package disks makes an instance's disks on its node: a copy-on-write qcow2 root disk over the
// cached image, grown to the instance type's root size, and sparse ephemeral (ext4) and swap disks
// of the type's sizes. Nothing is copied byte by byte: the root is an overlay (written here, see
// writeOverlay), and new disks are sparse files.
package disks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DirMode is the mode of the directories on a guest's path (the state dir, instance and image
// directories): QEMU runs as an unprivileged user (libvirt's qemu user) and must pass through
// them to open the disks libvirt hands it, but nobody else may list them.
const DirMode os.FileMode = 0o711

// FileMode is the mode of the files the agent makes for a guest: only root reads them until
// libvirt gives them to the qemu user for the guest's life.
const FileMode os.FileMode = 0o600

// File names inside an instance's directory.
const (
	RootFile      = "root.qcow2"
	EphemeralFile = "ephemeral0.img"
	SwapFile      = "swap.img"
)

// Spec is what disks an instance gets.
type Spec struct {
	// Dir is the instance's directory.
	Dir string
	// Base is the cached image the root disk is an overlay of.
	Base string
	// RootBytes is the root disk's size; the image's own size if larger.
	RootBytes      int64
	EphemeralBytes int64
	SwapBytes      int64
}

// Made lists the disks that exist after Ensure, in the order they are attached.
type Made struct {
	Root      string
	Ephemeral string // "" if none
	Swap      string // "" if none
}

// Ensure creates what is missing; existing disks (a stopped instance's) are kept as they are,
// except that the root disk grows when the type's root size grew. A base image that names
// another file, or is in a format that can, is refused with ErrUnusableImage before anything is
// made.
func (mk *Maker) Ensure(ctx context.Context, s Spec) (Made, error) {
	var m Made
	base, err := mk.inspect(ctx, s.Base)
	if err != nil {
		return m, err
	}
	if err := os.MkdirAll(s.Dir, DirMode); err != nil {
		return m, err
	}
	m.Root = filepath.Join(s.Dir, RootFile)
	if err := ensureRoot(ctx, m.Root, s.Base, base, s.RootBytes); err != nil {
		return m, err
	}
	if s.EphemeralBytes > 0 {
		m.Ephemeral = filepath.Join(s.Dir, EphemeralFile)
		if err := ensureFormatted(ctx, m.Ephemeral, s.EphemeralBytes, "mke2fs", "-q", "-F", "-t", "ext4", "-L", "ephemeral0",
			"-E", "lazy_itable_init=1,lazy_journal_init=1"); err != nil {
			return m, err
		}
	}
	if s.SwapBytes > 0 {
		m.Swap = filepath.Join(s.Dir, SwapFile)
		if err := ensureFormatted(ctx, m.Swap, s.SwapBytes, "mkswap", "-L", "swap"); err != nil {
			return m, err
		}
	}
	return m, nil
}

// Info reads the format and virtual size of a disk image the agent made, with qemu-img. An
// uploaded image is inspected (Maker) instead: that refuses one that names other files.
func Info(ctx context.Context, path string) (format string, virtualSize int64, err error) {
	out, err := run(ctx, "qemu-img", "info", "--output=json", path)
	if err != nil {
		return "", 0, err
	}
	var info imageFacts
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return "", 0, fmt.Errorf("parsing qemu-img info of %s: %w", path, err)
	}
	return info.Format, info.VirtualSize, nil
}

// Flatten writes the disk at path, with everything it is an overlay of, to out as one qcow2
// file that names no other: the root disk of an image made of an instance. It reads a disk a
// paused guest's QEMU holds (shared), so the guest must not be running.
func Flatten(ctx context.Context, path, out string) error {
	_ = os.Remove(out)
	if _, err := run(ctx, "qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2", path, out); err != nil {
		_ = os.Remove(out)
		return err
	}
	return os.Chmod(out, FileMode)
}

func ensureRoot(ctx context.Context, path, basePath string, base Base, size int64) error {
	size = max(size, base.VirtualSize)
	if _, err := os.Stat(path); err == nil {
		_, cur, err := Info(ctx, path)
		if err != nil {
			return err
		}
		if cur < size {
			_, err = run(ctx, "qemu-img", "resize", "-f", "qcow2", path, fmt.Sprint(size))
		}
		return err
	}
	tmp := path + ".new"
	_ = os.Remove(tmp)
	if err := writeOverlay(tmp, basePath, base.Format, size); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ensureFormatted makes a sparse file of size and formats it with mkfs, unless it exists.
func ensureFormatted(ctx context.Context, path string, size int64, mkfs ...string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, FileMode)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if _, err := run(ctx, mkfs[0], append(mkfs[1:], tmp)...); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// MetaFile is the name of an instance's meta-data disk in its directory.
const MetaFile = "meta.img"

// MetaLabel is the meta-data disk's filesystem label.
const MetaLabel = "pinet-meta"

// WriteMeta makes a small read-only disk holding files (paths relative to its root, such as
// meta-data/instance-id and user-data), for guests that cannot reach the metadata service: an
// ext2 filesystem labelled pinet-meta, which guests mount with their ext4 driver. It is rebuilt
// every time, so changed user data reaches the guest at its next start.
func WriteMeta(dir string, files map[string][]byte) (string, error) {
	img, err := ext2Image(MetaLabel, files)
	if err != nil {
		return "", fmt.Errorf("laying out the meta-data disk: %w", err)
	}
	out := filepath.Join(dir, MetaFile)
	tmp := out + ".new"
	_ = os.Remove(tmp) // left by a run that failed before its rename; made anew with FileMode
	if err := os.WriteFile(tmp, img, FileMode); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return out, os.Rename(tmp, out)
}
