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

package cloud

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
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

// withID returns the object among objs whose EC2 id (as idOf reads it) is id.
func withID[T any](objs []T, id string, idOf func(T) string) (T, bool) {
	if i := slices.IndexFunc(objs, func(o T) bool { return idOf(o) == id }); i >= 0 {
		return objs[i], true
	}
	var none T
	return none, false
}

// pointers returns pointers to a list's items.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// projectList lists the caller's project's objects of list's kind from the cache; what names the
// kind in the error.
func projectList[P client.Object](ctx context.Context, s *Service, c Caller, list client.ObjectList, what string) ([]P, error) {
	if err := s.cfg.Client.List(ctx, list, client.InNamespace(c.Project())); err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	out := make([]P, 0, len(items))
	for _, o := range items {
		p, ok := o.(P)
		if !ok {
			return nil, fmt.Errorf("listing %s: %T in a %T", what, o, list)
		}
		out = append(out, p)
	}
	return out, nil
}

// liveInProject is projectList narrowed by liveByAge: the live objects with an EC2 id (and that
// keep keeps), oldest first.
func liveInProject[P client.Object](ctx context.Context, s *Service, c Caller, list client.ObjectList, what string,
	id func(P) string, keep func(P) bool) ([]P, error) {
	objs, err := projectList[P](ctx, s, c, list, what)
	if err != nil {
		return nil, err
	}
	return liveByAge(objs, id, keep), nil
}
