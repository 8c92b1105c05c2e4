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
	"mime"
	"net/http"
	"strings"

	"pinet.io/pinet/cloud"
)

func (s *Server) keyPairRoutes() {
	s.mux.HandleFunc("GET /keypairs", s.authed(pageRequest, s.keyPairsPage))
	s.mux.HandleFunc("POST /keypairs/create", s.authed(formRequest, s.createKeyPair))
	s.mux.HandleFunc("POST /keypairs/import", s.authed(formRequest, s.importKeyPair))
	s.mux.HandleFunc("POST /keypairs/delete", s.authed(formRequest, s.deleteKeyPair))
}

// keyPairsData is the key pairs page's data.
type keyPairsData struct {
	KeyPairs []cloud.KeyPair
	// Name and PublicKey refill the import form after a refusal.
	Name, PublicKey string
}

func (s *Server) keyPairsPage(rq *request) {
	rq.view.Notice = noticeOf(rq.r)
	s.showKeyPairs(rq, http.StatusOK, keyPairsData{})
}

func (s *Server) showKeyPairs(rq *request, status int, d keyPairsData) {
	var err error
	if d.KeyPairs, err = s.cfg.Service.DescribeKeyPairs(rq.ctx(), rq.caller, cloud.DescribeKeyPairsInput{}); err != nil {
		s.fail(rq, err)
		return
	}
	s.page(rq, status, "keypairs.html", "Key pairs", d)
}

// createKeyPair makes a key pair and answers its private key as a .pem download: the only time
// anyone sees it (the service keeps it nowhere).
func (s *Server) createKeyPair(rq *request) {
	name := strings.TrimSpace(rq.r.PostFormValue("name"))
	kp, err := s.cfg.Service.CreateKeyPair(rq.ctx(), rq.caller, cloud.CreateKeyPairInput{Name: name, Type: rq.r.PostFormValue("type")})
	if err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		s.showKeyPairs(rq, status, keyPairsData{})
		return
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/x-pem-file")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": safeFileName(kp.Name, ".pem")}))
	_, _ = rq.w.Write([]byte(kp.PrivateKeyPEM))
}

// safeFileName is a download's file name made of name's safe characters and ext.
func safeFileName(name, ext string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
	return strings.TrimLeft(clean, ".") + ext
}

func (s *Server) importKeyPair(rq *request) {
	d := keyPairsData{Name: strings.TrimSpace(rq.r.PostFormValue("name")), PublicKey: strings.TrimSpace(rq.r.PostFormValue("public_key"))}
	if _, err := s.cfg.Service.ImportKeyPair(rq.ctx(), rq.caller, cloud.ImportKeyPairInput{Name: d.Name, PublicKey: []byte(d.PublicKey)}); err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		s.showKeyPairs(rq, status, d)
		return
	}
	http.Redirect(rq.w, rq.r, "/keypairs?done=keypair-import", http.StatusSeeOther)
}

func (s *Server) deleteKeyPair(rq *request) {
	id := rq.r.PostFormValue("id")
	if _, err := s.cfg.Service.DeleteKeyPair(rq.ctx(), rq.caller, cloud.DeleteKeyPairInput{ID: id}); err != nil {
		var status int
		rq.view.Error, status = s.serviceError(rq.ctx(), err)
		s.showKeyPairs(rq, status, keyPairsData{})
		return
	}
	http.Redirect(rq.w, rq.r, "/keypairs?done=keypair-delete", http.StatusSeeOther)
}
