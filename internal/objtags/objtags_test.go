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

package objtags_test

import (
	"maps"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/objtags"
)

func TestSetAndOf(t *testing.T) {
	v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
		cloudv1.LabelLaunchInstance: "i-0123456789abcdef0", objtags.LabelPrefix + "old": "x"}}}
	objtags.Set(v, map[string]string{"Name": "web", "has space": "v", "k": "a value with spaces"})
	if got := objtags.Of(v); !maps.Equal(got, map[string]string{"Name": "web", "has space": "v", "k": "a value with spaces"}) {
		t.Errorf("Of %v", got)
	}
	// Only label-safe tags are labels; the object's other labels stay, its old tag labels go.
	want := map[string]string{cloudv1.LabelLaunchInstance: "i-0123456789abcdef0", objtags.LabelPrefix + "Name": "web"}
	if !maps.Equal(v.Labels, want) {
		t.Errorf("labels %v, want %v", v.Labels, want)
	}
	objtags.Set(v, nil)
	if _, ok := v.Annotations[objtags.Annotation]; ok || len(objtags.Of(v)) != 0 || len(v.Labels) != 1 {
		t.Errorf("after removing every tag: %v %v", v.Annotations, v.Labels)
	}
}

func TestParse(t *testing.T) {
	for raw, want := range map[string]map[string]string{
		"":                  {},
		`{"a":"b"}`:         {"a": "b"},
		`{"a":1}`:           {},
		`not json`:          {},
		`["a"]`:             {},
		objtags.Encode(nil): {},
		objtags.Encode(map[string]string{"x": "y"}): {"x": "y"},
	} {
		if got := objtags.Parse(raw); !maps.Equal(got, want) {
			t.Errorf("Parse(%q) = %v, want %v", raw, got, want)
		}
	}
}
