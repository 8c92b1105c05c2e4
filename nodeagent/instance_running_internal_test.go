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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
)

// The agent's report makes an instance running only when the instance controller would: the
// guest runs, the instance is placed and asked to run, not on its way out, and not running yet.
func TestReportMakesRunningOnlyWhatTheControllerWould(t *testing.T) {
	now := metav1.Now()
	launched := func(change func(*cloudv1.Instance)) *cloudv1.Instance {
		inst := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning}}
		inst.Finalizers = []string{cloudv1.DomainFinalizer}
		inst.Status.State = cloudv1.InstanceStatePending
		conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "", now)
		conditions.MarkTrue(inst, cloudv1.InstanceGuestRunning, cloudv1.ReasonRunning, "", now)
		if change != nil {
			change(inst)
		}
		return inst
	}
	for _, tc := range []struct {
		name string
		inst *cloudv1.Instance
		want bool
	}{
		{"launched", launched(nil), true},
		{"running already", launched(func(i *cloudv1.Instance) { i.Status.State = cloudv1.InstanceStateRunning }), false},
		{"guest not running", launched(func(i *cloudv1.Instance) {
			conditions.MarkFalse(i, cloudv1.InstanceGuestRunning, cloudv1.ReasonLaunching, "", now)
		}), false},
		{"not placed", launched(func(i *cloudv1.Instance) {
			conditions.MarkFalse(i, cloudv1.InstanceScheduled, "Unschedulable", "", now)
		}), false},
		{"asked to stop", launched(func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredStopped }), false},
		{"terminated", launched(func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredTerminated }), false},
		{"deleted", launched(func(i *cloudv1.Instance) { i.DeletionTimestamp = &now }), false},
	} {
		sc := &syncScope{inst: tc.inst, now: now}
		makeRunning(sc)
		if sc.madeRunning != tc.want {
			t.Errorf("%s: made running %v, want %v", tc.name, sc.madeRunning, tc.want)
			continue
		}
		if !tc.want {
			continue
		}
		if st := tc.inst.Status; st.State != cloudv1.InstanceStateRunning || st.StateReason != "" {
			t.Errorf("%s: state %q (%q)", tc.name, st.State, st.StateReason)
		}
		if c := conditions.Get(tc.inst, cloudv1.ReadyCondition); c == nil || c.Status != metav1.ConditionTrue || c.Reason != cloudv1.ReasonRunning {
			t.Errorf("%s: Ready %+v", tc.name, c)
		}
	}
}
