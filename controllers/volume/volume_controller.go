/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package volume holds the Volume reconciler. For now it gives a volume its vol- id, claimed
// cluster-wide like every EC2 id; storage, export and attachment come with the AoE volume work.
package volume

import (
	"context"
	"errors"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/patch"
)

// Reconciler reconciles Volumes.
type Reconciler struct {
	Client client.Client
	// Claims makes volume ids exclusive across the cluster.
	Claims *claims.Claimer
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes/status,verbs=get;update;patch

// Reconcile gives one volume its id. A volume named by an id another object holds (made with
// kubectl in another project, say) gets a fresh one; the claim goes with the volume (the claim
// sweeper removes it once the volume is gone).
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	v := &cloudv1.Volume{}
	if err := r.Client.Get(ctx, req.NamespacedName, v); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if (v.Status.VolumeID != "" && v.Status.ObservedGeneration == v.Generation) || !v.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	helper, err := patch.NewHelper(v, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, v); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()
	if v.Status.VolumeID == "" {
		id, _, err := r.Claims.Assign(ctx, ids.Volume, v.Name, claims.HolderOf("Volume", v))
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("assigning a volume id: %w", err)
		}
		v.Status.VolumeID = id
	}
	v.Status.ObservedGeneration = v.Generation
	return reconcile.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.Volume{}).
		Named("volume").
		Complete(r)
}
