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
	"strings"
	"testing"

	"pinet.io/pinet/ec2shim/query"
)

var instanceFilters = []string{"instance-id", "instance-state-name", "instance-type", "group-id",
	"availability-zone"}

type object struct {
	attrs map[string][]string
	tags  map[string]string
}

func (o object) attributes(name string) []string { return o.attrs[name] }

func TestMatcher(t *testing.T) {
	web := object{
		attrs: map[string][]string{
			"instance-id":         {"i-0123456789abcdef0"},
			"instance-state-name": {"running"},
			"instance-type":       {"m1.small"},
			"group-id":            {"sg-1", "sg-2"},
		},
		tags: map[string]string{"Name": "web-1", "env": "prod", "star*": "a?b", "empty": ""},
	}
	tests := []struct {
		name    string
		filters []query.Filter
		want    bool
	}{
		{"no filters", nil, true},
		{"exact", []query.Filter{{Name: "instance-state-name", Values: []string{"running"}}}, true},
		{"case-sensitive", []query.Filter{{Name: "instance-state-name", Values: []string{"Running"}}}, false},
		{"values OR", []query.Filter{{Name: "instance-state-name", Values: []string{"stopped", "running"}}}, true},
		{"filters AND", []query.Filter{
			{Name: "instance-state-name", Values: []string{"running"}},
			{Name: "instance-type", Values: []string{"m1.large"}},
		}, false},
		{"filters AND all true", []query.Filter{
			{Name: "instance-state-name", Values: []string{"running"}},
			{Name: "instance-type", Values: []string{"m1.*"}},
		}, true},
		{"multi-valued attribute", []query.Filter{{Name: "group-id", Values: []string{"sg-2"}}}, true},
		{"attribute the object lacks", []query.Filter{{Name: "availability-zone", Values: []string{"*"}}}, false},
		{"star", []query.Filter{{Name: "instance-id", Values: []string{"i-0123*"}}}, true},
		{"question mark", []query.Filter{{Name: "instance-type", Values: []string{"m?.small"}}}, true},
		{"question mark is one char", []query.Filter{{Name: "instance-type", Values: []string{"m1.small?"}}}, false},
		{"tag value", []query.Filter{{Name: "tag:Name", Values: []string{"web-*"}}}, true},
		{"tag value mismatch", []query.Filter{{Name: "tag:env", Values: []string{"dev"}}}, false},
		{"tag absent", []query.Filter{{Name: "tag:owner", Values: []string{"*"}}}, false},
		{"empty tag value", []query.Filter{{Name: "tag:empty", Values: []string{""}}}, true},
		{"empty tag value star", []query.Filter{{Name: "tag:empty", Values: []string{"*"}}}, true},
		{"tag key with colon and star", []query.Filter{{Name: "tag:star*", Values: []string{`a\?b`}}}, true},
		{"escaped ? is literal", []query.Filter{{Name: "tag:star*", Values: []string{`a\?c`}}}, false},
		{"tag-key", []query.Filter{{Name: "tag-key", Values: []string{"env"}}}, true},
		{"tag-key wildcard", []query.Filter{{Name: "tag-key", Values: []string{"N*"}}}, true},
		{"tag-key escaped star", []query.Filter{{Name: "tag-key", Values: []string{`star\*`}}}, true},
		{"tag-key absent", []query.Filter{{Name: "tag-key", Values: []string{"owner"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := query.NewMatcher(tt.filters, instanceFilters)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Match(web.attributes, web.tags); got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatcherNilInputs(t *testing.T) {
	var m *query.Matcher
	if !m.Match(nil, nil) {
		t.Error("a nil Matcher must match everything")
	}
	m, err := query.NewMatcher([]query.Filter{{Name: "instance-id", Values: []string{"*"}}}, instanceFilters)
	if err != nil {
		t.Fatal(err)
	}
	if m.Match(nil, nil) {
		t.Error("an object without attributes matched an attribute filter")
	}
	m, err = query.NewMatcher([]query.Filter{{Name: "tag-key", Values: []string{"*"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Match(nil, nil) || !m.Match(nil, map[string]string{"a": "b"}) {
		t.Error("tag-key * must match exactly the tagged objects")
	}
}

func TestMatcherErrors(t *testing.T) {
	many := make([]string, query.MaxFilterValues)
	for i := range many {
		many[i] = "v"
	}
	tests := []struct {
		name          string
		filters       []query.Filter
		code, message string
	}{
		{"unknown", []query.Filter{{Name: "foo", Values: []string{"x"}}},
			"InvalidParameterValue", "The filter 'foo' is invalid"},
		{"unknown after known", []query.Filter{
			{Name: "instance-id", Values: []string{"x"}}, {Name: "Instance-Id", Values: []string{"x"}},
		}, "InvalidParameterValue", "The filter 'Instance-Id' is invalid"},
		{"empty name", []query.Filter{{Name: "", Values: []string{"x"}}},
			"InvalidParameterValue", "The filter '' is invalid"},
		{"tag without key", []query.Filter{{Name: "tag:", Values: []string{"x"}}},
			"InvalidParameterValue", "The filter 'tag:' is invalid"},
		{"tag-value is not built in", []query.Filter{{Name: "tag-value", Values: []string{"x"}}},
			"InvalidParameterValue", "The filter 'tag-value' is invalid"},
		{"no values", []query.Filter{{Name: "instance-id"}},
			"InvalidParameterValue", "The filter 'instance-id' must have at least one value"},
		{"value too long", []query.Filter{{Name: "tag:a", Values: []string{strings.Repeat("x", query.MaxFilterValueLength+1)}}},
			"InvalidParameterValue", "A value of the filter 'tag:a' is longer than 1024 bytes"},
		{"too many values", []query.Filter{
			{Name: "instance-id", Values: many}, {Name: "tag-key", Values: []string{"one more"}},
		}, "FilterLimitExceeded", "The maximum number of filter values specified on a single call is 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := query.NewMatcher(tt.filters, instanceFilters)
			if m != nil {
				t.Errorf("got a Matcher with the error")
			}
			wantError(t, err, tt.code, tt.message)
		})
	}
	if _, err := query.NewMatcher([]query.Filter{{Name: "instance-id", Values: many}}, instanceFilters); err != nil {
		t.Errorf("exactly %d values: %v", query.MaxFilterValues, err)
	}
}

// TestFiltersFromRequest decodes filters as a client sends them and applies them.
func TestFiltersFromRequest(t *testing.T) {
	req := parseGET(t, "DescribeInstances", "Filter.2.Name=tag%3Aenv&Filter.2.Value.1=prod"+
		"&Filter.1.Name=instance-state-name&Filter.1.Value.2=running&Filter.1.Value.1=pending")
	var in describeInstancesInput
	if err := req.Decode(&in); err != nil {
		t.Fatal(err)
	}
	m, err := query.NewMatcher(in.Filters, instanceFilters)
	if err != nil {
		t.Fatal(err)
	}
	state := func(s string) query.Attributes {
		return func(name string) []string {
			if name == "instance-state-name" {
				return []string{s}
			}
			return nil
		}
	}
	prod := map[string]string{"env": "prod"}
	if !m.Match(state("running"), prod) || !m.Match(state("pending"), prod) {
		t.Error("running or pending prod instances must match")
	}
	if m.Match(state("stopped"), prod) || m.Match(state("running"), map[string]string{"env": "dev"}) {
		t.Error("stopped or dev instances must not match")
	}
}
