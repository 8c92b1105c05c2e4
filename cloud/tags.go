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

package cloud

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/internal/objtags"
)

// Tags live on the objects themselves (internal/objtags).
const (
	// MaxTags is the most tags a resource may have.
	MaxTags     = 50
	maxTagKey   = 128
	maxTagValue = 256
)

// Tag is one EC2 tag.
type Tag struct {
	Key, Value string
}

// TagSpecification gives tags to the resources of one type an operation creates.
type TagSpecification struct {
	ResourceType string
	Tags         []Tag
}

// TagsOf reads an object's tags.
func TagsOf(obj client.Object) map[string]string { return objtags.Of(obj) }

// SetTags writes tags onto an object (the caller persists it).
func SetTags(obj client.Object, tags map[string]string) { objtags.Set(obj, tags) }

// ValidateTags checks keys and values as EC2 does and returns them as a map.
func ValidateTags(items []Tag) (map[string]string, error) {
	tags := map[string]string{}
	for _, t := range items {
		switch {
		case t.Key == "":
			return nil, InvalidParam("Tag key must not be empty")
		case len(t.Key) > maxTagKey:
			return nil, InvalidParam("Tag key exceeds the maximum length of %d characters", maxTagKey)
		case len(t.Value) > maxTagValue:
			return nil, InvalidParam("Tag value exceeds the maximum length of %d characters", maxTagValue)
		case len(t.Key) >= 4 && t.Key[:4] == "aws:":
			return nil, InvalidParam("Tag keys starting with 'aws:' are reserved for internal use")
		}
		tags[t.Key] = t.Value
	}
	if len(tags) > MaxTags {
		return nil, BadRequest(CodeTagLimit, "The maximum number of tags for a resource is %d", MaxTags)
	}
	return tags, nil
}

// SpecTags returns the tags the tag specifications give resourceType; other resource types are
// refused.
func SpecTags(specs []TagSpecification, resourceType string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range specs {
		ok := s.ResourceType == resourceType
		for _, a := range allowed {
			ok = ok || s.ResourceType == a
		}
		if !ok {
			return nil, InvalidParam("'%s' is not a valid taggable resource type for this operation.", s.ResourceType)
		}
		if s.ResourceType != resourceType {
			continue
		}
		tags, err := ValidateTags(s.Tags)
		if err != nil {
			return nil, err
		}
		for k, v := range tags {
			out[k] = v
		}
	}
	return out, nil
}
