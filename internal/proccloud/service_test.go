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

package proccloud

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The Service sends each connection to a ready backend only, and to another one when the
// backends' readiness changes.
func TestServiceSendsToReadyBackendsOnly(t *testing.T) {
	backend := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }))
		t.Cleanup(s.Close)
		return s
	}
	a, b := backend("a"), backend("b")
	var ready atomic.Value
	ready.Store([]string{strings.TrimPrefix(a.URL, "http://")})
	svc, err := newService(func() []string { return ready.Load().([]string) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	get := func() string {
		t.Helper()
		// A new connection per request: the Service picks per connection.
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get(svc.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(body)
	}
	for range 4 {
		if got := get(); got != "a" {
			t.Fatalf("with only a ready, got %q", got)
		}
	}
	ready.Store([]string{strings.TrimPrefix(b.URL, "http://")})
	for range 4 {
		if got := get(); got != "b" {
			t.Fatalf("with only b ready, got %q", got)
		}
	}
	ready.Store([]string{strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")})
	seen := map[string]bool{}
	for range 4 {
		seen[get()] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("with both ready, only %v answered", seen)
	}
}
