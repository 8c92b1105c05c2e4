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

package snapshot

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/quota"
)

const (
	// creatorGrace is how long the controller leaves alone a snapshot its creator (the EC2 API)
	// is admitting. Past it the creator is taken to have crashed, and the snapshot is admitted
	// like one made with kubectl.
	creatorGrace = time.Minute
	// admissionTimeout bounds how long one reconcile retries the ledger against racing
	// admissions before it returns the error and backs off.
	admissionTimeout = 5 * time.Second
)

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=projects,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update

// admitQuota admits a snapshot not yet started under its project's snapshot quota, through the
// project's ledger (the one the EC2 API admits through). A refused snapshot waits with
// Ready=False (QuotaExceeded): it gets no id, no node and no objects, and is tried again when a
// snapshot of the project goes or the project's quota changes. ok says it may go on.
func (r *Reconciler) admitQuota(ctx context.Context, s *cloudv1.Snapshot, now metav1.Time) (_ reconcile.Result, ok bool, _ error) {
	q, err := quota.Of(ctx, r.Client, s.Namespace)
	if err != nil {
		return reconcile.Result{}, false, err
	}
	gate := quota.Snapshots(s.Namespace, q)
	if gate.Unlimited() {
		return reconcile.Result{}, true, nil
	}
	if quota.IsMarkedPending(s) {
		if wait := s.CreationTimestamp.Add(creatorGrace).Sub(now.Time); wait > 0 {
			return reconcile.Result{RequeueAfter: wait}, false, nil
		}
	}
	ledger := &quota.Ledger{Reader: r.APIReader, Writer: r.Client}
	admitted, refused, err := ledger.Admit(ctx, gate, []string{s.Name}, 1, admissionTimeout)
	if err != nil {
		return reconcile.Result{}, false, err
	}
	before := conditions.Get(s, cloudv1.ReadyCondition)
	wasRefused := before != nil && before.Reason == cloudv1.ReasonQuotaExceeded
	switch {
	case len(admitted) == 1:
		log.FromContext(ctx).Info("Admitted under the project's quota")
		// A creator that crashed left its mark; admitted, the snapshot no longer needs it.
		delete(s.Annotations, quota.AnnotationPending)
		if wasRefused && r.Recorder != nil {
			r.Recorder.Eventf(s, nil, "Normal", cloudv1.ReasonAdmitted, "Admit", "Admitted under the project's quota")
		}
		return reconcile.Result{}, true, nil
	case refused != nil:
		log.FromContext(ctx).V(1).Info("Waiting for room under the project's quota", "limit", refused.Limit.Field)
		conditions.MarkFalse(s, cloudv1.ReadyCondition, cloudv1.ReasonQuotaExceeded, refused.Error(), now)
		if !wasRefused && r.Recorder != nil {
			r.Recorder.Eventf(s, nil, "Warning", cloudv1.ReasonQuotaExceeded, "Admit", "%s", refused.Error())
		}
	}
	return reconcile.Result{}, false, nil
}

// waitingForQuota enqueues the snapshots of a namespace the quota refused so far: any change of
// a snapshot there (one deleted frees room) or of the project's quota may let them in.
func (r *Reconciler) waitingForQuota(ctx context.Context, namespace string) []reconcile.Request {
	return r.snapshotsWhere(ctx, func(s *cloudv1.Snapshot) bool {
		c := conditions.Get(s, cloudv1.ReadyCondition)
		return s.Status.State == "" && c != nil && c.Reason == cloudv1.ReasonQuotaExceeded
	}, client.InNamespace(namespace))
}
