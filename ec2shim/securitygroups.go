/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

import (
	"context"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// Security groups are served by the cloud service; this is their wire format.

func (s *Server) securityGroupRoutes() map[string]action {
	return map[string]action{
		"CreateSecurityGroup":           s.createSecurityGroup,
		"DeleteSecurityGroup":           s.deleteSecurityGroup,
		"AuthorizeSecurityGroupIngress": s.authorizeIngress,
		"RevokeSecurityGroupIngress":    s.revokeIngress,
		"DescribeSecurityGroups":        s.describeSecurityGroups,
	}
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

func ipPermissionItems(perms []cloud.IPPermission) query.List[ipPermissionItem] {
	out := query.NewList[ipPermissionItem]()
	for _, p := range perms {
		item := ipPermissionItem{IPProtocol: p.Protocol, FromPort: p.FromPort, ToPort: p.ToPort,
			Groups: query.NewList[groupPairItem](), IPRanges: query.NewList[ipRangeItem](),
			IPv6Ranges: query.NewList[ipv6RangeItem](), PrefixListIDs: query.NewList[prefixListItem]()}
		for _, g := range p.Groups {
			item.Groups.Items = append(item.Groups.Items, groupPairItem(g))
		}
		for _, cidr := range p.CIDRs {
			item.IPRanges.Items = append(item.IPRanges.Items, ipRangeItem{CidrIP: cidr})
		}
		out.Items = append(out.Items, item)
	}
	return out
}

func toGroupItem(sg cloud.SecurityGroup) securityGroupItem {
	return securityGroupItem{OwnerID: sg.OwnerID, GroupName: sg.Name, GroupID: sg.ID, Description: sg.Description,
		IPPermissions: ipPermissionItems(sg.Ingress), IPPermissionsEgress: ipPermissionItems(sg.Egress), TagSet: tagList(sg.Tags)}
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

func (s *Server) authorizeIngress(ctx context.Context, c *call) (any, error) {
	var in ingressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	rules, err := s.svc.AuthorizeSecurityGroupIngress(ctx, c.caller(), in.toService())
	if err != nil {
		return nil, err
	}
	out := &authorizeIngressOutput{Return: true, SecurityGroupRules: query.NewList[securityGroupRuleItem]()}
	for _, r := range rules {
		item := securityGroupRuleItem{RuleID: r.ID, GroupID: r.GroupID, GroupOwnerID: r.GroupOwnerID, IsEgress: r.IsEgress,
			IPProtocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort, CidrIPv4: r.CIDR}
		if r.CIDR == "" {
			item.ReferencedGroupInfo = &referencedGroupItem{GroupID: r.ReferencedGroupID, UserID: r.ReferencedGroupUserID}
		}
		out.SecurityGroupRules.Items = append(out.SecurityGroupRules.Items, item)
	}
	return out, nil
}

type revokeIngressInput struct {
	ingressInput
	RuleIDs []string `ec2:"SecurityGroupRuleId,list"`
}

func (s *Server) revokeIngress(ctx context.Context, c *call) (any, error) {
	var in revokeIngressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	err := s.svc.RevokeSecurityGroupIngress(ctx, c.caller(), cloud.RevokeIngressInput{IngressInput: in.toService(), RuleIDs: in.RuleIDs})
	if err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
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

func (s *Server) createSecurityGroup(ctx context.Context, c *call) (any, error) {
	var in createSecurityGroupInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	sg, err := s.svc.CreateSecurityGroup(ctx, c.caller(), cloud.CreateSecurityGroupInput{Name: in.GroupName,
		Description: in.Description, TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &createSecurityGroupOutput{GroupID: sg.ID, TagSet: tagList(sg.Tags)}, nil
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

func (s *Server) deleteSecurityGroup(ctx context.Context, c *call) (any, error) {
	var in deleteSecurityGroupInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	id, err := s.svc.DeleteSecurityGroup(ctx, c.caller(), cloud.GroupInput{GroupName: in.GroupName, GroupID: in.GroupID, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &deleteSecurityGroupOutput{Return: true, GroupID: id}, nil
}

type describeSecurityGroupsInput struct {
	GroupNames []string       `ec2:"GroupName,list"`
	GroupIDs   []string       `ec2:"GroupId,list"`
	Filters    []query.Filter `ec2:"Filter,list"`
	DryRun     bool           `ec2:"DryRun"`
	query.Paging
}

type describeSecurityGroupsOutput struct {
	SecurityGroups query.List[securityGroupItem] `xml:"securityGroupInfo"`
	NextToken      string                        `xml:"nextToken,omitempty"`
}

func (s *Server) describeSecurityGroups(ctx context.Context, c *call) (any, error) {
	var in describeSecurityGroupsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	groups, err := s.svc.DescribeSecurityGroups(ctx, c.caller(), cloud.DescribeSecurityGroupsInput{Names: in.GroupNames,
		IDs: in.GroupIDs, Filters: in.Filters, DryRun: in.DryRun, Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken}})
	if err != nil {
		return nil, err
	}
	out := &describeSecurityGroupsOutput{SecurityGroups: query.NewList[securityGroupItem](), NextToken: groups.NextToken}
	for _, sg := range groups.Items {
		out.SecurityGroups.Items = append(out.SecurityGroups.Items, toGroupItem(sg))
	}
	return out, nil
}
