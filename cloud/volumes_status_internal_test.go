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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// TestVolumeStatusOf covers every volume state against its storage node's readiness.
func TestVolumeStatusOf(t *testing.T) {
	ready := map[string]bool{"up": true, "down": false}
	for _, tc := range []struct {
		state      cloudv1.VolumeState
		node       string
		status, io string
	}{
		{"", "", "insufficient-data", "insufficient-data"},
		{cloudv1.VolumeStateCreating, "up", "insufficient-data", "insufficient-data"},
		{cloudv1.VolumeStateAvailable, "up", "ok", "passed"},
		{cloudv1.VolumeStateInUse, "up", "ok", "passed"},
		{cloudv1.VolumeStateAvailable, "down", "impaired", "failed"},
		{cloudv1.VolumeStateInUse, "gone", "impaired", "failed"},
		{cloudv1.VolumeStateError, "up", "impaired", "failed"},
		{cloudv1.VolumeStateDeleting, "up", "insufficient-data", "insufficient-data"},
	} {
		v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "vol-0123456789abcdef0",
			Labels: map[string]string{cloudv1.LabelStorageNode: tc.node}}}
		v.Status.State = tc.state
		got := volumeStatusOf(v, ready)
		if got.Status != tc.status || got.Details[0].Status != tc.io || got.Details[1].Status != "not-applicable" {
			t.Errorf("%q on node %q: %+v, want %s with io-enabled %s", tc.state, tc.node, got, tc.status, tc.io)
		}
	}
}
