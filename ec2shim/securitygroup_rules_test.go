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
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"pinet.io/pinet/internal/testenv"
)

// TestDescribeSecurityGroupRules lists a project's rules with the ids AuthorizeSecurityGroupIngress
// gave them, by group, by id and page by page; revokes one by the id it read; and checks that
// another project finds none of them.
func TestDescribeSecurityGroupRules(t *testing.T) {
	_, _, cl := tenant(t, "sgrules")
	_, _, other := tenant(t, "sgrules-other")
	ctx := context.Background()
	created, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app"), Description: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	appID := aws.ToString(created.GroupId)
	auth, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(appID),
		IpPermissions: []types.IpPermission{tcp(22, "10.0.0.0/8"),
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8080), ToPort: aws.Int32(8081),
				UserIdGroupPairs: []types.UserIdGroupPair{{GroupName: aws.String("default")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var given []string
	for _, r := range auth.SecurityGroupRules {
		given = append(given, aws.ToString(r.SecurityGroupRuleId))
	}

	rules := func(in *ec2.DescribeSecurityGroupRulesInput) []types.SecurityGroupRule {
		t.Helper()
		out, err := cl.DescribeSecurityGroupRules(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out.SecurityGroupRules
	}
	ofApp := rules(&ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{appID}}}})
	var ingress []string
	var egress []types.SecurityGroupRule
	for _, r := range ofApp {
		if aws.ToString(r.GroupId) != appID || aws.ToString(r.GroupOwnerId) != "sgrules" {
			t.Fatalf("a rule of another group: %+v", r)
		}
		if aws.ToBool(r.IsEgress) {
			egress = append(egress, r)
			continue
		}
		ingress = append(ingress, aws.ToString(r.SecurityGroupRuleId))
		switch aws.ToInt32(r.FromPort) {
		case 22:
			if aws.ToString(r.CidrIpv4) != "10.0.0.0/8" || aws.ToInt32(r.ToPort) != 22 || aws.ToString(r.IpProtocol) != "tcp" {
				t.Fatalf("the ssh rule: %+v", r)
			}
		case 8080:
			if r.ReferencedGroupInfo == nil || aws.ToString(r.ReferencedGroupInfo.GroupId) == "" || aws.ToInt32(r.ToPort) != 8081 {
				t.Fatalf("the group rule: %+v", r)
			}
		default:
			t.Fatalf("a rule nobody authorized: %+v", r)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(ingress)), slices.Sorted(slices.Values(given))) {
		t.Fatalf("described ingress rules %v, authorize gave %v", ingress, given)
	}
	if len(egress) != 1 || aws.ToString(egress[0].CidrIpv4) != "0.0.0.0/0" || aws.ToString(egress[0].IpProtocol) != "-1" {
		t.Fatalf("egress rules %+v", egress)
	}

	// By id, and by the id filter.
	if got := rules(&ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: given[:1]}); len(got) != 1 || aws.ToString(got[0].SecurityGroupRuleId) != given[0] {
		t.Fatalf("by id: %+v", got)
	}
	if got := rules(&ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("security-group-rule-id"), Values: given[1:]}}}); len(got) != 1 ||
		aws.ToString(got[0].SecurityGroupRuleId) != given[1] {
		t.Fatalf("by the id filter: %+v", got)
	}
	_, err = cl.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{"sgr-0123456789abcdef0"}})
	expectCode(t, err, "InvalidSecurityGroupRuleId.NotFound")
	_, err = cl.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"red"}}}})
	expectCode(t, err, "InvalidParameterValue")
	_, err = cl.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{MaxResults: aws.Int32(4)})
	expectCode(t, err, "InvalidParameterValue")

	// Page by page: every rule of the project once (the default group's and app's).
	all := rules(&ec2.DescribeSecurityGroupRulesInput{})
	var paged []string
	pages := ec2.NewDescribeSecurityGroupRulesPaginator(cl, &ec2.DescribeSecurityGroupRulesInput{MaxResults: aws.Int32(5)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.SecurityGroupRules {
			paged = append(paged, aws.ToString(r.SecurityGroupRuleId))
		}
	}
	if len(all) <= 5 || len(paged) != len(all) || len(slices.Compact(slices.Sorted(slices.Values(paged)))) != len(all) {
		t.Fatalf("%d rules in pages of 5 (%d distinct), %d at once", len(paged), len(slices.Compact(slices.Sorted(slices.Values(paged)))), len(all))
	}

	// Another project: none of them, by id or in its list.
	_, err = other.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: given[:1]})
	expectCode(t, err, "InvalidSecurityGroupRuleId.NotFound")
	theirs, err := other.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range theirs.SecurityGroupRules {
		if slices.Contains(given, aws.ToString(r.SecurityGroupRuleId)) || aws.ToString(r.GroupOwnerId) != "sgrules-other" {
			t.Fatalf("another project lists %+v", r)
		}
	}

	// The ids read are the ids Revoke takes.
	if _, err := cl.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(appID),
		SecurityGroupRuleIds: given[:1]}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the revoked rule to go", func() error {
		out, err := cl.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: given[:1]})
		if apiCode(err) == "InvalidSecurityGroupRuleId.NotFound" {
			return nil
		}
		return fmt.Errorf("still described: %v %v", out, err)
	})
}
