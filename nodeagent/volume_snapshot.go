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
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/internal/snapshot"
)

// progressInterval is the shortest gap between two progress reports of one snapshot.
const progressInterval = 2 * time.Second

// snapshotCopy copies the volumes of this storage node into the snapshots the snapshot
// controller handed to it (status.node, label cloud.pinet.io/storage-node): a crash-consistent
// copy of the backing file, as chunks in the snapshot bucket under "<project>/<snap-id>/",
// reporting progress (at most every progressInterval) and the bytes stored.
type snapshotCopy struct {
	reader client.Reader
	// live reads the API server itself: a cache that lags shows a finished snapshot pending.
	live    client.Reader
	client  client.Client
	node    string
	exports *exports
	clock   clock.PassiveClock
	store   func(context.Context) (*minio.Client, error)
}

// Reconcile copies one pending snapshot.
func (c *snapshotCopy) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	s := &cloudv1.Snapshot{}
	if err := c.reader.Get(ctx, req.NamespacedName, s); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !s.DeletionTimestamp.IsZero() || s.Status.State != cloudv1.SnapshotPending || s.Status.Node != c.node || s.Status.SnapshotID == "" {
		return reconcile.Result{}, nil
	}
	if c.live != nil {
		// A cache that has not shown this agent's own "completed" yet would copy the volume
		// again and report its progress over a finished snapshot's.
		if err := c.live.Get(ctx, req.NamespacedName, s); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
		if !s.DeletionTimestamp.IsZero() || s.Status.State != cloudv1.SnapshotPending || s.Status.Node != c.node {
			return reconcile.Result{}, nil
		}
	}
	helper, err := patch.NewHelper(s, c.client)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			reterr = errors.Join(reterr, err)
		}
	}()
	logger := ctrl.LoggerFrom(ctx).WithValues("snapshot", s.Status.SnapshotID, "volume", s.Spec.VolumeID)
	m, err := c.save(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			return reconcile.Result{}, ctx.Err() // the agent stops: copy again when it is back
		}
		logger.Error(err, "Copying the volume into the snapshot failed")
		s.Status.State = cloudv1.SnapshotError
		return reconcile.Result{}, nil
	}
	logger.Info("Snapshot completed", "storedBytes", m.StoredBytes())
	s.Status.State = cloudv1.SnapshotCompleted
	s.Status.Progress = 100
	s.Status.StoredBytes = m.StoredBytes()
	return reconcile.Result{}, nil
}

// save finds the snapshot's volume among this node's volumes of the snapshot's project and
// stores its backing file.
func (c *snapshotCopy) save(ctx context.Context, s *cloudv1.Snapshot) (*snapshot.Manifest, error) {
	list := &cloudv1.VolumeList{}
	if err := c.reader.List(ctx, list, client.InNamespace(s.Namespace)); err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	var uid types.UID
	for i := range list.Items {
		if v := &list.Items[i]; v.Status.VolumeID == s.Spec.VolumeID && v.Status.AoE != nil && v.Status.AoE.Node == c.node {
			uid = v.UID
		}
	}
	if uid == "" {
		return nil, fmt.Errorf("volume %s is not stored on this node", s.Spec.VolumeID)
	}
	f, err := os.Open(c.exports.path(uid))
	if err != nil {
		return nil, fmt.Errorf("opening the backing file: %w", err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if c.store == nil {
		return nil, errors.New("no object store configured")
	}
	mc, err := c.store(ctx)
	if err != nil {
		return nil, err
	}
	st := &snapshot.Store{Client: mc, Bucket: s3client.SnapshotBucket, Prefix: s.Namespace + "/"}
	ctrl.LoggerFrom(ctx).Info("Copying volume into snapshot", "snapshot", s.Status.SnapshotID, "bytes", fi.Size())
	return st.Save(ctx, s.Status.SnapshotID, f, fi.Size(), c.progress(ctx, s))
}

// progressPatch sets a snapshot's progress only while it is still pending, so a report can
// never take a finished snapshot's progress back (a lagging cache may start a second copy of
// one this agent has just completed).
func progressPatch(pct int32) []byte {
	return fmt.Appendf(nil, `[{"op":"test","path":"/status/state","value":%q},{"op":"add","path":"/status/progress","value":%d}]`,
		cloudv1.SnapshotPending, pct)
}

// progress reports the copy's progress in percent, throttled; Save calls it from several
// goroutines.
func (c *snapshotCopy) progress(ctx context.Context, s *cloudv1.Snapshot) snapshot.Progress {
	var mu sync.Mutex
	var last time.Time
	reported := s.Status.Progress
	target := s.DeepCopy()
	return func(done, total int64) {
		if total <= 0 {
			return
		}
		pct := int32(done * 100 / total)
		mu.Lock()
		defer mu.Unlock()
		now := c.clock.Now()
		if pct <= reported || pct >= 100 || now.Sub(last) < progressInterval {
			return
		}
		if err := c.client.Status().Patch(ctx, target, client.RawPatch(types.JSONPatchType, progressPatch(pct))); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Reporting snapshot progress")
			return
		}
		last, reported = now, pct
	}
}
