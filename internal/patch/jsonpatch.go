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
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// op is one RFC 6902 operation; remove takes no value.
type op struct {
	Op    string
	Path  string
	Value any
}

// MarshalJSON writes the value whenever the operation takes one, even a zero value.
func (o op) MarshalJSON() ([]byte, error) {
	m := map[string]any{"op": o.Op, "path": o.Path}
	if o.Op != "remove" {
		m["value"] = o.Value
	}
	return json.Marshal(m)
}

// unlockedOps writes a status change with conditions as a JSON patch that needs no
// resourceVersion, so writers of other fields and condition types never conflict: each condition
// this writer changes or removes is replaced where the server's list had it, guarded by a test
// of the type at that index; new types are appended; status fields this writer changed are
// replaced whole (every status field has one writer). It returns nil when the base shows no
// conditions: the first write of the list takes the lock.
//
// A guard that fails (the server's list moved), or an append that would repeat a type, makes
// the API server refuse the whole patch; the caller then merges under the lock.
func unlockedOps(server, desired []metav1.Condition, changed map[string]bool, afterStatus, statusPatch map[string]any) []op {
	if len(server) == 0 {
		return nil
	}
	var ops []op
	for key := range statusPatch {
		path := "/status/" + escape(key)
		if v, ok := afterStatus[key]; ok && v != nil {
			ops = append(ops, op{Op: "add", Path: path, Value: v})
		} else {
			ops = append(ops, op{Op: "remove", Path: path})
		}
	}
	want := map[string]metav1.Condition{}
	for _, c := range desired {
		if changed[c.Type] {
			want[c.Type] = c
		}
	}
	var removals []op
	for i, c := range server {
		if !changed[c.Type] {
			continue
		}
		at := "/status/conditions/" + strconv.Itoa(i)
		test := op{Op: "test", Path: at + "/type", Value: c.Type}
		if w, ok := want[c.Type]; ok {
			ops = append(ops, test, op{Op: "replace", Path: at, Value: w})
			delete(want, c.Type)
			continue
		}
		// Removed: last index first, so earlier indexes stay valid.
		removals = append([]op{test, {Op: "remove", Path: at}}, removals...)
	}
	ops = append(ops, removals...)
	for _, c := range desired {
		if w, ok := want[c.Type]; ok {
			ops = append(ops, op{Op: "add", Path: "/status/conditions/-", Value: w})
		}
	}
	return ops
}

func escape(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

func (h *Helper) sendJSONPatch(ctx context.Context, obj Object, ops []op) error {
	data, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	return h.client.Status().Patch(ctx, obj, client.RawPatch(types.JSONPatchType, data))
}

// serverMoved reports whether a JSON patch was refused because the object is no longer what the
// patch was computed from: a failed test, a missing path, a repeated condition type.
func serverMoved(err error) bool {
	if apierrors.IsConflict(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		return true
	}
	var status apierrors.APIStatus
	return errors.As(err, &status) && status.Status().Code == http.StatusUnprocessableEntity
}

// AddFinalizer adds a finalizer to obj on the server, guarded by a test that the server's
// finalizers are still those obj shows, instead of by the resourceVersion: writes of status or
// labels in between do not refuse it, another writer's finalizer change does. On return obj
// holds the server's view.
func AddFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	before := obj.GetFinalizers()
	if slices.Contains(before, finalizer) {
		return nil
	}
	var seen any // absent on the server when there are none
	if len(before) > 0 {
		seen = before
	}
	ops := []op{
		{Op: "test", Path: "/metadata/finalizers", Value: seen},
		{Op: "add", Path: "/metadata/finalizers", Value: append(slices.Clone(before), finalizer)},
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, data)); err != nil {
		return fmt.Errorf("adding finalizer %s to %s: %w", finalizer, client.ObjectKeyFromObject(obj), err)
	}
	return nil
}
