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

package fieldowners

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func withRecords(ops ...metav1.ManagedFieldsOperationType) *cloudv1.Instance {
	inst := &cloudv1.Instance{}
	for i, op := range ops {
		inst.ManagedFields = append(inst.ManagedFields, metav1.ManagedFieldsEntry{
			Manager: string(rune('a' + i)), Operation: op, FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{}}}`)},
		})
	}
	return inst
}

func TestTransformKeepsOnlyAppliedObjectsRecords(t *testing.T) {
	transform := StripUnlessApplied()
	for _, tc := range []struct {
		name string
		ops  []metav1.ManagedFieldsOperationType
		keep bool
	}{
		{"none", nil, false},
		{"updates only", []metav1.ManagedFieldsOperationType{metav1.ManagedFieldsOperationUpdate, metav1.ManagedFieldsOperationUpdate}, false},
		{"an apply among updates", []metav1.ManagedFieldsOperationType{metav1.ManagedFieldsOperationUpdate, metav1.ManagedFieldsOperationApply}, true},
	} {
		inst := withRecords(tc.ops...)
		out, err := transform(inst)
		if err != nil {
			t.Fatal(err)
		}
		got := out.(*cloudv1.Instance).ManagedFields
		if tc.keep && len(got) != len(tc.ops) {
			t.Errorf("%s: kept %d of %d records, want them whole", tc.name, len(got), len(tc.ops))
		}
		if !tc.keep && got != nil {
			t.Errorf("%s: kept %+v, want none", tc.name, got)
		}
	}
	// Objects of other types pass untouched.
	if out, err := transform("not an object"); err != nil || out != "not an object" {
		t.Errorf("a non-object came out as %v, %v", out, err)
	}
}

func TestDropLeavesAppliedObjectsAlone(t *testing.T) {
	applied := withRecords(metav1.ManagedFieldsOperationUpdate, metav1.ManagedFieldsOperationApply)
	if DropUnlessApplied(applied) || len(applied.ManagedFields) != 2 {
		t.Errorf("an applied object was marked: %+v", applied.ManagedFields)
	}
	for _, inst := range []*cloudv1.Instance{withRecords(), withRecords(metav1.ManagedFieldsOperationUpdate)} {
		if !DropUnlessApplied(inst) || len(inst.ManagedFields) != 1 || inst.ManagedFields[0].Manager != "" || inst.ManagedFields[0].FieldsV1 != nil {
			t.Errorf("want one empty record (the API server's sign to drop them), got %+v", inst.ManagedFields)
		}
	}
}
