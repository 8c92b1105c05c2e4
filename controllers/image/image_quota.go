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

package image

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/quota"
)

// admissionTimeout bounds how long one reconcile retries the ledger against racing admissions
// before it returns the error and backs off.
const admissionTimeout = 5 * time.Second

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=projects,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update

// admitQuota admits an image not yet started under its project's image quota, through the
// project's ledger (the one the EC2 API admits through). One marked pending is its creator's to
// decide (an EC2 call, or the quota-pending controller once that call is gone): dropping the
// mark or withdrawing the image brings it back. A refused image waits with Ready=False
// (QuotaExceeded): it gets no id, no stored copy and no node's copy, and is tried again when an
// image of the project goes or the project's quota changes. ok says it may go on.
func (r *Reconciler) admitQuota(ctx context.Context, img *cloudv1.Image, now metav1.Time) (ok bool, _ error) {
	if quota.IsMarkedPending(img) {
		return false, nil
	}
	q, err := quota.Of(ctx, r.Client, img.Namespace)
	if err != nil {
		return false, err
	}
	ledger := &quota.Ledger{Reader: r.APIReader, Writer: r.Client}
	admitted, refused, err := ledger.AdmitMade(ctx, quota.Images(img.Namespace, q), img, admissionTimeout)
	if err != nil {
		return false, err
	}
	before := conditions.Get(img, cloudv1.ReadyCondition)
	wasRefused := before != nil && before.Reason == cloudv1.ReasonQuotaExceeded
	switch {
	case admitted:
		if wasRefused && r.Recorder != nil {
			r.Recorder.Eventf(img, nil, "Normal", cloudv1.ReasonAdmitted, "Admit", "Admitted under the project's quota")
		}
		return true, nil
	case refused != nil:
		log.FromContext(ctx).V(1).Info("Waiting for room under the project's quota", "limit", refused.Limit.Field)
		conditions.MarkFalse(img, cloudv1.ReadyCondition, cloudv1.ReasonQuotaExceeded, refused.Error(), now)
		img.Status.ObservedGeneration = img.Generation
		if !wasRefused && r.Recorder != nil {
			r.Recorder.Eventf(img, nil, "Warning", cloudv1.ReasonQuotaExceeded, "Admit", "%s", refused.Error())
		}
	}
	return false, nil
}
