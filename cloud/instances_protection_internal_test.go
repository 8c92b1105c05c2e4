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
	"pinet.io/pinet/ec2shim/query"
)

// TestProtectionDecisions covers the states a stop or terminate of a protected instance meets,
// among them those only a guest's own power-off reaches: the guest may take a protected
// instance where the API may not, and a later call then has nothing to write.
func TestProtectionDecisions(t *testing.T) {
	byGuest := func(state cloudv1.InstanceState) *cloudv1.GuestShutdown {
		return &cloudv1.GuestShutdown{State: state, Time: metav1.Now()}
	}
	cases := []struct {
		name       string
		spec       cloudv1.InstanceSpec
		guest      *cloudv1.GuestShutdown
		want       cloudv1.DesiredState
		code       string // the refusal; "" for none
		needsWrite bool
	}{
		{"terminate protected", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning, DisableAPITermination: true}, nil,
			cloudv1.DesiredTerminated, CodeNotPermitted, true},
		{"terminate protected, stopped", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredStopped, DisableAPITermination: true}, nil,
			cloudv1.DesiredTerminated, CodeNotPermitted, true},
		{"terminate protected, stopped by its guest", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning, DisableAPITermination: true},
			byGuest(cloudv1.InstanceStateStopped), cloudv1.DesiredTerminated, CodeNotPermitted, true},
		{"terminate protected, terminated by its guest", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning, DisableAPITermination: true},
			byGuest(cloudv1.InstanceStateTerminated), cloudv1.DesiredTerminated, "", false},
		{"terminate, only stop protected", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning, DisableAPIStop: true}, nil,
			cloudv1.DesiredTerminated, "", true},
		{"terminate unprotected, terminated by its guest", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning},
			byGuest(cloudv1.InstanceStateTerminated), cloudv1.DesiredTerminated, "", true},
		{"stop protected", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning, DisableAPIStop: true}, nil,
			cloudv1.DesiredStopped, CodeNotPermitted, true},
		{"stop protected, stopped by its guest", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning, DisableAPIStop: true},
			byGuest(cloudv1.InstanceStateStopped), cloudv1.DesiredStopped, "", false},
		{"stop protected, already stopped", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredStopped, DisableAPIStop: true}, nil,
			cloudv1.DesiredStopped, "", false},
		{"stop protected, terminated by its guest", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning, DisableAPIStop: true},
			byGuest(cloudv1.InstanceStateTerminated), cloudv1.DesiredStopped, CodeIncorrectState, true},
		{"stop, only termination protected", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning, DisableAPITermination: true}, nil,
			cloudv1.DesiredStopped, "", true},
		{"start protected", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredStopped, DisableAPITermination: true, DisableAPIStop: true}, nil,
			cloudv1.DesiredRunning, "", true},
		{"terminate protected, already terminating", cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredTerminated, DisableAPITermination: true}, nil,
			cloudv1.DesiredTerminated, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "i-0123456789abcdef0"}, Spec: tc.spec}
			inst.Status.GuestShutdown = tc.guest
			err := checkStateChange(inst, tc.want)
			if got := query.ErrorFrom(err).Code; err != nil && got != tc.code || err == nil && tc.code != "" {
				t.Fatalf("checked: %v, want code %q", err, tc.code)
			}
			if err != nil {
				return
			}
			if got := needsDesiredState(inst, tc.want); got != tc.needsWrite {
				t.Fatalf("needs a write: %v, want %v", got, tc.needsWrite)
			}
		})
	}
}
