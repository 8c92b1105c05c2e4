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

package ec2shim_test

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// groupPermissions flattens a group's ingress permissions into "protocol from-to source" lines.
func groupPermissions(sg types.SecurityGroup) []string {
	var out []string
	for _, p := range sg.IpPermissions {
		ports := "all"
		if p.FromPort != nil {
			ports = fmt.Sprintf("%d-%d", aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort))
		}
		for _, r := range p.IpRanges {
			out = append(out, fmt.Sprintf("%s %s %s", aws.ToString(p.IpProtocol), ports, aws.ToString(r.CidrIp)))
		}
		for _, g := range p.UserIdGroupPairs {
			out = append(out, fmt.Sprintf("%s %s %s", aws.ToString(p.IpProtocol), ports, aws.ToString(g.GroupName)))
		}
	}
	sort.Strings(out)
	return out
}

func describeGroup(t *testing.T, cl *ec2.Client, name string) types.SecurityGroup {
	t.Helper()
	return only(t, "group "+name, cl.DescribeSecurityGroups, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{name}},
		func(out *ec2.DescribeSecurityGroupsOutput) []types.SecurityGroup { return out.SecurityGroups })
}

func groupNamesOf(groups []types.SecurityGroup) []string {
	return idsOf(groups, func(g types.SecurityGroup) *string { return g.GroupName })
}

func tcp(port int32, cidrs ...string) types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port)}
	for _, c := range cidrs {
		p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(c)})
	}
	return p
}

func TestSecurityGroupLifecycle(t *testing.T) {
	_, _, cl := tenant(t, "sglife")
	ctx := context.Background()

	created, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("web"), Description: aws.String("web servers"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup,
			Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("front")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	webID := aws.ToString(created.GroupId)
	if !strings.HasPrefix(webID, "sg-") || len(created.Tags) != 1 || aws.ToString(created.Tags[0].Value) != "front" {
		t.Fatalf("created %s with tags %+v", webID, created.Tags)
	}
	web := describeGroup(t, cl, "web")
	if aws.ToString(web.GroupId) != webID || aws.ToString(web.Description) != "web servers" || aws.ToString(web.OwnerId) != "sglife" ||
		len(web.IpPermissions) != 0 || len(web.IpPermissionsEgress) != 1 || aws.ToString(web.IpPermissionsEgress[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Fatalf("described %+v", web)
	}
	testenv.Eventually(t, shortWait, "the default group to have an id", func() error {
		out, err := cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
		if err != nil {
			return err
		}
		if got := groupNamesOf(out.SecurityGroups); fmt.Sprint(got) != "[default web]" {
			return fmt.Errorf("groups %v", got)
		}
		return nil
	})

	// Authorize in both forms, with ranges, groups and ICMP.
	auth, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(webID),
		IpPermissions: []types.IpPermission{
			tcp(22, "0.0.0.0/0", "10.0.0.0/8"),
			{IpProtocol: aws.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupName: aws.String("default")}}},
			{IpProtocol: aws.String("icmp"), FromPort: aws.Int32(-1), ToPort: aws.Int32(-1), IpRanges: []types.IpRange{{CidrIp: aws.String("192.168.0.0/16")}}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(auth.Return) || len(auth.SecurityGroupRules) != 4 {
		t.Fatalf("authorize answered %v with %d rules", aws.ToBool(auth.Return), len(auth.SecurityGroupRules))
	}
	icmpRule := ""
	for _, r := range auth.SecurityGroupRules {
		if !strings.HasPrefix(aws.ToString(r.SecurityGroupRuleId), "sgr-") || aws.ToString(r.GroupId) != webID {
			t.Fatalf("rule %+v", r)
		}
		if aws.ToString(r.IpProtocol) == "icmp" {
			icmpRule = aws.ToString(r.SecurityGroupRuleId)
		}
		if aws.ToString(r.IpProtocol) == "-1" && (r.ReferencedGroupInfo == nil || aws.ToString(r.ReferencedGroupInfo.GroupId) == "") {
			t.Fatalf("group rule %+v", r)
		}
	}
	if _, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("web"),
		IpProtocol: aws.String("6"), FromPort: aws.Int32(80), ToPort: aws.Int32(80), CidrIp: aws.String("203.0.113.7/24")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("web"),
		SourceSecurityGroupName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	want := []string{"-1 all default", "-1 all web", "icmp -1--1 192.168.0.0/16", "tcp 22-22 0.0.0.0/0", "tcp 22-22 10.0.0.0/8", "tcp 80-80 203.0.113.0/24"}
	if got := groupPermissions(describeGroup(t, cl, "web")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("permissions\n%v, want\n%v", got, want)
	}

	// The same permission twice, however it is written, is a duplicate.
	for _, in := range []*ec2.AuthorizeSecurityGroupIngressInput{
		{GroupName: aws.String("web"), IpPermissions: []types.IpPermission{tcp(22, "10.0.0.0/8")}},
		{GroupId: aws.String(webID), IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80), CidrIp: aws.String("203.0.113.0/24")},
		{GroupName: aws.String("web"), IpPermissions: []types.IpPermission{{IpProtocol: aws.String("all"),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(webID)}}}}},
	} {
		_, err := cl.AuthorizeSecurityGroupIngress(ctx, in)
		expectCode(t, err, "InvalidPermission.Duplicate")
	}

	// Filters. The project's default group holds the original cloud's rules: its own members,
	// tcp 22, 80 and 443 and tcp+udp 1194 from anywhere.
	expectFilters(t, []filterCase{
		{"ip-permission.from-port", "22", []string{"default", "web"}},
		{"ip-permission.cidr", "10.0.0.0/8", []string{"web"}},
		{"ip-permission.group-name", "default", []string{"default", "web"}},
		{"ip-permission.protocol", "icmp", []string{"web"}},
		{"description", "web*", []string{"web"}},
		{"group-name", "def*", []string{"default"}},
		{"group-id", webID, []string{"web"}},
		{"owner-id", "sglife", []string{"default", "web"}},
		{"tag:Name", "front", []string{"web"}},
		{"tag-key", "Name", []string{"web"}},
		{"egress.ip-permission.cidr", "0.0.0.0/0", []string{"default", "web"}},
		{"ip-permission.to-port", "443", []string{"default"}},
		{"ip-permission.to-port", "8443", nil},
	}, func(f []types.Filter) (*ec2.DescribeSecurityGroupsOutput, error) {
		return cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: f})
	}, func(out *ec2.DescribeSecurityGroupsOutput) []string { return groupNamesOf(out.SecurityGroups) })

	// Revoke by permission (both forms) and by rule id; a permission that is not there is NotFound.
	if _, err := cl.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupName: aws.String("web"),
		IpPermissions: []types.IpPermission{tcp(22, "0.0.0.0/0")}}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupName: aws.String("web"),
		IpPermissions: []types.IpPermission{tcp(22, "0.0.0.0/0")}})
	expectCode(t, err, "InvalidPermission.NotFound")
	if _, err := cl.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(webID),
		SecurityGroupRuleIds: []string{icmpRule}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupName: aws.String("web"),
		SourceSecurityGroupName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	want = []string{"-1 all default", "tcp 22-22 10.0.0.0/8", "tcp 80-80 203.0.113.0/24"}
	if got := groupPermissions(describeGroup(t, cl, "web")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("permissions after revoking\n%v, want\n%v", got, want)
	}

	// Deleting: default never; a group another group's rule admits only once the rule is gone.
	_, err = cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("default")})
	expectCode(t, err, "CannotDelete")
	_, err = cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: describeGroup(t, cl, "default").GroupId})
	expectCode(t, err, "CannotDelete")
	if _, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("db"), Description: aws.String("databases")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("db"),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5432), ToPort: aws.Int32(5432),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(webID), UserId: aws.String("sglife")}}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("web")})
	expectCode(t, err, "DependencyViolation")
	if _, err := cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	del, err := cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(webID)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(del.GroupId) != webID {
		t.Fatalf("deleted %s", aws.ToString(del.GroupId))
	}
	_, err = cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{webID}})
	expectCode(t, err, "InvalidGroup.NotFound")
	_, err = cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("web")})
	expectCode(t, err, "InvalidGroup.NotFound")
}

func TestSecurityGroupsRefuseBadInput(t *testing.T) {
	c, creds, cl := tenant(t, "sgbad")
	ctx := context.Background()
	if _, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web")}); err != nil {
		t.Fatal(err)
	}

	expectQueryCodes(t, c, creds, "create", "CreateSecurityGroup", []queryCase{
		{"no name", url.Values{"GroupDescription": {"x"}}, "MissingParameter"},
		{"no description", url.Values{"GroupName": {"x"}}, "MissingParameter"},
		{"default", url.Values{"GroupName": {"default"}, "GroupDescription": {"x"}}, "InvalidGroup.Duplicate"},
		{"taken", url.Values{"GroupName": {"web"}, "GroupDescription": {"again"}}, "InvalidGroup.Duplicate"},
		{"id-like name", url.Values{"GroupName": {"sg-web"}, "GroupDescription": {"x"}}, "InvalidParameterValue"},
		{"long name", url.Values{"GroupName": {strings.Repeat("n", 256)}, "GroupDescription": {"x"}}, "InvalidParameterValue"},
		{"non-ASCII", url.Values{"GroupName": {"wéb"}, "GroupDescription": {"x"}}, "InvalidParameterValue"},
		{"tag for instances", url.Values{"GroupName": {"x"}, "GroupDescription": {"x"},
			"TagSpecification.1.ResourceType": {"instance"}, "TagSpecification.1.Tag.1.Key": {"k"}}, "InvalidParameterValue"},
		{"VPC", url.Values{"GroupName": {"x"}, "GroupDescription": {"x"}, "VpcId": {"vpc-1"}}, "UnknownParameter"},
		{"dry run", url.Values{"GroupName": {"x"}, "GroupDescription": {"x"}, "DryRun": {"true"}}, "DryRunOperation"},
	})

	perm := func(kv ...string) url.Values {
		v := url.Values{"GroupName": {"web"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	expectQueryCodes(t, c, creds, "authorize", "AuthorizeSecurityGroupIngress", []queryCase{
		{"unknown protocol", perm("IpPermissions.1.IpProtocol", "gre", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"), "InvalidParameterValue"},
		{"no ports", perm("IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"), "InvalidParameterValue"},
		{"reversed ports", perm("IpPermissions.1.IpProtocol", "udp", "IpPermissions.1.FromPort", "90", "IpPermissions.1.ToPort", "80",
			"IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"), "InvalidParameterValue"},
		{"port too big", perm("IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "1", "IpPermissions.1.ToPort", "70000",
			"IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"), "InvalidParameterValue"},
		{"ICMP type too big", perm("IpPermissions.1.IpProtocol", "icmp", "IpPermissions.1.FromPort", "300", "IpPermissions.1.ToPort", "0",
			"IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"), "InvalidParameterValue"},
		{"bad CIDR", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/33"), "InvalidParameterValue"},
		{"IPv6 CIDR", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.IpRanges.1.CidrIp", "fe80::/10"), "InvalidParameterValue"},
		{"no source", perm("IpPermissions.1.IpProtocol", "-1"), "MissingParameter"},
		{"no permissions", perm(), "MissingParameter"},
		{"unknown source group", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Groups.1.GroupName", "nosuch"), "InvalidGroup.NotFound"},
		{"unknown source id", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Groups.1.GroupId", "sg-0123456789abcdef0"), "InvalidGroup.NotFound"},
		{"malformed source id", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Groups.1.GroupId", "sg-xyz"), "InvalidGroupId.Malformed"},
		{"source of another account", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Groups.1.GroupName", "web",
			"IpPermissions.1.Groups.1.UserId", "someone-else"), "InvalidGroup.NotFound"},
		{"source group without name or id", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Groups.1.UserId", "sgbad"), "MissingParameter"},
		{"both forms", perm("IpProtocol", "tcp", "FromPort", "1", "ToPort", "1", "CidrIp", "0.0.0.0/0",
			"IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"), "InvalidParameterCombination"},
		{"source group with ports", perm("SourceSecurityGroupName", "web", "IpProtocol", "tcp"), "InvalidParameterCombination"},
		{"flat form without protocol", perm("CidrIp", "0.0.0.0/0"), "MissingParameter"},
		{"unknown target", url.Values{"GroupName": {"nosuch"}, "IpProtocol": {"-1"}, "CidrIp": {"0.0.0.0/0"}}, "InvalidGroup.NotFound"},
		{"unknown target id", url.Values{"GroupId": {"sg-0123456789abcdef0"}, "IpProtocol": {"-1"}, "CidrIp": {"0.0.0.0/0"}}, "InvalidGroup.NotFound"},
		{"malformed target id", url.Values{"GroupId": {"sg-1"}, "IpProtocol": {"-1"}, "CidrIp": {"0.0.0.0/0"}}, "InvalidGroupId.Malformed"},
		{"no target", url.Values{"IpProtocol": {"-1"}, "CidrIp": {"0.0.0.0/0"}}, "MissingParameter"},
		{"dry run", perm("IpProtocol", "-1", "CidrIp", "0.0.0.0/0", "DryRun", "true"), "DryRunOperation"},
		{"duplicate in one call", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.IpRanges.1.CidrIp", "10.1.0.0/16",
			"IpPermissions.1.IpRanges.2.CidrIp", "10.1.0.0/16"), "InvalidPermission.Duplicate"},
	})
	expectQueryCodes(t, c, creds, "revoke", "RevokeSecurityGroupIngress", []queryCase{
		{"nothing to revoke", url.Values{"GroupName": {"web"}}, "MissingParameter"},
		{"unknown rule id", url.Values{"GroupName": {"web"}, "SecurityGroupRuleId.1": {"sgr-0123456789abcdef0"}}, "InvalidSecurityGroupRuleId.NotFound"},
		{"absent permission", url.Values{"GroupName": {"web"}, "IpProtocol": {"-1"}, "CidrIp": {"0.0.0.0/0"}}, "InvalidPermission.NotFound"},
		{"group that is gone", url.Values{"GroupName": {"web"}, "SourceSecurityGroupName": {"gone"}}, "InvalidPermission.NotFound"},
	})
	expectQueryCodes(t, c, creds, "delete", "DeleteSecurityGroup", []queryCase{
		{"neither", url.Values{}, "MissingParameter"},
		{"unknown name", url.Values{"GroupName": {"nosuch"}}, "InvalidGroup.NotFound"},
		{"unknown id", url.Values{"GroupId": {"sg-0123456789abcdef0"}}, "InvalidGroup.NotFound"},
		{"malformed id", url.Values{"GroupId": {"web"}}, "InvalidGroupId.Malformed"},
	})
	_, err := cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"web", "nosuch"}})
	expectCode(t, err, "InvalidGroup.NotFound")
	_, err = cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-bad"}})
	expectCode(t, err, "InvalidGroupId.Malformed")
	_, err = cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{"x"}}}})
	expectCode(t, err, "InvalidParameterValue")

	// Nothing was half-made: the project has its two groups, and web no rules.
	testenv.Eventually(t, shortWait, "the project's two groups", func() error {
		out, err := cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
		if err != nil {
			return err
		}
		if got := fmt.Sprint(groupNamesOf(out.SecurityGroups)); got != "[default web]" {
			return fmt.Errorf("groups after refused calls: %s", got)
		}
		return nil
	})
	if perms := groupPermissions(describeGroup(t, cl, "web")); len(perms) != 0 {
		t.Fatalf("web has rules after refused calls: %v", perms)
	}
}

func TestSecurityGroupInUseByAnInstance(t *testing.T) {
	_, _, cl, ami := tenantWithNode(t, "sguse")
	ctx := context.Background()
	created, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app"), Description: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	// A launch right after the group was made finds it by id.
	run, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SecurityGroupIds: []string{aws.ToString(created.GroupId)}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if g := run.Instances[0].SecurityGroups; len(g) != 1 || aws.ToString(g[0].GroupName) != "app" {
		t.Fatalf("instance groups %+v", g)
	}
	_, err = cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("app")})
	expectCode(t, err, "DependencyViolation")
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, id, types.InstanceStateNameTerminated)
	if _, err := cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("app")}); err != nil {
		t.Fatalf("deleting a group only a terminated instance was in: %v", err)
	}
}

func TestSecurityGroupsAcrossProjects(t *testing.T) {
	_, _, a := tenant(t, "sg-a")
	_, _, b := tenant(t, "sg-b")
	ctx := context.Background()
	made, err := a.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("private"), Description: aws.String("a's")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(made.GroupId)
	_, err = b.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	expectCode(t, err, "InvalidGroup.NotFound")
	_, err = b.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"private"}})
	expectCode(t, err, "InvalidGroup.NotFound")
	_, err = b.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpProtocol: aws.String("-1"), CidrIp: aws.String("0.0.0.0/0")})
	expectCode(t, err, "InvalidGroup.NotFound")
	_, err = b.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
	expectCode(t, err, "InvalidGroup.NotFound")
	_, err = b.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("default"),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(id)}}}}})
	expectCode(t, err, "InvalidGroup.NotFound")
	out, err := b.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil || fmt.Sprint(groupNamesOf(out.SecurityGroups)) == "[default private]" {
		t.Fatalf("b sees %v (%v)", groupNamesOf(out.SecurityGroups), err)
	}
	// Names are per project.
	mine, err := b.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("private"), Description: aws.String("b's")})
	if err != nil || aws.ToString(mine.GroupId) == id {
		t.Fatalf("b's own group private: %v %s", err, aws.ToString(mine.GroupId))
	}
	if d := aws.ToString(describeGroup(t, a, "private").Description); d != "a's" {
		t.Fatalf("a's group after b's calls: %q", d)
	}
}

func TestSecurityGroupMadeWithKubectl(t *testing.T) {
	_, _, cl := tenant(t, "sgkube")
	ctx := context.Background()
	sg := &cloudv1.SecurityGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "from-manifest", Namespace: "sgkube"},
		Spec: cloudv1.SecurityGroupSpec{GroupName: "kube", Description: "applied with kubectl", Ingress: []cloudv1.IngressRule{
			{Protocol: cloudv1.ProtocolTCP, FromPort: ptr.To[int32](443), ToPort: ptr.To[int32](443), CIDRIPs: []string{"198.51.100.0/24"}},
		}},
	}
	if err := env.Client.Create(ctx, sg); err != nil {
		t.Fatal(err)
	}
	var described types.SecurityGroup
	testenv.Eventually(t, shortWait, "the group to be described", func() error {
		out, err := cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"kube"}})
		if err != nil {
			return err
		}
		described = out.SecurityGroups[0]
		return nil
	})
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sg), sg); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(described.GroupId) != sg.Status.GroupID || fmt.Sprint(groupPermissions(described)) != "[tcp 443-443 198.51.100.0/24]" {
		t.Fatalf("described %s %v; status id %s", aws.ToString(described.GroupId), groupPermissions(described), sg.Status.GroupID)
	}
	// The API's rules join the manifest's: a duplicate is refused, a new range joins the rule.
	_, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("kube"),
		IpPermissions: []types.IpPermission{tcp(443, "198.51.100.0/24")}})
	expectCode(t, err, "InvalidPermission.Duplicate")
	if _, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: described.GroupId,
		IpPermissions: []types.IpPermission{tcp(443, "192.0.2.0/24")}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sg), sg); err != nil {
		t.Fatal(err)
	}
	if len(sg.Spec.Ingress) != 1 || fmt.Sprint(sg.Spec.Ingress[0].CIDRIPs) != "[198.51.100.0/24 192.0.2.0/24]" {
		t.Fatalf("stored rules %+v", sg.Spec.Ingress)
	}
	_, err = cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("kube"), Description: aws.String("again")})
	expectCode(t, err, "InvalidGroup.Duplicate")
}

func TestSecurityGroupConcurrentCalls(t *testing.T) {
	_, _, cl := tenant(t, "sgrace")
	ctx := context.Background()

	// Racing creations of one name: exactly one wins.
	errs := testenv.Race(8, func(int) error {
		_, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("busy"), Description: aws.String("busy")})
		return err
	})
	if won := winners(t, errs, "InvalidGroup.Duplicate"); won != 1 {
		t.Fatalf("%d of the racing creations succeeded", won)
	}

	// Racing authorizations of different ports: none is lost.
	noErrors(t, testenv.Race(10, func(i int) error {
		_, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("busy"),
			IpPermissions: []types.IpPermission{tcp(int32(8000+i), "0.0.0.0/0")}})
		return err
	}))
	if perms := groupPermissions(describeGroup(t, cl, "busy")); len(perms) != 10 {
		t.Fatalf("%d permissions after 10 racing authorizations: %v", len(perms), perms)
	}

	// Paging.
	for i := 0; i < 6; i++ {
		if _, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("g%d", i)), Description: aws.String("g")}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, shortWait, "8 groups on 2 pages", func() error {
		return checkPages(ctx, ec2.NewDescribeSecurityGroupsPaginator(cl, &ec2.DescribeSecurityGroupsInput{MaxResults: aws.Int32(5)}),
			func(o *ec2.DescribeSecurityGroupsOutput) []string { return groupNamesOf(o.SecurityGroups) }, 8, 2)
	})
}
