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

package volume

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/refs"
)

// resolveSnapshot checks the snapshot a volume starts from: one the volume's project may use (its
// own, or another project's that gave it createVolumePermission; for a volume made at launch,
// also one its instance's image maps: refs.VolumeSnapshot; any other is never found), completed,
// and no larger than the volume. Otherwise the volume is never placed and ends in error. The
// permission is read for the volume's project, whoever made the volume.
func (r *Reconciler) resolveSnapshot(ctx context.Context, sc *scope) error {
	v := sc.v
	if v.Spec.SnapshotID == "" {
		return nil
	}
	snap, err := refs.VolumeSnapshot(ctx, r.Client, v, false)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return err
	}
	sc.fatal = true
	switch {
	case snap == nil:
		// The same words whether the snapshot does not exist or is not shared with the project.
		sc.blocked = cloudv1.ReasonSnapshotNotFound
		sc.blockedMsg = fmt.Sprintf("Snapshot %s does not exist or is not shared with project %s", v.Spec.SnapshotID, v.Namespace)
	case snap.Status.State == cloudv1.SnapshotPending:
		// A pending snapshot may still complete: wait for it (its changes requeue the volume).
		sc.fatal = false
		sc.blocked = cloudv1.ReasonSnapshotNotCompleted
		sc.blockedMsg = fmt.Sprintf("Snapshot %s is not completed yet", v.Spec.SnapshotID)
	case snap.Status.State != cloudv1.SnapshotCompleted:
		sc.blocked = cloudv1.ReasonSnapshotNotCompleted
		sc.blockedMsg = fmt.Sprintf("Snapshot %s is %q, not completed", v.Spec.SnapshotID, snap.Status.State)
	case snap.Status.VolumeSizeGiB > v.Spec.SizeGiB:
		sc.blocked = cloudv1.ReasonSizeTooSmall
		sc.blockedMsg = fmt.Sprintf("Snapshot %s is of a %d GiB volume; the volume has %d GiB",
			v.Spec.SnapshotID, snap.Status.VolumeSizeGiB, v.Spec.SizeGiB)
	default:
		sc.fatal = false
		v.Status.SnapshotOwner = snap.Namespace
	}
	return nil
}

// madeFrom enqueues the unplaced volumes, of any project, that start from a snapshot: its
// completion starts them, and a permission given lets them resolve it.
func (r *Reconciler) madeFrom(ctx context.Context, o client.Object) []reconcile.Request {
	s := o.(*cloudv1.Snapshot)
	if s.Status.SnapshotID == "" {
		return nil
	}
	list := &cloudv1.VolumeList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{index.VolumeSnapshot: s.Status.SnapshotID}); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if v := &list.Items[i]; v.Status.AoE == nil {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(v)})
		}
	}
	return reqs
}
