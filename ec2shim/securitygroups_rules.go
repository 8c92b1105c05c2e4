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
	"fmt"
	"net/netip"
	"strings"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
)

// Ingress rules as the API works on them. A rule in spec.ingress may admit several ranges and
// groups; the API splits rules into single permissions (a protocol, a port range and one
// source), compares those, and joins them into rules again to store them.

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

// Input shapes.

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

// ipPermissions returns the permissions of the request in the IpPermissions form.
func (in *ingressInput) ipPermissions() ([]ipPermissionInput, error) {
	flat := in.IPProtocol != "" || in.FromPort != nil || in.ToPort != nil || in.CidrIP != "" ||
		in.SourceSecurityGroupName != "" || in.SourceSecurityGroupOwnerID != ""
	switch {
	case !flat:
		return in.IPPermissions, nil
	case len(in.IPPermissions) > 0:
		return nil, badRequest(codeParamCombination, "IpPermissions cannot be combined with IpProtocol, FromPort, ToPort, CidrIp or SourceSecurityGroupName.")
	case in.SourceSecurityGroupName == "" && in.SourceSecurityGroupOwnerID != "":
		return nil, badRequest(codeMissingParameter, "The request must contain the parameter SourceSecurityGroupName")
	case in.SourceSecurityGroupName != "":
		if in.IPProtocol != "" || in.FromPort != nil || in.ToPort != nil || in.CidrIP != "" {
			return nil, badRequest(codeParamCombination, "SourceSecurityGroupName cannot be combined with IpProtocol, FromPort, ToPort or CidrIp.")
		}
		// The older form admits everything from the source group.
		return []ipPermissionInput{{IPProtocol: string(cloudv1.ProtocolAll),
			Groups: []groupPairInput{{GroupName: in.SourceSecurityGroupName, UserID: in.SourceSecurityGroupOwnerID}}}}, nil
	}
	p := ipPermissionInput{IPProtocol: in.IPProtocol, FromPort: in.FromPort, ToPort: in.ToPort}
	if in.CidrIP != "" {
		p.IPRanges = []ipRangeInput{{CidrIP: in.CidrIP}}
	}
	return []ipPermissionInput{p}, nil
}

// parsePermissions turns the requested permissions into single ones. Source groups must exist
// in the project when strict (authorizing); revoking may name a group that is gone.
func parsePermissions(in []ipPermissionInput, x *groupIndex, strict bool) ([]permission, error) {
	var out []permission
	for _, ip := range in {
		base, err := parsePorts(ip)
		if err != nil {
			return nil, err
		}
		if len(ip.IPRanges) == 0 && len(ip.Groups) == 0 {
			return nil, badRequest(codeMissingParameter, "Each permission needs a source: IpRanges or Groups")
		}
		for _, r := range ip.IPRanges {
			prefix, err := netip.ParsePrefix(r.CidrIP)
			if err != nil || !prefix.Addr().Is4() {
				return nil, invalidParam("CIDR block %s is malformed", clipID(r.CidrIP))
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
func sourceGroup(g groupPairInput, x *groupIndex, strict bool) (string, error) {
	ref := g.GroupID
	switch {
	case g.GroupID != "" && !ids.Valid(ids.SecurityGroup, g.GroupID):
		return "", badRequest(codeGroupIDMalformed, "Invalid id: \"%s\" (expecting \"sg-...\")", clipID(g.GroupID))
	case g.GroupID == "" && g.GroupName == "":
		return "", badRequest(codeMissingParameter, "A source group needs GroupName or GroupId")
	case g.GroupID == "":
		ref = g.GroupName
	}
	sg := x.byRef[ref]
	if g.UserID != "" && g.UserID != x.project || sg == nil && strict {
		return "", badRequest(codeGroupNotFound, "The security group '%s' does not exist", clipID(ref))
	}
	if sg == nil {
		return ref, nil
	}
	return groupID(sg), nil
}

// parsePorts reads the protocol and port range (ICMP type and code) of a permission.
func parsePorts(ip ipPermissionInput) (permission, error) {
	var p permission
	switch strings.ToLower(ip.IPProtocol) {
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
		return p, badRequest(codeMissingParameter, "The request must contain the parameter IpProtocol")
	default:
		return p, invalidParam("Invalid value '%s' for IP protocol. Unknown protocol.", clipID(ip.IPProtocol))
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
			return p, invalidParam("Invalid value for portRange. ICMP types and codes go from -1 (all) to 255.")
		case p.from == -1 && p.to != -1:
			return p, invalidParam("Invalid value for portRange. The ICMP code must be -1 when the type is -1.")
		}
		return p, nil
	}
	switch {
	case ip.FromPort == nil || ip.ToPort == nil:
		return p, invalidParam("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
	case *ip.FromPort < 0 || *ip.FromPort > 65535 || *ip.ToPort < 0 || *ip.ToPort > 65535:
		return p, invalidParam("Invalid value for portRange. Ports go from 0 to 65535.")
	case *ip.FromPort > *ip.ToPort:
		return p, invalidParam("Invalid value for portRange. The from port %d is above the to port %d.", *ip.FromPort, *ip.ToPort)
	}
	p.from, p.to = *ip.FromPort, *ip.ToPort
	return p, nil
}

// ruleIDOf derives a permission's rule id from the group and what it admits.
func ruleIDOf(sg *cloudv1.SecurityGroup, p permission, x *groupIndex) string {
	return ids.Derive(ruleIDPrefix, groupID(sg)+"/"+p.key(x))
}
