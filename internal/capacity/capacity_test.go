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

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func TestClaimOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec cloudv1.InstanceTypeSpec
		want Claim
	}{
		{"no overcommit", cloudv1.InstanceTypeSpec{VCPUs: 2, MemoryMiB: 4096, CPUOvercommit: 1, MemoryOvercommit: 1},
			Claim{2000, 4096, cloudv1.InstanceClassStandard}},
		{"tiny 5x cpu", cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 512, CPUOvercommit: 5, MemoryOvercommit: 1, Class: cloudv1.InstanceClassTiny},
			Claim{200, 512, cloudv1.InstanceClassTiny}},
		{"rounds up", cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 1001, CPUOvercommit: 3, MemoryOvercommit: 2},
			Claim{334, 501, cloudv1.InstanceClassStandard}},
		{"zero ratios count as one", cloudv1.InstanceTypeSpec{VCPUs: 1, MemoryMiB: 64},
			Claim{1000, 64, cloudv1.InstanceClassStandard}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClaimOf(&cloudv1.InstanceType{Spec: tc.spec}); got != tc.want {
				t.Fatalf("ClaimOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHolds(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		name string
		inst cloudv1.Instance
		want bool
	}{
		{"unbound", cloudv1.Instance{}, false},
		{"bound", cloudv1.Instance{Status: cloudv1.InstanceStatus{Hypervisor: "hv"}}, true},
		{"stopped", cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredStopped},
			Status: cloudv1.InstanceStatus{Hypervisor: "hv"}}, true},
		{"terminating with domain", cloudv1.Instance{
			ObjectMeta: metav1.ObjectMeta{Finalizers: []string{cloudv1.DomainFinalizer}},
			Spec:       cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredTerminated},
			Status:     cloudv1.InstanceStatus{Hypervisor: "hv"}}, true},
		{"terminated", cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredTerminated},
			Status: cloudv1.InstanceStatus{Hypervisor: "hv"}}, false},
		{"deleted, domain gone", cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now},
			Status: cloudv1.InstanceStatus{Hypervisor: "hv"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Holds(&tc.inst); got != tc.want {
				t.Fatalf("Holds = %v, want %v", got, tc.want)
			}
		})
	}
}
