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

package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMetadataService is a real HTTP server with EC2's metadata layout, counting the requests
// each path gets.
type fakeMetadataService struct {
	mu       sync.Mutex
	hits     map[string]int
	entries  map[string]string
	statuses map[string][]int // statuses to answer a path with, one per request, before its entry
}

func (s *fakeMetadataService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits[r.URL.Path]++
	if codes := s.statuses[r.URL.Path]; len(codes) > 0 {
		s.statuses[r.URL.Path] = codes[1:]
		w.WriteHeader(codes[0])
		return
	}
	body, ok := s.entries[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(body))
}

func newFakeMetadata(t *testing.T, entries map[string]string) (*fakeMetadataService, *metadataClient) {
	t.Helper()
	svc := &fakeMetadataService{hits: map[string]int{}, entries: entries, statuses: map[string][]int{}}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return svc, newMetadataClient(srv.URL+"/latest", 5*time.Second, 3, time.Millisecond)
}

func TestFetchMetadata(t *testing.T) {
	svc, client := newFakeMetadata(t, map[string]string{
		"/latest/meta-data/instance-id":               "i-0123456789abcdef0",
		"/latest/meta-data/local-ipv4":                "10.0.0.5\n",
		"/latest/meta-data/hostname":                  "ip-10-0-0-5",
		"/latest/meta-data/public-keys/0/openssh-key": "ssh-ed25519 AAAAC3Nza key\n",
		"/latest/user-data":                           "#!/bin/sh\necho hi\n",
	})
	svc.statuses["/latest/meta-data/hostname"] = []int{http.StatusServiceUnavailable, http.StatusBadGateway}
	md, err := client.fetchMetadata(context.Background())
	if err != nil {
		t.Fatalf("fetchMetadata() = %v", err)
	}
	want := map[string]string{
		"instance-id":               "i-0123456789abcdef0",
		"local-ipv4":                "10.0.0.5",
		"hostname":                  "ip-10-0-0-5",
		"public-keys/0/openssh-key": "ssh-ed25519 AAAAC3Nza key",
	}
	if !reflect.DeepEqual(md.values, want) {
		t.Errorf("values = %v, want %v", md.values, want)
	}
	if string(md.userData) != "#!/bin/sh\necho hi\n" {
		t.Errorf("userData = %q", md.userData)
	}
	if len(md.warnings) != 0 {
		t.Errorf("warnings = %q, want none", md.warnings)
	}
	if got := svc.hits["/latest/meta-data/hostname"]; got != 3 {
		t.Errorf("hostname requested %d times, want 3 (two 5xx retried)", got)
	}
	if got := svc.hits["/latest/meta-data/public-ipv4"]; got != 1 {
		t.Errorf("public-ipv4 requested %d times, want 1 (404 is not retried)", got)
	}
}

func TestFetchMetadataNoUserData(t *testing.T) {
	_, client := newFakeMetadata(t, map[string]string{"/latest/meta-data/instance-id": "i-0123456789abcdef0"})
	md, err := client.fetchMetadata(context.Background())
	if err != nil {
		t.Fatalf("fetchMetadata() = %v", err)
	}
	if md.userData != nil || len(md.values) != 1 || len(md.warnings) != 0 {
		t.Errorf("fetchMetadata() = %+v, want only the instance id", md)
	}
}

func TestFetchMetadataErrors(t *testing.T) {
	t.Run("forbidden entry is a warning, not retried", func(t *testing.T) {
		svc, client := newFakeMetadata(t, map[string]string{"/latest/meta-data/instance-id": "i-0123456789abcdef0"})
		svc.statuses["/latest/meta-data/hostname"] = []int{http.StatusForbidden}
		md, err := client.fetchMetadata(context.Background())
		if err != nil {
			t.Fatalf("fetchMetadata() = %v", err)
		}
		want := []string{"GET meta-data/hostname: unexpected status 403 Forbidden"}
		if !reflect.DeepEqual(md.warnings, want) {
			t.Errorf("warnings = %q, want %q", md.warnings, want)
		}
		// Unreadable is not missing: the ssh key, say, must not be taken for absent.
		if want := map[string]bool{"hostname": true}; !reflect.DeepEqual(md.unreadable, want) {
			t.Errorf("unreadable = %v, want %v", md.unreadable, want)
		}
	})
	t.Run("oversized user data", func(t *testing.T) {
		_, client := newFakeMetadata(t, map[string]string{
			"/latest/meta-data/instance-id": "i-0123456789abcdef0",
			"/latest/user-data":             strings.Repeat("x", maxUserData+1),
		})
		md, err := client.fetchMetadata(context.Background())
		if err != nil {
			t.Fatalf("fetchMetadata() = %v", err)
		}
		want := []string{"GET user-data: response larger than 16384 bytes"}
		if md.userData != nil || !reflect.DeepEqual(md.warnings, want) {
			t.Errorf("userData %d bytes, warnings %q; want none and %q", len(md.userData), md.warnings, want)
		}
		// Unreadable, not absent: the guest then looks for it on the meta-data disk.
		if !md.userDataUnreadable {
			t.Error("user data that could not be read is not marked unreadable")
		}
	})
	t.Run("no user data is not unreadable", func(t *testing.T) {
		_, client := newFakeMetadata(t, map[string]string{"/latest/meta-data/instance-id": "i-0123456789abcdef0"})
		md, err := client.fetchMetadata(context.Background())
		if err != nil || md.userData != nil || md.userDataUnreadable {
			t.Errorf("fetchMetadata() = %+v, %v; want no user data, readable", md, err)
		}
	})
	t.Run("service failing on the first entry is unreachable", func(t *testing.T) {
		svc, client := newFakeMetadata(t, nil)
		svc.statuses["/latest/meta-data/instance-id"] = []int{500, 500, 500}
		_, err := client.fetchMetadata(context.Background())
		want := "metadata service unreachable: GET meta-data/instance-id: giving up after 3 attempts: " +
			"GET meta-data/instance-id: status 500 Internal Server Error"
		if err == nil || err.Error() != want {
			t.Errorf("fetchMetadata() = %v, want %s", err, want)
		}
		if got := len(svc.hits); got != 1 {
			t.Errorf("requested %d paths, want only the first", got)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		client := newMetadataClient(url, time.Second, 2, time.Millisecond)
		_, err := client.fetchMetadata(context.Background())
		prefix := "metadata service unreachable: GET meta-data/instance-id: giving up after 2 attempts: "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("fetchMetadata() = %v, want %s… connection refused", err, prefix)
		}
	})
	t.Run("cancelled between attempts", func(t *testing.T) {
		svc, client := newFakeMetadata(t, nil)
		client.backoff = time.Hour
		svc.statuses["/latest/meta-data/instance-id"] = []int{500}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for {
				svc.mu.Lock()
				n := svc.hits["/latest/meta-data/instance-id"]
				svc.mu.Unlock()
				if n > 0 {
					cancel()
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		_, err := client.get(ctx, "meta-data/instance-id", 10)
		if want := "GET meta-data/instance-id: context canceled"; err == nil || err.Error() != want {
			t.Errorf("get() = %v, want %s", err, want)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("get() = %v, want it to wrap context.Canceled", err)
		}
	})
}

func TestMetadataNotFound(t *testing.T) {
	_, client := newFakeMetadata(t, nil)
	_, err := client.get(context.Background(), "meta-data/public-ipv4", 10)
	if !errors.Is(err, errNotFound) || err.Error() != "GET meta-data/public-ipv4: not found" {
		t.Errorf("get() = %v, want errNotFound", err)
	}
}

func TestFormatValue(t *testing.T) {
	tests := map[string]string{
		"10.0.0.5":             "10.0.0.5",
		"ssh-ed25519 AAAA key": "ssh-ed25519 AAAA key",
		"two\nlines":           `"two\nlines"`,
		"bell\a":               `"bell\a"`,
		"":                     "",
	}
	for in, want := range tests {
		if got := formatValue(in); got != want {
			t.Errorf("formatValue(%q) = %s, want %s", in, got, want)
		}
	}
	if len(metadataKeys()) != 5 {
		t.Errorf("metadataKeys() = %q, want the five EC2 entries", metadataKeys())
	}
}
