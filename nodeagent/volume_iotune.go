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

package nodeagent

import (
	"libvirt.org/go/libvirtxml"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// ssdOpBytes is the largest I/O an SSD volume counts as one operation, as EC2 counts them:
// QEMU counts a larger one as several.
const ssdOpBytes = 256 << 10

// volumeIOTune is the libvirt throttle of the volume's disk, from the I/O its type, size, iops
// and throughput give it (cloudv1.Volume.IOLimits); nil when they limit nothing.
func volumeIOTune(v *cloudv1.Volume) *libvirtxml.DomainDiskIOTune {
	l := v.IOLimits()
	if l == (cloudv1.IOLimits{}) {
		return nil
	}
	t := &libvirtxml.DomainDiskIOTune{
		TotalIopsSec: uint64(l.IOPS), TotalBytesSec: uint64(l.BytesPerSec),
		TotalIopsSecMax: uint64(l.BurstIOPS), TotalBytesSecMax: uint64(l.BurstBytesPerSec),
	}
	if l.IOPS > 0 {
		t.SizeIopsSec = ssdOpBytes
	}
	if l.BurstIOPS > 0 {
		t.TotalIopsSecMaxLength = uint64(l.BurstSeconds)
	}
	if l.BurstBytesPerSec > 0 {
		t.TotalBytesSecMaxLength = uint64(l.BurstSeconds)
	}
	return t
}
