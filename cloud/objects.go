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
	"errors"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
)

// nameFor names a new object of the caller's project by its name in EC2 (a group's, a key's),
// so that two racing calls for one name meet at the API server and one fails. The name is also
// the id the object claims, so it is derived with the project's namespace UID, which no other
// project can read: were it derived from the project and name alone, another project could
// compute it, make an object of that name first to take the id, and learn from its own object's
// id whether the project already uses a name.
func (s *Service) nameFor(ctx context.Context, c Caller, prefix, name string) (string, error) {
	seed, err := s.projectSeed(ctx, c, name)
	if err != nil {
		return "", err
	}
	return ids.Derive(prefix, seed), nil
}

// projectSeed is what the names of a request's objects derive from when they must be the same
// for every retry of the request (a ClientToken, a group's or key's name): keyed with the
// project's namespace UID, for the reasons nameFor gives.
func (s *Service) projectSeed(ctx context.Context, c Caller, key string) (string, error) {
	ns := &corev1.Namespace{}
	if err := s.cfg.APIReader.Get(ctx, client.ObjectKey{Name: c.Project()}, ns); err != nil {
		return "", fmt.Errorf("reading project %s: %w", c.Project(), err)
	}
	return string(ns.UID) + "/" + key, nil
}

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

// kind is what the shared steps need to know of a kind the service names by EC2 id: how to list
// the project's objects of it, read their ids and answer for an id that is malformed or names
// none of them.
type kind[P client.Object] struct {
	// resource is the kind's RBAC resource, and names its listings in errors; what names one
	// object of it.
	resource, what string
	// list is an empty list of the kind; each listing lists into a copy.
	list client.ObjectList
	// id reads an object's EC2 id ("" while it has none); prefix is the ids' prefix.
	id     func(P) string
	prefix string
	// malformed and notFound are EC2's errors for an id that is not one of the kind, and for
	// one that names none of the project's objects.
	malformed, notFound func(id string) error
	// deletedToo keeps objects that are being deleted (instances show as terminated until they go).
	deletedToo bool
}

// inProject lists the caller's project's objects of kind k that have an EC2 id, oldest first.
func inProject[P client.Object](ctx context.Context, s *Service, c Caller, k kind[P]) ([]P, error) {
	objs, err := projectList[P](ctx, s, c, k.list.DeepCopyObject().(client.ObjectList), k.resource)
	if err != nil {
		return nil, err
	}
	if k.deletedToo {
		return byAge(objs, k.id, nil), nil
	}
	return liveByAge(objs, k.id, nil), nil
}

// findIn returns the project's objects of kind k with the ids, in order; the first id that is
// malformed or not the project's is an error naming it, as in EC2.
func findIn[P client.Object](ctx context.Context, s *Service, c Caller, k kind[P], wanted []string) ([]P, error) {
	all, err := inProject(ctx, s, c, k)
	if err != nil {
		return nil, err
	}
	return pickByID(all, wanted, k.id, k.prefix, k.malformed, k.notFound)
}

// pickByID returns the objects among objs with the ids (as id reads them), in the order wanted;
// the first id that is not one of prefix (malformed) or names none of objs (notFound) is an error.
func pickByID[P any](objs []P, wanted []string, id func(P) string, prefix string, malformed, notFound func(string) error) ([]P, error) {
	byID := make(map[string]P, len(objs))
	for _, o := range objs {
		byID[id(o)] = o
	}
	out := make([]P, 0, len(wanted))
	for _, w := range wanted {
		if !ids.Valid(prefix, w) {
			return nil, malformed(w)
		}
		o, ok := byID[w]
		if !ok {
			return nil, notFound(w)
		}
		out = append(out, o)
	}
	return out, nil
}

// named is what a Describe of kind k names: the objects with the ids, or with none given, all of
// the project's.
func named[P client.Object](ctx context.Context, s *Service, c Caller, k kind[P], wanted []string) ([]P, error) {
	if len(wanted) > 0 {
		return findIn(ctx, s, c, k, wanted)
	}
	return inProject(ctx, s, c, k)
}

// findOne is findIn for one id: a copy of the object, which the caller may change.
func findOne[P client.Object](ctx context.Context, s *Service, c Caller, k kind[P], id string) (P, error) {
	found, err := findIn(ctx, s, c, k, []string{id})
	if err != nil {
		var none P
		return none, err
	}
	return found[0].DeepCopyObject().(P), nil
}

// resolveOne is how an operation on one object starts: the caller may verb the kind (DryRun ends
// here), and the id names one of the project's objects, a copy of which it returns.
func resolveOne[P client.Object](ctx context.Context, s *Service, c Caller, k kind[P], verb, id string, dryRun bool) (P, error) {
	if err := s.authorize(ctx, c, verb, k.resource, dryRun); err != nil {
		var none P
		return none, err
	}
	return findOne(ctx, s, c, k, id)
}

// writeError says what a failed change of the object with the id means: its own refusal (a
// check's EC2 error), gone, or the API server's error.
func (k kind[P]) writeError(err error, id string) error {
	var qe *query.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &qe):
		return qe
	case apierrors.IsNotFound(err):
		return k.notFound(id)
	}
	return APIError(err, k.what+" "+id)
}

// deleteOne is how an object is deleted by id: resolved as resolveOne does, then deleted as
// deleteChecked does.
func deleteOne[P client.Object](ctx context.Context, s *Service, c Caller, k kind[P], id string, dryRun bool, check func(P) error) error {
	obj, err := resolveOne(ctx, s, c, k, "delete", id, dryRun)
	if err != nil {
		return err
	}
	return deleteChecked(ctx, s, k, obj, id, check)
}

// deleteChecked deletes the newest version of obj (a copy the caller may change), whose EC2 id is
// id, if check (given that version) lets it; obj is gone from the cache when it returns.
func deleteChecked[P client.Object](ctx context.Context, s *Service, k kind[P], obj P, id string, check func(P) error) error {
	if err := s.DeleteLatest(ctx, obj, func() error { return check(obj) }); err != nil {
		return k.writeError(err, id)
	}
	s.AwaitDeleted(ctx, obj)
	return nil
}

// shapes makes the EC2 shape of each object and keeps those keep keeps (a Describe's filters).
func shapes[P, T any](objs []P, shape func(P) T, keep func(*T) bool) []T {
	var out []T
	for _, o := range objs {
		if item := shape(o); keep(&item) {
			out = append(out, item)
		}
	}
	return out
}
