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

// Package keypair holds the KeyPair reconciler: it gives a key pair its EC2 id, checks the public
// key, and records its type and EC2 fingerprint.
package keypair

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/sshkey"
)

// Reconciler reconciles KeyPairs.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// Claims makes key pair ids exclusive across the cluster.
	Claims *claims.Claimer
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=keypairs,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=keypairs/status,verbs=get;update;patch

// Reconcile computes one key pair's status.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	kp := &cloudv1.KeyPair{}
	if err := r.Client.Get(ctx, req.NamespacedName, kp); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(kp, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, kp); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()
	now := metav1.NewTime(r.Clock.Now())
	if kp.Status.KeyPairID == "" {
		id, _, err := r.Claims.Assign(ctx, ids.KeyPair, kp.Name, claims.HolderOf("KeyPair", kp))
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("assigning a key pair id: %w", err)
		}
		kp.Status.KeyPairID = id
	}
	key, err := sshkey.Parse([]byte(kp.Spec.PublicKey))
	if err != nil {
		// The public key is immutable: this key pair never works.
		conditions.MarkFalse(kp, cloudv1.ReadyCondition, cloudv1.ReasonInvalidPublicKey, err.Error(), now)
		conditions.MarkTrue(kp, cloudv1.StalledCondition, cloudv1.ReasonInvalidPublicKey, err.Error(), now)
		kp.Status.ObservedGeneration = kp.Generation
		return reconcile.Result{}, nil
	}
	fp := kp.Annotations[cloudv1.AnnotationGeneratedFingerprint]
	if fp == "" {
		if fp, err = key.ImportedFingerprint(); err != nil {
			return reconcile.Result{}, err
		}
	}
	kp.Status.KeyType = cloudv1.KeyType(key.Type)
	kp.Status.Fingerprint = fp

	dup, err := r.olderNamesake(ctx, kp)
	if err != nil {
		return reconcile.Result{}, err
	}
	if dup != "" {
		conditions.MarkFalse(kp, cloudv1.ReadyCondition, cloudv1.ReasonDuplicateKeyName,
			fmt.Sprintf("Key pair %s already has the key name %q", dup, kp.EffectiveKeyName()), now)
		kp.Status.ObservedGeneration = kp.Generation
		return reconcile.Result{}, nil
	}
	conditions.MarkTrue(kp, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", now)
	kp.Status.ObservedGeneration = kp.Generation
	return reconcile.Result{}, nil
}

// olderNamesake returns the name of a key pair in the namespace with the same key name that
// comes before kp: the one holding the name (Ready) keeps it, so a newcomer never displaces it;
// between two holders or two newcomers the older wins, then the lower object name. Creation
// timestamps have one-second resolution, which is why holding the name comes first.
func (r *Reconciler) olderNamesake(ctx context.Context, kp *cloudv1.KeyPair) (string, error) {
	list := &cloudv1.KeyPairList{}
	if err := r.Client.List(ctx, list, client.InNamespace(kp.Namespace), client.MatchingFields{index.KeyName: kp.EffectiveKeyName()}); err != nil {
		return "", fmt.Errorf("listing key pairs named %s: %w", kp.EffectiveKeyName(), err)
	}
	holds := conditions.IsTrue(kp, cloudv1.ReadyCondition)
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == kp.UID || !o.DeletionTimestamp.IsZero() || invalidKey(o) {
			continue // going, or never a usable key: it holds no name
		}
		if oHolds := conditions.IsTrue(o, cloudv1.ReadyCondition); oHolds != holds {
			if oHolds {
				return o.Name, nil
			}
			continue
		}
		if o.CreationTimestamp.Before(&kp.CreationTimestamp) || (o.CreationTimestamp.Equal(&kp.CreationTimestamp) && o.Name < kp.Name) {
			return o.Name, nil
		}
	}
	return "", nil
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	// A key pair going or coming changes which of its namesakes holds the name.
	namesakes := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		kp := o.(*cloudv1.KeyPair)
		list := &cloudv1.KeyPairList{}
		if err := r.Client.List(ctx, list, client.InNamespace(kp.Namespace), client.MatchingFields{index.KeyName: kp.EffectiveKeyName()}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.KeyPair{}).
		Watches(&cloudv1.KeyPair{}, namesakes).
		Named("keypair").
		Complete(r)
}

// invalidKey reports whether kp was refused for its public key.
func invalidKey(kp *cloudv1.KeyPair) bool {
	c := conditions.Get(kp, cloudv1.ReadyCondition)
	return c != nil && c.Reason == cloudv1.ReasonInvalidPublicKey
}
