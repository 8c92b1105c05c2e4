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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func TestDescribeUsers(t *testing.T) {
	for _, tc := range []struct {
		users []string
		want  string
	}{
		{[]string{"instance i-1"}, "instance i-1"},
		{[]string{"group a", "instance i-1", "instance i-2"}, "group a, instance i-1, instance i-2"},
		{[]string{"group a", "group b", "instance i-1", "instance i-2", "instance i-3"}, "group a, group b, instance i-1 and 2 more"},
	} {
		if got := describeUsers(tc.users); got != tc.want {
			t.Errorf("describeUsers(%v) = %q, want %q", tc.users, got, tc.want)
		}
	}
}

func TestAdmits(t *testing.T) {
	sg := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "sg-0123456789abcdef0"},
		Spec: cloudv1.SecurityGroupSpec{GroupName: "web"}, Status: cloudv1.SecurityGroupStatus{GroupID: "sg-0123456789abcdef0"}}
	rules := func(srcs ...string) *cloudv1.SecurityGroup {
		return &cloudv1.SecurityGroup{Spec: cloudv1.SecurityGroupSpec{Ingress: []cloudv1.IngressRule{
			{Protocol: cloudv1.ProtocolTCP, CIDRIPs: []string{"10.0.0.0/8"}},
			{Protocol: cloudv1.ProtocolAll, SourceGroups: srcs},
		}}}
	}
	for _, tc := range []struct {
		name  string
		other *cloudv1.SecurityGroup
		want  bool
	}{
		{"by name", rules("db", "web"), true},
		{"by id", rules("sg-0123456789abcdef0"), true},
		{"another group", rules("db"), false},
		{"ranges only", &cloudv1.SecurityGroup{Spec: cloudv1.SecurityGroupSpec{Ingress: []cloudv1.IngressRule{
			{Protocol: cloudv1.ProtocolAll, CIDRIPs: []string{"0.0.0.0/0"}}}}}, false},
	} {
		if got := admits(tc.other, sg); got != tc.want {
			t.Errorf("%s: admits = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMembershipChangedPassesTermination(t *testing.T) {
	inst := func(state cloudv1.InstanceState) *cloudv1.Instance {
		return &cloudv1.Instance{Status: cloudv1.InstanceStatus{State: state, PrivateIPAddress: "10.0.0.5"}}
	}
	p := membershipChanged()
	for _, tc := range []struct {
		from, to cloudv1.InstanceState
		want     bool
	}{
		{cloudv1.InstanceStateShuttingDown, cloudv1.InstanceStateTerminated, true},
		{cloudv1.InstanceStatePending, cloudv1.InstanceStateRunning, false},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: inst(tc.from), ObjectNew: inst(tc.to)}); got != tc.want {
			t.Errorf("%s -> %s: %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
