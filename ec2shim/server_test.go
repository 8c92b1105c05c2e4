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

package ec2shim_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/ec2shim"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/credentials"
)

// TestOversizedBodyIsRefusedWith413: a body larger than the API reads answers HTTP 413 with an
// EC2 error, whether its length is declared or it is streamed.
func TestOversizedBodyIsRefusedWith413(t *testing.T) {
	cloud := theCloud(t)
	form := "Action=DescribeRegions&Version=2016-11-15&Padding=" + strings.Repeat("a", 2<<20)
	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"declared length", strings.NewReader(form)},
		{"streamed", io.MultiReader(strings.NewReader(form))}, // no length: sent chunked
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, cloud.EC2URL+"/", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			status, raw := send(t, req)
			if status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413: %s", status, raw)
			}
			var body struct {
				Errors struct {
					Error struct{ Code, Message string }
				}
				RequestID string
			}
			if err := xml.Unmarshal(raw, &body); err != nil {
				t.Fatalf("not an EC2 error body: %v: %s", err, raw)
			}
			if body.Errors.Error.Code != "RequestEntityTooLarge" || body.RequestID == "" {
				t.Errorf("error %+v, want RequestEntityTooLarge with a request id", body)
			}
		})
	}
}

// TestStalledBodyIsCutOff: a request whose body stops arriving (before it could be
// authenticated) is ended by the server's read timeout instead of holding the connection.
func TestStalledBodyIsCutOff(t *testing.T) {
	creds := &credentials.Store{Client: env.Client, SystemNamespace: "pinet-system"}
	tokens, err := query.NewPageTokens(bytes.Repeat([]byte{7}, query.MinPageTokenKey))
	if err != nil {
		t.Fatal(err)
	}
	api, err := ec2shim.New(ec2shim.Config{
		Client: env.Client, Verifier: &awsauth.Verifier{Store: creds, Service: awsauth.ServiceEC2},
		Authz: &authz.Authorizer{Client: env.Client}, Tokens: tokens, ReadTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers promise 1000 bytes; ten arrive, then nothing.
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: ec2\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: 1000\r\n\r\nAction=Des"); err != nil {
		t.Fatal(err)
	}
	// The client gives up long after the server should have; the server must end it first.
	if err := conn.SetReadDeadline(time.Now().Add(longWait)); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the connection of a stalled body open: %v", err)
	}
}
