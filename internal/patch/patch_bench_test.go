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

package patch

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// BenchmarkUnchangedPatch is a reconcile that changes nothing: the snapshot and the patch of an
// Instance as the manager and the agents keep them.
func BenchmarkUnchangedPatch(b *testing.B) {
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "i-0123456789abcdef0", Namespace: "p", Labels: map[string]string{"a": "b", "c": "d"}, Finalizers: []string{"x", "y"}, ResourceVersion: "12345"}}
	inst.Spec.InstanceType = "m1.tiny"
	inst.Spec.ImageID = "ami-0123456789abcdef0"
	inst.Spec.SecurityGroups = []string{"default"}
	inst.Status.InstanceID = "i-0123456789abcdef0"
	inst.Status.PrivateIPAddress = "10.0.0.5"
	for _, t := range []string{"Ready", "Scheduled", "AddressAssigned", "DomainDefined"} {
		inst.Status.Conditions = append(inst.Status.Conditions, metav1.Condition{Type: t, Status: metav1.ConditionTrue, Reason: "Because", Message: "a message of some length here", LastTransitionTime: metav1.Now()})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h, err := NewHelper(inst, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Patch(ctx, inst); err != nil {
			b.Fatal(err)
		}
	}
}
