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
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/internal/index"
)

// Sharing: images (launch permission) and snapshots (create volume permission) are shared the
// same way in EC2: with every project (the group "all") or with named projects (user ids). The
// owner's own project is implicit and never listed.

// LaunchPermission is one entry of who may launch an image: Group "all", or a project's UserID.
type LaunchPermission struct {
	Group, UserID string
}

// CreateVolumePermission is one entry of who may make volumes of a snapshot, the same shape as
// a launch permission.
type CreateVolumePermission = LaunchPermission

// LaunchPermissionChanges adds, then removes, launch permissions.
type LaunchPermissionChanges struct {
	Add, Remove []LaunchPermission
}

// CreateVolumePermissionChanges adds, then removes, create volume permissions.
type CreateVolumePermissionChanges = LaunchPermissionChanges

// sharing is who may use an object besides its owner.
type sharing struct {
	owner    string
	public   bool
	projects []string
}

// sharedScope applies a Describe's owners (self or project ids) and grantees (all: public; self
// or a project id: objects that project was given explicit permission for, as in EC2, where the
// owner's own permission is implicit) to objects whose sharing read gives.
func sharedScope[T any](project string, owners, grantees []string, read func(T) sharing) (func(T) bool, error) {
	for _, list := range [][]string{owners, grantees} {
		for _, v := range list {
			if v != "self" && v != "all" && len(validation.IsDNS1123Label(v)) > 0 {
				return nil, BadRequest(CodeUserIDMalformed, "Invalid user id: \"%s\"", clipID(v))
			}
		}
	}
	for _, o := range owners {
		if o == "all" {
			return nil, BadRequest(CodeUserIDMalformed, "Invalid user id: \"%s\"", o)
		}
	}
	self := func(v string) string {
		if v == "self" {
			return project
		}
		return v
	}
	return func(o T) bool {
		sh := read(o)
		if len(owners) > 0 && !slices.ContainsFunc(owners, func(w string) bool { return self(w) == sh.owner }) {
			return false
		}
		if len(grantees) == 0 {
			return true
		}
		return slices.ContainsFunc(grantees, func(g string) bool {
			if g == "all" {
				return sh.public
			}
			// Whom another project's object is shared with is its owner's to know: of that list
			// the caller may ask only about itself (as the attribute is shown only to the owner).
			if who := self(g); who == project || sh.owner == project {
				return slices.Contains(sh.projects, who)
			}
			return false
		})
	}, nil
}

// permissionEntries lists a sharing as EC2 does: the group "all" first, then the projects in order.
func permissionEntries(public bool, projects []string) []LaunchPermission {
	out := []LaunchPermission{}
	if public {
		out = append(out, LaunchPermission{Group: "all"})
	}
	sorted := slices.Clone(projects)
	sort.Strings(sorted)
	for _, p := range sorted {
		out = append(out, LaunchPermission{UserID: p})
	}
	return out
}

// oldFormChanges reads the older form of a sharing change: OperationType add or remove, with
// groups and user ids.
func oldFormChanges(operation string, groups, userIDs []string) (*LaunchPermissionChanges, error) {
	var items []LaunchPermission
	for _, g := range groups {
		items = append(items, LaunchPermission{Group: g})
	}
	for _, u := range userIDs {
		items = append(items, LaunchPermission{UserID: u})
	}
	switch operation {
	case "add":
		return &LaunchPermissionChanges{Add: items}, nil
	case "remove":
		return &LaunchPermissionChanges{Remove: items}, nil
	case "":
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter OperationType")
	}
	return nil, InvalidParam("Value (%s) for parameter OperationType is invalid. Valid values: add, remove.", operation)
}

// applySharing adds, then removes. The owner's own project is implicit and never listed.
// Whether a named project exists is not checked: the answer would tell any project which others
// exist. A permission for a project that does not exist gives nothing to anyone until one is
// made by that name, as the owner asked.
func applySharing(public *bool, projects *[]string, m *LaunchPermissionChanges, owner string) {
	for _, p := range m.Add {
		if p.Group == "all" {
			*public = true
		}
		if p.UserID != "" && p.UserID != owner && !slices.Contains(*projects, p.UserID) {
			*projects = append(*projects, p.UserID)
		}
	}
	for _, p := range m.Remove {
		if p.Group == "all" {
			*public = false
		}
		if p.UserID != "" {
			*projects = slices.DeleteFunc(*projects, func(x string) bool { return x == p.UserID })
		}
	}
	if len(*projects) == 0 {
		*projects = nil
	}
}

// sharedScopes are the lists that find what project may use of a shared kind: its own
// namespace's objects, and the others' whose permission (indexed by field) names it or everyone.
func sharedScopes(project, field string) []client.ListOption {
	return []client.ListOption{client.InNamespace(project),
		client.MatchingFields{field: project}, client.MatchingFields{field: index.SharedWithAll}}
}

// appendUnseen appends the objects not seen yet (a project's own object may also name it).
func appendUnseen[T client.Object](to []T, seen map[types.UID]bool, objs []T) []T {
	for _, o := range objs {
		if !seen[o.GetUID()] {
			seen[o.GetUID()] = true
			to = append(to, o)
		}
	}
	return to
}
