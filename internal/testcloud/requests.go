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
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
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
	// About is, for a write of an event, the kind of the object the event is about (read from
	// the event when it is created and remembered by its name for the later writes of its
	// series); empty when the counter never saw the event created.
	About string
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
	if k.About != "" {
		r += " about " + k.About
	}
	return fmt.Sprintf("%s: %s %s %d", k.Component, k.Verb, r, k.Code)
}

// RequestCounter counts the requests of the components whose transport it wraps (the manager
// and the node agents of a cloud started with it), as the API server's audit log would.
type RequestCounter struct {
	mu     sync.Mutex
	counts map[RequestKey]int
	// eventsAbout is the kind each event the counter saw created is about, by namespace/name;
	// Reset keeps it, as a series' later writes name only the event.
	eventsAbout map[string]string
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
	k := RequestKey{Component: t.component, Verb: req.Method}
	var named bool
	k.Resource, k.Subresource, named = resourceOf(req.URL.Path)
	var created *eventHead
	if k.Resource == "events" && k.IsWrite() {
		if req.Method == http.MethodPost {
			var err error
			if created, err = readEventHead(req); err != nil {
				return nil, err
			}
		} else {
			t.w.mu.Lock()
			k.About = t.w.eventsAbout[eventKey(req.URL.Path)]
			t.w.mu.Unlock()
		}
	}
	resp, err := t.next.RoundTrip(req)
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
	if created != nil {
		k.About = created.about
		if t.w.eventsAbout == nil {
			t.w.eventsAbout = map[string]string{}
		}
		t.w.eventsAbout[created.key] = created.about
	}
	if t.w.counts == nil {
		t.w.counts = map[RequestKey]int{}
	}
	t.w.counts[k]++
	t.w.mu.Unlock()
	return resp, err
}

// eventHead is what the counter keeps of a created event: its namespace/name and the kind of
// the object it is about.
type eventHead struct{ key, about string }

// readEventHead reads the event a POST creates (events.k8s.io/v1, the manager's and agents'
// recorders, or core/v1), leaving the request's body for the API server.
func readEventHead(req *http.Request) (*eventHead, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the event a request creates: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	obj, _, err := clientscheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding the event a request creates (%s): %w", req.Header.Get("Content-Type"), err)
	}
	switch ev := obj.(type) {
	case *eventsv1.Event:
		return &eventHead{key: ev.Namespace + "/" + ev.Name, about: ev.Regarding.Kind}, nil
	case *corev1.Event:
		return &eventHead{key: ev.Namespace + "/" + ev.Name, about: ev.InvolvedObject.Kind}, nil
	}
	return nil, fmt.Errorf("a request to create an event sent a %T", obj)
}

// eventKey is the namespace/name of the event a request's path names.
func eventKey(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+3 < len(parts); i++ {
		if parts[i] == "namespaces" && parts[i+2] == "events" {
			return parts[i+1] + "/" + parts[i+3]
		}
	}
	return ""
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
