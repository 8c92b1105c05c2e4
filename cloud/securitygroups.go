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
	"errors"
	"fmt"
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
// may admit several ranges and groups; the service works on single permissions (a protocol, a
// port range and one source) and stores them regrouped, so the same permission is never stored
// twice.

// maxGroupText bounds group names and descriptions, as EC2 does.
const maxGroupText = 255

// SecurityGroup is a security group as EC2 shows it.
type SecurityGroup struct {
	ID, Name, Description string
	// OwnerID is the project.
	OwnerID string
	Ingress []IPPermission
	// Egress is what PiNet applies: groups filter inbound traffic only.
	Egress []IPPermission
	Tags   map[string]string
}

// SecurityGroupRule is one permission an operation added, as EC2 shows it.
type SecurityGroupRule struct {
	ID, GroupID, GroupOwnerID string
	IsEgress                  bool
	Protocol                  string
	// FromPort and ToPort are -1 for protocol -1.
	FromPort, ToPort int32
	// CIDR is the source range; else the source is the referenced group.
	CIDR                                     string
	ReferencedGroupID, ReferencedGroupUserID string
}

// groupID is the group's EC2 id: the one in status, else its name when that is one.
func groupID(sg *cloudv1.SecurityGroup) string {
	return idOr(sg.Status.GroupID, sg.Name, ids.SecurityGroup)
}

// groupKind: the project's groups that have an EC2 id, oldest first.
var groupKind = kind[*cloudv1.SecurityGroup]{resource: "securitygroups", what: "security group", list: &cloudv1.SecurityGroupList{},
	id: groupID, prefix: ids.SecurityGroup, notFound: groupNotFound, malformed: func(id string) error {
		return BadRequest(CodeGroupIDMalformed, "Invalid id: \"%s\" (expecting \"sg-...\")", clipGroupRef(id))
	}}

func groupNotFound(ref string) error {
	return BadRequest(CodeGroupNotFound, "The security group '%s' does not exist", clipGroupRef(ref))
}

// projectGroups lists the project's groups (groupKind).
func (s *Service) projectGroups(ctx context.Context, c Caller) ([]*cloudv1.SecurityGroup, error) {
	return inProject(ctx, s, c, groupKind)
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

func (x *groupIndex) pair(ref string) GroupPair {
	if sg := x.byRef[ref]; sg != nil {
		return GroupPair{UserID: x.project, GroupID: groupID(sg), GroupName: sg.EffectiveGroupName()}
	}
	if ids.Valid(ids.SecurityGroup, ref) {
		return GroupPair{UserID: x.project, GroupID: ref}
	}
	return GroupPair{UserID: x.project, GroupName: ref}
}

// findGroup finds one of the project's groups by id, or else by name.
func (s *Service) findGroup(ctx context.Context, c Caller, name, id string) (*cloudv1.SecurityGroup, *groupIndex, error) {
	groups, err := s.projectGroups(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	x := newGroupIndex(c.Project(), groups)
	sg, err := x.find(name, id)
	if err != nil {
		return nil, nil, err
	}
	return sg, x, nil
}

// find is one of the index's groups by id, or else by name.
func (x *groupIndex) find(name, id string) (*cloudv1.SecurityGroup, error) {
	ref := id
	switch {
	case id != "" && !ids.Valid(ids.SecurityGroup, id):
		return nil, groupKind.malformed(id)
	case id == "" && name == "":
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter groupName or groupId")
	case id == "":
		ref = name
	}
	sg := x.byRef[ref]
	if sg == nil || id == "" && sg.EffectiveGroupName() != name || id != "" && groupID(sg) != id {
		return nil, groupNotFound(ref)
	}
	return sg, nil
}

// allowAllEgress is the egress PiNet applies: groups filter inbound traffic only.
func allowAllEgress() []IPPermission {
	return []IPPermission{{Protocol: string(cloudv1.ProtocolAll), CIDRs: []string{"0.0.0.0/0"}}}
}

func toSecurityGroup(sg *cloudv1.SecurityGroup, x *groupIndex) SecurityGroup {
	out := SecurityGroup{ID: groupID(sg), Name: sg.EffectiveGroupName(), Description: sg.Spec.Description,
		OwnerID: sg.Namespace, Ingress: []IPPermission{}, Egress: allowAllEgress(), Tags: TagsOf(sg)}
	for _, rule := range sg.Spec.Ingress {
		p := IPPermission{Protocol: string(rule.Protocol)}
		if rule.Protocol != cloudv1.ProtocolAll {
			p.FromPort, p.ToPort = rule.FromPort, rule.ToPort
		}
		p.CIDRs = append(p.CIDRs, rule.CIDRIPs...)
		for _, ref := range rule.SourceGroups {
			p.Groups = append(p.Groups, x.pair(ref))
		}
		out.Ingress = append(out.Ingress, p)
	}
	return out
}

// CreateSecurityGroupInput asks for a new group.
type CreateSecurityGroupInput struct {
	Name, Description string
	TagSpecifications []TagSpecification
	DryRun            bool
}

// CreateSecurityGroup makes a group named by an id derived from its name (nameFor), so the API
// server lets only one of two racing calls for a name succeed. The new group admits nothing yet.
func (s *Service) CreateSecurityGroup(ctx context.Context, c Caller, in CreateSecurityGroupInput) (*SecurityGroup, error) {
	tags, err := s.startCreate(ctx, c, "securitygroups", in.DryRun, in.validate, in.TagSpecifications, "security-group")
	if err != nil {
		return nil, err
	}
	duplicate := BadRequest(CodeGroupDuplicate, "The security group '%s' already exists", in.Name)
	if in.Name == cloudv1.DefaultSecurityGroupName {
		return nil, duplicate
	}
	if _, err := refs.SecurityGroup(ctx, s.cfg.Client, c.Project(), in.Name); err == nil {
		return nil, duplicate
	} else if !errors.Is(err, refs.ErrNotFound) {
		return nil, err
	}
	name, err := s.nameFor(ctx, c, ids.SecurityGroup, in.Name)
	if err != nil {
		return nil, err
	}
	sg := &cloudv1.SecurityGroup{
		// Made with the security group controller's finalizer, saving it a write before the id.
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Project(),
			Finalizers: []string{cloudv1.SecurityGroupFinalizer}},
		Spec: cloudv1.SecurityGroupSpec{GroupName: in.Name, Description: in.Description},
	}
	SetTags(sg, tags)
	if err := s.cfg.Client.Create(ctx, sg); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, duplicate
		}
		return nil, APIError(err, "creating a security group")
	}
	// Instances name groups by id through an index of status.groupId: wait (bounded) for the
	// controller to record it, so a launch right after this call finds the group.
	cached := &cloudv1.SecurityGroup{}
	s.AwaitCacheUntil(ctx, client.ObjectKeyFromObject(sg), cached, func(found bool) bool {
		return found && cached.Status.GroupID != ""
	})
	// The id is the one the group claimed, which is its name unless another object held that.
	return &SecurityGroup{ID: idOr(cached.Status.GroupID, sg.Name, ids.SecurityGroup), Name: in.Name, Description: in.Description, OwnerID: sg.Namespace,
		Ingress: []IPPermission{}, Egress: allowAllEgress(), Tags: tags}, nil
}

// validate checks a new group's name and description.
func (in *CreateSecurityGroupInput) validate() error {
	if err := validateGroupText(in.Name, "GroupName"); err != nil {
		return err
	}
	if err := validateGroupText(in.Description, "GroupDescription"); err != nil {
		return err
	}
	if strings.HasPrefix(strings.ToLower(in.Name), "sg-") {
		return InvalidParam("Group names may not be in the format sg-*.")
	}
	return nil
}

// validateGroupText checks a group name or description as EC2 does.
func validateGroupText(v, param string) error {
	switch {
	case v == "":
		return BadRequest(CodeMissingParameter, "The request must contain the parameter %s", param)
	case len(v) > maxGroupText:
		return InvalidParam("Value for parameter %s is too long; the limit is %d characters", param, maxGroupText)
	}
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			return InvalidParam("Value for parameter %s is invalid. Character sets beyond ASCII are not supported.", param)
		}
	}
	return nil
}

// GroupInput names a group by id, or else by name.
type GroupInput struct {
	GroupName, GroupID string
	DryRun             bool
}

// DeleteSecurityGroup deletes a group no live instance and no other group's rule depends on, and
// returns its id, exclusive of launches into it and rules naming it (securitygroups_delete.go). The project's default group cannot be deleted.
func (s *Service) DeleteSecurityGroup(ctx context.Context, c Caller, in GroupInput) (string, error) {
	if err := s.authorize(ctx, c, "delete", "securitygroups", in.DryRun); err != nil {
		return "", err
	}
	found, _, err := s.findGroup(ctx, c, in.GroupName, in.GroupID)
	if err != nil {
		return "", err
	}
	id := groupID(found)
	if found.EffectiveGroupName() == cloudv1.DefaultSecurityGroupName {
		return "", BadRequest(CodeCannotDelete, "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", id)
	}
	// The cache refuses a group plainly in use without a write; the handshake decides.
	if err := s.checkGroupUnused(ctx, s.cfg.Client, c, found); err != nil {
		return "", err
	}
	gone := found.DeepCopy()
	if err := s.deleteUnused(ctx, c, gone); err != nil {
		return "", err
	}
	// The group's finalizer goes once its controller confirms it unused, as this call did: wait
	// (bounded) for it, so a group of the same name can be made again at once, as in EC2.
	cached := &cloudv1.SecurityGroup{}
	s.AwaitCacheUntil(ctx, client.ObjectKeyFromObject(gone), cached, func(found bool) bool {
		return !found || cached.UID != gone.UID
	})
	return id, nil
}

// DescribeSecurityGroupsInput selects groups: by name, by id, by filter, a page (5 to 1000) at a
// time.
type DescribeSecurityGroupsInput struct {
	Names, IDs []string
	Filters    []query.Filter
	DryRun     bool
	Page
}

var securityGroupFilters = []string{
	"group-name", "group-id", "description", "owner-id", "ip-permission.protocol",
	"ip-permission.from-port", "ip-permission.to-port", "ip-permission.cidr", "ip-permission.group-id",
	"ip-permission.group-name", "ip-permission.user-id", "egress.ip-permission.protocol",
	"egress.ip-permission.cidr",
}

// DescribeSecurityGroups shows a page of the project's groups, oldest first, and the token of the
// next page ("" at the end). Each name and id asked for must be one of them.
func (s *Service) DescribeSecurityGroups(ctx context.Context, c Caller, in DescribeSecurityGroupsInput) ([]SecurityGroup, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, listing{resource: "securitygroups", filters: securityGroupFilters,
		minPage: 5, maxPage: 1000}, in.DryRun, in.Filters, in.Page, 0)
	if err != nil {
		return nil, "", err
	}
	groups, err := s.projectGroups(ctx, c)
	if err != nil {
		return nil, "", err
	}
	x := newGroupIndex(c.Project(), groups)
	if len(in.Names)+len(in.IDs) > 0 {
		if groups, err = s.pickGroups(ctx, c, groups, x, in.Names, in.IDs); err != nil {
			return nil, "", err
		}
	}
	var items []SecurityGroup
	for _, sg := range groups {
		item := toSecurityGroup(sg, x)
		if matcher.Match(groupAttrs(&item), item.Tags) {
			items = append(items, item)
		}
	}
	return pageOf(s, c, fmt.Sprint("DescribeSecurityGroups", in.Names, in.IDs, in.Filters), in.Page, size, items)
}

// pickGroups keeps the groups named by name or id, in order; each must exist.
func (s *Service) pickGroups(ctx context.Context, c Caller, groups []*cloudv1.SecurityGroup, x *groupIndex, names, groupIDs []string) ([]*cloudv1.SecurityGroup, error) {
	wanted := map[*cloudv1.SecurityGroup]bool{}
	for _, name := range names {
		sg, _, err := s.findGroup(ctx, c, name, "")
		if err != nil {
			return nil, err
		}
		wanted[x.byRef[groupID(sg)]] = true
	}
	for _, id := range groupIDs {
		if _, _, err := s.findGroup(ctx, c, "", id); err != nil {
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
	return kept, nil
}

func groupAttrs(sg *SecurityGroup) query.Attributes {
	return func(name string) []string {
		switch name {
		case "group-name":
			return []string{sg.Name}
		case "group-id":
			return []string{sg.ID}
		case "description":
			return []string{sg.Description}
		case "owner-id":
			return []string{sg.OwnerID}
		}
		perms := sg.Ingress
		if rest, ok := strings.CutPrefix(name, "egress."); ok {
			perms, name = sg.Egress, rest
		}
		var out []string
		for _, p := range perms {
			switch name {
			case "ip-permission.protocol":
				out = append(out, p.Protocol)
			case "ip-permission.from-port":
				out = append(out, portString(p.FromPort))
			case "ip-permission.to-port":
				out = append(out, portString(p.ToPort))
			case "ip-permission.cidr":
				out = append(out, p.CIDRs...)
			}
			for _, g := range p.Groups {
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
