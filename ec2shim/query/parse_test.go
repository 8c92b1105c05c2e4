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
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"pinet.io/pinet/ec2shim/query"
)

func postForm(target, body string) *http.Request {
	r := httptest.NewRequest("POST", target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		request *http.Request
		want    *query.Request
	}{
		{
			name:    "GET",
			request: httptest.NewRequest("GET", "/?Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1", nil),
			want: &query.Request{Action: "DescribeInstances", Version: "2016-11-15",
				Params: map[string][]string{"InstanceId.1": {"i-1"}}, Auth: map[string][]string{}},
		},
		{
			name:    "POST body",
			request: postForm("/", "Action=RunInstances&Version=2016-11-15&ImageId=ami-1&Tag.1.Value=a+b%26c%3D"),
			want: &query.Request{Action: "RunInstances", Version: "2016-11-15",
				Params: map[string][]string{"ImageId": {"ami-1"}, "Tag.1.Value": {"a b&c="}},
				Auth:   map[string][]string{}},
		},
		{
			name:    "POST with Action in the URL",
			request: postForm("/?Action=StopInstances", "Version=2016-11-15&InstanceId.1=i-1"),
			want: &query.Request{Action: "StopInstances", Version: "2016-11-15",
				Params: map[string][]string{"InstanceId.1": {"i-1"}}, Auth: map[string][]string{}},
		},
		{
			name:    "empty pairs, bare names and empty values",
			request: httptest.NewRequest("GET", "/?&Action=X&&Version=1&DryRun&Name=&", nil),
			want: &query.Request{Action: "X", Version: "1",
				Params: map[string][]string{"DryRun": {""}, "Name": {""}}, Auth: map[string][]string{}},
		},
		{
			name: "authentication parameters",
			request: httptest.NewRequest("GET", "/?Action=X&Version=1&AWSAccessKeyId=AK&Signature=c2ln"+
				"&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2026-01-01T00%3A00%3A00Z"+
				"&Expires=2026&SecurityToken=tok&X-Amz-Algorithm=AWS4-HMAC-SHA256&x-amz-date=20260101T000000Z"+
				"&X-Amz-Signature=ab&ImageId=ami-1", nil),
			want: &query.Request{Action: "X", Version: "1",
				Params: map[string][]string{"ImageId": {"ami-1"}},
				Auth: map[string][]string{
					"AWSAccessKeyId": {"AK"}, "Signature": {"c2ln"}, "SignatureMethod": {"HmacSHA256"},
					"SignatureVersion": {"2"}, "Timestamp": {"2026-01-01T00:00:00Z"}, "Expires": {"2026"},
					"SecurityToken": {"tok"}, "X-Amz-Algorithm": {"AWS4-HMAC-SHA256"},
					"x-amz-date": {"20260101T000000Z"}, "X-Amz-Signature": {"ab"},
				}},
		},
		{
			name:    "unicode",
			request: httptest.NewRequest("GET", "/?Action=X&Version=1&Tag.1.Value=%C3%A9t%C3%A9", nil),
			want: &query.Request{Action: "X", Version: "1",
				Params: map[string][]string{"Tag.1.Value": {"été"}}, Auth: map[string][]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := query.Parse(tt.request, testMaxBody)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const av = "Action=X&Version=1"
	tests := []struct {
		name    string
		request *http.Request
		code    string
		message string
		status  int
	}{
		{"missing Action", httptest.NewRequest("GET", "/?Version=1", nil),
			"MissingAction", "The request must contain the parameter Action", 400},
		{"empty Action", httptest.NewRequest("GET", "/?Action=&Version=1", nil),
			"MissingAction", "The request must contain the parameter Action", 400},
		{"odd Action", httptest.NewRequest("GET", "/?Action=Run%3CInstances&Version=1", nil),
			"InvalidAction", `The action "Run<Instances" is not valid for this web service.`, 400},
		{"Action with a dot", httptest.NewRequest("GET", "/?Action=ec2.RunInstances&Version=1", nil),
			"InvalidAction", `The action "ec2.RunInstances" is not valid for this web service.`, 400},
		{"missing Version", httptest.NewRequest("GET", "/?Action=X", nil),
			"MissingParameter", "The request must contain the parameter Version", 400},
		{"bad escape", httptest.NewRequest("GET", "/?"+av+"&ImageId=%zz", nil),
			"MalformedQueryString", `The query string contains malformed percent-encoding: "ImageId=%zz"`, 400},
		{"truncated escape in name", httptest.NewRequest("GET", "/?"+av+"&Image%4", nil),
			"MalformedQueryString", `The query string contains malformed percent-encoding: "Image%4"`, 400},
		{"bad escape in body", postForm("/", av+"&UserData=abc%"),
			"MalformedQueryString", `The query string contains malformed percent-encoding: "UserData=abc%"`, 400},
		{"empty name", httptest.NewRequest("GET", "/?"+av+"&=value", nil),
			"MalformedQueryString", `The query string contains a parameter with no name: "=value"`, 400},
		{"invalid UTF-8", httptest.NewRequest("GET", "/?"+av+"&Name=%FF", nil),
			"MalformedQueryString", `The query string contains a parameter that is not valid UTF-8: "Name=%FF"`, 400},
		{"duplicate", httptest.NewRequest("GET", "/?"+av+"&InstanceId.1=a&InstanceId.1=b", nil),
			"InvalidQueryParameter", "The parameter InstanceId.1 is given more than once", 400},
		{"duplicate Action", httptest.NewRequest("GET", "/?"+av+"&Action=Y", nil),
			"InvalidQueryParameter", "The parameter Action is given more than once", 400},
		{"duplicate after decoding", httptest.NewRequest("GET", "/?"+av+"&Image%49d=a&ImageId=b", nil),
			"InvalidQueryParameter", "The parameter ImageId is given more than once", 400},
		{"duplicate across URL and body", postForm("/?ImageId=a", av+"&ImageId=b"),
			"InvalidQueryParameter", "The parameter ImageId is given more than once", 400},
		{"method", httptest.NewRequest("PUT", "/?"+av, nil),
			"UnsupportedHttpVerb", "The HTTP method PUT is not supported; use GET or POST", 405},
		{"content type", func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader(av))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), "UnsupportedMediaType",
			"A request body must have the content type application/x-www-form-urlencoded", 415},
		{"no content type", httptest.NewRequest("POST", "/", strings.NewReader(av)),
			"UnsupportedMediaType",
			"A request body must have the content type application/x-www-form-urlencoded", 415},
		{"body too large", postForm("/", av+"&X="+strings.Repeat("a", testMaxBody)),
			"RequestEntityTooLarge", "The request body exceeds the limit of 65536 bytes", 413},
		{"streamed body too large", func() *http.Request {
			r := postForm("/", "")
			r.Body = io.NopCloser(strings.NewReader(av + "&X=" + strings.Repeat("a", testMaxBody)))
			r.ContentLength = -1
			return r
		}(), "RequestEntityTooLarge", "The request body exceeds the limit of 65536 bytes", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := query.Parse(tt.request, testMaxBody)
			wantError(t, err, tt.code, tt.message, tt.status)
		})
	}
}

func TestParseBodyAtLimit(t *testing.T) {
	body := "Action=X&Version=1&Pad="
	body += strings.Repeat("a", testMaxBody-len(body))
	r := postForm("/", body)
	r.ContentLength = -1 // the limit holds without a declared length too
	req, err := query.Parse(r, testMaxBody)
	if err != nil {
		t.Fatalf("a body of exactly the limit: %v", err)
	}
	if got := len(req.Params["Pad"][0]); got != testMaxBody-len("Action=X&Version=1&Pad=") {
		t.Fatalf("Pad has %d bytes", got)
	}
}

func TestParseLeavesBodyReadable(t *testing.T) {
	const body = "Action=X&Version=1&ImageId=ami-1"
	r := postForm("/", body)
	if _, err := query.Parse(r, testMaxBody); err != nil {
		t.Fatal(err)
	}
	again, err := io.ReadAll(r.Body)
	if err != nil || string(again) != body {
		t.Fatalf("body after Parse: %q, %v", again, err)
	}
}

func TestParseBodyReadError(t *testing.T) {
	r := postForm("/", "")
	r.Body = io.NopCloser(iotest.ErrReader(io.ErrUnexpectedEOF))
	_, err := query.Parse(r, testMaxBody)
	if err == nil || query.ErrorFrom(err).Code != "InternalError" {
		t.Fatalf("got %v, want a server-side error", err)
	}
}

func TestIsAuthParam(t *testing.T) {
	for name, want := range map[string]bool{
		"Signature": true, "X-Amz-Credential": true, "x-amz-security-token": true,
		"X-Amz-": true, "X-Am": false, "signature": false, "ImageId": false, "XAmz": false,
	} {
		if got := query.IsAuthParam(name); got != want {
			t.Errorf("IsAuthParam(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPageScope(t *testing.T) {
	a := parseGET(t, "DescribeInstances", "Filter.1.Name=a&Filter.1.Value.1=b&MaxResults=5&NextToken=x")
	b := parseGET(t, "DescribeInstances", "Filter.1.Value.1=b&Filter.1.Name=a")
	c := parseGET(t, "DescribeInstances", "Filter.1.Name=a&Filter.1.Value.1=c")
	d := parseGET(t, "DescribeImages", "Filter.1.Name=a&Filter.1.Value.1=b")
	if a.PageScope() != b.PageScope() {
		t.Errorf("paging parameters and order change the scope: %q vs %q", a.PageScope(), b.PageScope())
	}
	if a.PageScope() == c.PageScope() || a.PageScope() == d.PageScope() {
		t.Errorf("different queries share a scope: %q", a.PageScope())
	}
	// Values cannot be shifted between parameters.
	e := parseGET(t, "X", "A=1%26B%3D2")
	f := parseGET(t, "X", "A=1&B=2")
	if e.PageScope() == f.PageScope() {
		t.Errorf("scope is ambiguous: %q", e.PageScope())
	}
}
