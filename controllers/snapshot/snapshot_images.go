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
	"cmp"
	"context"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/refs"
)

// recordImages records in status.mappedBy the images of the snapshot's project that map it, which
// hold it from being deleted through every door: the EC2 API asks refs.ImagesMapping itself, and
// the admission policy pinet-snapshot-protection reads this field, which members cannot write.
func (r *Reconciler) recordImages(ctx context.Context, s *cloudv1.Snapshot) error {
	images, err := refs.ImagesMapping(ctx, r.Client, s.Namespace, s.Status.SnapshotID)
	if err != nil {
		return err
	}
	var names []string
	for _, img := range images {
		names = append(names, cmp.Or(img.Status.ImageID, img.Name))
	}
	slices.Sort(names)
	s.Status.MappedBy = names
	return nil
}

// mappedBy enqueues the snapshots of the image's project that the image maps: its creation,
// deregistration and removal change what holds them.
func (r *Reconciler) mappedBy(ctx context.Context, o client.Object) []reconcile.Request {
	img := o.(*cloudv1.Image)
	var reqs []reconcile.Request
	for _, m := range img.Spec.BlockDeviceMappings {
		reqs = append(reqs, r.snapshotsWhere(ctx, func(*cloudv1.Snapshot) bool { return true },
			client.InNamespace(img.Namespace), client.MatchingFields{index.SnapshotID: m.EBS.SnapshotID})...)
	}
	return reqs
}
