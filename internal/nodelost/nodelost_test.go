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

package nodelost

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func TestJudge(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	node := func(status metav1.ConditionStatus, since time.Duration, deleting bool) *cloudv1.Hypervisor {
		hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
		if deleting {
			hv.DeletionTimestamp = &metav1.Time{Time: now}
		}
		if status != "" {
			hv.Status.Conditions = []metav1.Condition{{Type: cloudv1.ReadyCondition, Status: status, Reason: "X",
				LastTransitionTime: metav1.NewTime(now.Add(-since))}}
		}
		return hv
	}
	for _, tc := range []struct {
		name string
		hv   *cloudv1.Hypervisor
		lost bool
		wait time.Duration
	}{
		{"deleted", nil, true, 0},
		{"being deleted", node(metav1.ConditionTrue, time.Hour, true), true, 0},
		{"ready", node(metav1.ConditionTrue, 48*time.Hour, false), false, 0},
		{"never judged", node("", 0, false), false, 0},
		{"down a while", node(metav1.ConditionFalse, time.Hour, false), false, 23 * time.Hour},
		{"down unknown a while", node(metav1.ConditionUnknown, 20*time.Hour, false), false, 4 * time.Hour},
		{"down past the timeout", node(metav1.ConditionFalse, 24*time.Hour, false), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost, why, wait := Judge(tc.hv, now, 24*time.Hour)
			if lost != tc.lost || wait != tc.wait || (lost && why == "") {
				t.Errorf("Judge = %v %q %s, want %v, wait %s", lost, why, wait, tc.lost, tc.wait)
			}
		})
	}
}
