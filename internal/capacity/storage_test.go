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

package capacity

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func TestAllocatedGiB(t *testing.T) {
	vol := func(uid, node string, gib int32) cloudv1.Volume {
		v := cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{UID: types.UID("u-" + uid)}, Spec: cloudv1.VolumeSpec{SizeGiB: gib}}
		if node != "" {
			v.Labels = map[string]string{cloudv1.LabelStorageNode: node}
		}
		return v
	}
	vols := []cloudv1.Volume{vol("a", "n1", 4), vol("b", "n1", 5), vol("c", "n2", 7), vol("d", "", 3)}
	for _, tc := range []struct {
		node, skip string
		want       int64
	}{
		{"n1", "", 9},
		{"n1", "u-a", 5},
		{"n1", "u-c", 9},
		{"n2", "", 7},
		{"n3", "", 0},
		{"", "", 0},
	} {
		if got := AllocatedGiB(vols, tc.node, tc.skip); got != tc.want {
			t.Errorf("AllocatedGiB(%q, skip %q) = %d, want %d", tc.node, tc.skip, got, tc.want)
		}
	}
}
