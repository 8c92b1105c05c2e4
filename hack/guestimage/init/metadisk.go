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
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// metaDiskSerial is the serial number of the read-only disk PiNet's node agent attaches with the
// instance's meta-data and user data, for guests without a network to reach the metadata service.
const metaDiskSerial = "pinet-meta"

const metaMount = "/run/pinet/meta"

// findMetaDisk returns the device name (vdb, …) of the disk whose serial is metaDiskSerial.
func findMetaDisk(sysBlock string) (string, bool) {
	files, _ := filepath.Glob(filepath.Join(sysBlock, "*", "serial"))
	for _, f := range files {
		if raw, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(raw)) == metaDiskSerial {
			return filepath.Base(filepath.Dir(f)), true
		}
	}
	return "", false
}

// readMetaDir reads meta-data/<key> and user-data from a directory laid out like the metadata
// service's paths.
func readMetaDir(dir string) (*metadata, error) {
	md := &metadata{source: "meta-data disk", values: map[string]string{}}
	for _, key := range metadataKeys() {
		data, err := os.ReadFile(filepath.Join(dir, "meta-data", key))
		switch {
		case err == nil:
			md.values[key] = strings.TrimRight(string(data), "\n")
		case errors.Is(err, os.ErrNotExist):
		default:
			md.warnings = append(md.warnings, fmt.Sprintf("%s: %v", key, err))
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "user-data"))
	switch {
	case err == nil:
		md.userData = data
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("reading user-data: %w", err)
	}
	return md, nil
}

// readMetaDisk mounts the meta-data disk read-only, if there is one, and reads it.
func (g *guest) readMetaDisk() *metadata {
	dev, ok := findMetaDisk("/sys/block")
	if !ok {
		return nil
	}
	if err := os.MkdirAll(metaMount, 0o755); err != nil {
		g.out.Printf("meta-data disk: %v", err)
		return nil
	}
	if err := syscall.Mount("/dev/"+dev, metaMount, "ext4", syscall.MS_RDONLY, ""); err != nil && !errors.Is(err, syscall.EBUSY) {
		g.out.Printf("meta-data disk %s: %v", dev, err)
		return nil
	}
	md, err := readMetaDir(metaMount)
	if err != nil {
		g.out.Printf("meta-data disk %s: %v", dev, err)
		return nil
	}
	g.out.Printf("meta-data from disk %s", dev)
	for _, key := range metadataKeys() {
		if v, ok := md.values[key]; ok {
			g.out.Printf("meta-data %s=%s", key, formatValue(v))
		}
	}
	return md
}

// gatherMetadata decides where the guest's meta-data and user data come from: the metadata
// service when the guest has a network, else the meta-data disk (the "config drive", which the
// node gives only instances that ask for it, or every instance on a node without a network).
// When the service answered but its user data could not be read (a slow service under
// emulation), the disk's user data stands in if there is a disk. Nil when there is neither.
func gatherMetadata(networked bool, service, disk func() *metadata, say func(format string, args ...any)) *metadata {
	if !networked {
		md := disk()
		if md == nil {
			say("no meta-data: no network and no meta-data disk")
		}
		return md
	}
	md := service()
	if md == nil {
		if md = disk(); md == nil {
			say("no meta-data: the metadata service is unreachable and there is no meta-data disk")
		}
		return md
	}
	if md.userDataUnreadable {
		if d := disk(); d != nil && d.userData != nil {
			say("user-data from the %s", d.source)
			md.userData = d.userData
		} else {
			say("user-data unreadable from the metadata service and no meta-data disk holds it")
		}
	}
	return md
}

// reportSize prints what the guest was given: CPUs and memory.
func (g *guest) reportSize() {
	g.out.Printf("cpus %d memory-mib %d", runtime.NumCPU(), memTotalMiB("/proc/meminfo"))
}

// memTotalMiB reads MemTotal from a meminfo file, in MiB (0 if unreadable).
func memTotalMiB(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
