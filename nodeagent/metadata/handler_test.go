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
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

var epoch = time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)

func newTestServer(t testing.TB, lk Lookup) (*Server, *clocktesting.FakePassiveClock) {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(epoch)
	s, err := New(Config{Lookup: lk, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

// do sends one request from the address from, with the headers given as name, value pairs.
func do(s *Server, from, method, path string, headers ...string) *httptest.ResponseRecorder {
	r := &http.Request{Method: method, URL: &url.URL{Path: path}, Header: http.Header{}, RemoteAddr: from + ":40000", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func token(t *testing.T, s *Server, from string) string {
	t.Helper()
	w := do(s, from, http.MethodPut, "/latest/api/token", tokenTTLHeader, "60")
	if w.Code != http.StatusOK {
		t.Fatalf("token for %s: %d %s", from, w.Code, w.Body)
	}
	return w.Body.String()
}

func TestTree(t *testing.T) {
	s, _ := newTestServer(t, twoInstances())
	a := addrA.String()
	latest := "ami-id\nami-launch-index\nami-manifest-path\nblock-device-mapping/\nhostname\ninstance-id\n" +
		"instance-type\nkernel-id\nlocal-hostname\nlocal-ipv4\nplacement/\npublic-hostname\npublic-ipv4\n" +
		"public-keys/\nramdisk-id\nreservation-id\nsecurity-groups"
	for _, c := range []struct{ path, want string }{
		{"/", "1.0\n2007-01-19\n2007-03-01\n2007-08-29\n2007-10-10\n2007-12-15\n2008-02-01\n2008-09-01\n2009-04-04\nlatest"},
		{"/latest", "meta-data\nuser-data"},
		{"/2009-04-04/", "meta-data\nuser-data"},
		{"/latest/meta-data/", latest},
		{"/latest/meta-data", latest},
		{"/2009-04-04/meta-data/", latest},
		{"/1.0/meta-data/", "ami-id\nami-launch-index\nami-manifest-path\nhostname\ninstance-id\nlocal-ipv4\n" +
			"public-keys/\nreservation-id\nsecurity-groups"},
		{"/2007-08-29/meta-data/", "ami-id\nami-launch-index\nami-manifest-path\nhostname\ninstance-id\n" +
			"instance-type\nlocal-hostname\nlocal-ipv4\npublic-hostname\npublic-ipv4\npublic-keys/\nreservation-id\nsecurity-groups"},
		{"/latest/meta-data/instance-id", "i-0a1b2c3d4e5f60718"},
		{"/1.0/meta-data/instance-id", "i-0a1b2c3d4e5f60718"},
		{"/latest/meta-data/ami-id", "ami-00000000000000001"},
		{"/latest/meta-data/ami-launch-index", "0"},
		{"/latest/meta-data/ami-manifest-path", "images/debian.manifest.xml"},
		{"/latest/meta-data/block-device-mapping/", "ami\nroot\nephemeral0\nswap"},
		{"/latest/meta-data/block-device-mapping/root", "/dev/vda"},
		{"/latest/meta-data/hostname", "ip-10-128-5-7"},
		{"/latest/meta-data/instance-type", "m1.small"},
		{"/latest/meta-data/kernel-id", "aki-00000000000000002"},
		{"/latest/meta-data/ramdisk-id", "ari-00000000000000003"},
		{"/latest/meta-data/local-hostname", "ip-10-128-5-7"},
		{"/latest/meta-data/local-ipv4", "10.128.5.7"},
		{"/latest/meta-data/placement/", "availability-zone"},
		{"/latest/meta-data/placement", "availability-zone"},
		{"/latest/meta-data/placement/availability-zone", "pinet-a"},
		{"/latest/meta-data/public-hostname", "ec2-203-0-113-9"},
		{"/latest/meta-data/public-ipv4", "203.0.113.9"},
		{"/latest/meta-data/public-keys/", "0=alice"},
		{"/latest/meta-data/public-keys/0/", "openssh-key"},
		{"/latest/meta-data/public-keys/0/openssh-key", keyA + "\n"},
		{"/latest/meta-data/reservation-id", "r-00000000000000004"},
		{"/latest/meta-data/security-groups", "default\nweb"},
		{"/latest/user-data", "#!/bin/sh\necho hello from A\n"},
		{"/1.0/user-data", "#!/bin/sh\necho hello from A\n"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			w := do(s, a, method, c.path)
			if w.Code != http.StatusOK {
				t.Errorf("%s %s: %d %s", method, c.path, w.Code, w.Body)
				continue
			}
			if method == http.MethodGet && w.Body.String() != c.want {
				t.Errorf("GET %s:\n%q\nwant\n%q", c.path, w.Body, c.want)
			}
		}
	}
}

// TestSparseInstance: facts an instance does not have are not in its tree.
func TestSparseInstance(t *testing.T) {
	inst := &Instance{InstanceID: "i-00000000000000009", ImageID: "ami-00000000000000009", SecurityGroups: []string{"default"}}
	s, _ := newTestServer(t, &table{byIP: map[netip.Addr]*Instance{addrA: inst}})
	a := addrA.String()
	if w := do(s, a, "GET", "/latest/meta-data/"); w.Body.String() != "ami-id\nami-launch-index\ninstance-id\nsecurity-groups" {
		t.Fatalf("listing %q", w.Body)
	}
	if w := do(s, a, "GET", "/latest/"); w.Body.String() != "meta-data" {
		t.Fatalf("version listing %q", w.Body)
	}
	for _, p := range []string{"/latest/user-data", "/latest/meta-data/public-keys/", "/latest/meta-data/public-ipv4",
		"/latest/meta-data/kernel-id", "/latest/meta-data/placement/availability-zone", "/latest/meta-data/block-device-mapping/"} {
		if w := do(s, a, "GET", p); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}
}

func TestUnknownPaths(t *testing.T) {
	s, _ := newTestServer(t, twoInstances())
	for _, p := range []string{
		"", "latest", "/latest/meta-data/nope", "/latest/meta-data/instance-id/", "/2010-01-01/meta-data/",
		"/Latest/meta-data/", "//latest/meta-data/", "/latest//meta-data/", "/latest/meta-data//instance-id",
		"/latest/meta-data/../user-data", "/latest/./meta-data/", "/latest/user-data/", "/latest/user-data/x",
		"/latest/meta-data/instance-id/x", "/latest/meta-data/public-keys/1/", "/latest/meta-data/public-keys/0/openssh-key/",
		"/latest/meta-data/public-keys/0=alice", "/latest/dynamic/instance-identity/document", "/latest/api/token/",
		"/latest/meta-data/placement/availability-zone/more",
	} {
		if w := do(s, addrA.String(), "GET", p); w.Code != http.StatusNotFound {
			t.Errorf("GET %q: %d %s, want 404", p, w.Code, w.Body)
		}
	}
}

func TestMethods(t *testing.T) {
	s, _ := newTestServer(t, twoInstances())
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/latest/meta-data/", "GET, HEAD"},
		{"DELETE", "/latest/user-data", "GET, HEAD"},
		{"PUT", "/latest/meta-data/instance-id", "GET, HEAD"},
		{"PUT", "/2009-04-04/api/token", "GET, HEAD"},
		{"GET", "/latest/api/token", "PUT"},
		{"POST", "/latest/api/token", "PUT"},
	} {
		w := do(s, addrA.String(), c.method, c.path, tokenTTLHeader, "60")
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q", c.method, c.path, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestCallers(t *testing.T) {
	lk := twoInstances()
	s, _ := newTestServer(t, lk)
	// An address no instance has learns nothing, not even the version list, and gets no token.
	for _, c := range []struct{ method, path string }{{"GET", "/"}, {"GET", "/latest/meta-data/instance-id"}, {"PUT", "/latest/api/token"}} {
		w := do(s, "127.0.0.9", c.method, c.path, tokenTTLHeader, "60")
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "no instance has address 127.0.0.9") {
			t.Errorf("%s %s from a stranger: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	// IPv4 in IPv6 form is the same caller.
	if w := do(s, "[::ffff:127.0.0.2]", "GET", "/latest/meta-data/instance-id"); w.Body.String() != "i-0a1b2c3d4e5f60718" {
		t.Errorf("a mapped address: %d %s", w.Code, w.Body)
	}
	// Headers do not change who the caller is.
	w := do(s, addrA.String(), "GET", "/latest/user-data", "X-Forwarded-For", addrB.String(), "X-Real-Ip", addrB.String())
	if w.Body.String() != string(instanceA().UserData) {
		t.Errorf("A with B's address in headers got %q", w.Body)
	}
	// A remote address that is not one is refused.
	if w := do(s, "not-an-address", "GET", "/"); w.Code != http.StatusForbidden {
		t.Errorf("no remote address: %d", w.Code)
	}
	// A failing lookup is the server's error, and says nothing of why.
	lk.fails = true
	if w := do(s, addrA.String(), "GET", "/"); w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "synced") {
		t.Errorf("failing lookup: %d %s", w.Code, w.Body)
	}
}

func TestTokens(t *testing.T) {
	s, clk := newTestServer(t, twoInstances())
	a, b := addrA.String(), addrB.String()
	const path = "/latest/meta-data/instance-id"

	w := do(s, a, "PUT", tokenPath, tokenTTLHeader, "21600")
	if w.Code != http.StatusOK || w.Header().Get(tokenTTLHeader) != "21600" || w.Body.Len() == 0 {
		t.Fatalf("token: %d %q %s", w.Code, w.Header().Get(tokenTTLHeader), w.Body)
	}
	tokA := w.Body.String()
	if w := do(s, a, "GET", path, tokenHeader, tokA); w.Code != http.StatusOK || w.Body.String() != "i-0a1b2c3d4e5f60718" {
		t.Fatalf("with A's token: %d %s", w.Code, w.Body)
	}
	tokB := token(t, s, b)
	for name, tok := range map[string][]string{
		"B's token":        {tokB},
		"garbage":          {"garbage"},
		"empty":            {""},
		"a flipped bit":    {flip(tokA)},
		"two tokens":       {tokA, tokA},
		"a long one":       {strings.Repeat("A", 4096)},
		"not base64 chars": {strings.Repeat("*", len(tokA))},
	} {
		headers := []string{}
		for _, v := range tok {
			headers = append(headers, tokenHeader, v)
		}
		if w := do(s, a, "GET", path, headers...); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, w.Code, w.Body)
		}
	}

	// B requires tokens: without one it gets nothing, with its own everything, with A's nothing.
	if w := do(s, b, "GET", path); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "requires a token") {
		t.Errorf("B without a token: %d %s", w.Code, w.Body)
	}
	if w := do(s, b, "GET", "/latest/user-data", tokenHeader, tokB); w.Body.String() != "secret of B" {
		t.Errorf("B with its token: %d %s", w.Code, w.Body)
	}
	if w := do(s, b, "GET", path, tokenHeader, tokA); w.Code != http.StatusUnauthorized {
		t.Errorf("B with A's token: %d", w.Code)
	}
	// A does not require tokens.
	if w := do(s, a, "GET", path); w.Code != http.StatusOK {
		t.Errorf("A without a token (IMDSv1): %d", w.Code)
	}

	// Expiry: a 60 s token works at 59 s and not at 60 s.
	short := token(t, s, a)
	clk.SetTime(epoch.Add(59 * time.Second))
	if w := do(s, a, "GET", path, tokenHeader, short); w.Code != http.StatusOK {
		t.Errorf("token at 59s: %d", w.Code)
	}
	clk.SetTime(epoch.Add(60 * time.Second))
	if w := do(s, a, "GET", path, tokenHeader, short); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "expired") {
		t.Errorf("token at 60s: %d %s", w.Code, w.Body)
	}

	// A token is bound to the server's key: another server does not take it.
	other, _ := newTestServer(t, twoInstances())
	if w := do(other, a, "GET", path, tokenHeader, tokA); w.Code != http.StatusUnauthorized {
		t.Errorf("another server's token: %d", w.Code)
	}
}

func flip(tok string) string {
	b := []byte(tok)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

func TestTokenRequests(t *testing.T) {
	s, _ := newTestServer(t, twoInstances())
	a := addrA.String()
	for _, c := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"no TTL", nil, http.StatusBadRequest},
		{"empty TTL", []string{tokenTTLHeader, ""}, http.StatusBadRequest},
		{"zero TTL", []string{tokenTTLHeader, "0"}, http.StatusBadRequest},
		{"TTL over 6 hours", []string{tokenTTLHeader, "21601"}, http.StatusBadRequest},
		{"negative TTL", []string{tokenTTLHeader, "-5"}, http.StatusBadRequest},
		{"signed TTL", []string{tokenTTLHeader, "+5"}, http.StatusBadRequest},
		{"fractional TTL", []string{tokenTTLHeader, "1.5"}, http.StatusBadRequest},
		{"word TTL", []string{tokenTTLHeader, "sixty"}, http.StatusBadRequest},
		{"huge TTL", []string{tokenTTLHeader, "99999999999999999999"}, http.StatusBadRequest},
		{"two TTLs", []string{tokenTTLHeader, "60", tokenTTLHeader, "60"}, http.StatusBadRequest},
		{"forwarded", []string{tokenTTLHeader, "60", "X-Forwarded-For", "10.0.0.1"}, http.StatusForbidden},
		{"forwarded, empty", []string{tokenTTLHeader, "60", "X-Forwarded-For", ""}, http.StatusForbidden},
		{"one second", []string{tokenTTLHeader, "1"}, http.StatusOK},
		{"leading zeros", []string{tokenTTLHeader, "00060"}, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := do(s, a, "PUT", tokenPath, c.headers...)
			if w.Code != c.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, c.want)
			}
			if c.want != http.StatusOK && (w.Header().Get(tokenTTLHeader) != "" || strings.Count(w.Body.String(), "\n") != 1) {
				t.Fatalf("a refusal carried a token or more than its reason: %q", w.Body)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("a server without a lookup")
	}
	if _, err := New(Config{Lookup: twoInstances(), TokenKey: []byte("short")}); err == nil {
		t.Error("a 5-byte token key")
	}
	s1, _ := New(Config{Lookup: twoInstances(), TokenKey: []byte("0123456789abcdef")})
	s2, _ := New(Config{Lookup: twoInstances(), TokenKey: []byte("0123456789abcdef")})
	if w := do(s2, addrA.String(), "GET", "/", tokenHeader, token(t, s1, addrA.String())); w.Code != http.StatusOK {
		t.Errorf("servers sharing a key do not share tokens: %d", w.Code)
	}
}
