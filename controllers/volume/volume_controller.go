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

// Package volume holds the Volume reconciler. It gives a volume its vol- id (claimed cluster-wide
// like every EC2 id), resolves the snapshot it starts from among its own project's snapshots,
// places it on a Ready storage node of its zone with room, claims an AoE address (shelf.slot)
// exclusively cluster-wide, labels it for the storage node's agent (and, while it is attached, for
// the agent of the instance's node), and derives its EC2 state and Ready from what the agents
// report (conditions Exported and Attached, status.attachment). Deleting a volume waits until it
// is detached and its storage node removed the export and the backing file; then its address is
// released.
package volume

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/patch"
)

// DefaultNodeLostTimeout is how long a deleted volume's storage node may be gone or not Ready
// before the volume's address is released without the node's cleanup.
const DefaultNodeLostTimeout = 5 * time.Minute

// retryExhausted is when a volume that found no free AoE address looks again.
const retryExhausted = time.Minute

// admissionTimeout bounds how long one reconcile retries the quota ledger against racing
// admissions before it returns the error and backs off.
const admissionTimeout = 5 * time.Second

// Reconciler reconciles Volumes.
type Reconciler struct {
	Client client.Client
	// APIReader reads the volumes placed on storage nodes straight from the API server when
	// placing one, so a burst of volumes is never placed against a stale view.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Claims makes volume ids exclusive across the cluster.
	Claims *claims.Claimer
	// Allocator claims AoE addresses; Shelves are the shelves it hands out.
	Allocator *ipam.Allocator
	Shelves   ipam.AoEShelves
	// NodeLostTimeout: see DefaultNodeLostTimeout.
	NodeLostTimeout time.Duration
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes/status;volumes/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=snapshots;hypervisors;instances;images;projects,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update

// scope is what one reconcile found out.
type scope struct {
	v   *cloudv1.Volume
	now metav1.Time
	// blocked is the reason (and message) the volume cannot be placed, if any.
	blocked, blockedMsg string
	// fatal marks a blocked volume that only a new volume can fix (state error).
	fatal bool
}

// Reconcile places, labels, derives the state of, or removes one volume.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	v := &cloudv1.Volume{}
	if err := r.Client.Get(ctx, req.NamespacedName, v); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(v, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	sc := &scope{v: v, now: metav1.NewTime(r.Clock.Now())}
	defer func() {
		setStatus(sc, reterr)
		if err := helper.Patch(ctx, v); err != nil && !(apierrors.IsNotFound(err) && !v.DeletionTimestamp.IsZero()) {
			reterr = errors.Join(reterr, err)
		}
	}()
	if !v.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, sc)
	}
	if !controllerutil.ContainsFinalizer(v, cloudv1.VolumeFinalizer) {
		controllerutil.AddFinalizer(v, cloudv1.VolumeFinalizer)
		return reconcile.Result{}, nil
	}
	if v.Status.VolumeID == "" {
		// A volume named by an id another object holds (made with kubectl in another project,
		// say) gets a fresh one; the claim goes with the volume's finalizer.
		id, _, err := r.Claims.Assign(ctx, ids.Volume, v.Name, claims.HolderOf("Volume", v))
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("assigning a volume id: %w", err)
		}
		v.Status.VolumeID = id
	}
	res, err := r.place(ctx, sc)
	if err != nil {
		return reconcile.Result{}, err
	}
	if err := r.labelAttachNode(ctx, sc); err != nil {
		return reconcile.Result{}, err
	}
	return res, nil
}

// reconcileDelete waits until the volume is detached and its storage node removed the export,
// then releases the address and lets the volume go.
func (r *Reconciler) reconcileDelete(ctx context.Context, sc *scope) (reconcile.Result, error) {
	v := sc.v
	if !controllerutil.ContainsFinalizer(v, cloudv1.VolumeFinalizer) {
		return reconcile.Result{}, nil
	}
	if err := r.labelAttachNode(ctx, sc); err != nil {
		return reconcile.Result{}, err
	}
	if attached(v) {
		return reconcile.Result{}, nil // the attach agent's report brings it back
	}
	if v.Status.AoE != nil {
		wait, err := r.exportGone(ctx, sc)
		if err != nil || wait != 0 {
			return reconcile.Result{RequeueAfter: max(wait, 0)}, err
		}
	}
	if err := r.Allocator.Release(ctx, ipam.AoELabel, string(v.UID)); err != nil {
		return reconcile.Result{}, fmt.Errorf("releasing the AoE address of %s: %w", v.Name, err)
	}
	if v.Status.AoE != nil && r.Recorder != nil {
		r.Recorder.Eventf(v, nil, "Normal", "Released", "Delete", "Released AoE address %d.%d", v.Status.AoE.Shelf, v.Status.AoE.Slot)
	}
	if err := r.Claims.ReleaseAll(ctx, v.UID); err != nil {
		return reconcile.Result{}, err
	}
	controllerutil.RemoveFinalizer(v, cloudv1.VolumeFinalizer)
	return reconcile.Result{}, nil
}

// exportGone says whether the storage node has removed the volume's export and backing file
// (its agent reports Exported=False, reason Unexported), or has been gone or not Ready for
// longer than NodeLostTimeout. It returns how long to wait otherwise (-1: until an event).
func (r *Reconciler) exportGone(ctx context.Context, sc *scope) (time.Duration, error) {
	v := sc.v
	if c := conditionOf(v, cloudv1.VolumeExported); c != nil && c.Status == metav1.ConditionFalse && c.Reason == cloudv1.ReasonUnexported {
		return 0, nil
	}
	hv := &cloudv1.Hypervisor{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: v.Status.AoE.Node}, hv)
	switch {
	case apierrors.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("reading storage node %s: %w", v.Status.AoE.Node, err)
	}
	ready := conditionOf(hv, cloudv1.ReadyCondition)
	if ready == nil || ready.Status == metav1.ConditionTrue {
		return -1, nil
	}
	timeout := r.NodeLostTimeout
	if timeout == 0 {
		timeout = DefaultNodeLostTimeout
	}
	if left := ready.LastTransitionTime.Add(timeout).Sub(sc.now.Time); left > 0 {
		return left, nil
	}
	return 0, nil
}

// SetupWithManager registers the reconciler. Hypervisor changes and volumes going retry the
// volumes waiting for a storage node; instance changes relabel the volumes attached to them; snapshots completing
// start the volumes made from them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Shelves == (ipam.AoEShelves{}) {
		r.Shelves = ipam.AoEShelves{First: 1, Last: 100}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.Volume{}).
		Watches(&cloudv1.Hypervisor{}, handler.EnqueueRequestsFromMapFunc(r.unplaced)).
		Watches(&cloudv1.Volume{}, handler.Funcs{DeleteFunc: r.freed}).
		Watches(&cloudv1.Instance{}, handler.EnqueueRequestsFromMapFunc(r.attachedTo)).
		Watches(&cloudv1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(r.madeFrom)).
		// A project's quota growing may make room for its volumes waiting over it.
		Watches(&cloudv1.Project{}, handler.EnqueueRequestsFromMapFunc(r.unplacedOf)).
		Named("volume").
		Complete(r)
}
