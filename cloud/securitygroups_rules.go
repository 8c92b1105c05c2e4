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

package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
)

// Ingress rules as the service works on them. A rule in spec.ingress may admit several ranges
// and groups; the service splits rules into single permissions (a protocol, a port range and one
// source), compares those, and joins them into rules again to store them.

const (
	// Per-rule and per-group bounds of the SecurityGroup CRD.
	maxRuleCIDRs  = 64
	maxRuleGroups = 16
	maxRules      = 100
	// ruleIDPrefix is the prefix of security group rule ids, derived from the rule.
	ruleIDPrefix = "sgr"
)

// GroupPair names a group, as a rule's source or as what admits it: by id or by name, in a
// project (EC2's user id).
type GroupPair struct {
	UserID, GroupName, GroupID string
}

// IPPermission is what EC2 calls one rule: a protocol, a port range (ICMP type and code; none
// for protocol -1) and the ranges and groups it admits.
type IPPermission struct {
	Protocol         string
	FromPort, ToPort *int32
	CIDRs            []string
	Groups           []GroupPair
}

// FlatPermission is the older form of one permission: a protocol, ports and a range, or else a
// source group admitted on everything.
type FlatPermission struct {
	Protocol                            string
	FromPort, ToPort                    *int32
	CIDR                                string
	SourceGroupName, SourceGroupOwnerID string
}

func (f FlatPermission) given() bool {
	return f.Protocol != "" || f.FromPort != nil || f.ToPort != nil || f.CIDR != "" ||
		f.SourceGroupName != "" || f.SourceGroupOwnerID != ""
}

// permission admits one protocol and port range from one source.
type permission struct {
	protocol cloudv1.IPProtocol
	// ports is false for protocol -1, which has none.
	ports    bool
	from, to int32
	// cidr is a source range; else group is a source group as rules name it.
	cidr, group string
}

// key identifies what the permission admits, however its rule names the source.
func (p permission) key(x *groupIndex) string {
	src := "cidr " + canonicalCIDR(p.cidr)
	if p.cidr == "" {
		src = x.canonical(p.group)
	}
	if !p.ports {
		return string(p.protocol) + " all " + src
	}
	return fmt.Sprintf("%s %d:%d %s", p.protocol, p.from, p.to, src)
}

func canonicalCIDR(s string) string {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String()
	}
	return s
}

// expand splits rules into permissions, in order.
func expand(rules []cloudv1.IngressRule) []permission {
	var out []permission
	for _, r := range rules {
		base := permission{protocol: r.Protocol}
		if r.Protocol != cloudv1.ProtocolAll && r.FromPort != nil && r.ToPort != nil {
			base.ports, base.from, base.to = true, *r.FromPort, *r.ToPort
		}
		for _, cidr := range r.CIDRIPs {
			p := base
			p.cidr = cidr
			out = append(out, p)
		}
		for _, g := range r.SourceGroups {
			p := base
			p.group = g
			out = append(out, p)
		}
	}
	return out
}

// regroup joins permissions into as few rules as the CRD's bounds allow, in the order their
// protocol and ports first appear.
func regroup(perms []permission) []cloudv1.IngressRule {
	type portKey struct {
		protocol cloudv1.IPProtocol
		ports    bool
		from, to int32
	}
	var order []portKey
	cidrs, groups := map[portKey][]string{}, map[portKey][]string{}
	for _, p := range perms {
		k := portKey{p.protocol, p.ports, p.from, p.to}
		if _, seen := cidrs[k]; !seen {
			if _, seen := groups[k]; !seen {
				order = append(order, k)
			}
		}
		if p.cidr != "" {
			cidrs[k] = append(cidrs[k], p.cidr)
		} else {
			groups[k] = append(groups[k], p.group)
		}
	}
	var rules []cloudv1.IngressRule
	for _, k := range order {
		cs, gs := cidrs[k], groups[k]
		for len(cs) > 0 || len(gs) > 0 {
			r := cloudv1.IngressRule{Protocol: k.protocol}
			if k.ports {
				from, to := k.from, k.to
				r.FromPort, r.ToPort = &from, &to
			}
			n := min(len(cs), maxRuleCIDRs)
			r.CIDRIPs, cs = append([]string(nil), cs[:n]...), cs[n:]
			n = min(len(gs), maxRuleGroups)
			r.SourceGroups, gs = append([]string(nil), gs[:n]...), gs[n:]
			rules = append(rules, r)
		}
	}
	return rules
}

// IngressInput names a group and the permissions to add to or remove from its ingress: in the
// IpPermissions form, or in the older flat form (not both).
type IngressInput struct {
	GroupName, GroupID string
	Permissions        []IPPermission
	Flat               FlatPermission
	DryRun             bool
}

// AuthorizeSecurityGroupIngress adds permissions to a group's ingress and returns them as rules.
// Every source group must be one of the project's; a permission the group has already is
// refused, and so is one too many for the group's bound.
func (s *Service) AuthorizeSecurityGroupIngress(ctx context.Context, c Caller, in IngressInput) ([]SecurityGroupRule, error) {
	if err := s.authorize(ctx, c, "update", "securitygroups", in.DryRun); err != nil {
		return nil, err
	}
	found, x, err := s.findGroup(ctx, c, in.GroupName, in.GroupID)
	if err != nil {
		return nil, err
	}
	requested, err := requestedPermissions(in.Permissions, in.Flat)
	if err != nil {
		return nil, err
	}
	if len(requested) == 0 {
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter IpPermissions")
	}
	perms, err := parsePermissions(requested, x, true)
	if err != nil {
		return nil, err
	}
	sg := found.DeepCopy()
	var added []permission
	err = s.change(ctx, sg, func() error {
		var err error
		added, err = addPermissions(sg, perms, x)
		return err
	})
	if err := groupKind.writeError(err, groupID(found)); err != nil {
		return nil, err
	}
	if err := s.confirmSources(ctx, sg, added, x); err != nil {
		return nil, err
	}
	out := make([]SecurityGroupRule, 0, len(added))
	for _, p := range added {
		out = append(out, ruleOf(sg, p, x))
	}
	return out, nil
}

// ruleOf is one permission of a group's ingress as EC2's SecurityGroupRule.
func ruleOf(sg *cloudv1.SecurityGroup, p permission, x *groupIndex) SecurityGroupRule {
	r := SecurityGroupRule{ID: ruleIDOf(sg, p, x), GroupID: groupID(sg), GroupOwnerID: sg.Namespace,
		Protocol: string(p.protocol), FromPort: -1, ToPort: -1, CIDR: p.cidr}
	if p.ports {
		r.FromPort, r.ToPort = p.from, p.to
	}
	if p.cidr == "" {
		r.ReferencedGroupID, r.ReferencedGroupUserID = x.pair(p.group).GroupID, sg.Namespace
	}
	return r
}

// egressRuleOf is the egress every group has (PiNet's groups filter inbound traffic only), as
// DescribeSecurityGroups shows it, with an id of its own.
func egressRuleOf(sg *cloudv1.SecurityGroup) SecurityGroupRule {
	id := groupID(sg)
	return SecurityGroupRule{ID: ids.Derive(ruleIDPrefix, id+"/egress all cidr 0.0.0.0/0"), GroupID: id,
		GroupOwnerID: sg.Namespace, IsEgress: true, Protocol: string(cloudv1.ProtocolAll), FromPort: -1, ToPort: -1,
		CIDR: "0.0.0.0/0"}
}

// DescribeSecurityGroupRulesInput names rules by id, and filters and pages them.
type DescribeSecurityGroupRulesInput struct {
	RuleIDs []string
	Filters []query.Filter
	Page
	DryRun bool
}

// securityGroupRuleFilters are the filters DescribeSecurityGroupRules takes (rules carry no tags
// here, so a tag filter matches none).
var securityGroupRuleFilters = []string{"group-id", "security-group-rule-id"}

// DescribeSecurityGroupRules lists the rules of the project's groups, each group's ingress
// permissions in its order and then its egress, with the ids AuthorizeSecurityGroupIngress
// answered and RevokeSecurityGroupIngress takes. Every id named must be one of them.
func (s *Service) DescribeSecurityGroupRules(ctx context.Context, c Caller, in DescribeSecurityGroupRulesInput) ([]SecurityGroupRule, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, listing{resource: "securitygroups", filters: securityGroupRuleFilters,
		minPage: 5, maxPage: 1000}, in.DryRun, in.Filters, in.Page, len(in.RuleIDs))
	if err != nil {
		return nil, "", err
	}
	groups, err := s.projectGroups(ctx, c)
	if err != nil {
		return nil, "", err
	}
	x := newGroupIndex(c.Project(), groups)
	var rules []SecurityGroupRule
	for _, sg := range groups {
		for _, p := range expand(sg.Spec.Ingress) {
			rules = append(rules, ruleOf(sg, p, x))
		}
		rules = append(rules, egressRuleOf(sg))
	}
	if len(in.RuleIDs) > 0 {
		named := rules[:0:0]
		for _, r := range rules {
			if slices.Contains(in.RuleIDs, r.ID) {
				named = append(named, r)
			}
		}
		for _, id := range in.RuleIDs {
			if !slices.ContainsFunc(named, func(r SecurityGroupRule) bool { return r.ID == id }) {
				return nil, "", BadRequest(CodeRuleNotFound, "The security group rule ID '%s' does not exist", clipGroupRef(id))
			}
		}
		rules = named
	}
	var items []SecurityGroupRule
	for _, r := range rules {
		if matcher.Match(ruleAttrs(&r), nil) {
			items = append(items, r)
		}
	}
	return pageOf(s, c, fmt.Sprint("DescribeSecurityGroupRules", in.RuleIDs, in.Filters), in.Page, size, items)
}

func ruleAttrs(r *SecurityGroupRule) query.Attributes {
	return func(name string) []string {
		switch name {
		case "group-id":
			return []string{r.GroupID}
		case "security-group-rule-id":
			return []string{r.ID}
		}
		return nil
	}
}

// addPermissions adds perms to the group's ingress, refusing any it has, and returns them.
func addPermissions(sg *cloudv1.SecurityGroup, perms []permission, x *groupIndex) ([]permission, error) {
	var added []permission
	current := expand(sg.Spec.Ingress)
	have := map[string]bool{}
	for _, p := range current {
		have[p.key(x)] = true
	}
	for _, p := range perms {
		k := p.key(x)
		if have[k] {
			return nil, BadRequest(CodePermissionDuplicate, "the specified rule \"%s\" already exists", k)
		}
		have[k] = true
		added = append(added, p)
	}
	rules := regroup(append(current, added...))
	if len(rules) > maxRules {
		return nil, BadRequest(CodeRulesLimit, "The maximum number of rules per security group has been reached.")
	}
	sg.Spec.Ingress = rules
	return added, nil
}

// RevokeIngressInput names a group and the permissions to remove: as permissions, or by the ids
// of their rules.
type RevokeIngressInput struct {
	IngressInput
	RuleIDs []string
}

// RevokeSecurityGroupIngress removes permissions from a group's ingress. A permission may name a
// source group that is gone; every permission and rule id must be one the group has.
func (s *Service) RevokeSecurityGroupIngress(ctx context.Context, c Caller, in RevokeIngressInput) error {
	if err := s.authorize(ctx, c, "update", "securitygroups", in.DryRun); err != nil {
		return err
	}
	found, x, err := s.findGroup(ctx, c, in.GroupName, in.GroupID)
	if err != nil {
		return err
	}
	requested, err := requestedPermissions(in.Permissions, in.Flat)
	if err != nil {
		return err
	}
	if len(requested) == 0 && len(in.RuleIDs) == 0 {
		return BadRequest(CodeMissingParameter, "The request must contain the parameter IpPermissions or SecurityGroupRuleId")
	}
	perms, err := parsePermissions(requested, x, false)
	if err != nil {
		return err
	}
	sg := found.DeepCopy()
	err = s.change(ctx, sg, func() error { return removePermissions(sg, perms, in.RuleIDs, x) })
	return groupKind.writeError(err, groupID(found))
}

// removePermissions removes perms and the permissions of the rules ruleIDs from the group's
// ingress; each must be there.
func removePermissions(sg *cloudv1.SecurityGroup, perms []permission, ruleIDs []string, x *groupIndex) error {
	current := expand(sg.Spec.Ingress)
	drop := map[string]bool{}
	byRuleID := map[string]string{}
	for _, p := range current {
		byRuleID[ruleIDOf(sg, p, x)] = p.key(x)
	}
	for _, p := range perms {
		drop[p.key(x)] = true
	}
	for _, id := range ruleIDs {
		k, ok := byRuleID[id]
		if !ok {
			return BadRequest(CodeRuleNotFound, "The security group rule ID '%s' does not exist", clipGroupRef(id))
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
			return BadRequest(CodePermissionNotFound, "The specified rule does not exist in this security group.")
		}
	}
	sg.Spec.Ingress = regroup(kept)
	return nil
}

// requestedPermissions returns the permissions of a request in the IpPermissions form.
func requestedPermissions(perms []IPPermission, flat FlatPermission) ([]IPPermission, error) {
	switch {
	case !flat.given():
		return perms, nil
	case len(perms) > 0:
		return nil, BadRequest(CodeParamCombination, "IpPermissions cannot be combined with IpProtocol, FromPort, ToPort, CidrIp or SourceSecurityGroupName.")
	case flat.SourceGroupName == "" && flat.SourceGroupOwnerID != "":
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter SourceSecurityGroupName")
	case flat.SourceGroupName != "":
		if flat.Protocol != "" || flat.FromPort != nil || flat.ToPort != nil || flat.CIDR != "" {
			return nil, BadRequest(CodeParamCombination, "SourceSecurityGroupName cannot be combined with IpProtocol, FromPort, ToPort or CidrIp.")
		}
		// The older form admits everything from the source group.
		return []IPPermission{{Protocol: string(cloudv1.ProtocolAll),
			Groups: []GroupPair{{GroupName: flat.SourceGroupName, UserID: flat.SourceGroupOwnerID}}}}, nil
	}
	p := IPPermission{Protocol: flat.Protocol, FromPort: flat.FromPort, ToPort: flat.ToPort}
	if flat.CIDR != "" {
		p.CIDRs = []string{flat.CIDR}
	}
	return []IPPermission{p}, nil
}

// parsePermissions turns the requested permissions into single ones. Source groups must exist
// in the project when strict (authorizing); revoking may name a group that is gone.
func parsePermissions(in []IPPermission, x *groupIndex, strict bool) ([]permission, error) {
	var out []permission
	for _, ip := range in {
		base, err := parsePorts(ip)
		if err != nil {
			return nil, err
		}
		if len(ip.CIDRs) == 0 && len(ip.Groups) == 0 {
			return nil, BadRequest(CodeMissingParameter, "Each permission needs a source: IpRanges or Groups")
		}
		for _, cidr := range ip.CIDRs {
			prefix, err := netip.ParsePrefix(cidr)
			if err != nil || !prefix.Addr().Is4() {
				return nil, InvalidParam("CIDR block %s is malformed", clipGroupRef(cidr))
			}
			p := base
			p.cidr = prefix.Masked().String()
			out = append(out, p)
		}
		for _, g := range ip.Groups {
			ref, err := sourceGroup(g, x, strict)
			if err != nil {
				return nil, err
			}
			p := base
			p.group = ref
			out = append(out, p)
		}
	}
	return out, nil
}

// sourceGroup returns how a rule names the source group: by id when it has one.
func sourceGroup(g GroupPair, x *groupIndex, strict bool) (string, error) {
	ref := g.GroupID
	switch {
	case g.GroupID != "" && !ids.Valid(ids.SecurityGroup, g.GroupID):
		return "", BadRequest(CodeGroupIDMalformed, "Invalid id: \"%s\" (expecting \"sg-...\")", clipGroupRef(g.GroupID))
	case g.GroupID == "" && g.GroupName == "":
		return "", BadRequest(CodeMissingParameter, "A source group needs GroupName or GroupId")
	case g.GroupID == "":
		ref = g.GroupName
	}
	sg := x.byRef[ref]
	if g.UserID != "" && g.UserID != x.project || sg == nil && strict {
		return "", BadRequest(CodeGroupNotFound, "The security group '%s' does not exist", clipGroupRef(ref))
	}
	if sg == nil {
		return ref, nil
	}
	return groupID(sg), nil
}

// parsePorts reads the protocol and port range (ICMP type and code) of a permission.
func parsePorts(ip IPPermission) (permission, error) {
	var p permission
	switch strings.ToLower(ip.Protocol) {
	case "tcp", "6":
		p.protocol = cloudv1.ProtocolTCP
	case "udp", "17":
		p.protocol = cloudv1.ProtocolUDP
	case "icmp", "1":
		p.protocol = cloudv1.ProtocolICMP
	case "-1", "all":
		p.protocol = cloudv1.ProtocolAll
		return p, nil
	case "":
		return p, BadRequest(CodeMissingParameter, "The request must contain the parameter IpProtocol")
	default:
		return p, InvalidParam("Invalid value '%s' for IP protocol. Unknown protocol.", clipGroupRef(ip.Protocol))
	}
	p.ports = true
	if p.protocol == cloudv1.ProtocolICMP {
		p.from, p.to = -1, -1
		if ip.FromPort != nil {
			p.from = *ip.FromPort
		}
		if ip.ToPort != nil {
			p.to = *ip.ToPort
		}
		switch {
		case p.from < -1 || p.from > 255 || p.to < -1 || p.to > 255:
			return p, InvalidParam("Invalid value for portRange. ICMP types and codes go from -1 (all) to 255.")
		case p.from == -1 && p.to != -1:
			return p, InvalidParam("Invalid value for portRange. The ICMP code must be -1 when the type is -1.")
		}
		return p, nil
	}
	switch {
	case ip.FromPort == nil || ip.ToPort == nil:
		return p, InvalidParam("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
	case *ip.FromPort < 0 || *ip.FromPort > 65535 || *ip.ToPort < 0 || *ip.ToPort > 65535:
		return p, InvalidParam("Invalid value for portRange. Ports go from 0 to 65535.")
	case *ip.FromPort > *ip.ToPort:
		return p, InvalidParam("Invalid value for portRange. The from port %d is above the to port %d.", *ip.FromPort, *ip.ToPort)
	}
	p.from, p.to = *ip.FromPort, *ip.ToPort
	return p, nil
}

// ruleIDOf derives a permission's rule id from the group and what it admits.
func ruleIDOf(sg *cloudv1.SecurityGroup, p permission, x *groupIndex) string {
	return ids.Derive(ruleIDPrefix, groupID(sg)+"/"+p.key(x))
}

// clipGroupRef shortens what a client sent to a length fit for an error message.
func clipGroupRef(ref string) string {
	if len(ref) > 64 {
		return ref[:64] + "..."
	}
	return ref
}
