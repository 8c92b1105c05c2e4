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

package query_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"pinet.io/pinet/ec2shim/query"
)

const testMaxBody = 64 << 10

// parseGET parses a GET request whose query string is Action=action&Version=…&rest.
func parseGET(t *testing.T, action, rest string) *query.Request {
	t.Helper()
	raw := "Action=" + action + "&Version=2016-11-15"
	if rest != "" {
		raw += "&" + rest
	}
	req, err := query.Parse(httptest.NewRequest("GET", "/?"+raw, nil), testMaxBody)
	if err != nil {
		t.Fatalf("Parse(%q): %v", raw, err)
	}
	return req
}

// wantError checks that err is an *Error with the code, message and status 400 unless given.
func wantError(t *testing.T, err error, code, message string, status ...int) {
	t.Helper()
	var e *query.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want *query.Error %s: %s", err, err, code, message)
	}
	wantStatus := 400
	if len(status) > 0 {
		wantStatus = status[0]
	}
	if e.Code != code || e.Message != message || e.Status != wantStatus {
		t.Fatalf("got %s (%d): %q\nwant %s (%d): %q", e.Code, e.Status, e.Message, code,
			wantStatus, message)
	}
}

func ptr[T any](v T) *T { return &v }
