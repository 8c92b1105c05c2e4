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
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/refs"
)

// Security groups are SecurityGroup objects; their ingress rules are spec.ingress. A rule there
// may admit several ranges and groups; the API works on single permissions (a protocol, a port
// range and one source) and stores them regrouped, so the same permission is never stored twice.

const (
	// maxGroupText bounds group names and descriptions, as EC2 does.
	maxGroupText = 255
	// Per-rule and per-group bounds of the SecurityGroup CRD.
	maxRuleCIDRs  = 64
	maxRuleGroups = 16
	maxRules      = 100
	// ruleIDPrefix is the prefix of security group rule ids, derived from the rule.
	ruleIDPrefix = "sgr"
)

func (s *Server) securityGroupRoutes() map[string]action {
	return map[string]action{
		"CreateSecurityGroup":           s.createSecurityGroup,
		"DeleteSecurityGroup":           s.deleteSecurityGroup,
		"AuthorizeSecurityGroupIngress": s.authorizeIngress,
		"RevokeSecurityGroupIngress":    s.revokeIngress,
		"DescribeSecurityGroups":        s.describeSecurityGroups,
	}
}

// groupID is the group's EC2 id: the one in status, else its name when that is one.
func groupID(sg *cloudv1.SecurityGroup) string {
	if sg.Status.GroupID != "" {
		return sg.Status.GroupID
	}
	if ids.Valid(ids.SecurityGroup, sg.Name) {
		return sg.Name
	}
	return ""
}

// projectGroups lists the project's groups that have an EC2 id, oldest first.
func (c *call) projectGroups(ctx context.Context) ([]*cloudv1.SecurityGroup, error) {
	list := &cloudv1.SecurityGroupList{}
	if err := c.srv.cfg.Client.List(ctx, list, client.InNamespace(c.project)); err != nil {
		return nil, fmt.Errorf("listing security groups: %w", err)
	}
	out := make([]*cloudv1.SecurityGroup, 0, len(list.Items))
	for i := range list.Items {
		if groupID(&list.Items[i]) != "" && list.Items[i].DeletionTimestamp.IsZero() {
			out = append(out, &list.Items[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return groupID(out[i]) < groupID(out[j])
	})
	return out, nil
}

// groupIndex resolves what rules and requests call groups (names or ids) within a project.
type groupIndex struct {
	project string
	byRef   map[string]*cloudv1.SecurityGroup
}

func newGroupIndex(project string, groups []*cloudv1.SecurityGroup) *groupIndex {
	x := &groupIndex{project: project, byRef: map[string]*cloudv1.SecurityGroup{}}
	for _, sg := range groups {
		x.byRef[groupID(sg)] = sg
	}
	for _, sg := range groups {
		if _, taken := x.byRef[sg.EffectiveGroupName()]; !taken {
			x.byRef[sg.EffectiveGroupName()] = sg
		}
	}
	return x
}

// canonical names the group a reference stands for; a reference to nothing stands for itself.
func (x *groupIndex) canonical(ref string) string {
	if sg := x.byRef[ref]; sg != nil {
		return "group " + sg.Name
	}
	return "ref " + ref
}

func (x *groupIndex) pair(ref string) groupPairItem {
	if sg := x.byRef[ref]; sg != nil {
		return groupPairItem{UserID: x.project, GroupID: groupID(sg), GroupName: sg.EffectiveGroupName()}
	}
	if ids.Valid(ids.SecurityGroup, ref) {
		return groupPairItem{UserID: x.project, GroupID: ref}
	}
	return groupPairItem{UserID: x.project, GroupName: ref}
}

// findGroup finds one of the project's groups by id, or else by name.
func (c *call) findGroup(ctx context.Context, name, id string) (*cloudv1.SecurityGroup, *groupIndex, error) {
	groups, err := c.projectGroups(ctx)
	if err != nil {
		return nil, nil, err
	}
	x := newGroupIndex(c.project, groups)
	ref := id
	switch {
	case id != "" && !ids.Valid(ids.SecurityGroup, id):
		return nil, nil, badRequest(codeGroupIDMalformed, "Invalid id: \"%s\" (expecting \"sg-...\")", clipID(id))
	case id == "" && name == "":
		return nil, nil, badRequest(codeMissingParameter, "The request must contain the parameter groupName or groupId")
	case id == "":
		ref = name
	}
	sg := x.byRef[ref]
	if sg == nil || id == "" && sg.EffectiveGroupName() != name || id != "" && groupID(sg) != id {
		return nil, nil, badRequest(codeGroupNotFound, "The security group '%s' does not exist", clipID(ref))
	}
	return sg, x, nil
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

// allowAllEgress is the egress PiNet applies: groups filter inbound traffic only.
func allowAllEgress() ipPermissionItem {
	return ipPermissionItem{IPProtocol: string(cloudv1.ProtocolAll), Groups: query.NewList[groupPairItem](),
		IPRanges: query.NewList(ipRangeItem{CidrIP: "0.0.0.0/0"}), IPv6Ranges: query.NewList[ipv6RangeItem](),
		PrefixListIDs: query.NewList[prefixListItem]()}
}

func toGroupItem(sg *cloudv1.SecurityGroup, x *groupIndex) securityGroupItem {
	item := securityGroupItem{
		OwnerID:             sg.Namespace,
		GroupName:           sg.EffectiveGroupName(),
		GroupID:             groupID(sg),
		Description:         sg.Spec.Description,
		IPPermissions:       query.NewList[ipPermissionItem](),
		IPPermissionsEgress: query.NewList(allowAllEgress()),
		TagSet:              tagList(tagsOf(sg)),
	}
	for _, rule := range sg.Spec.Ingress {
		p := ipPermissionItem{IPProtocol: string(rule.Protocol), Groups: query.NewList[groupPairItem](),
			IPRanges: query.NewList[ipRangeItem](), IPv6Ranges: query.NewList[ipv6RangeItem](),
			PrefixListIDs: query.NewList[prefixListItem]()}
		if rule.Protocol != cloudv1.ProtocolAll {
			p.FromPort, p.ToPort = rule.FromPort, rule.ToPort
		}
		for _, cidr := range rule.CIDRIPs {
			p.IPRanges.Items = append(p.IPRanges.Items, ipRangeItem{CidrIP: cidr})
		}
		for _, ref := range rule.SourceGroups {
			p.Groups.Items = append(p.Groups.Items, x.pair(ref))
		}
		item.IPPermissions.Items = append(item.IPPermissions.Items, p)
	}
	return item
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
	if err := c.authorize(ctx, "update", "securitygroups", in.DryRun); err != nil {
		return nil, err
	}
	found, x, err := c.findGroup(ctx, in.GroupName, in.GroupID)
	if err != nil {
		return nil, err
	}
	requested, err := in.ipPermissions()
	if err != nil {
		return nil, err
	}
	if len(requested) == 0 {
		return nil, badRequest(codeMissingParameter, "The request must contain the parameter IpPermissions")
	}
	perms, err := parsePermissions(requested, x, true)
	if err != nil {
		return nil, err
	}
	sg := found.DeepCopy()
	var added []permission
	err = s.changeLatest(ctx, sg, func() error {
		added = nil
		current := expand(sg.Spec.Ingress)
		have := map[string]bool{}
		for _, p := range current {
			have[p.key(x)] = true
		}
		for _, p := range perms {
			k := p.key(x)
			if have[k] {
				return badRequest(codePermissionDuplicate, "the specified rule \"%s\" already exists", k)
			}
			have[k] = true
			added = append(added, p)
		}
		rules := regroup(append(current, added...))
		if len(rules) > maxRules {
			return badRequest(codeRulesLimit, "The maximum number of rules per security group has been reached.")
		}
		sg.Spec.Ingress = rules
		return nil
	})
	if err := groupWriteError(err, found); err != nil {
		return nil, err
	}
	s.awaitCache(ctx, sg)
	out := &authorizeIngressOutput{Return: true, SecurityGroupRules: query.NewList[securityGroupRuleItem]()}
	for _, p := range added {
		r := securityGroupRuleItem{RuleID: ruleIDOf(sg, p, x), GroupID: groupID(sg), GroupOwnerID: sg.Namespace,
			IPProtocol: string(p.protocol), FromPort: -1, ToPort: -1, CidrIPv4: p.cidr}
		if p.ports {
			r.FromPort, r.ToPort = p.from, p.to
		}
		if p.cidr == "" {
			r.ReferencedGroupInfo = &referencedGroupItem{GroupID: x.pair(p.group).GroupID, UserID: sg.Namespace}
		}
		out.SecurityGroupRules.Items = append(out.SecurityGroupRules.Items, r)
	}
	return out, nil
}

// groupWriteError maps the error of a write to a group.
func groupWriteError(err error, sg *cloudv1.SecurityGroup) error {
	var qe *query.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &qe):
		return err
	case apierrors.IsNotFound(err):
		return badRequest(codeGroupNotFound, "The security group '%s' does not exist", groupID(sg))
	}
	return apiError(err, "security group "+groupID(sg))
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
	if err := c.authorize(ctx, "update", "securitygroups", in.DryRun); err != nil {
		return nil, err
	}
	found, x, err := c.findGroup(ctx, in.GroupName, in.GroupID)
	if err != nil {
		return nil, err
	}
	requested, err := in.ipPermissions()
	if err != nil {
		return nil, err
	}
	if len(requested) == 0 && len(in.RuleIDs) == 0 {
		return nil, badRequest(codeMissingParameter, "The request must contain the parameter IpPermissions or SecurityGroupRuleId")
	}
	perms, err := parsePermissions(requested, x, false)
	if err != nil {
		return nil, err
	}
	sg := found.DeepCopy()
	err = s.changeLatest(ctx, sg, func() error {
		current := expand(sg.Spec.Ingress)
		drop := map[string]bool{}
		byRuleID := map[string]string{}
		for _, p := range current {
			byRuleID[ruleIDOf(sg, p, x)] = p.key(x)
		}
		for _, p := range perms {
			drop[p.key(x)] = true
		}
		for _, id := range in.RuleIDs {
			k, ok := byRuleID[id]
			if !ok {
				return badRequest(codeRuleNotFound, "The security group rule ID '%s' does not exist", clipID(id))
			}
			drop[k] = true
		}
		var kept []permission
		present := map[string]bool{}
		for _, p := range current {
			k := p.key(x)
			present[k] = true
			if !drop[k] {
				kept = append(kept, p)
			}
		}
		for k := range drop {
			if !present[k] {
				return badRequest(codePermissionNotFound, "The specified rule does not exist in this security group.")
			}
		}
		sg.Spec.Ingress = regroup(kept)
		return nil
	})
	if err := groupWriteError(err, found); err != nil {
		return nil, err
	}
	s.awaitCache(ctx, sg)
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

// createSecurityGroup makes a group named by an id derived from its name, so the API server lets
// only one of two racing calls for a name succeed.
func (s *Server) createSecurityGroup(ctx context.Context, c *call) (any, error) {
	var in createSecurityGroupInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "create", "securitygroups", in.DryRun); err != nil {
		return nil, err
	}
	if err := validateGroupText(in.GroupName, "GroupName"); err != nil {
		return nil, err
	}
	if err := validateGroupText(in.Description, "GroupDescription"); err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.ToLower(in.GroupName), "sg-") {
		return nil, invalidParam("Group names may not be in the format sg-*.")
	}
	tags, err := specTags(in.TagSpecifications, "security-group")
	if err != nil {
		return nil, err
	}
	duplicate := badRequest(codeGroupDuplicate, "The security group '%s' already exists", in.GroupName)
	if in.GroupName == cloudv1.DefaultSecurityGroupName {
		return nil, duplicate
	}
	if _, err := refs.SecurityGroup(ctx, s.cfg.Client, c.project, in.GroupName); err == nil {
		return nil, duplicate
	} else if !errors.Is(err, refs.ErrNotFound) {
		return nil, err
	}
	sg := &cloudv1.SecurityGroup{
		ObjectMeta: metav1.ObjectMeta{Name: ids.Derive(ids.SecurityGroup, c.project+"/"+in.GroupName), Namespace: c.project},
		Spec:       cloudv1.SecurityGroupSpec{GroupName: in.GroupName, Description: in.Description},
	}
	setTags(sg, tags)
	if err := s.cfg.Client.Create(ctx, sg); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, duplicate
		}
		return nil, apiError(err, "creating a security group")
	}
	// Instances name groups by id through an index of status.groupId: wait (bounded) for the
	// controller to record it, so a launch right after this call finds the group.
	cached := &cloudv1.SecurityGroup{}
	s.svc.AwaitCacheUntil(ctx, client.ObjectKeyFromObject(sg), cached, func(found bool) bool {
		return found && cached.Status.GroupID != ""
	})
	return &createSecurityGroupOutput{GroupID: sg.Name, TagSet: tagList(tags)}, nil
}

// validateGroupText checks a group name or description as EC2 does.
func validateGroupText(v, param string) error {
	switch {
	case v == "":
		return badRequest(codeMissingParameter, "The request must contain the parameter %s", param)
	case len(v) > maxGroupText:
		return invalidParam("Value for parameter %s is too long; the limit is %d characters", param, maxGroupText)
	}
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			return invalidParam("Value for parameter %s is invalid. Character sets beyond ASCII are not supported.", param)
		}
	}
	return nil
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

// deleteSecurityGroup deletes a group no live instance and no other group's rule depends on.
func (s *Server) deleteSecurityGroup(ctx context.Context, c *call) (any, error) {
	var in deleteSecurityGroupInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "delete", "securitygroups", in.DryRun); err != nil {
		return nil, err
	}
	found, x, err := c.findGroup(ctx, in.GroupName, in.GroupID)
	if err != nil {
		return nil, err
	}
	id := groupID(found)
	if found.EffectiveGroupName() == cloudv1.DefaultSecurityGroupName {
		return nil, badRequest(codeCannotDelete, "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", id)
	}
	if err := s.checkGroupUnused(ctx, c, found, x); err != nil {
		return nil, err
	}
	sg := found.DeepCopy()
	if err := groupWriteError(s.deleteLatest(ctx, sg, func() error { return nil }), found); err != nil {
		return nil, err
	}
	s.awaitDeleted(ctx, sg)
	return &deleteSecurityGroupOutput{Return: true, GroupID: id}, nil
}

// checkGroupUnused refuses to delete a group that an instance which is not terminated is in, or
// that another group's rule admits.
func (s *Server) checkGroupUnused(ctx context.Context, c *call, sg *cloudv1.SecurityGroup, x *groupIndex) error {
	id := groupID(sg)
	inUse := badRequest(codeDependencyViolation, "resource %s has a dependent object", id)
	insts, err := c.projectInstances(ctx)
	if err != nil {
		return err
	}
	for _, inst := range insts {
		if inst.Status.State == cloudv1.InstanceStateTerminated {
			continue
		}
		memberOf := inst.Spec.SecurityGroups
		if len(memberOf) == 0 {
			memberOf = []string{cloudv1.DefaultSecurityGroupName}
		}
		for _, ref := range memberOf {
			if x.byRef[ref] == sg || ref == id {
				return inUse
			}
		}
	}
	for _, other := range x.byRef {
		if other == sg {
			continue
		}
		for _, p := range expand(other.Spec.Ingress) {
			if p.cidr == "" && (x.byRef[p.group] == sg || p.group == id) {
				return inUse
			}
		}
	}
	return nil
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

var securityGroupFilters = []string{
	"group-name", "group-id", "description", "owner-id", "ip-permission.protocol",
	"ip-permission.from-port", "ip-permission.to-port", "ip-permission.cidr", "ip-permission.group-id",
	"ip-permission.group-name", "ip-permission.user-id", "egress.ip-permission.protocol",
	"egress.ip-permission.cidr",
}

func groupAttrs(item *securityGroupItem) query.Attributes {
	return func(name string) []string {
		switch name {
		case "group-name":
			return []string{item.GroupName}
		case "group-id":
			return []string{item.GroupID}
		case "description":
			return []string{item.Description}
		case "owner-id":
			return []string{item.OwnerID}
		}
		perms := item.IPPermissions.Items
		if rest, ok := strings.CutPrefix(name, "egress."); ok {
			perms, name = item.IPPermissionsEgress.Items, rest
		}
		var out []string
		for _, p := range perms {
			switch name {
			case "ip-permission.protocol":
				out = append(out, p.IPProtocol)
			case "ip-permission.from-port":
				out = append(out, portString(p.FromPort))
			case "ip-permission.to-port":
				out = append(out, portString(p.ToPort))
			}
			for _, r := range p.IPRanges.Items {
				if name == "ip-permission.cidr" {
					out = append(out, r.CidrIP)
				}
			}
			for _, g := range p.Groups.Items {
				switch name {
				case "ip-permission.group-id":
					out = append(out, g.GroupID)
				case "ip-permission.group-name":
					out = append(out, g.GroupName)
				case "ip-permission.user-id":
					out = append(out, g.UserID)
				}
			}
		}
		return out
	}
}

func portString(p *int32) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(int(*p))
}

func (s *Server) describeSecurityGroups(ctx context.Context, c *call) (any, error) {
	var in describeSecurityGroupsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "list", "securitygroups", in.DryRun); err != nil {
		return nil, err
	}
	size, err := query.PageSize(in.MaxResults, 5, 1000, 0)
	if err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, securityGroupFilters)
	if err != nil {
		return nil, err
	}
	groups, err := c.projectGroups(ctx)
	if err != nil {
		return nil, err
	}
	x := newGroupIndex(c.project, groups)
	if len(in.GroupNames)+len(in.GroupIDs) > 0 {
		wanted := map[*cloudv1.SecurityGroup]bool{}
		for _, name := range in.GroupNames {
			sg, _, err := c.findGroup(ctx, name, "")
			if err != nil {
				return nil, err
			}
			wanted[x.byRef[groupID(sg)]] = true
		}
		for _, id := range in.GroupIDs {
			if _, _, err := c.findGroup(ctx, "", id); err != nil {
				return nil, err
			}
			wanted[x.byRef[id]] = true
		}
		kept := groups[:0:0]
		for _, sg := range groups {
			if wanted[sg] {
				kept = append(kept, sg)
			}
		}
		groups = kept
	}
	var items []securityGroupItem
	for _, sg := range groups {
		item := toGroupItem(sg, x)
		if matcher.Match(groupAttrs(&item), tagsOf(sg)) {
			items = append(items, item)
		}
	}
	page, next, err := onePage(c, items, size, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &describeSecurityGroupsOutput{SecurityGroups: query.NewList(page...), NextToken: next}, nil
}
