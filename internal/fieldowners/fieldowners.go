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

// Package fieldowners decides what PiNet keeps of the API server's field ownership records
// (metadata.managedFields). Every write of an object makes the API server work out which field
// manager owns which field and store the list with the object, where it is often as big as the
// rest of an Instance: its encoding, decoding and bookkeeping are a large part of the API
// server's cost per write and of every watch event. Once an object has none, the API server keeps
// it so for every later update and patch, until a server-side apply starts the list again. The
// records matter only to server-side apply (GitOps tools that apply manifests field by field):
// they tell an applier which fields it may remove. So PiNet drops them only from objects no one
// has applied.
package fieldowners

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// Applied reports whether a field manager wrote obj with server-side apply.
func Applied(obj metav1.Object) bool {
	for _, e := range obj.GetManagedFields() {
		if e.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// StripUnlessApplied is a cache transform that drops the managedFields of every object no one
// has server-side applied, so a cached object keeps them only where they tell Applied something.
// An object that keeps them keeps them whole: a client's update sends back what it read, and the
// API server takes a non-empty list in an update as the new records.
func StripUnlessApplied() toolscache.TransformFunc {
	return func(in any) (any, error) {
		if obj, err := meta.Accessor(in); err == nil && obj.GetManagedFields() != nil && !Applied(obj) {
			obj.SetManagedFields(nil)
		}
		return in, nil
	}
}

// DropUnlessApplied marks obj, unless someone has server-side applied it, so that its next write
// to the main resource (not its status) makes the API server drop its managedFields: a list of
// one empty entry is the API server's sign for that (an empty list means "keep them"). It
// reports whether it marked obj. The write must carry obj's resourceVersion, so that an apply
// that came meanwhile is not dropped with the rest (internal/patch sends it whenever the list
// changes).
func DropUnlessApplied(obj metav1.Object) bool {
	if Applied(obj) {
		return false
	}
	obj.SetManagedFields([]metav1.ManagedFieldsEntry{{}})
	return true
}
