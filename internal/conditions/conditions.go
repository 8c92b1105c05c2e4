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

// Package conditions sets and reads status.conditions on PiNet objects.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Object is a Kubernetes object with status.conditions.
type Object interface {
	cloudv1.ConditionsAccessor
	GetGeneration() int64
}

// Set records a condition on obj. LastTransitionTime becomes now only when the status changes;
// observedGeneration is the object's generation.
func Set(obj Object, condType string, status metav1.ConditionStatus, reason, message string, now metav1.Time) {
	conds := obj.GetConditions()
	meta.SetStatusCondition(&conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: obj.GetGeneration(),
		LastTransitionTime: now,
	})
	obj.SetConditions(conds)
}

// MarkTrue sets a condition True.
func MarkTrue(obj Object, condType, reason, message string, now metav1.Time) {
	Set(obj, condType, metav1.ConditionTrue, reason, message, now)
}

// MarkFalse sets a condition False.
func MarkFalse(obj Object, condType, reason, message string, now metav1.Time) {
	Set(obj, condType, metav1.ConditionFalse, reason, message, now)
}

// MarkUnknown sets a condition Unknown.
func MarkUnknown(obj Object, condType, reason, message string, now metav1.Time) {
	Set(obj, condType, metav1.ConditionUnknown, reason, message, now)
}

// Delete removes a condition.
func Delete(obj Object, condType string) {
	conds := obj.GetConditions()
	meta.RemoveStatusCondition(&conds, condType)
	obj.SetConditions(conds)
}

// Get returns a copy of the condition of the type, or nil. A copy: callers keep it to compare
// with after setting the condition (Set changes the list in place).
func Get(obj cloudv1.ConditionsAccessor, condType string) *metav1.Condition {
	c := meta.FindStatusCondition(obj.GetConditions(), condType)
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}

// IsTrue reports whether the condition exists and is True.
func IsTrue(obj cloudv1.ConditionsAccessor, condType string) bool {
	return meta.IsStatusConditionTrue(obj.GetConditions(), condType)
}

// IsFalse reports whether the condition exists and is False.
func IsFalse(obj cloudv1.ConditionsAccessor, condType string) bool {
	return meta.IsStatusConditionFalse(obj.GetConditions(), condType)
}
