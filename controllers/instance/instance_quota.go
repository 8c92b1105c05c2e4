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

package instance

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/quota"
)

const (
	// creatorGrace is how long the controller leaves alone an instance its creator (the EC2
	// API) is admitting. Past it the creator is taken to have crashed, and the instance is
	// admitted like one made with kubectl.
	creatorGrace = time.Minute
	// admissionTimeout bounds how long one reconcile retries the ledger against racing
	// admissions before it returns the error and backs off.
	admissionTimeout = 5 * time.Second
)

// quotaDecision is what admitQuota decided in this reconcile.
type quotaDecision struct {
	decided  bool
	admitted bool
	// refused says which limit keeps the instance waiting.
	refused *quota.Exceeded
}

// admitQuota admits the instance under its project's quota (instances, vCPUs, memory) through
// the project's ledger, once its references are resolved and before the scheduler may place
// it. An instance that does not fit waits with QuotaAdmitted=False; it is tried again when an
// instance of the project releases its share or the project's quota changes.
func (r *Reconciler) admitQuota(ctx context.Context, s *scope) (reconcile.Result, error) {
	inst := s.instance
	switch {
	case conditions.IsTrue(inst, cloudv1.InstanceQuotaAdmitted) || !quota.HoldsInstanceQuota(inst):
		return reconcile.Result{}, nil
	case inst.Status.Hypervisor != "":
		// Placed before quotas were enforced: it holds its share already.
		s.quota = quotaDecision{decided: true, admitted: true}
		return reconcile.Result{}, nil
	case s.refErr != nil || s.instanceType == nil:
		return reconcile.Result{}, nil // the size is not known yet
	}
	q, err := quota.Of(ctx, r.Client, inst.Namespace)
	if err != nil {
		return reconcile.Result{}, err
	}
	gate := quota.Instances(inst.Namespace, q)
	if gate.Unlimited() {
		s.quota = quotaDecision{decided: true, admitted: true}
		return reconcile.Result{}, nil
	}
	if quota.IsMarkedPending(inst) {
		if wait := inst.CreationTimestamp.Add(creatorGrace).Sub(s.now.Time); wait > 0 {
			return reconcile.Result{RequeueAfter: wait}, nil
		}
	}
	ledger := &quota.Ledger{Reader: r.APIReader, Writer: r.Client}
	admitted, refused, err := ledger.Admit(ctx, gate, []string{inst.Name}, 1, admissionTimeout)
	if err != nil {
		return reconcile.Result{}, err
	}
	switch {
	case len(admitted) == 1:
		log.FromContext(ctx).Info("Admitted under the project's quota")
		s.quota = quotaDecision{decided: true, admitted: true}
	case refused != nil:
		log.FromContext(ctx).V(1).Info("Waiting for room under the project's quota", "limit", refused.Limit.Field)
		s.quota = quotaDecision{decided: true, refused: refused}
	}
	return reconcile.Result{}, nil
}

// soonest keeps the smaller of two requeues.
func soonest(a, b reconcile.Result) reconcile.Result {
	if b.RequeueAfter > 0 && (a.RequeueAfter == 0 || b.RequeueAfter < a.RequeueAfter) {
		return b
	}
	return a
}

// setQuotaAdmitted writes the decision of admitQuota, with an event when it changes.
func (r *Reconciler) setQuotaAdmitted(s *scope) {
	inst := s.instance
	if !s.quota.decided {
		return
	}
	before := conditions.Get(inst, cloudv1.InstanceQuotaAdmitted)
	if s.quota.admitted {
		conditions.MarkTrue(inst, cloudv1.InstanceQuotaAdmitted, cloudv1.ReasonAdmitted, "", s.now)
	} else {
		conditions.MarkFalse(inst, cloudv1.InstanceQuotaAdmitted, cloudv1.ReasonQuotaExceeded, s.quota.refused.Error(), s.now)
	}
	after := conditions.Get(inst, cloudv1.InstanceQuotaAdmitted)
	if r.Recorder == nil || (before != nil && before.Status == after.Status) {
		return
	}
	switch {
	case after.Status == metav1.ConditionFalse:
		r.Recorder.Eventf(inst, nil, "Warning", cloudv1.ReasonQuotaExceeded, "Admit", "%s", after.Message)
	case before != nil:
		r.Recorder.Eventf(inst, nil, "Normal", cloudv1.ReasonAdmitted, "Admit", "Admitted under the project's quota")
	}
}

// quotaReleases enqueues the instances waiting for quota in a project when one of its instances
// releases its share (terminated, being deleted, gone).
func (r *Reconciler) quotaReleases() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if quota.HoldsInstanceQuota(e.ObjectOld.(*cloudv1.Instance)) && !quota.HoldsInstanceQuota(e.ObjectNew.(*cloudv1.Instance)) {
				r.enqueueWaitingForQuota(ctx, e.ObjectNew.GetNamespace(), q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.enqueueWaitingForQuota(ctx, e.Object.GetNamespace(), q)
		},
	}
}

// quotaChanges enqueues the instances waiting for quota in a project whose quota changed.
func (r *Reconciler) quotaChanges() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
				r.enqueueWaitingForQuota(ctx, e.ObjectNew.GetName(), q)
			}
		},
	}
}

func (r *Reconciler) enqueueWaitingForQuota(ctx context.Context, namespace string, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	r.enqueueWaiting(ctx, namespace, index.WaitingForQuota, q)
}

// enqueueWaiting enqueues the instances of a project that wait for what (index.InstanceWaiting).
// The index holds only those, so a release costs what waits, not the project's fleet.
func (r *Reconciler) enqueueWaiting(ctx context.Context, namespace, what string, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	list := &cloudv1.InstanceList{}
	if err := r.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{index.InstanceWaiting: what}, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing waiting instances", "waitingFor", what)
		return
	}
	for i := range list.Items {
		q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
}
