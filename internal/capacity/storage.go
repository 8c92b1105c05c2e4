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

import cloudv1 "pinet.io/pinet/api/v1alpha1"

// AllocatedGiB is what volumes take of a storage node: the sum of the given sizes of the volumes placed
// on it (labelled with it; a volume being deleted holds its GiB until it is gone), leaving out
// the volume skip names (one being placed). The node agent reports it as the Hypervisor's
// status.storage.allocatedGiB; the volume controller places by it.
func AllocatedGiB(volumes []cloudv1.Volume, node, skip string) int64 {
	var sum int64
	if node == "" {
		return 0 // unplaced volumes belong to no node
	}
	for i := range volumes {
		v := &volumes[i]
		if v.Labels[cloudv1.LabelStorageNode] == node && (skip == "" || string(v.UID) != skip) {
			sum += int64(v.GivenSizeGiB())
		}
	}
	return sum
}
