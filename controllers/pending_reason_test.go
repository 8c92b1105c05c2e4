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

package controllers_test

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// An instance no hypervisor can take stays pending and says why: the scheduler's Scheduled=False
// reason and message, repeated in Ready and in the state reason EC2 clients see.
func TestUnplaceableInstanceSaysWhy(t *testing.T) {
	startManager(t)
	projectWithImage(t, "pending-why")
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "nowhere", Namespace: "pending-why"},
		Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny", AvailabilityZone: "zone-nowhere"}}
	if err := env.Client.Create(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the instance to say why it is pending", func() error {
		got := &cloudv1.Instance{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(inst), got); err != nil {
			return err
		}
		sched := conditions.Get(got, cloudv1.InstanceScheduled)
		if sched == nil || sched.Status != metav1.ConditionFalse || sched.Message == "" {
			return fmt.Errorf("Scheduled %+v", sched)
		}
		if sched.Reason != cloudv1.ReasonInsufficientCapacity && sched.Reason != cloudv1.ReasonNoHypervisors {
			return fmt.Errorf("Scheduled reason %q", sched.Reason)
		}
		want := sched.Reason + ": " + sched.Message
		if got.Status.State != cloudv1.InstanceStatePending || got.Status.StateReason != want {
			return fmt.Errorf("state %s, reason %q; want pending, %q", got.Status.State, got.Status.StateReason, want)
		}
		if ready := conditions.Get(got, cloudv1.ReadyCondition); ready == nil || ready.Reason != sched.Reason || ready.Message != sched.Message {
			return fmt.Errorf("Ready %+v", ready)
		}
		return nil
	})
}
