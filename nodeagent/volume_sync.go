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

package nodeagent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/internal/snapshot"
)

// The storage role reads the volumes and snapshots labelled with its node and reports their
// status (admission lets it write only those, and only their status), and copies snapshots as
// its node's object store user, who reaches only the snapshots of its node.
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes;snapshots,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes/status;snapshots/status,verbs=get;update;patch

// volumeSync makes, serves and removes the volumes placed on this storage node: a sparse
// backing file per volume (filled from its snapshot first, if it has one) served as an AoE
// target at the volume's address, with condition Exported reporting it.
type volumeSync struct {
	// reader reads the volumes labelled with this node (the storage cache); client writes
	// their status.
	reader  client.Reader
	client  client.Client
	node    string
	exports *exports
	clock   clock.PassiveClock
	// store is the object store as the node's own user.
	store func(context.Context) (*minio.Client, error)

	mu sync.Mutex
	// uids remembers the UID of every volume seen, so a volume gone from the cache (deleted
	// with no chance to report) still has its export stopped and its file removed.
	uids map[types.NamespacedName]types.UID
}

// Reconcile converges one volume.
func (s *volumeSync) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	v := &cloudv1.Volume{}
	if err := s.reader.Get(ctx, req.NamespacedName, v); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, s.forget(ctx, req.NamespacedName)
	}
	s.mu.Lock()
	s.uids[req.NamespacedName] = v.UID
	s.mu.Unlock()
	if v.Labels[cloudv1.LabelStorageNode] != s.node {
		return reconcile.Result{}, s.forget(ctx, req.NamespacedName)
	}
	helper, err := patch.NewHelper(v, s.client)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := metav1.NewTime(s.clock.Now())
	defer func() {
		if err := helper.Patch(ctx, v); err != nil && !apierrors.IsNotFound(err) {
			reterr = errors.Join(reterr, err)
		}
	}()
	logger := ctrl.LoggerFrom(ctx)
	if !v.DeletionTimestamp.IsZero() {
		logger.Info("Removing volume export and backing file")
		if err := s.exports.remove(v.UID); err != nil {
			return reconcile.Result{}, err
		}
		conditions.MarkFalse(v, cloudv1.VolumeExported, cloudv1.ReasonUnexported, "The export and the backing file are removed", now)
		return reconcile.Result{}, nil
	}
	if v.Status.AoE == nil || v.Status.AoE.Node != s.node {
		return reconcile.Result{}, nil
	}
	// The size the volume was given: a grown spec waits for the volume controller's admission.
	size := int64(v.GivenSizeGiB()) << 30
	if err := s.ensureBacking(ctx, v, size); err != nil {
		conditions.MarkFalse(v, cloudv1.VolumeExported, cloudv1.ReasonExportFailed, "Making the backing file failed; see the storage node agent's log", now)
		return reconcile.Result{}, fmt.Errorf("volume %s: %w", v.Name, err)
	}
	spec := exportSpec{shelf: uint16(v.Status.AoE.Shelf), slot: uint8(v.Status.AoE.Slot), size: size}
	if !s.exports.running(v.UID, spec) {
		logger.Info("Exporting volume", "shelf", spec.shelf, "slot", spec.slot, "bytes", size)
	}
	if err := s.exports.serve(req.NamespacedName, v.UID, spec); err != nil {
		conditions.MarkFalse(v, cloudv1.VolumeExported, cloudv1.ReasonExportFailed, "Serving the volume over AoE failed; see the storage node agent's log", now)
		return reconcile.Result{}, fmt.Errorf("volume %s: %w", v.Name, err)
	}
	conditions.MarkTrue(v, cloudv1.VolumeExported, cloudv1.ReasonExported,
		fmt.Sprintf("Served as AoE e%d.%d on %s", spec.shelf, spec.slot, s.exports.iface), now)
	return reconcile.Result{}, nil
}

// forget stops the export of a volume that is gone or no longer placed here, and removes its
// backing file.
func (s *volumeSync) forget(ctx context.Context, key types.NamespacedName) error {
	s.mu.Lock()
	uid, ok := s.uids[key]
	delete(s.uids, key)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Volume gone; removing its export and backing file")
	return s.exports.remove(uid)
}

// ensureBacking makes the volume's backing file if it does not exist: sparse, of the volume's
// size, filled from the volume's snapshot first (read from its owner's part of the snapshot
// bucket, as snapshotSource says). It is made under a temporary name, so a crash never leaves a
// half-filled file in place. An existing file smaller than the volume is grown.
func (s *volumeSync) ensureBacking(ctx context.Context, v *cloudv1.Volume, size int64) error {
	path := s.exports.path(v.UID)
	if fi, err := os.Stat(path); err == nil {
		if fi.Size() < size {
			ctrl.LoggerFrom(ctx).Info("Growing volume", "bytes", size)
			if err := os.Truncate(path, size); err != nil {
				return fmt.Errorf("growing the backing file: %w", err)
			}
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the backing file: %w", err)
	}
	// The snapshot is checked before anything is made, so a missing one leaves no file.
	var src *snapshot.Store
	if v.Spec.SnapshotID != "" {
		var err error
		if src, err = s.snapshotSource(ctx, v, size); err != nil {
			return err
		}
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, volumeFileMode)
	if err != nil {
		return fmt.Errorf("creating the backing file: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := f.Truncate(size); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("sizing the backing file: %w", err)
	}
	if src != nil {
		ctrl.LoggerFrom(ctx).Info("Restoring volume from snapshot", "snapshot", v.Spec.SnapshotID)
		if _, err := src.Restore(ctx, v.Spec.SnapshotID, f, nil); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("restoring snapshot %s: %w", v.Spec.SnapshotID, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the backing file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("placing the backing file: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// snapshotSource returns the store holding the volume's snapshot, in its owner's part of the
// snapshot bucket (the volume's own project's, or the one the volume controller found sharing
// it with the volume's project), once its manifest is read and fits the volume.
func (s *volumeSync) snapshotSource(ctx context.Context, v *cloudv1.Volume, size int64) (*snapshot.Store, error) {
	if s.store == nil {
		return nil, errors.New("restoring a snapshot: no object store configured")
	}
	mc, err := s.store(ctx)
	if err != nil {
		return nil, err
	}
	st := &snapshot.Store{Client: mc, Bucket: s3client.SnapshotBucket, Prefix: cmp.Or(v.Status.SnapshotOwner, v.Namespace) + "/"}
	m, err := st.Stat(ctx, v.Spec.SnapshotID)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %s: %w", v.Spec.SnapshotID, err)
	}
	if m.SizeBytes > size {
		return nil, fmt.Errorf("snapshot %s holds %d bytes, more than the volume's %d", v.Spec.SnapshotID, m.SizeBytes, size)
	}
	return st, nil
}

// sweep removes the backing files of volumes no longer placed on this node (deleted while the
// agent was down), as the API server says.
func (s *volumeSync) sweep(ctx context.Context, apiReader client.Reader) error {
	list := &cloudv1.VolumeList{}
	if err := apiReader.List(ctx, list, client.MatchingLabels{cloudv1.LabelStorageNode: s.node}); err != nil {
		return fmt.Errorf("listing this node's volumes: %w", err)
	}
	keep := map[string]bool{}
	for i := range list.Items {
		keep[string(list.Items[i].UID)] = true
	}
	entries, err := os.ReadDir(s.exports.dir)
	if err != nil {
		return fmt.Errorf("reading the storage dir: %w", err)
	}
	for _, e := range entries {
		uid, ok := strings.CutSuffix(strings.TrimSuffix(e.Name(), ".new"), ".img")
		if !ok || keep[uid] {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Removing the backing file of a volume that is gone", "file", e.Name())
		if err := os.Remove(filepath.Join(s.exports.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
