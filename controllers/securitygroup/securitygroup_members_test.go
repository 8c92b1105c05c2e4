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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

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

// The group's own status writes (a recount of members) reconcile neither the group again nor the
// other groups of its project; changes of what rules find, or of the group's own spec and
// lifecycle, do.
func TestGroupEventsPassedOnlyWhenTheyMatter(t *testing.T) {
	base := func() *cloudv1.SecurityGroup {
		return &cloudv1.SecurityGroup{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 1, Finalizers: []string{cloudv1.SecurityGroupFinalizer}},
			Status:     cloudv1.SecurityGroupStatus{GroupID: "sg-0123456789abcdef0", MemberIPs: []string{"10.0.0.5"}},
		}
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name         string
		change       func(*cloudv1.SecurityGroup)
		self, others bool
	}{
		{"members recounted", func(sg *cloudv1.SecurityGroup) { sg.Status.MemberIPs = append(sg.Status.MemberIPs, "10.0.0.6") }, false, false},
		{"ready condition", func(sg *cloudv1.SecurityGroup) {
			sg.Status.Conditions = []metav1.Condition{{Type: cloudv1.ReadyCondition, Status: metav1.ConditionTrue}}
		}, false, false},
		{"rules changed", func(sg *cloudv1.SecurityGroup) { sg.Generation++ }, true, true},
		{"id assigned", func(sg *cloudv1.SecurityGroup) { sg.Status.GroupID = "sg-0fedcba9876543210" }, false, true},
		{"being deleted", func(sg *cloudv1.SecurityGroup) { sg.DeletionTimestamp = &now }, true, true},
		{"finalizer gone", func(sg *cloudv1.SecurityGroup) { sg.Finalizers = nil }, true, false},
		{"labelled", func(sg *cloudv1.SecurityGroup) { sg.Labels = map[string]string{"tier": "web"} }, true, false},
	} {
		old, cur := base(), base()
		tc.change(cur)
		ev := event.UpdateEvent{ObjectOld: old, ObjectNew: cur}
		if got := notStatusOnly().Update(ev); got != tc.self {
			t.Errorf("%s: the group reconciled again = %v, want %v", tc.name, got, tc.self)
		}
		if got := sourceChanged().Update(ev); got != tc.others {
			t.Errorf("%s: the other groups reconciled = %v, want %v", tc.name, got, tc.others)
		}
	}
}
