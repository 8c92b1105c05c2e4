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

package v1alpha1_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func TestInstanceTerminating(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		name    string
		desired cloudv1.DesiredState
		deleted bool
		guest   *cloudv1.GuestShutdown
		want    bool
	}{
		{name: "running", desired: cloudv1.DesiredRunning},
		{name: "stopped", desired: cloudv1.DesiredStopped},
		{name: "terminated", desired: cloudv1.DesiredTerminated, want: true},
		{name: "deleted while running", desired: cloudv1.DesiredRunning, deleted: true, want: true},
		{name: "guest stopped itself", desired: cloudv1.DesiredRunning,
			guest: &cloudv1.GuestShutdown{State: cloudv1.InstanceStateStopped}},
		{name: "guest shut down, shutdown behavior terminate", desired: cloudv1.DesiredRunning,
			guest: &cloudv1.GuestShutdown{State: cloudv1.InstanceStateTerminated}, want: true},
	} {
		inst := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: tc.desired}}
		inst.Status.GuestShutdown = tc.guest
		if tc.deleted {
			inst.DeletionTimestamp = &now
		}
		if got := inst.Terminating(); got != tc.want {
			t.Errorf("%s: Terminating() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
