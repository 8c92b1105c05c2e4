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

package index

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Only instances refused an address or quota they may still get are indexed as waiting: a
// terminated instance that released its address, or one that no longer counts against the
// quota, waits for nothing.
func TestInstanceWaits(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name       string
		conditions []metav1.Condition
		desired    cloudv1.DesiredState
		deleting   bool
		want       []string
	}{
		{name: "new", want: nil},
		{name: "addressed and admitted", conditions: []metav1.Condition{
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionTrue, "Assigned"),
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionTrue, cloudv1.ReasonAdmitted)}},
		{name: "refused an address", conditions: []metav1.Condition{
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionFalse, "InsufficientAddresses")},
			want: []string{WaitingForAddress}},
		{name: "released its address", conditions: []metav1.Condition{
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionFalse, cloudv1.ReasonAddressReleased)}},
		{name: "refused quota", conditions: []metav1.Condition{
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionFalse, "QuotaExceeded")},
			want: []string{WaitingForQuota}},
		{name: "refused quota, then terminated", desired: cloudv1.DesiredTerminated, conditions: []metav1.Condition{
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionFalse, "QuotaExceeded")}},
		{name: "refused quota, being deleted", deleting: true, conditions: []metav1.Condition{
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionFalse, "QuotaExceeded")}},
		{name: "refused both", conditions: []metav1.Condition{
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionFalse, "QuotaExceeded"),
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionFalse, "InsufficientAddresses")},
			want: []string{WaitingForAddress, WaitingForQuota}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := &cloudv1.Instance{}
			inst.Status.Conditions = tc.conditions
			inst.Spec.DesiredState = tc.desired
			if tc.deleting {
				inst.DeletionTimestamp = &now
			}
			if got := instanceWaits(inst); !slices.Equal(got, tc.want) {
				t.Errorf("waits for %v, want %v", got, tc.want)
			}
		})
	}
}
