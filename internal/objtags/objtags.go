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

// Package objtags keeps EC2 tags on the objects themselves, visible to kubectl: all of them as
// JSON in one annotation, and the ones that are valid label keys and values also as labels under
// tags.cloud.pinet.io/, so `kubectl get -l tags.cloud.pinet.io/Name=web` selects by tag. The EC2
// API writes them; the instance controller gives a launch's volume tags to the volumes it makes.
package objtags

import (
	"encoding/json"
	"regexp"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// Annotation holds an object's tags as a JSON object.
	Annotation = "cloud.pinet.io/tags"
	// LabelPrefix starts the labels that repeat the label-safe tags.
	LabelPrefix = "tags.cloud.pinet.io/"
)

var labelSafe = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]{0,61}[A-Za-z0-9]|[A-Za-z0-9])?$`)

// Of reads an object's tags.
func Of(obj client.Object) map[string]string {
	return Parse(obj.GetAnnotations()[Annotation])
}

// Parse reads tags as Annotation holds them; what is not a JSON object of strings is no tags.
func Parse(raw string) map[string]string {
	tags := map[string]string{}
	if raw != "" {
		if json.Unmarshal([]byte(raw), &tags) != nil {
			return map[string]string{}
		}
	}
	return tags
}

// Encode is tags as Annotation holds them.
func Encode(tags map[string]string) string {
	raw, _ := json.Marshal(tags)
	return string(raw)
}

// Set writes tags onto an object (the caller persists it), replacing the ones it had.
func Set(obj client.Object, tags map[string]string) {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k := range labels {
		if len(k) > len(LabelPrefix) && strings.HasPrefix(k, LabelPrefix) {
			delete(labels, k)
		}
	}
	if len(tags) == 0 {
		delete(ann, Annotation)
	} else {
		ann[Annotation] = Encode(tags)
	}
	for k, v := range tags {
		if labelSafe.MatchString(k) && k != "" && labelSafe.MatchString(v) {
			labels[LabelPrefix+k] = v
		}
	}
	obj.SetAnnotations(ann)
	obj.SetLabels(labels)
}
