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
	"sort"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// tagItem is EC2's Tag on the wire.
type tagItem struct {
	Key   string `xml:"key" ec2:"Key"`
	Value string `xml:"value" ec2:"Value"`
}

// tagSpecification is EC2's TagSpecification input.
type tagSpecification struct {
	ResourceType string    `ec2:"ResourceType"`
	Tags         []tagItem `ec2:"Tag,list"`
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

func toTags(items []tagItem) []cloud.Tag {
	out := make([]cloud.Tag, len(items))
	for i, t := range items {
		out[i] = cloud.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func toTagSpecifications(specs []tagSpecification) []cloud.TagSpecification {
	out := make([]cloud.TagSpecification, len(specs))
	for i, s := range specs {
		out[i] = cloud.TagSpecification{ResourceType: s.ResourceType, Tags: toTags(s.Tags)}
	}
	return out
}
