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

package query

import (
	"net/http"
	"strings"
)

const (
	// MaxFilterValues bounds the values of all filters of one request together, as EC2 does.
	MaxFilterValues = 200
	// MaxFilterValueLength bounds one filter value in bytes, which bounds the cost of matching it.
	MaxFilterValueLength = 1024
)

// Filter is one Filter.N of a Describe request: Filter.N.Name and Filter.N.Value.M. A field
// of type []query.Filter tagged ec2:"Filter,list" decodes them; a filter without a name is
// MissingParameter (Filter.N.Name), one without values is left to NewMatcher.
type Filter struct {
	Name   string   `ec2:"Name,required"`
	Values []string `ec2:"Value,list"`
}

// Attributes gives an object's values for a filter name (none when it has no such attribute).
// A multi-valued attribute, such as the group ids of an instance, returns them all.
type Attributes func(name string) []string

// Matcher evaluates filters against an object's attributes. Filters AND together; the values of
// one filter OR together; a filter matches when any of its values matches any of the object's
// values for it. A nil Matcher, or one without filters, matches everything. A Matcher is safe
// for concurrent use.
type Matcher struct {
	filters []compiledFilter
}

type filterKind int

const (
	filterAttribute filterKind = iota
	filterTagKey
	filterTagValue // tag:<key>
)

type compiledFilter struct {
	kind filterKind
	// name is the attribute name, or the tag key of a tag:<key> filter.
	name     string
	patterns []wildcard
}

// NewMatcher compiles filters. known lists the filter names the action supports; besides them
// "tag:<key>" matches the value of the tag <key> and "tag-key" any tag key. Values use EC2's
// wildcards: * any run, ? exactly one character, a backslash makes the next character literal.
//
// Errors (InvalidParameterValue unless noted): a name that is neither known nor a tag filter
// ("The filter 'foo' is invalid"), a filter without values, a value longer than
// MaxFilterValueLength, and more than MaxFilterValues values in all (FilterLimitExceeded).
func NewMatcher(filters []Filter, known []string) (*Matcher, error) {
	m := &Matcher{}
	total := 0
	for _, f := range filters {
		cf := compiledFilter{kind: filterAttribute, name: f.Name}
		switch {
		case strings.HasPrefix(f.Name, "tag:") && len(f.Name) > len("tag:"):
			cf.kind, cf.name = filterTagValue, strings.TrimPrefix(f.Name, "tag:")
		case f.Name == "tag-key":
			cf.kind = filterTagKey
		case !contains(known, f.Name):
			return nil, Errorf(CodeInvalidParameterValue, http.StatusBadRequest,
				"The filter '%s' is invalid", clip(f.Name))
		}
		if len(f.Values) == 0 {
			return nil, Errorf(CodeInvalidParameterValue, http.StatusBadRequest,
				"The filter '%s' must have at least one value", clip(f.Name))
		}
		total += len(f.Values)
		if total > MaxFilterValues {
			return nil, Errorf(CodeFilterLimitExceeded, http.StatusBadRequest,
				"The maximum number of filter values specified on a single call is %d",
				MaxFilterValues)
		}
		for _, v := range f.Values {
			if len(v) > MaxFilterValueLength {
				return nil, Errorf(CodeInvalidParameterValue, http.StatusBadRequest,
					"A value of the filter '%s' is longer than %d bytes", clip(f.Name),
					MaxFilterValueLength)
			}
			cf.patterns = append(cf.patterns, compileWildcard(v))
		}
		m.filters = append(m.filters, cf)
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Match tells whether an object passes every filter. attrs may be nil for an object that has
// only tags; tags may be nil for an untagged one.
func (m *Matcher) Match(attrs Attributes, tags map[string]string) bool {
	if m == nil {
		return true
	}
	for _, f := range m.filters {
		var ok bool
		switch f.kind {
		case filterTagValue:
			v, has := tags[f.name]
			ok = has && anyMatches(f.patterns, v)
		case filterTagKey:
			for k := range tags {
				if ok = anyMatches(f.patterns, k); ok {
					break
				}
			}
		default:
			if attrs != nil {
				for _, v := range attrs(f.name) {
					if ok = anyMatches(f.patterns, v); ok {
						break
					}
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func anyMatches(patterns []wildcard, s string) bool {
	for _, p := range patterns {
		if p.match(s) {
			return true
		}
	}
	return false
}
