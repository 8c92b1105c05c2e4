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

// Package snapshot holds the Snapshot reconciler. It gives a snapshot its snap- id (claimed
// cluster-wide like every EC2 id), finds its volume among its own project's volumes only, and
// hands the copy to the storage node that exports the volume (status.node, and the label
// cloud.pinet.io/storage-node its agent's cache selects by); that node's agent
// writes the chunks and reports progress. Deleting a snapshot removes its objects from the store.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/internal/snapshot"
)

// Finalizer is held until the snapshot's objects and id claim are gone.
const Finalizer = "cloud.pinet.io/snapshot"

// Bucket is the system bucket snapshots are kept in, under "<project>/<snap-id>/": only the
// system reaches it, so a snapshot is private to its project by construction.
const Bucket = s3client.SnapshotBucket

// copyGrace is how long a deleted snapshot still being copied waits for its storage node to stop
// before its objects are removed anyway (the node may be gone for good).
const copyGrace = 10 * time.Minute

// Reconciler reconciles Snapshots.
type Reconciler struct {
	Client client.Client
	// APIReader reads the API server itself, as the quota ledger must.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Claims makes snapshot ids exclusive across the cluster.
	Claims *claims.Claimer
	// Store returns a client of the object store acting as the system user; nil when the cloud
	// runs without one (the objects then cannot exist).
	Store func(context.Context) (*minio.Client, error)
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=snapshots,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=snapshots/status;snapshots/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes;images,verbs=get;list;watch

// Reconcile assigns, places or removes one snapshot.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	s := &cloudv1.Snapshot{}
	if err := r.Client.Get(ctx, req.NamespacedName, s); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(s, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := metav1.NewTime(r.Clock.Now())
	defer func() {
		if s.DeletionTimestamp.IsZero() {
			setReady(s, reterr, now)
		}
		if err := helper.Patch(ctx, s); err != nil && !(apierrors.IsNotFound(err) && !s.DeletionTimestamp.IsZero()) {
			reterr = errors.Join(reterr, err)
		}
	}()
	if !s.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s, now)
	}
	if !controllerutil.ContainsFinalizer(s, Finalizer) {
		controllerutil.AddFinalizer(s, Finalizer)
	}
	if s.Status.State == "" {
		if res, ok, err := r.admitQuota(ctx, s, now); err != nil || !ok {
			return res, err
		}
	}
	if s.Status.SnapshotID == "" {
		id, _, err := r.Claims.Assign(ctx, ids.Snapshot, s.Name, claims.HolderOf("Snapshot", s))
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("assigning a snapshot id: %w", err)
		}
		s.Status.SnapshotID = id
	}
	if err := r.recordImages(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	if s.Spec.SourceSnapshotID != "" {
		if s.Status.State == "" || s.Status.State == cloudv1.SnapshotPending {
			return r.copySnapshot(ctx, s, now)
		}
		return reconcile.Result{}, nil
	}
	if s.Status.State == "" || (s.Status.State == cloudv1.SnapshotPending && s.Status.Node == "") {
		return reconcile.Result{}, r.place(ctx, s, now)
	}
	return reconcile.Result{}, nil
}

// place hands the copy to the node exporting the volume, once the volume is found in the
// snapshot's own project and has storage.
func (r *Reconciler) place(ctx context.Context, s *cloudv1.Snapshot, now metav1.Time) error {
	s.Status.State = cloudv1.SnapshotPending
	if s.Status.StartTime == nil {
		s.Status.StartTime = &now
	}
	list := &cloudv1.VolumeList{}
	if err := r.Client.List(ctx, list, client.InNamespace(s.Namespace), client.MatchingFields{index.VolumeID: s.Spec.VolumeID}); err != nil {
		return fmt.Errorf("finding volume %s: %w", s.Spec.VolumeID, err)
	}
	if len(list.Items) == 0 || !list.Items[0].DeletionTimestamp.IsZero() {
		s.Status.State = cloudv1.SnapshotError
		msg := fmt.Sprintf("Volume %s does not exist in project %s", s.Spec.VolumeID, s.Namespace)
		conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonVolumeNotFound, msg, now)
		// An error snapshot is never placed again: only a new snapshot can do better.
		conditions.MarkTrue(s, cloudv1.StalledCondition, cloudv1.ReasonVolumeNotFound, msg, now)
		return nil
	}
	v := &list.Items[0]
	s.Status.VolumeSizeGiB = v.GivenSizeGiB()
	if v.Status.AoE == nil || v.Status.AoE.Node == "" {
		conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonVolumeNotExported,
			fmt.Sprintf("Volume %s has no storage yet; the snapshot starts when it has", s.Spec.VolumeID), now)
		return nil
	}
	if err := r.ensureBucket(ctx); err != nil {
		return err
	}
	s.Status.Node = v.Status.AoE.Node
	// The node's agent watches only the snapshots labelled with its node.
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[cloudv1.LabelStorageNode] = s.Status.Node
	return nil
}

// ensureBucket makes the snapshot bucket (as the system, so it belongs to no project) before a
// storage node is asked to write into it; the node's credential may not create buckets.
func (r *Reconciler) ensureBucket(ctx context.Context) error {
	if r.Store == nil {
		return nil
	}
	mc, err := r.Store(ctx)
	if err != nil {
		return err
	}
	return s3client.EnsureSystemBucket(ctx, mc, Bucket)
}

func (r *Reconciler) reconcileDelete(ctx context.Context, s *cloudv1.Snapshot, now metav1.Time) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(s, Finalizer) {
		return reconcile.Result{}, nil
	}
	// A node still copying would write chunks after they were removed: let it notice the
	// deletion and stop, for a while.
	if s.Status.State == cloudv1.SnapshotPending && s.Status.Node != "" {
		if wait := s.DeletionTimestamp.Add(copyGrace).Sub(now.Time); wait > 0 {
			return reconcile.Result{RequeueAfter: wait}, nil
		}
	}
	// Volumes still being filled from it keep its objects (for a while): they are their
	// projects', and outlive it.
	if wait, err := r.awaitRestores(ctx, s, now); err != nil || wait != 0 {
		return reconcile.Result{RequeueAfter: max(wait, 0)}, err
	}
	if s.Status.SnapshotID != "" && r.Store != nil {
		mc, err := r.Store(ctx)
		if err != nil {
			return reconcile.Result{}, err
		}
		store := &snapshot.Store{Client: mc, Bucket: Bucket, Prefix: s.Namespace + "/"}
		// The store wraps the S3 error: minio.ToErrorResponse alone would not see through it.
		var s3err minio.ErrorResponse
		if err := store.Delete(ctx, s.Status.SnapshotID); err != nil && !(errors.As(err, &s3err) && s3err.Code == "NoSuchBucket") {
			return reconcile.Result{}, fmt.Errorf("deleting the objects of %s: %w", s.Status.SnapshotID, err)
		}
	}
	if err := r.Claims.ReleaseAll(ctx, s.UID); err != nil {
		return reconcile.Result{}, err
	}
	controllerutil.RemoveFinalizer(s, Finalizer)
	return reconcile.Result{}, nil
}

func setReady(s *cloudv1.Snapshot, err error, now metav1.Time) {
	if err == nil {
		s.Status.ObservedGeneration = s.Generation
	}
	switch {
	case err != nil:
		conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonInternalError, "Reconciling the snapshot failed; see the manager's log", now)
	case s.Status.State == cloudv1.SnapshotCompleted:
		conditions.MarkTrue(s, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", now)
	case s.Status.State == cloudv1.SnapshotError && s.Status.Node != "":
		msg := fmt.Sprintf("Node %s could not copy the volume; see its agent's log", s.Status.Node)
		conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonSnapshotFailed, msg, now)
		// An error snapshot is never copied again: only a new snapshot can do better.
		conditions.MarkTrue(s, cloudv1.StalledCondition, cloudv1.ReasonSnapshotFailed, msg, now)
	case s.Status.State == cloudv1.SnapshotPending && s.Status.Node != "":
		conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonPending,
			fmt.Sprintf("Node %s is copying the volume", s.Status.Node), now)
	}
}

// SetupWithManager registers the reconciler; a volume gaining storage starts the snapshots that
// wait for it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.Snapshot{}).
		Watches(&cloudv1.Volume{}, handler.EnqueueRequestsFromMapFunc(r.waitingOn)).
		Watches(&cloudv1.Volume{}, handler.EnqueueRequestsFromMapFunc(r.restoredFrom)).
		Watches(&cloudv1.Image{}, handler.EnqueueRequestsFromMapFunc(r.mappedBy)).
		Watches(&cloudv1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(r.copiesOf)).
		Watches(&cloudv1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(r.sourceOf)).
		Watches(&cloudv1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.waitingForQuota(ctx, o.GetNamespace())
		})).
		Watches(&cloudv1.Project{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.waitingForQuota(ctx, o.GetName())
		})).
		Named("snapshot").
		Complete(r)
}

// waitingOn enqueues the snapshots of the volume that have no node yet.
func (r *Reconciler) waitingOn(ctx context.Context, o client.Object) []reconcile.Request {
	v := o.(*cloudv1.Volume)
	if v.Status.VolumeID == "" {
		return nil
	}
	return r.snapshotsWhere(ctx, func(s *cloudv1.Snapshot) bool { return s.Status.Node == "" },
		client.InNamespace(v.Namespace), client.MatchingFields{index.SnapshotVolume: v.Status.VolumeID})
}

// snapshotsWhere enqueues the snapshots that the options list and keep keeps.
func (r *Reconciler) snapshotsWhere(ctx context.Context, keep func(*cloudv1.Snapshot) bool, opts ...client.ListOption) []reconcile.Request {
	list := &cloudv1.SnapshotList{}
	if err := r.Client.List(ctx, list, opts...); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if s := &list.Items[i]; keep(s) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(s)})
		}
	}
	return reqs
}
