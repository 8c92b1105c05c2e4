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
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/ec2shim/query"
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

func TestWriteResponse(t *testing.T) {
	launched := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		body any
		want string
	}{
		{"nil body", nil, `<StartInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
			`<requestId>req-1</requestId></StartInstancesResponse>`},
		{"typed nil body", (*terminateInstancesOutput)(nil), `<StartInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
			`<requestId>req-1</requestId></StartInstancesResponse>`},
		{"empty struct", struct{}{}, `<StartInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
			`<requestId>req-1</requestId></StartInstancesResponse>`},
		{"lists, booleans, times", &struct {
			XMLName  xml.Name                  `xml:"ignored"`
			Empty    query.List[string]        `xml:"emptySet"`
			Omitted  *query.List[string]       `xml:"omittedSet,omitempty"`
			Items    query.List[instanceState] `xml:"instancesSet"`
			Return   bool                      `xml:"return"`
			Never    query.Timestamp           `xml:"never"`
			Launched query.Timestamp           `xml:"launchTime"`
			Attr     query.AttributeBoolean    `xml:"disableApiTermination"`
			Kind     query.AttributeValue      `xml:"instanceType"`
			Escaped  string                    `xml:"reason"`
		}{
			Items:    query.NewList(instanceState{16, "running"}, instanceState{80, "stopped"}),
			Return:   true,
			Launched: query.NewTimestamp(launched),
			Attr:     query.AttributeBoolean{Value: false},
			Kind:     query.AttributeValue{Value: "m1.small"},
			Escaped:  `a<b & "c"`,
		}, `<StartInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
			`<requestId>req-1</requestId><emptySet></emptySet>` +
			`<instancesSet><item><code>16</code><name>running</name></item>` +
			`<item><code>80</code><name>stopped</name></item></instancesSet>` +
			`<return>true</return><launchTime>2026-03-04T04:06:07.890Z</launchTime>` +
			`<disableApiTermination><value>false</value></disableApiTermination>` +
			`<instanceType><value>m1.small</value></instanceType>` +
			`<reason>a&lt;b &amp; &#34;c&#34;</reason></StartInstancesResponse>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := query.WriteResponse(rec, "StartInstances", "req-1", tt.body); err != nil {
				t.Fatal(err)
			}
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/xml;charset=UTF-8" {
				t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if got := rec.Body.String(); got != xmlHeader+tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, xmlHeader+tt.want)
			}
			if rec.Header().Get("Content-Length") != fmt.Sprint(rec.Body.Len()) {
				t.Fatalf("Content-Length %s for %d bytes", rec.Header().Get("Content-Length"), rec.Body.Len())
			}
		})
	}
}

func TestWriteResponseEscapesRequestID(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := query.WriteResponse(rec, "X", "<&>", nil); err != nil {
		t.Fatal(err)
	}
	want := xmlHeader + `<XResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>&lt;&amp;&gt;</requestId></XResponse>`
	if rec.Body.String() != want {
		t.Fatalf("got %s", rec.Body.String())
	}
}

func TestWriteResponseErrors(t *testing.T) {
	tests := []struct {
		name, action string
		body         any
		want         string
	}{
		{"action with a space", "Run Instances", nil, `query: action "Run Instances" is not a valid XML element name`},
		{"action with markup", "X><y", nil, `query: action "X><y" is not a valid XML element name`},
		{"empty action", "", nil, `query: action "" is not a valid XML element name`},
		{"action starting with a digit", "1X", nil, `query: action "1X" is not a valid XML element name`},
		{"scalar body", "X", "text", "query: marshalling the X response: body is a string, not a struct"},
		{"attribute", "X", &struct {
			A string `xml:"a,attr"`
		}{A: "1"}, "query: marshalling the X response: body *struct { A string \"xml:\\\"a,attr\\\"\" } has XML attributes; a response element takes none"},
		{"unmarshalable", "X", struct {
			C chan int `xml:"c"`
		}{C: make(chan int)}, "query: marshalling the X response: xml: unsupported type: chan int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := query.WriteResponse(rec, tt.action, "r", tt.body)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
				t.Fatalf("something was written before the error: %q", rec.Body.String())
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name   string
		err    *query.Error
		status int
		want   string
	}{
		{"client error", query.Errorf("InvalidInstanceID.NotFound", 400,
			"The instance ID '%s' does not exist", "i-1<2>"), 400,
			`<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>` +
				`<Message>The instance ID &#39;i-1&lt;2&gt;&#39; does not exist</Message></Error></Errors>` +
				`<RequestID>req-9</RequestID></Response>`},
		{"auth failure", query.Errorf("AuthFailure", 401, "AWS was not able to validate the provided access credentials"), 401,
			`<Response><Errors><Error><Code>AuthFailure</Code>` +
				`<Message>AWS was not able to validate the provided access credentials</Message></Error></Errors>` +
				`<RequestID>req-9</RequestID></Response>`},
		{"nil", nil, 500,
			`<Response><Errors><Error><Code>InternalError</Code>` +
				`<Message>An internal error has occurred</Message></Error></Errors>` +
				`<RequestID>req-9</RequestID></Response>`},
		{"no status", &query.Error{Code: "Odd", Message: "m"}, 500,
			`<Response><Errors><Error><Code>Odd</Code><Message>m</Message></Error></Errors>` +
				`<RequestID>req-9</RequestID></Response>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			query.WriteError(rec, tt.err, "req-9")
			if rec.Code != tt.status || rec.Header().Get("Content-Type") != "text/xml;charset=UTF-8" {
				t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if got := rec.Body.String(); got != xmlHeader+tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, xmlHeader+tt.want)
			}
		})
	}
}

func TestErrorFrom(t *testing.T) {
	e := query.Errorf("MissingParameter", 400, "The request must contain the parameter %s", "ImageId")
	if e.Error() != "MissingParameter: The request must contain the parameter ImageId" {
		t.Errorf("Error() = %q", e.Error())
	}
	if got := query.ErrorFrom(fmt.Errorf("decoding: %w", e)); got != e {
		t.Errorf("ErrorFrom lost the wrapped *Error: %v", got)
	}
	got := query.ErrorFrom(errors.New(`etcdserver: secret "x" not found`))
	if got.Code != "InternalError" || got.Status != 500 || got.Message != "An internal error has occurred" {
		t.Errorf("ErrorFrom(other) = %+v", got)
	}
	// The API server cannot be reached: a real refused connection, wrapped as clients wrap it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	resp, err := http.Get("http://" + addr + "/apis")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a closed port answered %s", resp.Status)
	}
	got = query.ErrorFrom(fmt.Errorf("listing instances: %w", err))
	if got.Code != "Unavailable" || got.Status != 503 || strings.Contains(got.Message, addr) {
		t.Errorf("ErrorFrom(refused connection) = %+v", got)
	}
}

func TestTimestamp(t *testing.T) {
	var ts query.Timestamp
	if err := xml.Unmarshal([]byte(`<t>2026-01-02T03:04:05.678Z</t>`), &ts); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 678000000, time.UTC); !ts.Equal(want) || ts.Location() != time.UTC {
		t.Fatalf("got %v", ts.Time)
	}
	type doc struct {
		T query.Timestamp `xml:"t"`
	}
	out, err := xml.Marshal(doc{ts})
	if err != nil || string(out) != `<doc><t>2026-01-02T03:04:05.678Z</t></doc>` {
		t.Fatalf("got %s, %v", out, err)
	}
	if err := xml.Unmarshal([]byte(`<t>tomorrow</t>`), &ts); err == nil {
		t.Fatal("parsed a bad time")
	}
}
