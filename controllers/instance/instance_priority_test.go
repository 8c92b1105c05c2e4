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
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
)

// In the controller's queue, an instance its agent has just reported on (its guest running, or
// its domain removed) goes ahead of instances queued before it when the report leaves a state to
// write; other changes, and a report that made the instance running itself, keep their place.
func TestAgentReportsAreReconciledFirst(t *testing.T) {
	ctx := context.Background()
	now := metav1.Now()
	inst := func(name string) *cloudv1.Instance {
		i := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: "p1", Name: name, ResourceVersion: "1",
			Finalizers: []string{cloudv1.InstanceFinalizer, cloudv1.DomainFinalizer}}}
		i.Status.State = cloudv1.InstanceStatePending
		conditions.MarkTrue(i, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "", now)
		conditions.MarkFalse(i, cloudv1.InstanceGuestRunning, cloudv1.ReasonLaunching, "", now)
		return i
	}
	changed := func(old *cloudv1.Instance, change func(*cloudv1.Instance)) *cloudv1.Instance {
		cur := old.DeepCopy()
		cur.ResourceVersion = "2"
		change(cur)
		return cur
	}
	for _, c := range []struct {
		name   string
		before func(*cloudv1.Instance) // the old object, when not inst's
		change func(*cloudv1.Instance)
		first  bool
	}{
		{name: "guest running", change: func(i *cloudv1.Instance) {
			conditions.MarkTrue(i, cloudv1.InstanceGuestRunning, cloudv1.ReasonRunning, "", now)
		}, first: true},
		{name: "guest running, made running by the agent", change: func(i *cloudv1.Instance) {
			conditions.MarkTrue(i, cloudv1.InstanceGuestRunning, cloudv1.ReasonRunning, "", now)
			i.Status.State = cloudv1.InstanceStateRunning
		}},
		{name: "domain removed", before: func(i *cloudv1.Instance) {
			i.Spec.DesiredState = cloudv1.DesiredTerminated
			i.Status.State = cloudv1.InstanceStateShuttingDown
		}, change: func(i *cloudv1.Instance) { i.Finalizers = i.Finalizers[:1] }, first: true},
		// The agent takes its finalizer just before it defines the domain; its report follows.
		{name: "domain taken", before: func(i *cloudv1.Instance) { i.Finalizers = i.Finalizers[:1] },
			change: func(i *cloudv1.Instance) { i.Finalizers = append(i.Finalizers, cloudv1.DomainFinalizer) }},
		{name: "label", change: func(i *cloudv1.Instance) { i.Labels = map[string]string{"team": "a"} }},
		{name: "state", change: func(i *cloudv1.Instance) { i.Status.State = cloudv1.InstanceStateShuttingDown }},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := priorityqueue.New[reconcile.Request]("test")
			defer q.ShutDown()
			own := handler.WithLowPriorityWhenUnchanged(&handler.EnqueueRequestForObject{})
			// Three instances made before are queued, as the instance's own watch queues them.
			for i := range 3 {
				own.Create(ctx, event.CreateEvent{Object: inst(fmt.Sprintf("new-%d", i))}, q)
			}
			old := inst("reported")
			if c.before != nil {
				c.before(old)
			}
			e := event.UpdateEvent{ObjectOld: old, ObjectNew: changed(old, c.change)}
			own.Update(ctx, e, q)
			agentReportsFirst().Update(ctx, e, q)

			want := types.NamespacedName{Namespace: "p1", Name: "new-0"}
			if c.first {
				want.Name = "reported"
			}
			if got, _ := q.Get(); got.NamespacedName != want {
				t.Fatalf("the queue gave %s first, want %s", got.NamespacedName, want)
			}
			if n := q.Len(); n != 3 {
				t.Fatalf("%d left in the queue, want 3 (one request per instance)", n)
			}
		})
	}
}
