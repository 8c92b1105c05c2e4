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

package image

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
)

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=snapshots,verbs=get;list;watch

// checkSnapshots judges the snapshots an image's block device mappings name, which every
// instance of the image gets volumes of: each must be a snapshot of the image's own project (an
// image may not hand out, to whoever may launch it, a snapshot its project was only shared) no
// larger than its mapping's size, and the image is available only once all are completed. It
// returns the reason the image waits (fatal: fails) for, "" when it need not.
func (r *Reconciler) checkSnapshots(ctx context.Context, img *cloudv1.Image) (reason, msg string, fatal bool, err error) {
	for _, m := range img.Spec.BlockDeviceMappings {
		id := m.EBS.SnapshotID
		snap, err := r.ownSnapshot(ctx, img.Namespace, id)
		switch {
		case err != nil:
			return "", "", false, err
		case snap == nil:
			return cloudv1.ReasonSnapshotNotFound, fmt.Sprintf("snapshot %s (mapped at %s) is not a snapshot of project %s", id, m.DeviceName, img.Namespace), true, nil
		case snap.Status.State == cloudv1.SnapshotError:
			return cloudv1.ReasonSnapshotNotCompleted, fmt.Sprintf("snapshot %s (mapped at %s) failed", id, m.DeviceName), true, nil
		case snap.Status.State != cloudv1.SnapshotCompleted:
			return cloudv1.ReasonSnapshotNotCompleted, fmt.Sprintf("Waiting for snapshot %s (mapped at %s) to complete", id, m.DeviceName), false, nil
		case m.EBS.VolumeSize > 0 && m.EBS.VolumeSize < snap.Status.VolumeSizeGiB:
			return cloudv1.ReasonSizeTooSmall, fmt.Sprintf("snapshot %s is of a %d GiB volume; %s maps it at %d GiB",
				id, snap.Status.VolumeSizeGiB, m.DeviceName, m.EBS.VolumeSize), true, nil
		}
	}
	return "", "", false, nil
}

// ownSnapshot finds the project's own snapshot with the EC2 id, not being deleted; nil if none.
// One of the project named by the id whose controller has not claimed it yet counts (it is
// pending): CreateImage names the snapshots it makes by their ids in the same call, and the
// claim brings the image back.
func (r *Reconciler) ownSnapshot(ctx context.Context, project, id string) (*cloudv1.Snapshot, error) {
	list := &cloudv1.SnapshotList{}
	if err := r.Client.List(ctx, list, client.InNamespace(project), client.MatchingFields{index.SnapshotID: id}); err != nil {
		return nil, fmt.Errorf("finding snapshot %s: %w", id, err)
	}
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			return &list.Items[i], nil
		}
	}
	unclaimed := &cloudv1.Snapshot{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: project, Name: id}, unclaimed)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("getting snapshot %s: %w", id, err)
	case unclaimed.Status.SnapshotID == "" && unclaimed.DeletionTimestamp.IsZero():
		return unclaimed, nil
	}
	return nil, nil
}

// imagesOfSnapshot maps a snapshot to the pending images of its project: one of them may be
// waiting for it.
func (r *Reconciler) imagesOfSnapshot(ctx context.Context, o client.Object) []reconcile.Request {
	return r.pendingImages(ctx, client.InNamespace(o.GetNamespace()))
}
