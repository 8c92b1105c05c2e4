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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/internal/snapshot"
)

// copyBudget is how many chunks (of 4 MiB) one reconcile copies: a big copy takes several
// passes, reporting its progress between them, and other snapshots' passes run meanwhile.
const copyBudget = 64

// copySnapshot makes a snapshot a copy of spec.sourceSnapshotId: a completed snapshot the
// project may use (its own, shared with it, or mapped by the image spec.sourceImageId names and
// the project may launch: refs.CopySource; read with the project's permission, whoever made the
// copy). The manager copies the objects within the snapshot bucket, from the source's
// owner's part into the project's, a budget of chunks per pass; the copy is completed once its
// manifest is written.
func (r *Reconciler) copySnapshot(ctx context.Context, s *cloudv1.Snapshot, now metav1.Time) (reconcile.Result, error) {
	s.Status.State = cloudv1.SnapshotPending
	if s.Status.StartTime == nil {
		s.Status.StartTime = &now
	}
	srcID := s.Spec.SourceSnapshotID
	// A copy under way goes on from a source being deleted: the deletion waits for it.
	src, err := refs.CopySource(ctx, r.Client, s, s.Status.Progress > 0)
	switch {
	case errors.Is(err, refs.ErrNotFound) && s.Status.Progress > 0:
		r.copyFailed(s, cloudv1.ReasonCopyFailed, fmt.Sprintf("Snapshot %s went while it was copied", srcID), now)
		return reconcile.Result{}, nil
	case errors.Is(err, refs.ErrNotFound):
		// The same words whether the source does not exist or is not shared with the project.
		r.copyFailed(s, cloudv1.ReasonSourceNotFound, fmt.Sprintf("Snapshot %s does not exist or is not shared with project %s", srcID, s.Namespace), now)
		return reconcile.Result{}, nil
	case err != nil:
		return reconcile.Result{}, err
	case src.Status.State == cloudv1.SnapshotPending:
		// Its completion requeues the copy (copiesOf).
		conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonSourceNotCompleted, fmt.Sprintf("Snapshot %s is not completed yet", srcID), now)
		return reconcile.Result{}, nil
	case src.Status.State != cloudv1.SnapshotCompleted:
		r.copyFailed(s, cloudv1.ReasonSourceNotCompleted, fmt.Sprintf("Snapshot %s is %q, not completed", srcID, src.Status.State), now)
		return reconcile.Result{}, nil
	}
	s.Status.VolumeSizeGiB = src.Status.VolumeSizeGiB
	if r.Store == nil {
		return reconcile.Result{}, errors.New("copying a snapshot: no object store configured")
	}
	// The completed source's objects are in the bucket, so the bucket exists.
	mc, err := r.Store(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	to := &snapshot.Store{Client: mc, Bucket: Bucket, Prefix: s.Namespace + "/"}
	from := &snapshot.Store{Client: mc, Bucket: Bucket, Prefix: src.Namespace + "/"}
	m, copied, total, err := to.CopyFrom(ctx, from, srcID, s.Status.SnapshotID, copyBudget)
	switch {
	case errors.Is(err, snapshot.ErrNotFound):
		r.copyFailed(s, cloudv1.ReasonCopyFailed, fmt.Sprintf("Snapshot %s holds no objects to copy", srcID), now)
		return reconcile.Result{}, nil
	case err != nil:
		return reconcile.Result{}, fmt.Errorf("copying snapshot %s: %w", srcID, err)
	case m == nil:
		// At least 1%, so that a source gone later reads as gone during the copy.
		s.Status.Progress = int32(max(1, min(99, copied*100/max(total, 1))))
		conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonCopying,
			fmt.Sprintf("Copying snapshot %s: %d of %d chunks", srcID, copied, total), now)
		return reconcile.Result{Requeue: true}, nil
	}
	s.Status.State, s.Status.Progress, s.Status.StoredBytes = cloudv1.SnapshotCompleted, 100, m.StoredBytes()
	if r.Recorder != nil {
		r.Recorder.Eventf(s, nil, "Normal", "Copied", "Copy", "Copied snapshot %s (%d bytes stored)", srcID, s.Status.StoredBytes)
	}
	return reconcile.Result{}, nil
}

// copyFailed ends a copy in error, telling its project why: only a new copy can do better.
func (r *Reconciler) copyFailed(s *cloudv1.Snapshot, reason, msg string, now metav1.Time) {
	if r.Recorder != nil {
		r.Recorder.Eventf(s, nil, "Warning", reason, "Copy", "%s", msg)
	}
	s.Status.State = cloudv1.SnapshotError
	conditions.MarkFalse(s, cloudv1.ReadyCondition, reason, msg, now)
	conditions.MarkTrue(s, cloudv1.StalledCondition, reason, msg, now)
}

// copiesOf enqueues the copies, of any project, still waiting to copy a snapshot that changed.
func (r *Reconciler) copiesOf(ctx context.Context, o client.Object) []reconcile.Request {
	s := o.(*cloudv1.Snapshot)
	if s.Status.SnapshotID == "" {
		return nil
	}
	return r.snapshotsWhere(ctx, func(c *cloudv1.Snapshot) bool {
		return c.Status.State == "" || c.Status.State == cloudv1.SnapshotPending
	}, client.MatchingFields{index.SnapshotSource: s.Status.SnapshotID})
}
