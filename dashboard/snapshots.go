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
	"strings"

	"pinet.io/pinet/cloud"
)

func (s *Server) snapshotRoutes() {
	s.mux.HandleFunc("GET /snapshots", s.authed(pageRequest, s.snapshotsPage))
	s.mux.HandleFunc("POST /snapshots/create", s.authed(formRequest, s.createSnapshot))
	s.mux.HandleFunc("POST /snapshots/delete", s.authed(formRequest, s.deleteSnapshot))
	s.mux.HandleFunc("POST /snapshots/restore", s.authed(formRequest, s.restoreSnapshot))
	s.mux.HandleFunc("POST /snapshots/share", s.authed(formRequest, s.shareSnapshot))
	s.mux.HandleFunc("POST /snapshots/copy", s.authed(formRequest, s.copySnapshot))
}

// ownSnapshot is one of the project's snapshots and whom it is shared with.
type ownSnapshot struct {
	cloud.Snapshot
	Public     bool
	SharedWith []string
}

// snapshotsData is the snapshots page's data.
type snapshotsData struct {
	Snapshots []ownSnapshot
	// Others are other projects' snapshots shared with this one, or public.
	Others []cloud.Snapshot
	// Volumes are the project's volumes that can be snapshotted (they have storage).
	Volumes []cloud.Volume
	Zones   []cloud.Zone
	// RestoreTokens are the client tokens of each snapshot's restore form, so that a form posted
	// twice makes one volume.
	RestoreTokens map[string]string
}

// restoreForm is what a snapshot's restore form needs.
type restoreForm struct {
	ID, CSRF, Token string
	Zones           []cloud.Zone
}

// RestoreForm is the restore form of the snapshot with the id, for the page's CSRF token.
func (d snapshotsData) RestoreForm(id, csrf string) restoreForm {
	return restoreForm{ID: id, CSRF: csrf, Token: d.RestoreTokens[id], Zones: d.Zones}
}

func (s *Server) snapshotsPage(rq *request) {
	rq.view.Notice = noticeOf(rq.r)
	s.showSnapshots(rq, http.StatusOK)
}

func (s *Server) showSnapshots(rq *request, status int) {
	ctx, c := rq.ctx(), rq.caller
	d := snapshotsData{RestoreTokens: map[string]string{}}
	// Every snapshot the project may see, as DescribeSnapshots lists them: its own, with whom
	// each is shared, and others' shared with it.
	in := cloud.DescribeSnapshotsInput{}
	for {
		page, next, err := s.cfg.Service.DescribeSnapshots(ctx, c, in)
		if err != nil {
			s.fail(rq, err)
			return
		}
		for _, snap := range page {
			if snap.OwnerID != c.Project() {
				d.Others = append(d.Others, snap)
				continue
			}
			own, err := s.sharing(rq, snap)
			if err != nil {
				s.fail(rq, err)
				return
			}
			d.Snapshots = append(d.Snapshots, own)
		}
		if next == "" {
			break
		}
		in.NextToken = next
	}
	vin := cloud.DescribeVolumesInput{}
	for {
		page, next, err := s.cfg.Service.DescribeVolumes(ctx, c, vin)
		if err != nil {
			s.fail(rq, err)
			return
		}
		for _, v := range page {
			if v.State == "available" || v.State == "in-use" {
				d.Volumes = append(d.Volumes, v)
			}
		}
		if next == "" {
			break
		}
		vin.NextToken = next
	}
	for _, snap := range d.Snapshots {
		d.RestoreTokens[snap.SnapshotID] = randomToken()
	}
	for _, snap := range d.Others {
		d.RestoreTokens[snap.SnapshotID] = randomToken()
	}
	var err error
	if d.Zones, err = s.cfg.Service.DescribeAvailabilityZones(ctx, c, cloud.DescribeZonesInput{}); err != nil {
		s.fail(rq, err)
		return
	}
	s.page(rq, status, "snapshots.html", "Snapshots", d)
}

// snapshotDone redirects after a snapshot action, or shows the page with the service's refusal.
func (s *Server) snapshotDone(rq *request, err error, to, done string) {
	if err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		s.showSnapshots(rq, status)
		return
	}
	http.Redirect(rq.w, rq.r, to+"?done="+done, http.StatusSeeOther)
}

func (s *Server) createSnapshot(rq *request) {
	_, err := s.cfg.Service.CreateSnapshot(rq.ctx(), rq.caller, cloud.CreateSnapshotInput{VolumeID: rq.r.PostFormValue("volume"),
		Description: strings.TrimSpace(rq.r.PostFormValue("description"))})
	s.snapshotDone(rq, err, "/snapshots", "snapshot-create")
}

func (s *Server) deleteSnapshot(rq *request) {
	err := s.cfg.Service.DeleteSnapshot(rq.ctx(), rq.caller, cloud.SnapshotIDInput{SnapshotID: rq.r.PostFormValue("id")})
	s.snapshotDone(rq, err, "/snapshots", "snapshot-delete")
}

// restoreSnapshot makes a volume of the snapshot's size from it, in the zone chosen; the volumes
// page then follows it.
func (s *Server) restoreSnapshot(rq *request) {
	_, err := s.cfg.Service.CreateVolume(rq.ctx(), rq.caller, cloud.CreateVolumeInput{SnapshotID: rq.r.PostFormValue("id"),
		AvailabilityZone: rq.r.PostFormValue("zone"), ClientToken: rq.r.PostFormValue("client_token")})
	s.snapshotDone(rq, err, "/volumes", "volume-create")
}

// sharing reads whom an own snapshot is shared with.
func (s *Server) sharing(rq *request, snap cloud.Snapshot) (ownSnapshot, error) {
	own := ownSnapshot{Snapshot: snap}
	attr, err := s.cfg.Service.DescribeSnapshotAttribute(rq.ctx(), rq.caller, cloud.SnapshotAttributeInput{
		SnapshotID: snap.SnapshotID, Attribute: "createVolumePermission"})
	if err != nil {
		return own, err
	}
	for _, p := range attr.CreateVolumePermissions {
		own.Public = own.Public || p.Group == "all"
		if p.UserID != "" {
			own.SharedWith = append(own.SharedWith, p.UserID)
		}
	}
	return own, nil
}

// shareSnapshot adds or removes one create volume permission of an own snapshot.
func (s *Server) shareSnapshot(rq *request) {
	changes, done, ok := sharingChange(rq.r, "snapshot")
	if !ok {
		rq.view.Error = "Name the project to share the snapshot with."
		s.showSnapshots(rq, http.StatusBadRequest)
		return
	}
	err := s.cfg.Service.ModifySnapshotAttribute(rq.ctx(), rq.caller, cloud.ModifySnapshotAttributeInput{
		SnapshotID: rq.r.PostFormValue("id"), CreateVolumePermission: changes})
	s.snapshotDone(rq, err, "/snapshots", done)
}

// copySnapshot copies a snapshot the project may use (one shared with it) into the project.
func (s *Server) copySnapshot(rq *request) {
	_, err := s.cfg.Service.CopySnapshot(rq.ctx(), rq.caller, cloud.CopySnapshotInput{SourceSnapshotID: rq.r.PostFormValue("id"),
		SourceRegion: s.cfg.Service.Config().Region, Description: strings.TrimSpace(rq.r.PostFormValue("description"))})
	s.snapshotDone(rq, err, "/snapshots", "snapshot-copy")
}
