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

package conditions

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func TestSetKeepsTransitionTimeUntilStatusChanges(t *testing.T) {
	inst := &cloudv1.Instance{}
	inst.Generation = 3
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	t2 := metav1.NewTime(t0.Add(2 * time.Minute))

	MarkFalse(inst, "Ready", "Launching", "starting", t0)
	MarkFalse(inst, "Ready", "Launching", "still starting", t1)
	c := Get(inst, "Ready")
	if c == nil || !c.LastTransitionTime.Equal(&t0) || c.Message != "still starting" || c.ObservedGeneration != 3 {
		t.Fatalf("after same-status update: %+v", c)
	}
	MarkTrue(inst, "Ready", "Running", "", t2)
	c = Get(inst, "Ready")
	if !c.LastTransitionTime.Equal(&t2) || !IsTrue(inst, "Ready") || IsFalse(inst, "Ready") {
		t.Fatalf("after status change: %+v", c)
	}
	Delete(inst, "Ready")
	if Get(inst, "Ready") != nil {
		t.Fatal("Delete left the condition")
	}
}

// What Get returned stays what the condition was when a later Set changes it: callers compare
// the two to decide on events.
func TestGetIsACopy(t *testing.T) {
	inst := &cloudv1.Instance{}
	MarkFalse(inst, cloudv1.ReadyCondition, "Waiting", "not yet", metav1.Now())
	before := Get(inst, cloudv1.ReadyCondition)
	MarkTrue(inst, cloudv1.ReadyCondition, "Done", "", metav1.Now())
	if before.Status != metav1.ConditionFalse || before.Reason != "Waiting" {
		t.Fatalf("the condition read before the change reads %s/%s", before.Status, before.Reason)
	}
	if after := Get(inst, cloudv1.ReadyCondition); after.Status != metav1.ConditionTrue || after.Reason != "Done" {
		t.Fatalf("the condition after the change reads %s/%s", after.Status, after.Reason)
	}
}
