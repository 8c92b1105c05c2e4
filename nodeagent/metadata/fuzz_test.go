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
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzRouter: any method, path and token from instance A's address is answered with one
// of 200, 400, 401, 404 and 405, never a panic, and never with anything of instance B.
func FuzzRouter(f *testing.F) {
	for _, seed := range []struct{ method, path, token string }{
		{"GET", "/", ""},
		{"GET", "/latest/meta-data/", ""},
		{"GET", "/latest/meta-data/public-keys/0/openssh-key", ""},
		{"HEAD", "/2009-04-04/user-data", ""},
		{"GET", "/latest/meta-data/../user-data", ""},
		{"GET", "/latest//meta-data", "x"},
		{"PUT", "/latest/api/token", ""},
		{"DELETE", "/latest/api/token/", ""},
		{"GET", "/1.0/meta-data/block-device-mapping/root", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	} {
		f.Add(seed.method, seed.path, seed.token)
	}
	s, _ := newTestServer(f, twoInstances())
	b := instanceB()
	f.Fuzz(func(t *testing.T, method, path, token string) {
		if !httpguts.ValidHeaderFieldName(method) {
			return // net/http refuses such a request before any handler sees it
		}
		headers := []string{tokenTTLHeader, "60"}
		if token != "" {
			if !httpguts.ValidHeaderFieldValue(token) {
				return
			}
			headers = append(headers, tokenHeader, token)
		}
		w := do(s, addrA.String(), method, path, headers...)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusMethodNotAllowed:
		default:
			t.Fatalf("%s %q: status %d", method, path, w.Code)
		}
		body := w.Body.String()
		for _, secret := range []string{b.InstanceID, string(b.UserData), b.PublicKeys[0].Name, b.LocalIPv4.String()} {
			if strings.Contains(body, secret) {
				t.Fatalf("%s %q from A answered B's %q", method, path, secret)
			}
		}
	})
}
