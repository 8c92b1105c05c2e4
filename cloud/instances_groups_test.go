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

package cloud_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
)

const groupsZone = "svc-regroup-zone"

// TestModifyInstanceGroups moves a running instance between security groups with
// ModifyInstanceAttribute's groups: only the project's own groups, by id; refused calls change
// nothing; a group the instance left can be deleted.
func TestModifyInstanceGroups(t *testing.T) {
	s := service(t)
	ami := ownNodeAndImage(t, "svc-regroup-node", groupsZone, "svc-regroup-disk")
	ctx := context.Background()
	id := reservationIDs(launchWhenCached(t, s, alice, cloud.RunInstancesInput{ImageID: ami, MinCount: 1, MaxCount: 1,
		InstanceType: "m1.tiny", Placement: &cloud.Placement{AvailabilityZone: groupsZone}}))[0]
	removeAfter(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: "svc-a"}})
	untilInstancesAre(t, s, alice, []string{id}, "running")

	group := func(c cloud.Caller, name string) string {
		t.Helper()
		sg, err := s.CreateSecurityGroup(ctx, c, cloud.CreateSecurityGroupInput{Name: name, Description: name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = s.DeleteSecurityGroup(context.Background(), c, cloud.GroupInput{GroupID: sg.ID})
		})
		return sg.ID
	}
	web, db, bobs := group(alice, "svc-regroup-web"), group(alice, "svc-regroup-db"), group(bob, "svc-regroup-bobs")
	groupSet := func() []string {
		t.Helper()
		attr, err := s.DescribeInstanceAttribute(ctx, alice, cloud.InstanceAttributeInput{InstanceID: id, Attribute: "groupSet"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range attr.Groups {
			out = append(out, g.GroupName)
		}
		return out
	}
	if got := groupSet(); !slices.Equal(got, []string{cloudv1.DefaultSecurityGroupName}) {
		t.Fatalf("groups at launch: %v", got)
	}
	modify := func(c cloud.Caller, groups ...string) error {
		return s.ModifyInstanceAttribute(ctx, c, cloud.ModifyInstanceAttributeInput{InstanceID: id, Groups: groups})
	}

	// Refused: another project's group, one that does not exist, a name for an id, an empty id,
	// another attribute in the same call, another project's caller.
	for _, tc := range []struct {
		name   string
		caller cloud.Caller
		groups []string
		code   string
	}{
		{"another project's group", alice, []string{web, bobs}, cloud.CodeGroupNotFound},
		{"no such group", alice, []string{"sg-0000000000000000f"}, cloud.CodeGroupNotFound},
		{"a name", alice, []string{"svc-regroup-web"}, cloud.CodeGroupIDMalformed},
		{"an empty id", alice, []string{web, ""}, cloud.CodeInvalidParameter},
		{"another project's caller", bob, []string{bobs}, cloud.CodeInstanceNotFound},
	} {
		expectCode(t, modify(tc.caller, tc.groups...), tc.code)
	}
	err := s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: id, Groups: []string{web},
		ShutdownBehavior: ptr.To("terminate")})
	expectCode(t, err, cloud.CodeParamCombination)
	if got := instanceObject(t, "svc-a", id).Spec; len(got.SecurityGroups) != 0 || got.ShutdownBehavior != cloudv1.ShutdownBehaviorStop {
		t.Fatalf("refused modifications changed the instance: %+v", got)
	}

	// Into web and db (named twice: once), then web alone.
	if err := modify(alice, web, db, web); err != nil {
		t.Fatal(err)
	}
	if got := instanceObject(t, "svc-a", id).Spec.SecurityGroups; !slices.Equal(got, []string{web, db}) {
		t.Fatalf("spec groups %v, want %s %s", got, web, db)
	}
	if got := groupSet(); !slices.Equal(got, []string{"svc-regroup-web", "svc-regroup-db"}) {
		t.Fatalf("groupSet %v", got)
	}
	// db is in use while the instance is in it, and free once it left.
	_, err = s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: db})
	expectCode(t, err, "DependencyViolation")
	if err := modify(alice, web); err != nil {
		t.Fatal(err)
	}
	until(t, "db to be deletable", func() error {
		if _, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: db}); err != nil {
			return fmt.Errorf("deleting db: %w", err)
		}
		return nil
	})
	// A group deleted since is refused, and the instance stays where it is.
	expectCode(t, modify(alice, db), cloud.CodeGroupNotFound)
	if got := groupSet(); !slices.Equal(got, []string{"svc-regroup-web"}) {
		t.Fatalf("groupSet after the refusal %v", got)
	}
}
