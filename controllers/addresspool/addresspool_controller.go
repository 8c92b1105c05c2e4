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

// Package addresspool holds the AddressPool reconciler: it counts a pool's addresses and claims.
package addresspool

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/patch"
)

// ReasonExhausted: every address of the pool is allocated.
const ReasonExhausted = "Exhausted"

// Reconciler reconciles AddressPools.
type Reconciler struct {
	Client    client.Client
	Allocator *ipam.Allocator
	Clock     clock.PassiveClock
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=addresspools,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=addresspools/status,verbs=get;update;patch

// Reconcile counts one pool.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	p := &cloudv1.AddressPool{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(p, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, p); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()
	set, err := ipam.NewSet(p.Name, p.Spec.CIDRs, p.Spec.Exclude)
	if err != nil {
		return reconcile.Result{}, err
	}
	claims, err := r.Allocator.Claims(ctx, p.Name)
	if err != nil {
		return reconcile.Result{}, err
	}
	p.Status.Total, p.Status.Allocated = set.Size(), int64(len(claims))
	now := metav1.NewTime(r.Clock.Now())
	if p.Status.Allocated >= p.Status.Total {
		conditions.MarkFalse(p, cloudv1.ReadyCondition, ReasonExhausted, fmt.Sprintf("All %d addresses are allocated", p.Status.Total), now)
	} else {
		conditions.MarkTrue(p, cloudv1.ReadyCondition, cloudv1.ReasonReady, fmt.Sprintf("%d of %d addresses free", p.Status.Total-p.Status.Allocated, p.Status.Total), now)
	}
	p.Status.ObservedGeneration = p.Generation
	return reconcile.Result{}, nil
}

// SetupWithManager registers the reconciler; address changes recount their pool.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.AddressPool{}).
		Watches(&cloudv1.Address{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if pool := o.(*cloudv1.Address).Status.Pool; pool != "" {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: pool}}}
			}
			return nil
		})).
		Named("addresspool").
		Complete(r)
}
