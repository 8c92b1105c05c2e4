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

package testcloud

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// RequestKey names one kind of request a component sent to the API server.
type RequestKey struct {
	// Component is who wrote: "manager", "frontends" (the EC2 API and the other front doors'
	// own clients) or "agent".
	Component string
	// Verb is the HTTP method (POST, PUT, PATCH, DELETE, GET of one object), or LIST or WATCH.
	Verb string
	// Resource is the resource written (instances, events, hypervisors, ...); Subresource is
	// "status" for status writes, empty for the object itself.
	Resource, Subresource string
	// Code is the HTTP status the API server answered (409 for a conflict).
	Code int
}

// IsWrite is true for POST, PUT, PATCH and DELETE.
func (k RequestKey) IsWrite() bool {
	switch k.Verb {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func (k RequestKey) String() string {
	r := k.Resource
	if k.Subresource != "" {
		r += "/" + k.Subresource
	}
	return fmt.Sprintf("%s: %s %s %d", k.Component, k.Verb, r, k.Code)
}

// RequestCounter counts the requests of the components whose transport it wraps (the manager
// and the node agents of a cloud started with it), as the API server's audit log would.
type RequestCounter struct {
	mu     sync.Mutex
	counts map[RequestKey]int
}

// wrap returns a rest.Config WrapTransport that counts component's writes.
func (w *RequestCounter) wrap(component string) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: rt, w: w, component: component}
	}
}

// Reset forgets every count.
func (w *RequestCounter) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts = nil
}

// Counts returns a copy of the counts.
func (w *RequestCounter) Counts() map[RequestKey]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.counts)
}

// Sum adds the counts of the requests match accepts.
func (w *RequestCounter) Sum(match func(RequestKey) bool) int {
	n := 0
	for k, c := range w.Counts() {
		if match(k) {
			n += c
		}
	}
	return n
}

// Writes lists the counts of writes, one kind a line.
func (w *RequestCounter) Writes() string {
	counts := w.Counts()
	maps.DeleteFunc(counts, func(k RequestKey, _ int) bool { return !k.IsWrite() })
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b RequestKey) int { return strings.Compare(a.String(), b.String()) })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d\n", k, counts[k])
	}
	return b.String()
}

type countingTransport struct {
	next      http.RoundTripper
	w         *RequestCounter
	component string
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	k := RequestKey{Component: t.component, Verb: req.Method}
	var named bool
	k.Resource, k.Subresource, named = resourceOf(req.URL.Path)
	if req.Method == http.MethodGet {
		switch {
		case req.URL.Query().Get("watch") == "true":
			k.Verb = "WATCH"
		case !named:
			k.Verb = "LIST"
		}
	}
	if resp != nil {
		k.Code = resp.StatusCode
	}
	t.w.mu.Lock()
	if t.w.counts == nil {
		t.w.counts = map[RequestKey]int{}
	}
	t.w.counts[k]++
	t.w.mu.Unlock()
	return resp, err
}

// resourceOf parses /api/v1/... and /apis/<group>/<version>/... paths into the resource and
// subresource, and whether the path names one object.
func resourceOf(path string) (string, string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return path, "", false
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		if len(parts) == 2 {
			return "namespaces", "", true
		}
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return "", "", false
	case 1:
		return parts[0], "", false
	case 2:
		return parts[0], "", true
	default:
		return parts[0], parts[2], true
	}
}
