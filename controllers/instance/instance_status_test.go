/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package instance

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// A guest's power-off changes the state the instance is to be in without touching its spec.
func TestEffectiveDesiredState(t *testing.T) {
	stopped := &cloudv1.GuestShutdown{State: cloudv1.InstanceStateStopped}
	terminated := &cloudv1.GuestShutdown{State: cloudv1.InstanceStateTerminated}
	for _, tc := range []struct {
		spec cloudv1.DesiredState
		gs   *cloudv1.GuestShutdown
		want cloudv1.DesiredState
	}{
		{cloudv1.DesiredRunning, nil, cloudv1.DesiredRunning},
		{cloudv1.DesiredStopped, nil, cloudv1.DesiredStopped},
		{cloudv1.DesiredRunning, stopped, cloudv1.DesiredStopped},
		{cloudv1.DesiredStopped, stopped, cloudv1.DesiredStopped},
		{cloudv1.DesiredTerminated, stopped, cloudv1.DesiredTerminated},
		{cloudv1.DesiredRunning, terminated, cloudv1.DesiredTerminated},
		// Terminated is for good: a later spec cannot bring the guest back.
		{cloudv1.DesiredStopped, terminated, cloudv1.DesiredTerminated},
	} {
		inst := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: tc.spec}, Status: cloudv1.InstanceStatus{GuestShutdown: tc.gs}}
		if got := inst.EffectiveDesiredState(); got != tc.want {
			t.Errorf("spec %s, guest shutdown %+v: %s, want %s", tc.spec, tc.gs, got, tc.want)
		}
	}
}

// The derived EC2 state follows the guest's power-off.
func TestDeriveStateAfterGuestPowerOff(t *testing.T) {
	scheduled := metav1.Condition{Type: cloudv1.InstanceScheduled, Status: metav1.ConditionTrue, Reason: "Scheduled"}
	inst := &cloudv1.Instance{
		Spec: cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning},
		Status: cloudv1.InstanceStatus{
			GuestShutdown: &cloudv1.GuestShutdown{State: cloudv1.InstanceStateStopped},
			Conditions:    []metav1.Condition{scheduled},
		},
	}
	if got, _ := deriveState(inst); got != cloudv1.InstanceStateStopped {
		t.Errorf("stopped by the guest: %s", got)
	}
	inst.Status.GuestShutdown.State = cloudv1.InstanceStateTerminated
	inst.Finalizers = []string{cloudv1.DomainFinalizer}
	if got, _ := deriveState(inst); got != cloudv1.InstanceStateShuttingDown {
		t.Errorf("terminated by the guest, domain not yet removed: %s", got)
	}
	inst.Finalizers = nil
	if got, _ := deriveState(inst); got != cloudv1.InstanceStateTerminated {
		t.Errorf("terminated by the guest: %s", got)
	}
}
