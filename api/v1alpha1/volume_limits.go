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

package v1alpha1

import "cmp"

// IOLimits are the I/O a volume's guest is given: a sustained rate of operations and of bytes
// per second (zero: unlimited) and, above them, a burst rate held for at most BurstSeconds.
type IOLimits struct {
	IOPS, BurstIOPS               int64
	BytesPerSec, BurstBytesPerSec int64
	BurstSeconds                  int64
}

const mib = 1 << 20

// gp2 volumes earn 3 IOPS per GiB (at least 100, at most 16000) and burst to 3000 from a bucket
// of 5.4 million I/O credits, as on EC2.
const (
	gp2IOPSPerGiB = 3
	gp2MinIOPS    = 100
	gp2MaxIOPS    = 16000
	gp2BurstIOPS  = 3000
	gp2Credits    = 5_400_000
)

// EffectiveVolumeType is the volume's type, gp2 when unset.
func (v *Volume) EffectiveVolumeType() VolumeType {
	return cmp.Or(v.Spec.VolumeType, VolumeTypeGP2)
}

// EffectiveIops are the volume's IOPS as EC2 describes them: provisioned for gp3 (3000 when
// unset), io1 and io2, earned for gp2, none for the others.
func (v *Volume) EffectiveIops() int32 {
	switch v.EffectiveVolumeType() {
	case VolumeTypeGP3:
		return cmp.Or(v.Spec.Iops, 3000)
	case VolumeTypeIO1, VolumeTypeIO2:
		return v.Spec.Iops
	case VolumeTypeGP2:
		return int32(min(max(gp2IOPSPerGiB*int64(v.GivenSizeGiB()), gp2MinIOPS), gp2MaxIOPS))
	}
	return 0
}

// EffectiveThroughput is a gp3 volume's MiB/s (125 when unset); 0 for the other types.
func (v *Volume) EffectiveThroughput() int32 {
	if v.EffectiveVolumeType() == VolumeTypeGP3 {
		return cmp.Or(v.Spec.Throughput, 125)
	}
	return 0
}

// IOLimits are what the volume's type, size, iops and throughput give its guest, after EC2's
// published figures: gp2 its earned IOPS with bursts to 3000 and 250 MiB/s; gp3 its iops and
// throughput; io1 and io2 their iops (at 1000 and 4000 MiB/s); st1 and sc1 a baseline of 40 and
// 12 MiB/s per TiB with bursts to 250 and 80 per TiB (at most 500 and 250 MiB/s) from a bucket
// of the volume's size; standard nothing.
func (v *Volume) IOLimits() IOLimits {
	gib := int64(v.GivenSizeGiB())
	switch v.EffectiveVolumeType() {
	case VolumeTypeGP2:
		l := IOLimits{IOPS: int64(v.EffectiveIops()), BytesPerSec: 250 * mib}
		if l.IOPS < gp2BurstIOPS {
			l.BurstIOPS, l.BurstSeconds = gp2BurstIOPS, gp2Credits/(gp2BurstIOPS-l.IOPS)
		}
		return l
	case VolumeTypeGP3:
		return IOLimits{IOPS: int64(v.EffectiveIops()), BytesPerSec: int64(v.EffectiveThroughput()) * mib}
	case VolumeTypeIO1:
		return IOLimits{IOPS: int64(v.Spec.Iops), BytesPerSec: 1000 * mib}
	case VolumeTypeIO2:
		return IOLimits{IOPS: int64(v.Spec.Iops), BytesPerSec: 4000 * mib}
	case VolumeTypeST1:
		return throughputLimits(gib, 40, 250, 500)
	case VolumeTypeSC1:
		return throughputLimits(gib, 12, 80, 250)
	}
	return IOLimits{}
}

// throughputLimits are the limits of an HDD volume of gib GiB: base and burst MiB/s per TiB, the
// burst capped at most MiB/s, from a bucket of one TiB of credits per TiB of the volume.
func throughputLimits(gib, base, burst, most int64) IOLimits {
	l := IOLimits{BytesPerSec: max(base*gib*mib/1024, mib), BurstBytesPerSec: min(burst*gib*mib/1024, most*mib)}
	if l.BurstBytesPerSec <= l.BytesPerSec {
		return IOLimits{BytesPerSec: l.BytesPerSec}
	}
	l.BurstSeconds = max(gib<<30/(l.BurstBytesPerSec-l.BytesPerSec), 1)
	return l
}
