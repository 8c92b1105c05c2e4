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

package dashboard

import (
	"net/http"

	"pinet.io/pinet/cloud"
)

func (s *Server) imageRoutes() {
	s.mux.HandleFunc("GET /images", s.authed(pageRequest, s.imagesPage))
	s.launchRoutes()
}

// imagesData is the images page's data: the project's own images and the others it may launch.
type imagesData struct {
	Own, Others []cloud.Image
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
	all, err := s.visibleImages(rq)
	if err != nil {
		s.fail(rq, err)
		return
	}
	var d imagesData
	for _, img := range all {
		if img.OwnerID == rq.caller.Project() {
			d.Own = append(d.Own, img)
		} else {
			d.Others = append(d.Others, img)
		}
	}
	s.page(rq, http.StatusOK, "images.html", "Images", d)
}
