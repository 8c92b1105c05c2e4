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

func (s *Server) imageRoutes() {
	s.mux.HandleFunc("GET /images", s.authed(pageRequest, s.imagesPage))
	s.mux.HandleFunc("POST /images/share", s.authed(formRequest, s.shareImage))
	s.mux.HandleFunc("POST /images/deregister", s.authed(formRequest, s.deregisterImage))
	s.mux.HandleFunc("POST /images/copy", s.authed(formRequest, s.copyImage))
	s.mux.HandleFunc("POST /images/protection", s.authed(formRequest, s.protectImage))
	s.launchRoutes()
}

// imagesData is the images page's data: the project's own images (with who may launch them)
// and the others it may launch.
type imagesData struct {
	Own    []ownImage
	Others []cloud.Image
}

// ownImage is one of the project's images and the projects it is shared with.
type ownImage struct {
	cloud.Image
	SharedWith []string
}

// visibleImages pages through every image the caller may see.
func (s *Server) visibleImages(rq *request) ([]cloud.Image, error) {
	var out []cloud.Image
	in := cloud.DescribeImagesInput{}
	for {
		page, next, err := s.cfg.Service.DescribeImages(rq.ctx(), rq.caller, in)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		in.Page.NextToken = next
	}
}

// machineImages are the visible images an instance can boot.
func (s *Server) machineImages(rq *request) ([]cloud.Image, error) {
	all, err := s.visibleImages(rq)
	if err != nil {
		return nil, err
	}
	var out []cloud.Image
	for _, img := range all {
		if img.Type == "machine" && img.State == "available" {
			out = append(out, img)
		}
	}
	return out, nil
}

func (s *Server) imagesPage(rq *request) {
	rq.view.Notice = noticeOf(rq.r)
	s.showImages(rq, http.StatusOK)
}

func (s *Server) showImages(rq *request, status int) {
	all, err := s.visibleImages(rq)
	if err != nil {
		s.fail(rq, err)
		return
	}
	var d imagesData
	for _, img := range all {
		if img.OwnerID != rq.caller.Project() {
			d.Others = append(d.Others, img)
			continue
		}
		own := ownImage{Image: img}
		attr, err := s.cfg.Service.DescribeImageAttribute(rq.ctx(), rq.caller, cloud.DescribeImageAttributeInput{
			ID: img.ID, Attribute: "launchPermission"})
		if err != nil {
			s.fail(rq, err)
			return
		}
		for _, lp := range attr.LaunchPermissions {
			if lp.UserID != "" {
				own.SharedWith = append(own.SharedWith, lp.UserID)
			}
		}
		d.Own = append(d.Own, own)
	}
	s.page(rq, status, "images.html", "Images", d)
}

// shareImage adds or removes one launch permission of an own image.
func (s *Server) shareImage(rq *request) {
	changes, done, ok := sharingChange(rq.r, "image")
	if !ok {
		rq.view.Error = "Name the project to share the image with."
		s.showImages(rq, http.StatusBadRequest)
		return
	}
	err := s.cfg.Service.ModifyImageAttribute(rq.ctx(), rq.caller, cloud.ModifyImageAttributeInput{
		ID: rq.r.PostFormValue("id"), LaunchPermission: changes})
	s.imagesDone(rq, err, done)
}

// sharingChange reads a share form of an image or a snapshot (what): one permission, for
// everyone (public=true: the group "all") or one project, added or (op=remove) removed; and the
// notice of the change done. It is not ok when the form names no one.
func sharingChange(r *http.Request, what string) (changes *cloud.LaunchPermissionChanges, done string, ok bool) {
	perm := cloud.LaunchPermission{UserID: strings.TrimSpace(r.PostFormValue("project"))}
	if r.PostFormValue("public") == "true" {
		perm = cloud.LaunchPermission{Group: "all"}
	}
	if perm.UserID == "" && perm.Group == "" {
		return nil, "", false
	}
	if r.PostFormValue("op") == "remove" {
		return &cloud.LaunchPermissionChanges{Remove: []cloud.LaunchPermission{perm}}, what + "-unshare", true
	}
	return &cloud.LaunchPermissionChanges{Add: []cloud.LaunchPermission{perm}}, what + "-share", true
}

// deregisterImage deregisters an own image; instances launched from it keep running.
func (s *Server) deregisterImage(rq *request) {
	err := s.cfg.Service.DeregisterImage(rq.ctx(), rq.caller, cloud.DeregisterImageInput{ID: rq.r.PostFormValue("id")})
	s.imagesDone(rq, err, "image-deregister")
}

// copyImage copies an image the project may launch (its own, public or shared with it) into an
// image of the project's own.
func (s *Server) copyImage(rq *request) {
	_, err := s.cfg.Service.CopyImage(rq.ctx(), rq.caller, cloud.CopyImageInput{SourceImageID: rq.r.PostFormValue("id"),
		SourceRegion: s.cfg.Service.Config().Region, Name: strings.TrimSpace(rq.r.PostFormValue("name"))})
	s.imagesDone(rq, err, "image-copy")
}

// protectImage turns an own image's deregistration protection on (op enable, or enable-cooldown
// for the cooldown) or off (disable).
func (s *Server) protectImage(rq *request) {
	in := cloud.ImageProtectionInput{ID: rq.r.PostFormValue("id")}
	var err error
	done := "image-protect"
	switch rq.r.PostFormValue("op") {
	case "enable", "enable-cooldown":
		in.WithCooldown = rq.r.PostFormValue("op") == "enable-cooldown"
		err = s.cfg.Service.EnableImageDeregistrationProtection(rq.ctx(), rq.caller, in)
	case "disable":
		done = "image-unprotect"
		err = s.cfg.Service.DisableImageDeregistrationProtection(rq.ctx(), rq.caller, in)
	default:
		rq.view.Error = "Say whether to enable or disable the protection."
		s.showImages(rq, http.StatusBadRequest)
		return
	}
	s.imagesDone(rq, err, done)
}

// imagesDone answers a form of the images page: the page again with the service's error, or a
// redirect to it with the notice done.
func (s *Server) imagesDone(rq *request, err error, done string) {
	if err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		s.showImages(rq, status)
		return
	}
	http.Redirect(rq.w, rq.r, "/images?done="+done, http.StatusSeeOther)
}
