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
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"pinet.io/pinet/ec2shim/query"
)

// FuzzParseDecode feeds arbitrary query strings and form bodies through Parse and Decode into
// the RunInstances and DescribeInstances shapes. Whatever the input, the answer is a decoded
// value or a client error whose EC2 XML carries its code and message unchanged.
func FuzzParseDecode(f *testing.F) {
	f.Add("Action=RunInstances&Version=2016-11-15&"+runInstancesQuery, "")
	f.Add("", "Action=RunInstances&Version=2016-11-15&"+runInstancesQuery)
	f.Add("Action=DescribeInstances&Version=2016-11-15", "Filter.1.Name=tag%3AName&Filter.1.Value.1=web*&MaxResults=5")
	f.Add("Action=X&Version=1&SecurityGroup.0=a&SecurityGroup.01=b", "")
	f.Add("Action=X&Version=1&BlockDeviceMapping.1.Ebs.VolumeSize=99999999999", "UserData=%zz")
	f.Add("Action=X&Version=1&Placement=a&Placement.AvailabilityZone=b", "Action=Y")
	f.Fuzz(func(t *testing.T, rawQuery, body string) {
		r := &http.Request{
			Method:        http.MethodPost,
			URL:           &url.URL{Path: "/", RawQuery: rawQuery},
			Header:        http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		req, err := query.Parse(r, 8192)
		if err != nil {
			checkClientError(t, err)
			return
		}
		for k, v := range req.Params {
			if len(v) != 1 || !utf8.ValidString(k) || !utf8.ValidString(v[0]) || query.IsAuthParam(k) {
				t.Fatalf("Parse kept %q=%q", k, v)
			}
		}

		var run, again runInstancesInput
		err = req.Decode(&run)
		if err != nil {
			checkClientError(t, err)
		} else if run.ImageID == "" && req.Params["ImageId"] == nil {
			t.Fatal("a required parameter was missing and Decode succeeded")
		}
		if err2 := req.Decode(&again); !reflect.DeepEqual(run, again) || !sameError(err, err2) {
			t.Fatalf("Decode is not deterministic: %v / %v", err, err2)
		}

		var describe describeInstancesInput
		if err := req.Decode(&describe); err != nil {
			checkClientError(t, err)
			return
		}
		if len(describe.InstanceIDs) > query.MaxListItems || len(describe.Filters) > query.MaxListItems {
			t.Fatalf("a list exceeds %d items", query.MaxListItems)
		}
		m, err := query.NewMatcher(describe.Filters, instanceFilters)
		if err != nil {
			checkClientError(t, err)
			return
		}
		m.Match(func(string) []string { return []string{"running", "i-1"} }, map[string]string{"Name": "web"})
	})
}

// checkClientError insists on an *Error a client can be shown, and that WriteError carries it.
func checkClientError(t *testing.T, err error) {
	t.Helper()
	var e *query.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want a *query.Error", err, err)
	}
	switch {
	case e.Code == "":
		t.Fatalf("error without a code: %+v", e)
	case e.Status != 400 && e.Status != 405 && e.Status != 413 && e.Status != 415:
		t.Fatalf("unexpected status %d for %+v", e.Status, e)
	case !utf8.ValidString(e.Message) || len(e.Message) > 1024:
		t.Fatalf("message is not short, valid UTF-8: %q", e.Message)
	}
	rec := httptest.NewRecorder()
	query.WriteError(rec, e, "req")
	var doc struct {
		Code      string `xml:"Errors>Error>Code"`
		Message   string `xml:"Errors>Error>Message"`
		RequestID string `xml:"RequestID"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("WriteError wrote malformed XML %q: %v", rec.Body.String(), err)
	}
	if rec.Code != e.Status || doc.Code != e.Code || doc.RequestID != "req" || !sameText(doc.Message, e.Message) {
		t.Fatalf("WriteError turned %+v into %d %+v", e, rec.Code, doc)
	}
}

// sameText compares a message with what came back through XML, which cannot carry characters
// outside XML's range: the encoder replaces them with U+FFFD.
func sameText(got, sent string) bool {
	return got == strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF ||
			r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF {
			return r
		}
		return 0xFFFD
	}, sent)
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}
