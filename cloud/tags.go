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
	"encoding/json"
	"regexp"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Tags live on the objects themselves, visible to kubectl: all of them as JSON in one
// annotation, and the ones that are valid label keys and values also as labels under
// tags.cloud.pinet.io/, so `kubectl get -l tags.cloud.pinet.io/Name=web` selects by tag.
const (
	annotationTags = "cloud.pinet.io/tags"
	tagLabelPrefix = "tags.cloud.pinet.io/"
	// MaxTags is the most tags a resource may have.
	MaxTags     = 50
	maxTagKey   = 128
	maxTagValue = 256
)

var labelSafe = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]{0,61}[A-Za-z0-9]|[A-Za-z0-9])?$`)

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
func TagsOf(obj client.Object) map[string]string {
	tags := map[string]string{}
	if raw := obj.GetAnnotations()[annotationTags]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &tags)
	}
	return tags
}

// SetTags writes tags onto an object (the caller persists it).
func SetTags(obj client.Object, tags map[string]string) {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k := range labels {
		if len(k) > len(tagLabelPrefix) && k[:len(tagLabelPrefix)] == tagLabelPrefix {
			delete(labels, k)
		}
	}
	if len(tags) == 0 {
		delete(ann, annotationTags)
	} else {
		raw, _ := json.Marshal(tags)
		ann[annotationTags] = string(raw)
	}
	for k, v := range tags {
		if labelSafe.MatchString(k) && k != "" && labelSafe.MatchString(v) {
			labels[tagLabelPrefix+k] = v
		}
	}
	obj.SetAnnotations(ann)
	obj.SetLabels(labels)
}

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
