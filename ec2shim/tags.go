/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

import (
	"encoding/json"
	"regexp"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/ec2shim/query"
)

// Tags live on the objects themselves, visible to kubectl: all of them as JSON in one
// annotation, and the ones that are valid label keys and values also as labels under
// tags.cloud.pinet.io/, so `kubectl get -l tags.cloud.pinet.io/Name=web` selects by tag.
const (
	annotationTags = "cloud.pinet.io/tags"
	tagLabelPrefix = "tags.cloud.pinet.io/"
	maxTags        = 50
	maxTagKey      = 128
	maxTagValue    = 256
)

var labelSafe = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]{0,61}[A-Za-z0-9]|[A-Za-z0-9])?$`)

// tagItem is EC2's Tag.
type tagItem struct {
	Key   string `xml:"key" ec2:"Key"`
	Value string `xml:"value" ec2:"Value"`
}

// tagSpecification is EC2's TagSpecification input.
type tagSpecification struct {
	ResourceType string    `ec2:"ResourceType"`
	Tags         []tagItem `ec2:"Tag,list"`
}

// tagsOf reads an object's tags.
func tagsOf(obj client.Object) map[string]string {
	tags := map[string]string{}
	if raw := obj.GetAnnotations()[annotationTags]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &tags)
	}
	return tags
}

// setTags writes tags onto an object (the caller persists it).
func setTags(obj client.Object, tags map[string]string) {
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

// tagList renders tags for a response, sorted by key.
func tagList(tags map[string]string) *query.List[tagItem] {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	l := query.NewList[tagItem]()
	for _, k := range keys {
		l.Items = append(l.Items, tagItem{Key: k, Value: tags[k]})
	}
	return &l
}

// validateTags checks keys and values as EC2 does and returns them as a map.
func validateTags(items []tagItem) (map[string]string, error) {
	tags := map[string]string{}
	for _, t := range items {
		switch {
		case t.Key == "":
			return nil, invalidParam("Tag key must not be empty")
		case len(t.Key) > maxTagKey:
			return nil, invalidParam("Tag key exceeds the maximum length of %d characters", maxTagKey)
		case len(t.Value) > maxTagValue:
			return nil, invalidParam("Tag value exceeds the maximum length of %d characters", maxTagValue)
		case len(t.Key) >= 4 && t.Key[:4] == "aws:":
			return nil, invalidParam("Tag keys starting with 'aws:' are reserved for internal use")
		}
		tags[t.Key] = t.Value
	}
	if len(tags) > maxTags {
		return nil, badRequest(codeTagLimit, "The maximum number of tags for a resource is %d", maxTags)
	}
	return tags, nil
}

// specTags returns the tags the tag specifications give resourceType; other resource types are
// refused.
func specTags(specs []tagSpecification, resourceType string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range specs {
		ok := s.ResourceType == resourceType
		for _, a := range allowed {
			ok = ok || s.ResourceType == a
		}
		if !ok {
			return nil, invalidParam("'%s' is not a valid taggable resource type for this operation.", s.ResourceType)
		}
		if s.ResourceType != resourceType {
			continue
		}
		tags, err := validateTags(s.Tags)
		if err != nil {
			return nil, err
		}
		for k, v := range tags {
			out[k] = v
		}
	}
	return out, nil
}
