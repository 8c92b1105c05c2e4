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

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/refs"
)

// restoreGrace bounds how long a deleted snapshot waits for the volumes being filled from it: a
// storage node that stopped filling one (lost, say) must not keep the snapshot forever.
const restoreGrace = 10 * time.Minute

// restoring counts the volumes, of any project, that a storage node is filling from the
// snapshot (placed, not being deleted, neither exported nor failed), and its copies being made.
// Deleting the snapshot's objects under them would fail them, and in EC2 a volume made of a
// snapshot, or a copy of it, outlives it.
func (r *Reconciler) restoring(ctx context.Context, s *cloudv1.Snapshot) (int, error) {
	list := &cloudv1.VolumeList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{index.VolumeSnapshot: s.Status.SnapshotID}); err != nil {
		return 0, fmt.Errorf("listing the volumes made of %s: %w", s.Status.SnapshotID, err)
	}
	n, err := r.copying(ctx, s)
	if err != nil {
		return 0, err
	}
	for i := range list.Items {
		v := &list.Items[i]
		// The snapshot a volume fills from is the one its controller found: the owner recorded.
		if v.Status.AoE == nil || v.Status.SnapshotOwner != s.Namespace || !v.DeletionTimestamp.IsZero() {
			continue
		}
		if c := conditions.Get(v, cloudv1.VolumeExported); c == nil || (c.Status != metav1.ConditionTrue && c.Reason != cloudv1.ReasonExportFailed) {
			n++
		}
	}
	return n, nil
}

// awaitRestores says how long a deleted snapshot still waits for the volumes and copies being
// made of it (0: not at all); their changes requeue it sooner (restoredFrom, sourceOf).
func (r *Reconciler) awaitRestores(ctx context.Context, s *cloudv1.Snapshot, now metav1.Time) (time.Duration, error) {
	if s.Status.SnapshotID == "" || s.Status.State != cloudv1.SnapshotCompleted {
		return 0, nil
	}
	left := s.DeletionTimestamp.Add(restoreGrace).Sub(now.Time)
	if left <= 0 {
		return 0, nil
	}
	n, err := r.restoring(ctx, s)
	if err != nil || n == 0 {
		return 0, err
	}
	conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonWaitingForVolumes,
		fmt.Sprintf("Deleted; its objects go once the %d volume(s) and copies being made of it are made", n), now)
	return left, nil
}

// restoredFrom enqueues the deleted snapshot a volume is filled from, when the volume's change
// may end the snapshot's wait.
func (r *Reconciler) restoredFrom(ctx context.Context, o client.Object) []reconcile.Request {
	v := o.(*cloudv1.Volume)
	if v.Spec.SnapshotID == "" || v.Status.SnapshotOwner == "" {
		return nil
	}
	return r.snapshotsWhere(ctx, isDeleted, client.InNamespace(v.Status.SnapshotOwner), client.MatchingFields{index.SnapshotID: v.Spec.SnapshotID})
}

func isDeleted(s *cloudv1.Snapshot) bool { return !s.DeletionTimestamp.IsZero() }

// copying counts the copies of the snapshot being made (not being deleted) in projects that may
// copy it: shared with them, or through an image of its project they may launch.
func (r *Reconciler) copying(ctx context.Context, s *cloudv1.Snapshot) (int, error) {
	list := &cloudv1.SnapshotList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{index.SnapshotSource: s.Status.SnapshotID}); err != nil {
		return 0, fmt.Errorf("listing the copies of %s: %w", s.Status.SnapshotID, err)
	}
	n := 0
	for i := range list.Items {
		c := &list.Items[i]
		if c.Status.State != cloudv1.SnapshotPending || !c.DeletionTimestamp.IsZero() {
			continue
		}
		if refs.SnapshotRestorableBy(s, c.Namespace) {
			n++
			continue
		}
		// A copy through an image (CopyImage's): the source it resolves is this one.
		if src, err := refs.CopySource(ctx, r.Client, c, true); err == nil && src.UID == s.UID {
			n++
		} else if err != nil && !errors.Is(err, refs.ErrNotFound) {
			return 0, err
		}
	}
	return n, nil
}

// sourceOf enqueues the deleted snapshot a copy is made from, when the copy's change may end
// the source's wait.
func (r *Reconciler) sourceOf(ctx context.Context, o client.Object) []reconcile.Request {
	c := o.(*cloudv1.Snapshot)
	if c.Spec.SourceSnapshotID == "" {
		return nil
	}
	return r.snapshotsWhere(ctx, isDeleted, client.MatchingFields{index.SnapshotID: c.Spec.SourceSnapshotID})
}
