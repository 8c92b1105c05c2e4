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

package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"pinet.io/pinet/cloud"
)

func (s *Server) groupRoutes() {
	s.mux.HandleFunc("GET /groups", s.authed(pageRequest, s.groupsPage))
	s.mux.HandleFunc("POST /groups/create", s.authed(formRequest, s.createGroup))
	s.mux.HandleFunc("POST /groups/delete", s.authed(formRequest, s.deleteGroup))
	s.mux.HandleFunc("POST /groups/authorize", s.authed(formRequest, s.authorizeIngress))
	s.mux.HandleFunc("POST /groups/revoke", s.authed(formRequest, s.revokeIngress))
}

// groupRule is one permission of a group as the page shows it, with what revokes it.
type groupRule struct {
	Protocol, Ports, Source string
	// From, To and CIDR or SourceGroup are posted back to revoke the rule.
	From, To, CIDR, SourceGroup string
}

// groupView is a group with its rules flattened.
type groupView struct {
	cloud.SecurityGroup
	Rules []groupRule
}

func (s *Server) groupsPage(rq *request) {
	rq.view.Notice = noticeOf(rq.r)
	s.showGroups(rq, http.StatusOK)
}

func (s *Server) showGroups(rq *request, status int) {
	var groups []groupView
	in := cloud.DescribeSecurityGroupsInput{}
	for {
		page, next, err := s.cfg.Service.DescribeSecurityGroups(rq.ctx(), rq.caller, in)
		if err != nil {
			s.fail(rq, err)
			return
		}
		for _, g := range page {
			groups = append(groups, groupView{SecurityGroup: g, Rules: flatRules(g.Ingress)})
		}
		if next == "" {
			break
		}
		in.NextToken = next
	}
	s.page(rq, status, "groups.html", "Security groups", groups)
}

// flatRules lists each source of each permission as its own rule.
func flatRules(perms []cloud.IPPermission) []groupRule {
	var out []groupRule
	for _, p := range perms {
		base := groupRule{Protocol: p.Protocol, Ports: "all"}
		if p.Protocol == "-1" {
			base.Protocol = "all"
		}
		if p.FromPort != nil && p.ToPort != nil {
			base.From, base.To = strconv.Itoa(int(*p.FromPort)), strconv.Itoa(int(*p.ToPort))
			base.Ports = base.From
			if base.To != base.From {
				base.Ports += "–" + base.To
			}
		}
		for _, cidr := range p.CIDRs {
			r := base
			r.Source, r.CIDR = cidr, cidr
			out = append(out, r)
		}
		for _, g := range p.Groups {
			r := base
			r.Source, r.SourceGroup = "group "+g.GroupName, g.GroupName
			out = append(out, r)
		}
	}
	return out
}

// groupDone redirects after a group action, or shows the page with the service's refusal.
func (s *Server) groupDone(rq *request, err error, done string) {
	if err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		s.showGroups(rq, status)
		return
	}
	http.Redirect(rq.w, rq.r, "/groups?done="+done, http.StatusSeeOther)
}

func (s *Server) createGroup(rq *request) {
	_, err := s.cfg.Service.CreateSecurityGroup(rq.ctx(), rq.caller, cloud.CreateSecurityGroupInput{
		Name: strings.TrimSpace(rq.r.PostFormValue("name")), Description: strings.TrimSpace(rq.r.PostFormValue("description"))})
	s.groupDone(rq, err, "group-create")
}

func (s *Server) deleteGroup(rq *request) {
	_, err := s.cfg.Service.DeleteSecurityGroup(rq.ctx(), rq.caller, cloud.GroupInput{GroupID: rq.r.PostFormValue("id")})
	s.groupDone(rq, err, "group-delete")
}

// permissionOf reads one permission from a rule form: a protocol, a port range (none for all
// protocols) and a CIDR or a source group of the project.
func permissionOf(r *http.Request) (cloud.IPPermission, string) {
	p := cloud.IPPermission{Protocol: r.PostFormValue("protocol")}
	if p.Protocol == "all" {
		p.Protocol = "-1"
	}
	if p.Protocol != "-1" {
		from, err1 := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("from")), 10, 32)
		to, err2 := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("to")), 10, 32)
		if err1 != nil || err2 != nil {
			return p, "Ports must be whole numbers (for ICMP: the type and the code, -1 for all)."
		}
		f, t := int32(from), int32(to)
		p.FromPort, p.ToPort = &f, &t
	}
	if g := strings.TrimSpace(r.PostFormValue("source_group")); g != "" {
		p.Groups = []cloud.GroupPair{{GroupName: g}}
	} else {
		p.CIDRs = []string{strings.TrimSpace(r.PostFormValue("cidr"))}
	}
	return p, ""
}

func (s *Server) authorizeIngress(rq *request) {
	p, problem := permissionOf(rq.r)
	if problem != "" {
		rq.view.Error = problem
		s.showGroups(rq, http.StatusBadRequest)
		return
	}
	_, err := s.cfg.Service.AuthorizeSecurityGroupIngress(rq.ctx(), rq.caller, cloud.IngressInput{
		GroupID: rq.r.PostFormValue("id"), Permissions: []cloud.IPPermission{p}})
	s.groupDone(rq, err, "group-authorize")
}

func (s *Server) revokeIngress(rq *request) {
	p, problem := permissionOf(rq.r)
	if problem != "" {
		rq.view.Error = problem
		s.showGroups(rq, http.StatusBadRequest)
		return
	}
	err := s.cfg.Service.RevokeSecurityGroupIngress(rq.ctx(), rq.caller, cloud.RevokeIngressInput{IngressInput: cloud.IngressInput{
		GroupID: rq.r.PostFormValue("id"), Permissions: []cloud.IPPermission{p}}})
	s.groupDone(rq, err, "group-revoke")
}
