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
	"strings"
	"testing"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/nodeagent/domainxml"
)

// TestVolumeIOTune: a volume's limits become its disk's throttle, an SSD's counting 256 KiB as
// one operation; a standard volume gets none.
func TestVolumeIOTune(t *testing.T) {
	vol := func(typ cloudv1.VolumeType, gib int32) *cloudv1.Volume {
		return &cloudv1.Volume{Spec: cloudv1.VolumeSpec{VolumeType: typ, SizeGiB: gib}}
	}
	if volumeIOTune(vol(cloudv1.VolumeTypeStandard, 1)) != nil {
		t.Error("a standard volume got a throttle")
	}
	for _, tc := range []struct {
		v      *cloudv1.Volume
		want   []string
		absent []string
	}{
		{vol("", 1), []string{ // gp2
			"<total_iops_sec>100</total_iops_sec>", "<total_iops_sec_max>3000</total_iops_sec_max>",
			"<total_iops_sec_max_length>1862</total_iops_sec_max_length>", "<total_bytes_sec>262144000</total_bytes_sec>",
			"<size_iops_sec>262144</size_iops_sec>"}, []string{"total_bytes_sec_max"}},
		{vol(cloudv1.VolumeTypeST1, 1024), []string{
			"<total_bytes_sec>41943040</total_bytes_sec>", "<total_bytes_sec_max>262144000</total_bytes_sec_max>",
			"<total_bytes_sec_max_length>4993</total_bytes_sec_max_length>"}, []string{"iops"}},
	} {
		x, err := domainxml.MarshalVolume(domainxml.Volume{Socket: "/run/v.sock", Target: "vdf", Serial: "vol-0123456789abcdef0",
			IOTune: volumeIOTune(tc.v)})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(x, w) {
				t.Errorf("%s: the disk lacks %s:\n%s", tc.v.Spec.VolumeType, w, x)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(x, a) {
				t.Errorf("%s: the disk has %s:\n%s", tc.v.Spec.VolumeType, a, x)
			}
		}
	}
}
