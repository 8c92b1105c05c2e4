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

package cloud

import (
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/internal/ids"
)

// idOr is an object's EC2 id: the one its controller recorded in status, else its name when the
// name is an id of prefix (the API names what it creates by its id, before the controller has
// caught up), else none.
func idOr(statusID, name, prefix string) string {
	if statusID != "" {
		return statusID
	}
	if ids.Valid(prefix, name) {
		return name
	}
	return ""
}

// liveByAge keeps the objects that have an EC2 id and are not being deleted, and sorts them
// oldest first, ties by id: the order every Describe of a kind lists in.
func liveByAge[T client.Object](items []T, id func(T) string, keep func(T) bool) []T {
	return byAge(items, id, func(o T) bool {
		return o.GetDeletionTimestamp().IsZero() && (keep == nil || keep(o))
	})
}

// byAge is liveByAge for kinds whose objects still show while they are deleted (instances show
// as terminated until they go): it keeps those too.
func byAge[T client.Object](items []T, id func(T) string, keep func(T) bool) []T {
	out := make([]T, 0, len(items))
	for _, o := range items {
		if id(o) != "" && (keep == nil || keep(o)) {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].GetCreationTimestamp(), out[j].GetCreationTimestamp()
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return id(out[i]) < id(out[j])
	})
	return out
}

// pointers returns pointers to a list's items.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
