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
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/testenv"
)

func port(v int32) *int32 { return &v }

// describeGroups returns the caller's groups by id.
func describeGroups(t *testing.T, s *cloud.Service, c cloud.Caller) map[string]cloud.SecurityGroup {
	t.Helper()
	got, _, err := s.DescribeSecurityGroups(context.Background(), c, cloud.DescribeSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	return byID(got, func(sg cloud.SecurityGroup) string { return sg.ID })
}

// ingressOf is a group's ingress as comparable text.
func ingressOf(t *testing.T, s *cloud.Service, c cloud.Caller, id string) string {
	t.Helper()
	sg, ok := describeGroups(t, s, c)[id]
	if !ok {
		t.Fatalf("group %s is gone", id)
	}
	var out []string
	for _, p := range sg.Ingress {
		ports := "all"
		if p.FromPort != nil && p.ToPort != nil {
			ports = fmt.Sprintf("%d-%d", *p.FromPort, *p.ToPort)
		}
		out = append(out, fmt.Sprintf("%s %s %v %+v", p.Protocol, ports, p.CIDRs, p.Groups))
	}
	return fmt.Sprint(out)
}

// awaitDefaultGroup waits until the project controller has made the caller's default group.
func awaitDefaultGroup(t *testing.T, s *cloud.Service, c cloud.Caller) string {
	t.Helper()
	var id string
	testenv.Eventually(t, 2*time.Minute, c.Project()+"'s default group", func() error {
		got, _, err := s.DescribeSecurityGroups(context.Background(), c, cloud.DescribeSecurityGroupsInput{Names: []string{"default"}})
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("%d groups named default", len(got))
		}
		id = got[0].ID
		return nil
	})
	return id
}

func TestSecurityGroupsAcrossProjects(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	made, err := s.CreateSecurityGroup(ctx, alice, cloud.CreateSecurityGroupInput{Name: "web", Description: "alice's web",
		TagSpecifications: tagSpecs("security-group", "team", "a")})
	if err != nil {
		t.Fatal(err)
	}
	id := made.ID
	if !strings.HasPrefix(id, "sg-") || made.OwnerID != "svc-a" || made.Tags["team"] != "a" {
		t.Fatalf("created %+v", made)
	}
	bobs, err := s.CreateSecurityGroup(ctx, bob, cloud.CreateSecurityGroupInput{Name: "bobs", Description: "bob's"})
	if err != nil {
		t.Fatal(err)
	}
	// Bob can neither see, change, delete nor name alice's group.
	if _, seen := describeGroups(t, s, bob)[id]; seen {
		t.Fatalf("bob sees alice's group %s", id)
	}
	_, _, err = s.DescribeSecurityGroups(ctx, bob, cloud.DescribeSecurityGroupsInput{IDs: []string{id}})
	expectCode(t, err, cloud.CodeGroupNotFound)
	_, _, err = s.DescribeSecurityGroups(ctx, bob, cloud.DescribeSecurityGroupsInput{Names: []string{"web"}})
	expectCode(t, err, cloud.CodeGroupNotFound)
	open := []cloud.IPPermission{{Protocol: "-1", CIDRs: []string{"0.0.0.0/0"}}}
	_, err = s.AuthorizeSecurityGroupIngress(ctx, bob, cloud.IngressInput{GroupID: id, Permissions: open})
	expectCode(t, err, cloud.CodeGroupNotFound)
	err = s.RevokeSecurityGroupIngress(ctx, bob, cloud.RevokeIngressInput{IngressInput: cloud.IngressInput{GroupID: id, Permissions: open}})
	expectCode(t, err, cloud.CodeGroupNotFound)
	_, err = s.DeleteSecurityGroup(ctx, bob, cloud.GroupInput{GroupID: id})
	expectCode(t, err, cloud.CodeGroupNotFound)
	for _, src := range []cloud.GroupPair{{GroupID: id}, {GroupName: "web"}, {GroupName: "web", UserID: "svc-a"}, {GroupID: bobs.ID, UserID: "svc-a"}} {
		_, err = s.AuthorizeSecurityGroupIngress(ctx, bob, cloud.IngressInput{GroupID: bobs.ID,
			Permissions: []cloud.IPPermission{{Protocol: "tcp", FromPort: port(80), ToPort: port(80), Groups: []cloud.GroupPair{src}}}})
		expectCode(t, err, cloud.CodeGroupNotFound)
	}
	_, err = s.AuthorizeSecurityGroupIngress(ctx, bob, cloud.IngressInput{GroupID: bobs.ID,
		Flat: cloud.FlatPermission{SourceGroupName: "web", SourceGroupOwnerID: "svc-a"}})
	expectCode(t, err, cloud.CodeGroupNotFound)
	if got := ingressOf(t, s, bob, bobs.ID); got != "[]" {
		t.Fatalf("bob's group admits %s after refused calls", got)
	}
	// The same name in bob's project is bob's own group.
	namesake, err := s.CreateSecurityGroup(ctx, bob, cloud.CreateSecurityGroupInput{Name: "web", Description: "bob's web"})
	if err != nil || namesake.ID == id {
		t.Fatalf("bob's sg-web: %+v %v", namesake, err)
	}
	if sg := describeGroups(t, s, alice)[id]; sg.Description != "alice's web" || sg.Name != "web" {
		t.Fatalf("alice's group after bob's calls: %+v", sg)
	}

	// Alice's own rules: a range, and her group itself as a source.
	rules, err := s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupName: "web", Permissions: []cloud.IPPermission{
		{Protocol: "tcp", FromPort: port(22), ToPort: port(22), CIDRs: []string{"10.1.2.3/8"}, Groups: []cloud.GroupPair{{GroupName: "web"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].CIDR != "10.0.0.0/8" || rules[1].ReferencedGroupID != id || rules[1].ReferencedGroupUserID != "svc-a" ||
		rules[0].FromPort != 22 || rules[0].GroupID != id || rules[0].ID == rules[1].ID {
		t.Fatalf("rules %+v", rules)
	}
	byCIDR, _, err := s.DescribeSecurityGroups(ctx, alice, cloud.DescribeSecurityGroupsInput{
		Filters: []query.Filter{{Name: "ip-permission.cidr", Values: []string{"10.0.0.0/8"}}}})
	if err != nil || len(byCIDR) != 1 || byCIDR[0].ID != id {
		t.Fatalf("by cidr: %+v %v", byCIDR, err)
	}
	if got := byCIDR[0].Ingress; len(got) != 1 || len(got[0].Groups) != 1 || got[0].Groups[0] != (cloud.GroupPair{UserID: "svc-a", GroupID: id, GroupName: "web"}) {
		t.Fatalf("ingress %+v", got)
	}
	if err := s.RevokeSecurityGroupIngress(ctx, alice, cloud.RevokeIngressInput{IngressInput: cloud.IngressInput{GroupID: id},
		RuleIDs: []string{rules[0].ID, rules[1].ID}}); err != nil {
		t.Fatal(err)
	}
	if got := ingressOf(t, s, alice, id); got != "[]" {
		t.Fatalf("after revoking every rule: %s", got)
	}
	if deleted, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupName: "web"}); err != nil || deleted != id {
		t.Fatalf("delete: %q %v", deleted, err)
	}
	if _, left := describeGroups(t, s, alice)[id]; left {
		t.Fatal("alice's group is still shown after its deletion")
	}
	if _, kept := describeGroups(t, s, bob)[namesake.ID]; !kept {
		t.Fatal("alice's delete took bob's namesake")
	}
}

func TestSecurityGroupRefusalsMakeNothing(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	defaultID := awaitDefaultGroup(t, s, alice)
	guarded, err := s.CreateSecurityGroup(ctx, alice, cloud.CreateSecurityGroupInput{Name: "guarded", Description: "refusals"})
	if err != nil {
		t.Fatal(err)
	}
	ssh := cloud.IPPermission{Protocol: "tcp", FromPort: port(22), ToPort: port(22), CIDRs: []string{"192.0.2.0/24"}}
	if _, err := s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupID: guarded.ID, Permissions: []cloud.IPPermission{ssh}}); err != nil {
		t.Fatal(err)
	}
	groupsBefore, ingressBefore := len(describeGroups(t, s, alice)), ingressOf(t, s, alice, guarded.ID)
	create := func(in cloud.CreateSecurityGroupInput) func() error {
		return func() error { _, err := s.CreateSecurityGroup(ctx, alice, in); return err }
	}
	authorize := func(perms ...cloud.IPPermission) func() error {
		return func() error {
			_, err := s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupID: guarded.ID, Permissions: perms})
			return err
		}
	}
	web := cloud.IPPermission{Protocol: "tcp", FromPort: port(443), ToPort: port(443), CIDRs: []string{"0.0.0.0/0"}}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"no name", create(cloud.CreateSecurityGroupInput{Description: "d"}), cloud.CodeMissingParameter},
		{"no description", create(cloud.CreateSecurityGroupInput{Name: "n"}), cloud.CodeMissingParameter},
		{"long name", create(cloud.CreateSecurityGroupInput{Name: strings.Repeat("g", 256), Description: "d"}), cloud.CodeInvalidParameter},
		{"name beyond ASCII", create(cloud.CreateSecurityGroupInput{Name: "grüppe", Description: "d"}), cloud.CodeInvalidParameter},
		{"name like an id", create(cloud.CreateSecurityGroupInput{Name: "SG-mine", Description: "d"}), cloud.CodeInvalidParameter},
		{"the default name", create(cloud.CreateSecurityGroupInput{Name: "default", Description: "d"}), cloud.CodeGroupDuplicate},
		{"a taken name", create(cloud.CreateSecurityGroupInput{Name: "guarded", Description: "d"}), cloud.CodeGroupDuplicate},
		{"wrong tag resource type", create(cloud.CreateSecurityGroupInput{Name: "n", Description: "d",
			TagSpecifications: []cloud.TagSpecification{{ResourceType: "instance"}}}), cloud.CodeInvalidParameter},
		{"create without a role", func() error {
			_, err := s.CreateSecurityGroup(ctx, stranger, cloud.CreateSecurityGroupInput{Name: "n", Description: "d"})
			return err
		}, cloud.CodeUnauthorized},
		{"create dry run", create(cloud.CreateSecurityGroupInput{Name: "n", Description: "d", DryRun: true}), cloud.CodeDryRun},
		{"no permissions", authorize(), cloud.CodeMissingParameter},
		{"unknown protocol", authorize(cloud.IPPermission{Protocol: "gre", CIDRs: []string{"0.0.0.0/0"}}), cloud.CodeInvalidParameter},
		{"tcp without ports", authorize(cloud.IPPermission{Protocol: "tcp", CIDRs: []string{"0.0.0.0/0"}}), cloud.CodeInvalidParameter},
		{"reversed ports", authorize(cloud.IPPermission{Protocol: "udp", FromPort: port(53), ToPort: port(52), CIDRs: []string{"0.0.0.0/0"}}), cloud.CodeInvalidParameter},
		{"icmp type out of range", authorize(cloud.IPPermission{Protocol: "icmp", FromPort: port(256), CIDRs: []string{"0.0.0.0/0"}}), cloud.CodeInvalidParameter},
		{"IPv6 range", authorize(cloud.IPPermission{Protocol: "-1", CIDRs: []string{"fe80::/10"}}), cloud.CodeInvalidParameter},
		{"no source", authorize(cloud.IPPermission{Protocol: "-1"}), cloud.CodeMissingParameter},
		{"malformed source id", authorize(cloud.IPPermission{Protocol: "-1", Groups: []cloud.GroupPair{{GroupID: "nope"}}}), cloud.CodeGroupIDMalformed},
		{"unknown source group", authorize(cloud.IPPermission{Protocol: "-1", Groups: []cloud.GroupPair{{GroupName: "never-made"}}}), cloud.CodeGroupNotFound},
		{"a new permission beside one the group has", authorize(web, ssh), cloud.CodePermissionDuplicate},
		{"flat and listed permissions at once", func() error {
			_, err := s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupID: guarded.ID, Permissions: []cloud.IPPermission{web},
				Flat: cloud.FlatPermission{Protocol: "-1", CIDR: "0.0.0.0/0"}})
			return err
		}, cloud.CodeParamCombination},
		{"authorize dry run", func() error {
			_, err := s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupID: guarded.ID, Permissions: []cloud.IPPermission{web}, DryRun: true})
			return err
		}, cloud.CodeDryRun},
		{"authorize without a role", func() error {
			_, err := s.AuthorizeSecurityGroupIngress(ctx, stranger, cloud.IngressInput{GroupID: guarded.ID, Permissions: []cloud.IPPermission{web}})
			return err
		}, cloud.CodeUnauthorized},
		{"revoke a permission the group lacks", func() error {
			return s.RevokeSecurityGroupIngress(ctx, alice, cloud.RevokeIngressInput{IngressInput: cloud.IngressInput{GroupID: guarded.ID,
				Permissions: []cloud.IPPermission{ssh, web}}})
		}, cloud.CodePermissionNotFound},
		{"revoke an unknown rule id", func() error {
			return s.RevokeSecurityGroupIngress(ctx, alice, cloud.RevokeIngressInput{IngressInput: cloud.IngressInput{GroupID: guarded.ID},
				RuleIDs: []string{"sgr-00000000000000000"}})
		}, cloud.CodeRuleNotFound},
		{"revoke dry run", func() error {
			return s.RevokeSecurityGroupIngress(ctx, alice, cloud.RevokeIngressInput{IngressInput: cloud.IngressInput{GroupID: guarded.ID,
				Permissions: []cloud.IPPermission{ssh}, DryRun: true}})
		}, cloud.CodeDryRun},
		{"delete the default group", func() error {
			_, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: defaultID})
			return err
		}, cloud.CodeCannotDelete},
		{"delete naming nothing", func() error { _, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{}); return err }, cloud.CodeMissingParameter},
		{"delete a malformed id", func() error {
			_, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: "sg-!"})
			return err
		}, cloud.CodeGroupIDMalformed},
		{"delete dry run", func() error {
			_, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: guarded.ID, DryRun: true})
			return err
		}, cloud.CodeDryRun},
		{"describe dry run", func() error {
			_, _, err := s.DescribeSecurityGroups(ctx, alice, cloud.DescribeSecurityGroupsInput{DryRun: true})
			return err
		}, cloud.CodeDryRun},
		{"describe a page too small", func() error {
			_, _, err := s.DescribeSecurityGroups(ctx, alice, cloud.DescribeSecurityGroupsInput{Page: cloud.Page{MaxResults: port(4)}})
			return err
		}, cloud.CodeInvalidParameter},
		{"describe with an unknown filter", func() error {
			_, _, err := s.DescribeSecurityGroups(ctx, alice, cloud.DescribeSecurityGroupsInput{Filters: []query.Filter{{Name: "vpc-id", Values: []string{"v"}}}})
			return err
		}, cloud.CodeInvalidParameter},
	} {
		t.Run(tc.name, func(t *testing.T) { expectCode(t, tc.call(), tc.code) })
	}
	if after := len(describeGroups(t, s, alice)); after != groupsBefore {
		t.Fatalf("refused calls left %d groups, want %d", after, groupsBefore)
	}
	if after := ingressOf(t, s, alice, guarded.ID); after != ingressBefore {
		t.Fatalf("refused calls changed the ingress from %s to %s", ingressBefore, after)
	}
}

// TestSecurityGroupInUseIsKept checks that a group another group's rule admits is not deleted
// until the rule is revoked.
func TestSecurityGroupInUseIsKept(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	admitted, err := s.CreateSecurityGroup(ctx, alice, cloud.CreateSecurityGroupInput{Name: "admitted", Description: "a source"})
	if err != nil {
		t.Fatal(err)
	}
	admitting, err := s.CreateSecurityGroup(ctx, alice, cloud.CreateSecurityGroupInput{Name: "admitting", Description: "names it"})
	if err != nil {
		t.Fatal(err)
	}
	from := cloud.IngressInput{GroupID: admitting.ID, Flat: cloud.FlatPermission{SourceGroupName: "admitted"}}
	if _, err := s.AuthorizeSecurityGroupIngress(ctx, alice, from); err != nil {
		t.Fatal(err)
	}
	_, err = s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: admitted.ID})
	expectCode(t, err, cloud.CodeDependencyViolation)
	if _, kept := describeGroups(t, s, alice)[admitted.ID]; !kept {
		t.Fatal("a refused delete removed the group")
	}
	if err := s.RevokeSecurityGroupIngress(ctx, alice, cloud.RevokeIngressInput{IngressInput: from}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{admitted.ID, admitting.ID} {
		if _, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: id}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentAuthorizesAllLand checks that racing changes of one group's rules lose none.
func TestConcurrentAuthorizesAllLand(t *testing.T) {
	s := service(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sg, err := s.CreateSecurityGroup(ctx, bob, cloud.CreateSecurityGroupInput{Name: "raced-rules", Description: "many writers"})
	if err != nil {
		t.Fatal(err)
	}
	errs := testenv.Race(6, func(i int) error {
		p := port(int32(8000 + i))
		_, err := s.AuthorizeSecurityGroupIngress(ctx, bob, cloud.IngressInput{GroupID: sg.ID,
			Permissions: []cloud.IPPermission{{Protocol: "tcp", FromPort: p, ToPort: p, CIDRs: []string{"198.51.100.0/24"}}}})
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := describeGroups(t, s, bob)[sg.ID].Ingress; len(got) != len(errs) {
		t.Fatalf("%d racing authorizes left %d rules: %+v", len(errs), len(got), got)
	}
}
