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

package securitygroup

import (
	"fmt"
	"testing"
	"time"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// A large group's member list is written less often, so that the bytes a launch writes per second
// stay level as the group grows, but never more than maxMemberBatches batches apart.
func TestLargeGroupsWaitLongerBetweenMemberWrites(t *testing.T) {
	r := &Reconciler{MemberBatch: time.Second}
	for _, tc := range []struct {
		members int
		want    time.Duration
	}{
		{0, time.Second},
		{999, time.Second},
		{1000, 2 * time.Second},
		{5000, 6 * time.Second},
		{16000, 10 * time.Second},
	} {
		sg := &cloudv1.SecurityGroup{}
		for i := range tc.members {
			sg.Status.MemberIPs = append(sg.Status.MemberIPs, fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255))
		}
		if got := r.memberBatch(sg); got != tc.want {
			t.Errorf("%d members: batch %v, want %v", tc.members, got, tc.want)
		}
	}
}
