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

// Package patch writes a reconciler's changes to an object as merge patches: one for metadata
// and spec, one for status. Condition changes are merged onto the server's latest list under an
// optimistic lock, so several controllers (the manager and a node agent, say) can each own some
// condition types of one object without erasing each other's.
package patch

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// conflictRetries bounds how often a conditions patch is re-based after a conflict.
const conflictRetries = 5

// Object is what the helper patches: a PiNet kind.
type Object interface {
	client.Object
	cloudv1.ConditionsAccessor
}

// Helper remembers an object as it was read, and later patches what changed.
type Helper struct {
	client client.Client
	before Object
	// lockStatus sends the status under the read's resourceVersion, conditions and all, and
	// gives up on a conflict (LockStatus).
	lockStatus bool
}

// LockStatus makes the status write of the next Patch hold only for the object as it was read:
// it carries the snapshot's resourceVersion (the main patch's, when that went first) and a
// conflict is returned, not merged onto a fresh read. For a status whose change is decided from
// the rest of the object (the spec, the deletion), which a newer object could decide otherwise.
func (h *Helper) LockStatus() { h.lockStatus = true }

// NewHelper snapshots obj. Call it before changing obj.
func NewHelper(obj Object, c client.Client) (*Helper, error) {
	snapshot, ok := obj.DeepCopyObject().(Object)
	if !ok {
		return nil, fmt.Errorf("snapshotting %T: copy is not a patchable object", obj)
	}
	return &Helper{client: c, before: snapshot}, nil
}

// Patch writes the difference between the snapshot and obj. Metadata and spec go first; finalizer
// and managedFields changes carry the snapshot's resourceVersion so two writers never drop each
// other's entries.
// Status goes second, with conditions merged by type onto the server's current list. On return,
// obj holds the server's view. An object gone meanwhile (its last finalizer removed by this very
// patch, say) leaves nothing to record: NotFound is no error.
func (h *Helper) Patch(ctx context.Context, obj Object) error {
	if err := h.patch(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func (h *Helper) patch(ctx context.Context, obj Object) error {
	// Most reconciles change nothing; comparing the typed objects spares them the JSON
	// encodings below (a node agent's resyncs of thousands of guests are mostly that).
	if reflect.DeepEqual(h.before, obj) {
		return nil
	}
	desired, ok := obj.DeepCopyObject().(Object)
	if !ok {
		return fmt.Errorf("copying %T: not a patchable object", obj)
	}
	before, err := toMap(h.before)
	if err != nil {
		return err
	}
	after, err := toMap(desired)
	if err != nil {
		return err
	}

	mainPatch := mergePatch(withoutKey(before, "status"), withoutKey(after, "status"))
	if mainPatch != nil {
		if !reflect.DeepEqual(h.before.GetFinalizers(), desired.GetFinalizers()) ||
			!reflect.DeepEqual(h.before.GetManagedFields(), desired.GetManagedFields()) {
			// Lists the patch replaces whole: another writer's entry, made since the
			// snapshot, must not go with it.
			setResourceVersion(mainPatch, h.before.GetResourceVersion())
		}
		if err := h.send(ctx, obj, mainPatch, false); err != nil {
			return fmt.Errorf("patching %s: %w", client.ObjectKeyFromObject(obj), err)
		}
	}

	beforeStatus := withoutKey(asMap(before["status"]), "conditions")
	afterStatus := withoutKey(asMap(after["status"]), "conditions")
	statusPatch := mergePatch(beforeStatus, afterStatus)
	changed := changedConditions(h.before.GetConditions(), desired.GetConditions())
	if statusPatch == nil && len(changed) == 0 {
		return nil
	}
	if statusPatch == nil {
		statusPatch = map[string]any{}
	}
	body := map[string]any{"status": statusPatch}
	// The server's object: obj if the main patch just refreshed it, else the snapshot.
	base := h.before
	if mainPatch != nil {
		base = obj
	}
	if h.lockStatus {
		if len(changed) > 0 {
			statusPatch["conditions"] = desired.GetConditions()
		}
		setResourceVersion(body, base.GetResourceVersion())
		return wrapStatusErr(obj, h.send(ctx, obj, body, true))
	}
	if len(changed) == 0 {
		return wrapStatusErr(obj, h.send(ctx, obj, body, true))
	}

	if ops := unlockedOps(base.GetConditions(), desired.GetConditions(), changed, asMap(after["status"]), statusPatch); ops != nil {
		err := h.sendJSONPatch(ctx, obj, ops)
		if err == nil || !serverMoved(err) {
			return wrapStatusErr(obj, err)
		}
		// The server's list is not what we last saw: merge onto a fresh read under the lock.
		if err := h.client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return fmt.Errorf("re-reading %s after its conditions moved: %w", client.ObjectKeyFromObject(obj), err)
		}
		base = obj
	}
	for attempt := 0; ; attempt++ {
		statusPatch["conditions"] = rebase(base.GetConditions(), desired.GetConditions(), changed)
		setResourceVersion(body, base.GetResourceVersion())
		err := h.send(ctx, obj, body, true)
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt == conflictRetries {
			return wrapStatusErr(obj, err)
		}
		if err := h.client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return fmt.Errorf("re-reading %s after a conflict: %w", client.ObjectKeyFromObject(obj), err)
		}
		base = obj
	}
}

func wrapStatusErr(obj Object, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("patching status of %s: %w", client.ObjectKeyFromObject(obj), err)
}

func (h *Helper) send(ctx context.Context, obj Object, body map[string]any, status bool) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	p := client.RawPatch(types.MergePatchType, data)
	if status {
		return h.client.Status().Patch(ctx, obj, p)
	}
	return h.client.Patch(ctx, obj, p)
}

// changedConditions returns the types whose condition differs between before and after
// (added, removed or changed).
func changedConditions(before, after []metav1.Condition) map[string]bool {
	changed := map[string]bool{}
	index := func(cs []metav1.Condition) map[string]metav1.Condition {
		m := make(map[string]metav1.Condition, len(cs))
		for _, c := range cs {
			m[c.Type] = c
		}
		return m
	}
	b, a := index(before), index(after)
	for t, c := range a {
		if old, ok := b[t]; !ok || !conditionEqual(old, c) {
			changed[t] = true
		}
	}
	for t := range b {
		if _, ok := a[t]; !ok {
			changed[t] = true
		}
	}
	return changed
}

func conditionEqual(a, b metav1.Condition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message &&
		a.ObservedGeneration == b.ObservedGeneration && a.LastTransitionTime.Equal(&b.LastTransitionTime)
}

// rebase applies this writer's changed condition types onto the server's list, keeping the
// server's order and every condition this writer did not touch.
func rebase(server, desired []metav1.Condition, changed map[string]bool) []metav1.Condition {
	want := map[string]metav1.Condition{}
	for _, c := range desired {
		if changed[c.Type] {
			want[c.Type] = c
		}
	}
	out := make([]metav1.Condition, 0, len(server)+len(want))
	for _, c := range server {
		if !changed[c.Type] {
			out = append(out, c)
			continue
		}
		if w, ok := want[c.Type]; ok {
			out = append(out, w)
			delete(want, c.Type)
		}
	}
	for _, c := range desired {
		if w, ok := want[c.Type]; ok {
			out = append(out, w)
		}
	}
	return out
}

func toMap(obj any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding %T: %w", obj, err)
	}
	return m, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// mergePatch returns the RFC 7386 merge patch from before to after (both decoded JSON objects),
// or nil if they are equal: after's value for each key whose value changed (objects patched key
// by key, anything else replaced whole), null for each key after lacks.
func mergePatch(before, after map[string]any) map[string]any {
	var p map[string]any
	set := func(k string, v any) {
		if p == nil {
			p = map[string]any{}
		}
		p[k] = v
	}
	for k, a := range after {
		b, ok := before[k]
		if !ok {
			set(k, a)
			continue
		}
		am, aIsMap := a.(map[string]any)
		bm, bIsMap := b.(map[string]any)
		switch {
		case aIsMap && bIsMap:
			if sub := mergePatch(bm, am); sub != nil {
				set(k, sub)
			}
		case !reflect.DeepEqual(a, b):
			set(k, a)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			set(k, nil)
		}
	}
	return p
}

func setResourceVersion(body map[string]any, rv string) {
	md := asMap(body["metadata"])
	md["resourceVersion"] = rv
	body["metadata"] = md
}

// SetLabel sets a label on obj, or with value "" removes it, for the next Patch to write.
func SetLabel(obj metav1.Object, key, value string) {
	l := obj.GetLabels()
	if value == "" {
		delete(l, key)
		return
	}
	if l == nil {
		l = map[string]string{}
	}
	l[key] = value
	obj.SetLabels(l)
}
