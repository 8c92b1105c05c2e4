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

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sectorSize is the unit of /sys/block/*/size, whatever the device's own block size.
const sectorSize = 512

// disk is one block device the guest sees.
type disk struct {
	// name is the device's name under /dev: "vdb", or "etherd/e1.0" for an AoE target.
	name string
	// bytes is its size.
	bytes int64
}

// listDisks returns the block devices under sysBlock (/sys/block) in name order, leaving out RAM
// disks and loop devices, which every kernel has and no one attached.
func listDisks(sysBlock string) ([]disk, error) {
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil, fmt.Errorf("listing disks: %w", err)
	}
	var disks []disk
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "loop") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(sysBlock, name, "size"))
		if err != nil {
			return nil, fmt.Errorf("disk %s: %w", name, err)
		}
		sectors, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil || sectors < 0 || sectors > (1<<63-1)/sectorSize {
			return nil, fmt.Errorf("disk %s: invalid size %q in sectors", name, strings.TrimSpace(string(raw)))
		}
		// The kernel writes '/' in device names as '!' in sysfs: etherd!e1.0 is /dev/etherd/e1.0.
		disks = append(disks, disk{name: strings.ReplaceAll(name, "!", "/"), bytes: sectors * sectorSize})
	}
	sort.Slice(disks, func(i, j int) bool { return disks[i].name < disks[j].name })
	return disks, nil
}

// discoverAoE asks the aoe driver to look for targets on every interface, through the discover
// node it makes in devDir/etherd, and waits up to settle for the first target's disk to appear
// in sysBlock (targets answer within milliseconds, but the disk is added asynchronously). It
// reports whether it asked; with no aoe driver there is nothing to ask.
func discoverAoE(devDir, sysBlock string, settle time.Duration) (bool, error) {
	f, err := os.OpenFile(filepath.Join(devDir, "etherd", "discover"), os.O_WRONLY, 0)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("AoE discover: %w", err)
	}
	_, werr := f.Write([]byte("\n"))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return true, fmt.Errorf("AoE discover: %w", werr)
	}
	const poll = 100 * time.Millisecond
	for waited := time.Duration(0); waited < settle; waited += poll {
		if found, _ := filepath.Glob(filepath.Join(sysBlock, "etherd!*")); len(found) > 0 {
			// Give the rest of the targets that answered the same broadcast a moment to follow.
			time.Sleep(2 * poll)
			break
		}
		time.Sleep(poll)
	}
	return true, nil
}
