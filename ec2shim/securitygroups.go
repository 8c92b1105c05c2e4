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

package ec2shim

import (
	"context"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// Security groups are served by the cloud service; this is their wire format.

// Input shapes of the ingress actions.

type ipRangeInput struct {
	CidrIP string `ec2:"CidrIp"`
}

type groupPairInput struct {
	GroupName string `ec2:"GroupName"`
	GroupID   string `ec2:"GroupId"`
	UserID    string `ec2:"UserId"`
}

type ipPermissionInput struct {
	IPProtocol string           `ec2:"IpProtocol"`
	FromPort   *int32           `ec2:"FromPort"`
	ToPort     *int32           `ec2:"ToPort"`
	IPRanges   []ipRangeInput   `ec2:"IpRanges,list"`
	Groups     []groupPairInput `ec2:"Groups,list"`
}

// ingressInput holds what Authorize- and RevokeSecurityGroupIngress share: the group, and the
// permissions as IpPermissions.N or in the older flat form.
type ingressInput struct {
	GroupName                  string              `ec2:"GroupName"`
	GroupID                    string              `ec2:"GroupId"`
	IPPermissions              []ipPermissionInput `ec2:"IpPermissions,list"`
	IPProtocol                 string              `ec2:"IpProtocol"`
	FromPort                   *int32              `ec2:"FromPort"`
	ToPort                     *int32              `ec2:"ToPort"`
	CidrIP                     string              `ec2:"CidrIp"`
	SourceSecurityGroupName    string              `ec2:"SourceSecurityGroupName"`
	SourceSecurityGroupOwnerID string              `ec2:"SourceSecurityGroupOwnerId"`
	DryRun                     bool                `ec2:"DryRun"`
}

// toService is the request in the service's terms.
func (in *ingressInput) toService() cloud.IngressInput {
	out := cloud.IngressInput{GroupName: in.GroupName, GroupID: in.GroupID, DryRun: in.DryRun,
		Flat: cloud.FlatPermission{Protocol: in.IPProtocol, FromPort: in.FromPort, ToPort: in.ToPort, CIDR: in.CidrIP,
			SourceGroupName: in.SourceSecurityGroupName, SourceGroupOwnerID: in.SourceSecurityGroupOwnerID}}
	for _, ip := range in.IPPermissions {
		p := cloud.IPPermission{Protocol: ip.IPProtocol, FromPort: ip.FromPort, ToPort: ip.ToPort}
		for _, r := range ip.IPRanges {
			p.CIDRs = append(p.CIDRs, r.CidrIP)
		}
		for _, g := range ip.Groups {
			p.Groups = append(p.Groups, cloud.GroupPair{GroupName: g.GroupName, GroupID: g.GroupID, UserID: g.UserID})
		}
		out.Permissions = append(out.Permissions, p)
	}
	return out
}

// Output shapes.

type groupPairItem struct {
	UserID    string `xml:"userId"`
	GroupName string `xml:"groupName,omitempty"`
	GroupID   string `xml:"groupId,omitempty"`
}

type ipRangeItem struct {
	CidrIP string `xml:"cidrIp"`
}

type ipv6RangeItem struct {
	CidrIPv6 string `xml:"cidrIpv6"`
}

type prefixListItem struct {
	PrefixListID string `xml:"prefixListId"`
}

type ipPermissionItem struct {
	IPProtocol    string                     `xml:"ipProtocol"`
	FromPort      *int32                     `xml:"fromPort,omitempty"`
	ToPort        *int32                     `xml:"toPort,omitempty"`
	Groups        query.List[groupPairItem]  `xml:"groups"`
	IPRanges      query.List[ipRangeItem]    `xml:"ipRanges"`
	IPv6Ranges    query.List[ipv6RangeItem]  `xml:"ipv6Ranges"`
	PrefixListIDs query.List[prefixListItem] `xml:"prefixListIds"`
}

// securityGroupItem is EC2's SecurityGroup.
type securityGroupItem struct {
	OwnerID             string                       `xml:"ownerId"`
	GroupName           string                       `xml:"groupName"`
	GroupID             string                       `xml:"groupId"`
	Description         string                       `xml:"groupDescription"`
	IPPermissions       query.List[ipPermissionItem] `xml:"ipPermissions"`
	IPPermissionsEgress query.List[ipPermissionItem] `xml:"ipPermissionsEgress"`
	TagSet              *query.List[tagItem]         `xml:"tagSet,omitempty"`
}

func toIPPermissionItem(p cloud.IPPermission) ipPermissionItem {
	return ipPermissionItem{IPProtocol: p.Protocol, FromPort: p.FromPort, ToPort: p.ToPort,
		Groups:        listOf(p.Groups, func(g cloud.GroupPair) groupPairItem { return groupPairItem(g) }),
		IPRanges:      listOf(p.CIDRs, func(cidr string) ipRangeItem { return ipRangeItem{CidrIP: cidr} }),
		IPv6Ranges:    query.NewList[ipv6RangeItem](),
		PrefixListIDs: query.NewList[prefixListItem]()}
}

func toGroupItem(sg cloud.SecurityGroup) securityGroupItem {
	return securityGroupItem{OwnerID: sg.OwnerID, GroupName: sg.Name, GroupID: sg.ID, Description: sg.Description,
		IPPermissions:       listOf(sg.Ingress, toIPPermissionItem),
		IPPermissionsEgress: listOf(sg.Egress, toIPPermissionItem), TagSet: tagList(sg.Tags)}
}

type referencedGroupItem struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

type securityGroupRuleItem struct {
	RuleID              string               `xml:"securityGroupRuleId"`
	GroupID             string               `xml:"groupId"`
	GroupOwnerID        string               `xml:"groupOwnerId"`
	IsEgress            bool                 `xml:"isEgress"`
	IPProtocol          string               `xml:"ipProtocol"`
	FromPort            int32                `xml:"fromPort"`
	ToPort              int32                `xml:"toPort"`
	CidrIPv4            string               `xml:"cidrIpv4,omitempty"`
	ReferencedGroupInfo *referencedGroupItem `xml:"referencedGroupInfo,omitempty"`
}

type authorizeIngressOutput struct {
	Return             bool                              `xml:"return"`
	SecurityGroupRules query.List[securityGroupRuleItem] `xml:"securityGroupRuleSet"`
}

func toRuleItem(r cloud.SecurityGroupRule) securityGroupRuleItem {
	item := securityGroupRuleItem{RuleID: r.ID, GroupID: r.GroupID, GroupOwnerID: r.GroupOwnerID, IsEgress: r.IsEgress,
		IPProtocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort, CidrIPv4: r.CIDR}
	if r.CIDR == "" {
		item.ReferencedGroupInfo = &referencedGroupItem{GroupID: r.ReferencedGroupID, UserID: r.ReferencedGroupUserID}
	}
	return item
}

func toAuthorizeIngressOutput(rules []cloud.SecurityGroupRule) *authorizeIngressOutput {
	return &authorizeIngressOutput{Return: true, SecurityGroupRules: listOf(rules, toRuleItem)}
}

func (s *Server) authorizeIngress(ctx context.Context, who cloud.Caller, in *ingressInput) (any, error) {
	return encoded(toAuthorizeIngressOutput)(s.svc.AuthorizeSecurityGroupIngress(ctx, who, in.toService()))
}

type revokeIngressInput struct {
	ingressInput
	RuleIDs []string `ec2:"SecurityGroupRuleId,list"`
}

func (s *Server) revokeIngress(ctx context.Context, who cloud.Caller, in *revokeIngressInput) (any, error) {
	return done(s.svc.RevokeSecurityGroupIngress(ctx, who, cloud.RevokeIngressInput{IngressInput: in.toService(),
		RuleIDs: in.RuleIDs}))
}

type createSecurityGroupInput struct {
	GroupName         string             `ec2:"GroupName"`
	Description       string             `ec2:"GroupDescription"`
	TagSpecifications []tagSpecification `ec2:"TagSpecification,list"`
	DryRun            bool               `ec2:"DryRun"`
}

type createSecurityGroupOutput struct {
	GroupID string               `xml:"groupId"`
	TagSet  *query.List[tagItem] `xml:"tagSet,omitempty"`
}

func toCreateSecurityGroupOutput(sg *cloud.SecurityGroup) *createSecurityGroupOutput {
	return &createSecurityGroupOutput{GroupID: sg.ID, TagSet: tagList(sg.Tags)}
}

func (s *Server) createSecurityGroup(ctx context.Context, who cloud.Caller, in *createSecurityGroupInput) (any, error) {
	return encoded(toCreateSecurityGroupOutput)(s.svc.CreateSecurityGroup(ctx, who, cloud.CreateSecurityGroupInput{
		Name: in.GroupName, Description: in.Description, TagSpecifications: toTagSpecifications(in.TagSpecifications),
		DryRun: in.DryRun}))
}

type deleteSecurityGroupInput struct {
	GroupName string `ec2:"GroupName"`
	GroupID   string `ec2:"GroupId"`
	DryRun    bool   `ec2:"DryRun"`
}

type deleteSecurityGroupOutput struct {
	Return  bool   `xml:"return"`
	GroupID string `xml:"groupId"`
}

func toDeleteSecurityGroupOutput(id string) *deleteSecurityGroupOutput {
	return &deleteSecurityGroupOutput{Return: true, GroupID: id}
}

func (s *Server) deleteSecurityGroup(ctx context.Context, who cloud.Caller, in *deleteSecurityGroupInput) (any, error) {
	return encoded(toDeleteSecurityGroupOutput)(s.svc.DeleteSecurityGroup(ctx, who, cloud.GroupInput{
		GroupName: in.GroupName, GroupID: in.GroupID, DryRun: in.DryRun}))
}

type describeSecurityGroupsInput struct {
	GroupNames []string `ec2:"GroupName,list"`
	GroupIDs   []string `ec2:"GroupId,list"`
	pagedDescribeInput
}

type describeSecurityGroupsOutput struct {
	SecurityGroups query.List[securityGroupItem] `xml:"securityGroupInfo"`
	NextToken      string                        `xml:"nextToken,omitempty"`
}

func toDescribeSecurityGroupsOutput(groups []cloud.SecurityGroup, next string) *describeSecurityGroupsOutput {
	return &describeSecurityGroupsOutput{SecurityGroups: listOf(groups, toGroupItem), NextToken: next}
}

func (s *Server) describeSecurityGroups(ctx context.Context, who cloud.Caller, in *describeSecurityGroupsInput) (any, error) {
	return encodedPage(toDescribeSecurityGroupsOutput)(s.svc.DescribeSecurityGroups(ctx, who, cloud.DescribeSecurityGroupsInput{
		Names: in.GroupNames, IDs: in.GroupIDs, Filters: in.Filters, DryRun: in.DryRun, Page: page(in.Paging)}))
}

type describeSecurityGroupRulesInput struct {
	RuleIDs []string `ec2:"SecurityGroupRuleId,list"`
	pagedDescribeInput
}

type describeSecurityGroupRulesOutput struct {
	SecurityGroupRules query.List[securityGroupRuleItem] `xml:"securityGroupRuleSet"`
	NextToken          string                            `xml:"nextToken,omitempty"`
}

func toDescribeSecurityGroupRulesOutput(rules []cloud.SecurityGroupRule, next string) *describeSecurityGroupRulesOutput {
	return &describeSecurityGroupRulesOutput{SecurityGroupRules: listOf(rules, toRuleItem), NextToken: next}
}

func (s *Server) describeSecurityGroupRules(ctx context.Context, who cloud.Caller, in *describeSecurityGroupRulesInput) (any, error) {
	return encodedPage(toDescribeSecurityGroupRulesOutput)(s.svc.DescribeSecurityGroupRules(ctx, who, cloud.DescribeSecurityGroupRulesInput{
		RuleIDs: in.RuleIDs, Filters: in.Filters, DryRun: in.DryRun, Page: page(in.Paging)}))
}
