// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//	http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package metadata

import (
	"net/http"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// ServeHTTP answers one request. The order of refusals: a method the path does not take
// (405), a caller no instance is (403), a bad, expired or foreign token, or none where the
// instance requires one (401), a path that is not there (404).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == tokenPath {
		if r.Method != http.MethodPut {
			w.Header().Set("Allow", http.MethodPut)
			fail(w, http.StatusMethodNotAllowed, "tokens are made with PUT")
			return
		}
		s.putToken(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		fail(w, http.StatusMethodNotAllowed, "metadata is read with GET")
		return
	}
	inst, code, err := s.caller(r)
	if err != nil {
		fail(w, code, err.Error())
		return
	}
	// Only a token's answer is hop-limited; one before on this connection may have been.
	if err := limitHops(r, 0); err != nil {
		log.FromContext(r.Context()).Error(err, "Restoring a connection's time-to-live", "instance", inst.InstanceID)
		fail(w, http.StatusInternalServerError, "the answer could not be sent")
		return
	}
	if err := s.authorize(r, inst); err != nil {
		fail(w, http.StatusUnauthorized, err.Error())
		return
	}
	body, contentType, ok := route(inst, path)
	if !ok {
		fail(w, http.StatusNotFound, "not found")
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(body)
}

// authorize checks the request's token, if it has one, against the caller; a request
// without one passes unless the instance requires tokens.
func (s *Server) authorize(r *http.Request, inst *Instance) error {
	tokens := r.Header.Values(tokenHeader)
	switch {
	case len(tokens) == 0 && inst.RequireToken:
		return errNoToken
	case len(tokens) == 0:
		return nil
	case len(tokens) > 1:
		return errBadToken
	}
	return s.checkToken(tokens[0], inst.InstanceID)
}

// route finds what a path names for the instance: the version list at "/", a version's
// listing, its user-data, or an entry of its meta-data tree. A directory answers with or
// without a trailing slash; a leaf only without; empty, "." and ".." segments name nothing.
func route(inst *Instance, path string) (body []byte, contentType string, ok bool) {
	const text = "text/plain"
	if path == "/" {
		return []byte(strings.Join(versions, "\n")), text, true
	}
	if !strings.HasPrefix(path, "/") {
		return nil, "", false
	}
	parts := strings.Split(path[1:], "/")
	trailingSlash := parts[len(parts)-1] == ""
	if trailingSlash {
		parts = parts[:len(parts)-1]
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return nil, "", false
		}
	}
	version := parts[0]
	if !knownVersion(version) {
		return nil, "", false
	}
	rest := parts[1:]
	switch {
	case len(rest) == 0:
		listing := "meta-data"
		if inst.UserData != nil {
			listing += "\nuser-data"
		}
		return []byte(listing), text, true
	case rest[0] == "user-data":
		if len(rest) != 1 || trailingSlash || inst.UserData == nil {
			return nil, "", false
		}
		return inst.UserData, "application/octet-stream", true
	case rest[0] != "meta-data":
		return nil, "", false
	}
	n := metaData(inst, version)
	for _, name := range rest[1:] {
		if n = n.child(name); n == nil {
			return nil, "", false
		}
	}
	if n.dir {
		return n.list(), text, true
	}
	if trailingSlash {
		return nil, "", false
	}
	return n.data, text, true
}

// fail answers an error with its status and a one-line reason.
func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(http.StatusText(code) + ": " + msg + "\n"))
}
