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

// Package address holds the Address reconciler: it claims an elastic IP from a pool (exclusively,
// through internal/ipam), keeps it until the Address is deleted, and records the association with
// an instance in the Address and in the instance's status.publicIpAddress. Node agents realise the
// association as NAT.
package address

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/refs"
)

// AddressFinalizer is held until the address's claim is released.
const AddressFinalizer = "cloud.pinet.io/address"

// admissionTimeout bounds how long one reconcile retries the quota ledger against racing
// admissions before it returns the error and backs off.
const admissionTimeout = 5 * time.Second

// Reconciler reconciles Addresses.
type Reconciler struct {
	Client client.Client
	// APIReader re-reads an instance before its public IP is cleared: the cache may not show yet
	// the IP this controller set a moment ago, and a stale "already clear" would leave it there.
	APIReader client.Reader
	Allocator *ipam.Allocator
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Claims makes allocation ids exclusive across the cluster.
	Claims *claims.Claimer
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=addresses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=addresses/status;addresses/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=addresspools,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=projects,verbs=get;list;watch

// Reconcile allocates, associates or releases one address.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	a := &cloudv1.Address{}
	if err := r.Client.Get(ctx, req.NamespacedName, a); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if a.Status.PublicIP != "" {
		// Associating and releasing move an elastic IP between instances, from the instance the
		// status records: that must be the newest record, and the cache can lag this
		// controller's own last write of it (the next reconcile often starts at once).
		if err := r.APIReader.Get(ctx, req.NamespacedName, a); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	helper, err := patch.NewHelper(a, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := metav1.NewTime(r.Clock.Now())
	defer func() {
		if a.DeletionTimestamp.IsZero() {
			setReady(a, reterr, now)
		}
		if err := helper.Patch(ctx, a); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()

	if !a.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.reconcileDelete(ctx, a)
	}
	if !controllerutil.ContainsFinalizer(a, AddressFinalizer) {
		controllerutil.AddFinalizer(a, AddressFinalizer)
		return reconcile.Result{}, nil
	}
	if a.Status.AllocationID == "" {
		id, _, err := r.Claims.Assign(ctx, ids.Allocation, a.Name, claims.HolderOf("Address", a))
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("assigning an allocation id: %w", err)
		}
		a.Status.AllocationID = id
	}
	if a.Status.PublicIP == "" {
		if ok, err := r.admit(ctx, a, now); err != nil || !ok {
			return reconcile.Result{}, err
		}
		// The status write of the new IP brings the address back to be associated, read afresh.
		return reconcile.Result{}, r.allocate(ctx, a, now)
	}
	return reconcile.Result{}, r.associate(ctx, a, now)
}

// admit holds an address made with kubectl to its project's quota before it takes an IP of a
// pool every project draws on (an EC2 call admits its own). Over the quota it waits, with no IP
// and AddressAllocated=False/QuotaExceeded, until an address of the project goes or the quota
// grows.
func (r *Reconciler) admit(ctx context.Context, a *cloudv1.Address, now metav1.Time) (bool, error) {
	q, err := quota.Of(ctx, r.Client, a.Namespace)
	if err != nil {
		return false, err
	}
	// The ledger decides from the API server's objects, not the cache's.
	ledger := &quota.Ledger{Reader: r.APIReader, Writer: r.Client}
	ok, refused, err := ledger.AdmitMade(ctx, quota.Addresses(a.Namespace, q), a, admissionTimeout)
	if err != nil || ok || refused == nil {
		return ok, err
	}
	before := conditions.Get(a, cloudv1.AddressAllocated)
	conditions.MarkFalse(a, cloudv1.AddressAllocated, cloudv1.ReasonQuotaExceeded, refused.Error(), now)
	if r.Recorder != nil && (before == nil || before.Reason != cloudv1.ReasonQuotaExceeded) {
		r.Recorder.Eventf(a, nil, "Warning", cloudv1.ReasonQuotaExceeded, "Allocate", "%s", refused.Error())
	}
	return false, nil
}

func (r *Reconciler) allocate(ctx context.Context, a *cloudv1.Address, now metav1.Time) error {
	pool, err := r.pool(ctx, a)
	if errors.Is(err, refs.ErrNotFound) {
		conditions.MarkFalse(a, cloudv1.AddressAllocated, cloudv1.ReasonPoolNotFound, err.Error(), now)
		return nil
	}
	if err != nil {
		return err
	}
	set, err := ipam.NewSet(pool.Name, pool.Spec.CIDRs, pool.Spec.Exclude)
	if err != nil {
		return err
	}
	ip, err := r.Allocator.Allocate(ctx, set, string(a.UID))
	if errors.Is(err, ipam.ErrExhausted) {
		conditions.MarkFalse(a, cloudv1.AddressAllocated, cloudv1.ReasonPoolExhausted,
			fmt.Sprintf("Every address of pool %s is allocated", pool.Name), now)
		return nil
	}
	if err != nil {
		return err
	}
	a.Status.PublicIP, a.Status.Pool = ip.String(), pool.Name
	conditions.MarkTrue(a, cloudv1.AddressAllocated, cloudv1.ReasonReady, fmt.Sprintf("Allocated from pool %s", pool.Name), now)
	if r.Recorder != nil {
		r.Recorder.Eventf(a, nil, "Normal", "Allocated", "Allocate", "Allocated %s from pool %s", ip, pool.Name)
	}
	return nil
}

// pool returns the named pool, or the default one.
func (r *Reconciler) pool(ctx context.Context, a *cloudv1.Address) (*cloudv1.AddressPool, error) {
	if a.Spec.Pool != "" {
		p := &cloudv1.AddressPool{}
		if err := r.Client.Get(ctx, client.ObjectKey{Name: a.Spec.Pool}, p); err != nil {
			if client.IgnoreNotFound(err) == nil {
				return nil, fmt.Errorf("address pool %s: %w", a.Spec.Pool, refs.ErrNotFound)
			}
			return nil, err
		}
		return p, nil
	}
	pools := &cloudv1.AddressPoolList{}
	if err := r.Client.List(ctx, pools); err != nil {
		return nil, err
	}
	for i := range pools.Items {
		if pools.Items[i].Spec.Default {
			return &pools.Items[i], nil
		}
	}
	return nil, fmt.Errorf("no default address pool: %w", refs.ErrNotFound)
}

// reconcileDelete takes the IP off every instance that shows it, then gives it back to the pool.
func (r *Reconciler) reconcileDelete(ctx context.Context, a *cloudv1.Address) error {
	if err := r.withdraw(ctx, a, ""); err != nil {
		return err
	}
	if a.Status.Pool != "" {
		if err := r.Allocator.Release(ctx, a.Status.Pool, string(a.UID)); err != nil {
			return err
		}
	}
	if err := r.Claims.ReleaseAll(ctx, a.UID); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(a, AddressFinalizer)
	return nil
}

func setReady(a *cloudv1.Address, err error, now metav1.Time) {
	if err == nil {
		a.Status.ObservedGeneration = a.Generation
	}
	switch {
	case err != nil:
		conditions.MarkFalse(a, cloudv1.ReadyCondition, cloudv1.ReasonInternalError, "Reconciling the address failed; see the manager's log", now)
	case !conditions.IsTrue(a, cloudv1.AddressAllocated):
		c := conditions.Get(a, cloudv1.AddressAllocated)
		if c == nil {
			conditions.MarkFalse(a, cloudv1.ReadyCondition, cloudv1.ReasonPending, "Allocating", now)
			return
		}
		conditions.MarkFalse(a, cloudv1.ReadyCondition, c.Reason, c.Message, now)
	default:
		conditions.MarkTrue(a, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", now)
	}
}

// SetupWithManager registers the reconciler; instance changes update associations, and a pool
// appearing or growing retries addresses waiting for one.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.Address{}).
		Watches(&cloudv1.Instance{}, handler.EnqueueRequestsFromMapFunc(r.addressesOf)).
		Watches(&cloudv1.AddressPool{}, handler.EnqueueRequestsFromMapFunc(r.unallocated)).
		// An address going, or a project's quota changing, may make room for one waiting.
		Watches(&cloudv1.Address{}, handler.Funcs{DeleteFunc: r.released}).
		Watches(&cloudv1.Project{}, handler.EnqueueRequestsFromMapFunc(r.unallocated)).
		Named("address").
		// Addresses are allocated side by side: each claim is exclusive through the API server
		// (one Lease per IP, named by it), so racing workers only skip what another took. One
		// worker at a time could not keep up with a burst of AllocateAddress calls, which then
		// timed out and were withdrawn, adding work.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}

// released enqueues the addresses without an IP of the project whose address went.
func (r *Reconciler) released(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	for _, req := range r.unallocatedIn(ctx, e.Object.GetNamespace()) {
		q.Add(req)
	}
}

// unallocated enqueues the addresses without an IP: of every project when a pool changes, of the
// project when its quota does.
func (r *Reconciler) unallocated(ctx context.Context, o client.Object) []reconcile.Request {
	if p, ok := o.(*cloudv1.Project); ok {
		return r.unallocatedIn(ctx, p.Name)
	}
	return r.unallocatedIn(ctx, "")
}

func (r *Reconciler) unallocatedIn(ctx context.Context, namespace string) []reconcile.Request {
	list := &cloudv1.AddressList{}
	if err := r.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Status.PublicIP == "" {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
