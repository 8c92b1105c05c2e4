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
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

const callTimeout = 60 * time.Second // generous: the machine is shared and loaded

// serve runs the server on a loopback listener until the test ends and returns its URL.
func serve(t *testing.T, lk Lookup) string {
	t.Helper()
	s, err := New(Config{Lookup: lk})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// from is an HTTP client whose connections come from the address from: one instance.
func from(addr netip.Addr) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: addr.AsSlice()}, Timeout: callTimeout}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: callTimeout}
}

// sdk is aws-sdk-go-v2's IMDS client for the instance at addr, IMDSv2 only: a failure to
// get a token is an error, never a silent fallback to v1.
func sdk(endpoint string, addr netip.Addr) *imds.Client {
	return imds.New(imds.Options{
		Endpoint: endpoint, HTTPClient: from(addr), EnableFallback: aws.FalseTernary,
		DisableDefaultTimeout: true,
	})
}

func metadata(t *testing.T, c *imds.Client, path string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	out, err := c.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", err
	}
	defer out.Content.Close()
	b, err := io.ReadAll(out.Content)
	return string(b), err
}

func userData(t *testing.T, c *imds.Client) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	out, err := c.GetUserData(ctx, &imds.GetUserDataInput{})
	if err != nil {
		return "", err
	}
	defer out.Content.Close()
	b, err := io.ReadAll(out.Content)
	return string(b), err
}

func TestSDKClientsSeeOnlyTheirOwnInstance(t *testing.T) {
	url := serve(t, twoInstances())
	a, b := sdk(url, addrA), sdk(url, addrB)
	for _, c := range []struct {
		client       *imds.Client
		path, want   string
		wantUserData string
	}{
		{a, "instance-id", "i-0a1b2c3d4e5f60718", "#!/bin/sh\necho hello from A\n"},
		{b, "instance-id", "i-0fedcba9876543210", "secret of B"},
		{a, "public-keys/0/openssh-key", keyA + "\n", ""},
		{b, "placement/availability-zone", "pinet-b", ""},
		{a, "local-ipv4", "10.128.5.7", ""},
	} {
		got, err := metadata(t, c.client, c.path)
		if err != nil || got != c.want {
			t.Errorf("GetMetadata(%s) = %q, %v; want %q", c.path, got, err, c.want)
		}
		if c.wantUserData != "" {
			if got, err := userData(t, c.client); err != nil || got != c.wantUserData {
				t.Errorf("GetUserData = %q, %v; want %q", got, err, c.wantUserData)
			}
		}
	}
	// What B has and A lacks stays B's.
	if _, err := metadata(t, a, "public-keys/0/openssh-key"); err != nil {
		t.Fatal(err)
	}
	if got, _ := metadata(t, a, "public-keys/"); strings.Contains(got, "bob") {
		t.Errorf("A listed B's key: %q", got)
	}
	// A stranger's SDK gets no token and no data.
	if _, err := metadata(t, sdk(url, netip.MustParseAddr("127.0.0.9")), "instance-id"); err == nil {
		t.Error("an address no instance has got metadata")
	}
}

// TestForeignTokenRefused: B's token, sent from A's address, is refused; A's own works.
func TestForeignTokenRefused(t *testing.T) {
	url := serve(t, twoInstances())
	tokenFrom := func(addr netip.Addr) string {
		req, _ := http.NewRequest(http.MethodPut, url+tokenPath, nil)
		req.Header.Set(tokenTTLHeader, "300")
		resp, err := from(addr).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token for %s: %d %s", addr, resp.StatusCode, b)
		}
		return string(b)
	}
	get := func(addr netip.Addr, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url+"/latest/user-data", nil)
		req.Header.Set(tokenHeader, token)
		resp, err := from(addr).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tokA, tokB := tokenFrom(addrA), tokenFrom(addrB)
	if code, body := get(addrA, tokB); code != http.StatusUnauthorized || strings.Contains(body, "secret") {
		t.Errorf("A with B's token: %d %q", code, body)
	}
	if code, body := get(addrB, tokA); code != http.StatusUnauthorized || strings.Contains(body, "hello") {
		t.Errorf("B with A's token: %d %q", code, body)
	}
	if code, body := get(addrA, tokA); code != http.StatusOK || body != string(instanceA().UserData) {
		t.Errorf("A with its token: %d %q", code, body)
	}
}

// TestSDKRequiredTokenAndV1: an instance that requires tokens refuses a request without
// one; an instance that does not answers it (IMDSv1).
func TestSDKRequiredTokenAndV1(t *testing.T) {
	url := serve(t, twoInstances())
	get := func(addr netip.Addr) int {
		resp, err := from(addr).Get(url + "/latest/meta-data/instance-id")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(addrB); code != http.StatusUnauthorized {
		t.Errorf("B (tokens required) without a token: %d", code)
	}
	if code := get(addrA); code != http.StatusOK {
		t.Errorf("A (IMDSv1 allowed) without a token: %d", code)
	}
	// The SDK with its default fallback still gets B's data: it fetches a token.
	c := imds.New(imds.Options{Endpoint: url, HTTPClient: from(addrB), DisableDefaultTimeout: true})
	if got, err := metadata(t, c, "instance-id"); err != nil || got != "i-0fedcba9876543210" {
		t.Errorf("SDK with fallback for B: %q, %v", got, err)
	}
	var re interface{ HTTPStatusCode() int }
	if _, err := metadata(t, c, "no-such-thing"); !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound {
		t.Errorf("an unknown path through the SDK: %v", err)
	}
}

// lookupFunc adapts a function to Lookup.
type lookupFunc func(ctx context.Context, remote netip.Addr) (*Instance, error)

func (f lookupFunc) Lookup(ctx context.Context, remote netip.Addr) (*Instance, error) {
	return f(ctx, remote)
}

// TestLookupSeesTheListener: a lookup can tell listeners (segments) apart by the local
// address in its context.
func TestLookupSeesTheListener(t *testing.T) {
	local := make(chan string, 1)
	url := serve(t, lookupFunc(func(ctx context.Context, remote netip.Addr) (*Instance, error) {
		if a, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr); ok {
			local <- a.String()
		}
		return instanceA(), nil
	}))
	resp, err := from(addrA).Get(url + "/latest/meta-data/instance-id")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case got := <-local:
		if "http://"+got != url {
			t.Fatalf("the lookup saw local address %s, the listener is %s", got, url)
		}
	default:
		t.Fatal("the lookup's context has no local address")
	}
}
