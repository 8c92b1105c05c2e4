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

package objectstore

import (
	"context"
	"net"
	"net/http"
	"testing"
)

func TestNewNeedsConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no data dir": {Auth: testAuthenticator(), Authz: ProjectAuthorizer{}},
		"no auth":     {DataDir: t.TempDir(), Authz: ProjectAuthorizer{}},
		"no authz":    {DataDir: t.TempDir(), Auth: testAuthenticator()},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New with %s succeeded", name)
		}
	}
	srv, err := New(Config{DataDir: t.TempDir(), Auth: testAuthenticator(), Authz: ProjectAuthorizer{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatal("Start without an address succeeded")
	}
	if srv.NeedLeaderElection() {
		t.Fatal("every replica of the store must serve")
	}
}

// TestServeStopsWithContext runs the server as a Runnable does and stops it.
func TestServeStopsWithContext(t *testing.T) {
	srv, err := New(Config{DataDir: t.TempDir(), Auth: testAuthenticator(), Authz: ProjectAuthorizer{}, Region: testRegion})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	e := &testEnv{host: ln.Addr().String(), url: "http://" + ln.Addr().String()}
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/served"})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel = %v", err)
	}
	if _, err := http.Get(e.url); err == nil {
		t.Fatal("the server still answers after its context ended")
	}
}
