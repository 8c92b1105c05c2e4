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

	"pinet.io/pinet/cloud"
)

func (s *Server) addressRoutes() {
	s.mux.HandleFunc("GET /addresses", s.authed(pageRequest, s.addressesPage))
	s.mux.HandleFunc("POST /addresses/allocate", s.authed(formRequest, s.allocateAddress))
	s.mux.HandleFunc("POST /addresses/associate", s.authed(formRequest, s.associateAddress))
	s.mux.HandleFunc("POST /addresses/disassociate", s.authed(formRequest, s.disassociateAddress))
	s.mux.HandleFunc("POST /addresses/release", s.authed(formRequest, s.releaseAddress))
}

// addressesData is the elastic IPs page's data.
type addressesData struct {
	Addresses []cloud.Address
	Instances []instanceRow
}

func (s *Server) addressesPage(rq *request) {
	rq.view.Notice = noticeOf(rq.r)
	s.showAddresses(rq, http.StatusOK)
}

func (s *Server) showAddresses(rq *request, status int) {
	var d addressesData
	var err error
	if d.Addresses, err = s.cfg.Service.DescribeAddresses(rq.ctx(), rq.caller, cloud.DescribeAddressesInput{}); err != nil {
		s.fail(rq, err)
		return
	}
	if d.Instances, err = s.liveInstances(rq); err != nil {
		s.fail(rq, err)
		return
	}
	s.page(rq, status, "addresses.html", "Elastic IPs", d)
}

// addressDone redirects after an address action, or shows the page with the service's refusal.
func (s *Server) addressDone(rq *request, err error, done string) {
	if err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		s.showAddresses(rq, status)
		return
	}
	http.Redirect(rq.w, rq.r, "/addresses?done="+done, http.StatusSeeOther)
}

func (s *Server) allocateAddress(rq *request) {
	_, err := s.cfg.Service.AllocateAddress(rq.ctx(), rq.caller, cloud.AllocateAddressInput{Domain: "vpc"})
	s.addressDone(rq, err, "address-allocate")
}

func (s *Server) associateAddress(rq *request) {
	_, err := s.cfg.Service.AssociateAddress(rq.ctx(), rq.caller, cloud.AssociateAddressInput{
		AllocationID: rq.r.PostFormValue("id"), InstanceID: rq.r.PostFormValue("instance")})
	s.addressDone(rq, err, "address-associate")
}

func (s *Server) disassociateAddress(rq *request) {
	err := s.cfg.Service.DisassociateAddress(rq.ctx(), rq.caller, cloud.DisassociateAddressInput{
		AssociationID: rq.r.PostFormValue("association")})
	s.addressDone(rq, err, "address-disassociate")
}

func (s *Server) releaseAddress(rq *request) {
	err := s.cfg.Service.ReleaseAddress(rq.ctx(), rq.caller, cloud.ReleaseAddressInput{AllocationID: rq.r.PostFormValue("id")})
	s.addressDone(rq, err, "address-release")
}
