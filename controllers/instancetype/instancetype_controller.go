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

// Package instancetype holds the InstanceType reconciler, which tells operators whether a type
// fits on any hypervisor, and the default types a new cloud is seeded with.
package instancetype

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/patch"
)

// ReasonFitsNoHypervisor: no registered hypervisor is big enough for one instance of the type.
const ReasonFitsNoHypervisor = "FitsNoHypervisor"

// Defaults are the instance types a new cloud starts with.
func Defaults() []cloudv1.InstanceType {
	mk := func(name string, vcpus, memMiB, rootGiB, ephGiB, swapMiB int32, class cloudv1.InstanceClass, cpuOver int32) cloudv1.InstanceType {
		return cloudv1.InstanceType{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: cloudv1.InstanceTypeSpec{
				VCPUs: vcpus, MemoryMiB: memMiB, RootDiskGiB: rootGiB, EphemeralDiskGiB: ephGiB, SwapMiB: swapMiB,
				Class: class, CPUOvercommit: cpuOver, MemoryOvercommit: 1,
			},
		}
	}
	return []cloudv1.InstanceType{
		mk("m1.tiny", 1, 512, 1, 0, 0, cloudv1.InstanceClassTiny, 5),
		mk("m1.small", 1, 2048, 10, 20, 512, cloudv1.InstanceClassStandard, 1),
		mk("m1.medium", 2, 4096, 20, 40, 1024, cloudv1.InstanceClassStandard, 1),
		mk("m1.large", 4, 8192, 40, 80, 2048, cloudv1.InstanceClassStandard, 1),
		mk("m1.xlarge", 8, 16384, 80, 160, 4096, cloudv1.InstanceClassStandard, 1),
	}
}

// Seeder creates the default instance types when the cloud has none, so that an operator's
// deletions and edits survive a restart.
type Seeder struct {
	Client client.Client
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instancetypes,verbs=get;list;watch;create

// Start seeds the types; it runs once when the manager starts.
func (s *Seeder) Start(ctx context.Context) error {
	list := &cloudv1.InstanceTypeList{}
	if err := s.Client.List(ctx, list, client.Limit(1)); err != nil {
		return fmt.Errorf("listing instance types: %w", err)
	}
	if len(list.Items) > 0 {
		return nil
	}
	for _, it := range Defaults() {
		log.FromContext(ctx).Info("Seeding instance type", "instanceType", it.Name)
		if err := s.Client.Create(ctx, &it); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("seeding instance type %s: %w", it.Name, err)
		}
	}
	return nil
}

// NeedLeaderElection makes only the leader seed.
func (s *Seeder) NeedLeaderElection() bool { return true }

// Reconciler reconciles InstanceTypes.
type Reconciler struct {
	Client client.Client
	Clock  clock.PassiveClock
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instancetypes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors,verbs=get;list;watch

// Reconcile sets Ready: True when at least one hypervisor could host one instance of the type.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	it := &cloudv1.InstanceType{}
	if err := r.Client.Get(ctx, req.NamespacedName, it); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(it, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, it); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()

	hvs := &cloudv1.HypervisorList{}
	if err := r.Client.List(ctx, hvs); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing hypervisors: %w", err)
	}
	now := metav1.NewTime(r.Clock.Now())
	fits := 0
	for _, hv := range hvs.Items {
		if hv.Status.Capacity.VCPUs*max(it.Spec.CPUOvercommit, 1) >= it.Spec.VCPUs &&
			hv.Status.Capacity.MemoryMiB*int64(max(it.Spec.MemoryOvercommit, 1)) >= int64(it.Spec.MemoryMiB) {
			fits++
		}
	}
	if fits == 0 {
		conditions.MarkFalse(it, cloudv1.ReadyCondition, ReasonFitsNoHypervisor,
			fmt.Sprintf("None of %d hypervisors has %d vCPUs and %d MiB for one instance", len(hvs.Items), it.Spec.VCPUs, it.Spec.MemoryMiB), now)
	} else {
		conditions.MarkTrue(it, cloudv1.ReadyCondition, cloudv1.ReasonReady, fmt.Sprintf("Fits on %d of %d hypervisors", fits, len(hvs.Items)), now)
	}
	it.Status.ObservedGeneration = it.Generation
	return reconcile.Result{}, nil
}

// SetupWithManager registers the reconciler; a hypervisor's capacity change re-checks every type.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.InstanceType{}).
		Watches(&cloudv1.Hypervisor{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			list := &cloudv1.InstanceTypeList{}
			if err := r.Client.List(ctx, list); err != nil {
				log.FromContext(ctx).Error(err, "Listing instance types")
				return nil
			}
			reqs := make([]reconcile.Request, 0, len(list.Items))
			for i := range list.Items {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
			return reqs
		}), builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool {
				return e.ObjectOld.(*cloudv1.Hypervisor).Status.Capacity != e.ObjectNew.(*cloudv1.Hypervisor).Status.Capacity
			},
		})).
		Named("instancetype").
		Complete(r)
}
