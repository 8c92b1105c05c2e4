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

// Package quotapending finishes the quota decisions of EC2 calls that stopped half-way. The EC2
// API creates an address, a volume or an image marked quota-pending, admits it through the
// project's ledger and then drops the mark, or withdraws the object if the quota refuses it. A
// manager that crashes between the create and the decision leaves a pending object that counts
// for nothing in the quota. Once its creator's grace is over, this controller makes the decision
// the creator would have made: admitted, the mark goes; refused, the object is withdrawn (its
// caller never got an answer, so no one holds its id). Instances are decided by the instance
// controller itself (their QuotaAdmitted condition).
package quotapending

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/quota"
)

const (
	// CreatorGrace is how long an object stays with its creator (an EC2 call) before its creator
	// is taken to have crashed. Calls wait for the ledger for seconds, never a minute.
	CreatorGrace = time.Minute
	// admissionTimeout bounds how long one reconcile retries the ledger against racing
	// admissions before it returns the error and backs off.
	admissionTimeout = 5 * time.Second
)

// Kind is a quota'd kind whose objects the EC2 API creates marked pending.
type Kind struct {
	// Name names the controller ("address", "volume").
	Name string
	// New returns an empty object of the kind.
	New func() client.Object
	// Gate is the kind's quota gate in a project.
	Gate func(project string, q cloudv1.ProjectQuota) *quota.Gate
}

// Addresses, Volumes and Images are the kinds the EC2 API marks pending besides instances
// (and snapshots, whose controller admits them as it admits those made with kubectl).
var (
	Addresses = Kind{Name: "address", New: func() client.Object { return &cloudv1.Address{} }, Gate: quota.Addresses}
	Volumes   = Kind{Name: "volume", New: func() client.Object { return &cloudv1.Volume{} }, Gate: quota.Volumes}
	Images    = Kind{Name: "image", New: func() client.Object { return &cloudv1.Image{} }, Gate: quota.Images}
)

// Reconciler decides the pending objects of one kind whose creator is gone.
type Reconciler struct {
	Kind   Kind
	Client client.Client
	// APIReader reads the API server itself, as the ledger must.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=addresses;volumes;images,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update

// Reconcile admits or withdraws one pending object once its creator's grace is over.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := r.Kind.New()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !quota.IsMarkedPending(obj) || !obj.GetDeletionTimestamp().IsZero() {
		return reconcile.Result{}, nil
	}
	if wait := obj.GetCreationTimestamp().Add(CreatorGrace).Sub(r.Clock.Now()); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	logger := log.FromContext(ctx)
	q, err := quota.Of(ctx, r.APIReader, obj.GetNamespace())
	if err != nil {
		return reconcile.Result{}, err
	}
	gate := r.Kind.Gate(obj.GetNamespace(), q)
	if !gate.Unlimited() {
		ledger := &quota.Ledger{Reader: r.APIReader, Writer: r.Client}
		admitted, refused, err := ledger.Admit(ctx, gate, []string{obj.GetName()}, 1, admissionTimeout)
		if err != nil {
			return reconcile.Result{}, err
		}
		if len(admitted) == 0 {
			if refused == nil {
				return reconcile.Result{}, nil // withdrawn meanwhile
			}
			return reconcile.Result{}, r.withdraw(ctx, obj, refused)
		}
	}
	logger.Info("Admitting an object its creator left quota-pending")
	if err := quota.Unmark(ctx, r.Client, obj); err != nil {
		return reconcile.Result{}, fmt.Errorf("dropping the quota-pending mark of %s: %w", obj.GetName(), err)
	}
	return reconcile.Result{}, nil
}

// withdraw deletes an object the quota refused, as its creator would have.
func (r *Reconciler) withdraw(ctx context.Context, obj client.Object, refused *quota.Exceeded) error {
	log.FromContext(ctx).Info("Withdrawing an object its creator left quota-pending", "limit", refused.Limit.Field)
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, "Warning", cloudv1.ReasonQuotaExceeded, "Withdraw",
			"Withdrawn: its creator stopped before deciding, and %s", refused.Error())
	}
	uid := obj.GetUID()
	err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid})
	if err = client.IgnoreNotFound(err); err != nil {
		return fmt.Errorf("withdrawing %s: %w", obj.GetName(), err)
	}
	return nil
}

// SetupWithManager registers the reconciler for the objects marked pending.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(r.Kind.New(), builder.WithPredicates(predicate.NewPredicateFuncs(quota.IsMarkedPending))).
		Named("quotapending-" + r.Kind.Name).
		Complete(r)
}
