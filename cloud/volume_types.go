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

package cloud

import (
	"slices"
	"strings"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// volumeTypes EC2 knows. Every one is stored alike; the type, its iops and its throughput decide
// the I/O the guest is given (cloudv1.Volume.IOLimits, enforced by the compute node's QEMU).
var volumeTypes = []string{"standard", "gp2", "gp3", "io1", "io2", "sc1", "st1"}

// volumeTypeSpec is a volume's type with its provisioned iops and throughput (0: unset).
type volumeTypeSpec struct {
	Type             cloudv1.VolumeType
	Iops, Throughput int32
}

// checkVolumeType checks a volume's type (gp2 when empty, EC2's default), size, iops and
// throughput as EC2's CreateVolume does: iops only for gp3, io1 and io2 (required for io1 and
// io2) within their ranges and ratios to the size, throughput only for gp3, and each type's
// sizes. The admission rules of Volume say the same to kubectl.
func checkVolumeType(typ string, size int32, iops, throughput *int32) (volumeTypeSpec, error) {
	if typ == "" {
		typ = string(cloudv1.VolumeTypeGP2)
	}
	if !slices.Contains(volumeTypes, typ) {
		return volumeTypeSpec{}, InvalidParam("Value (%s) for parameter volumeType is invalid. Valid values are %s.", clipID(typ), strings.Join(volumeTypes, ", "))
	}
	out := volumeTypeSpec{Type: cloudv1.VolumeType(typ)}
	if iops != nil {
		out.Iops = *iops
	}
	if throughput != nil {
		out.Throughput = *throughput
	}
	// A gp3 volume of any size has its 3000 baseline iops; more take 500 per GiB.
	baselineIops := map[string]int64{"gp3": 3000}
	provisioned := map[string]struct{ lo, hi, perGiB int32 }{"gp3": {3000, 16000, 500}, "io1": {100, 64000, 50}, "io2": {100, 256000, 1000}}
	limit, takesIops := provisioned[typ]
	switch {
	case iops != nil && !takesIops:
		return volumeTypeSpec{}, BadRequest(CodeParamCombination, "The parameter iops is not supported for %s volumes.", typ)
	case iops == nil && (typ == "io1" || typ == "io2"):
		return volumeTypeSpec{}, BadRequest(CodeMissingParameter, "The request must contain the parameter iops for %s volumes.", typ)
	case iops != nil && (*iops < limit.lo || *iops > limit.hi):
		return volumeTypeSpec{}, InvalidParam("Volume iops of %d is invalid for %s; the range is %d to %d.", *iops, typ, limit.lo, limit.hi)
	case iops != nil && int64(*iops) > max(int64(limit.perGiB)*int64(size), baselineIops[typ]):
		return volumeTypeSpec{}, InvalidParam("Iops to volume size ratio of %.1f is too high; maximum is %d for %s.", float64(*iops)/float64(size), limit.perGiB, typ)
	case throughput != nil && typ != "gp3":
		return volumeTypeSpec{}, BadRequest(CodeParamCombination, "The parameter throughput is not supported for %s volumes.", typ)
	case throughput != nil && (*throughput < 125 || *throughput > 1000):
		return volumeTypeSpec{}, InvalidParam("Throughput of %d MiB/s is invalid; the range is 125 to 1000.", *throughput)
	case throughput != nil && *throughput*4 > max(out.Iops, 3000):
		return volumeTypeSpec{}, InvalidParam("Throughput of %d MiB/s is too high for %d iops; at most 0.25 MiB/s per iops.", *throughput, max(out.Iops, 3000))
	case (typ == "io1" || typ == "io2") && size < 4:
		return volumeTypeSpec{}, InvalidParam("Volume of %d GiB is too small for %s; the minimum is 4 GiB.", size, typ)
	case (typ == "st1" || typ == "sc1") && size < 125:
		return volumeTypeSpec{}, InvalidParam("Volume of %d GiB is too small for %s; the minimum is 125 GiB.", size, typ)
	case typ == "standard" && size > 1024:
		return volumeTypeSpec{}, InvalidParam("Volume of %d GiB is too large for standard; the maximum is 1024 GiB.", size)
	}
	return out, nil
}
