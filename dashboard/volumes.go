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

func (s *Server) volumeRoutes() {
	s.mux.HandleFunc("GET /volumes", s.authed(pageRequest, s.volumesPage))
	s.mux.HandleFunc("POST /volumes/create", s.authed(formRequest, s.createVolume))
	s.mux.HandleFunc("POST /volumes/attach", s.authed(formRequest, s.attachVolume))
	s.mux.HandleFunc("POST /volumes/detach", s.authed(formRequest, s.detachVolume))
	s.mux.HandleFunc("POST /volumes/delete", s.authed(formRequest, s.deleteVolume))
	s.mux.HandleFunc("POST /volumes/grow", s.authed(formRequest, s.growVolume))
}

// volumesData is the volumes page's data.
type volumesData struct {
	Volumes   []cloud.Volume
	Zones     []cloud.Zone
	Instances []instanceRow
	// ClientToken makes a create form posted twice make one volume.
	ClientToken string
}

func (s *Server) volumesPage(rq *request) {
	rq.view.Notice = noticeOf(rq.r)
	s.showVolumes(rq, http.StatusOK)
}

func (s *Server) showVolumes(rq *request, status int) {
	d := volumesData{ClientToken: randomToken()}
	in := cloud.DescribeVolumesInput{}
	for {
		page, next, err := s.cfg.Service.DescribeVolumes(rq.ctx(), rq.caller, in)
		if err != nil {
			s.fail(rq, err)
			return
		}
		d.Volumes = append(d.Volumes, page...)
		if next == "" {
			break
		}
		in.NextToken = next
	}
	var err error
	if d.Zones, err = s.cfg.Service.DescribeAvailabilityZones(rq.ctx(), rq.caller, cloud.DescribeZonesInput{}); err != nil {
		s.fail(rq, err)
		return
	}
	if d.Instances, err = s.liveInstances(rq); err != nil {
		s.fail(rq, err)
		return
	}
	s.page(rq, status, "volumes.html", "Volumes", d)
}

// liveInstances are the caller's instances that are not going away: what volumes and addresses
// can be attached to.
func (s *Server) liveInstances(rq *request) ([]instanceRow, error) {
	rows, err := s.listInstances(rq, nil, "")
	if err != nil {
		return nil, err
	}
	var out []instanceRow
	for _, r := range rows {
		if r.State != "terminated" && r.State != "shutting-down" {
			out = append(out, r)
		}
	}
	return out, nil
}

// volumeDone redirects after a volume action, or shows the page with the service's refusal.
func (s *Server) volumeDone(rq *request, err error, done string) {
	if err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		s.showVolumes(rq, status)
		return
	}
	http.Redirect(rq.w, rq.r, "/volumes?done="+done, http.StatusSeeOther)
}

func (s *Server) createVolume(rq *request) {
	n, ok := s.sizeField(rq)
	if !ok {
		return
	}
	iops, ok := s.optionalNumber(rq, "iops", "IOPS")
	if !ok {
		return
	}
	throughput, ok := s.optionalNumber(rq, "throughput", "Throughput")
	if !ok {
		return
	}
	// The type and its figures are the service's to judge, as the EC2 API's are.
	_, err := s.cfg.Service.CreateVolume(rq.ctx(), rq.caller, cloud.CreateVolumeInput{SizeGiB: &n,
		AvailabilityZone: rq.r.PostFormValue("zone"), ClientToken: rq.r.PostFormValue("client_token"),
		VolumeType: rq.r.PostFormValue("volume_type"), Iops: iops, Throughput: throughput})
	s.volumeDone(rq, err, "volume-create")
}

// optionalNumber reads an optional whole number of the form (nil when empty); a bad one shows
// the page with the reason.
func (s *Server) optionalNumber(rq *request, name, label string) (*int32, bool) {
	raw := strings.TrimSpace(rq.r.PostFormValue(name))
	if raw == "" {
		return nil, true
	}
	n, err := strconv.ParseInt(raw, 10, 32)
	if err != nil || n < 1 {
		rq.view.Error = label + " must be a whole number, at least 1, or empty."
		s.showVolumes(rq, http.StatusBadRequest)
		return nil, false
	}
	v := int32(n)
	return &v, true
}

// sizeField reads the form's size in GiB; a bad one shows the page with the reason.
func (s *Server) sizeField(rq *request) (int32, bool) {
	size, err := strconv.ParseInt(strings.TrimSpace(rq.r.PostFormValue("size")), 10, 32)
	if err != nil || size < 1 {
		rq.view.Error = "Size must be a whole number of GiB, at least 1."
		s.showVolumes(rq, http.StatusBadRequest)
		return 0, false
	}
	return int32(size), true
}

// growVolume is ModifyVolume with a new size; the service judges it as the EC2 API does.
func (s *Server) growVolume(rq *request) {
	n, ok := s.sizeField(rq)
	if !ok {
		return
	}
	_, err := s.cfg.Service.ModifyVolume(rq.ctx(), rq.caller, cloud.ModifyVolumeInput{VolumeID: rq.r.PostFormValue("id"), SizeGiB: &n})
	s.volumeDone(rq, err, "volume-grow")
}

func (s *Server) attachVolume(rq *request) {
	_, err := s.cfg.Service.AttachVolume(rq.ctx(), rq.caller, cloud.AttachVolumeInput{VolumeID: rq.r.PostFormValue("id"),
		InstanceID: rq.r.PostFormValue("instance"), Device: strings.TrimSpace(rq.r.PostFormValue("device"))})
	s.volumeDone(rq, err, "volume-attach")
}

func (s *Server) detachVolume(rq *request) {
	_, err := s.cfg.Service.DetachVolume(rq.ctx(), rq.caller, cloud.DetachVolumeInput{VolumeID: rq.r.PostFormValue("id")})
	s.volumeDone(rq, err, "volume-detach")
}

func (s *Server) deleteVolume(rq *request) {
	err := s.cfg.Service.DeleteVolume(rq.ctx(), rq.caller, cloud.VolumeIDInput{VolumeID: rq.r.PostFormValue("id")})
	s.volumeDone(rq, err, "volume-delete")
}
