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

	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/lifecycle"
)

// agentReportPriority is the queue priority of an instance its node agent has just reported on,
// above the default (0) of instances that wait for their first reconcile.
const agentReportPriority = 10

// agentReportsFirst queues an instance whose node agent has just reported on its domain ahead of
// the others, when that report leaves this controller a state to write: the terminated state
// after the agent let a removed domain go, or the running state of a report the agent could not
// make running itself (its cache did not show the binding yet). That write ends the user's wait;
// in plain queue order a launch of thousands admitted every instance before it made any running.
// A report that made the instance running already leaves nothing to write and keeps its place.
// The instance's own watch queues it too; the queue keeps the higher priority.
func agentReportsFirst() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			old, ok := e.ObjectOld.(*cloudv1.Instance)
			cur, ok2 := e.ObjectNew.(*cloudv1.Instance)
			if !ok || !ok2 || !agentReported(old, cur) || !stateToWrite(cur) {
				return
			}
			req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cur)}
			if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
				pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(agentReportPriority)}, req)
				return
			}
			q.Add(req)
		},
	}
}

// agentReported reports whether the change from old to cur is the node agent's report: its
// conditions on the domain, or its finalizer let go once it removed the domain. (Its taking the
// finalizer, just before it defines the domain, is not: the report follows at once, and one
// reconcile after both is enough.)
func agentReported(old, cur *cloudv1.Instance) bool {
	if controllerutil.ContainsFinalizer(old, cloudv1.DomainFinalizer) && !controllerutil.ContainsFinalizer(cur, cloudv1.DomainFinalizer) {
		return true
	}
	for _, t := range []string{cloudv1.InstanceDomainDefined, cloudv1.InstanceGuestRunning} {
		a, b := conditions.Get(old, t), conditions.Get(cur, t)
		if (a == nil) != (b == nil) || (a != nil && (a.Status != b.Status || a.Reason != b.Reason)) {
			return true
		}
	}
	return false
}

// stateToWrite reports whether the state derived from cur differs from the state it shows.
func stateToWrite(cur *cloudv1.Instance) bool {
	state, _ := lifecycle.State(cur)
	return state != cur.Status.State
}
