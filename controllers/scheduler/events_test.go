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

package scheduler

import (
	"context"
	"fmt"
	"slices"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// A first binding makes no event (the Scheduled condition and status.hypervisor tell it); a
// refusal does (FailedScheduling), and so does the binding that ends it (Scheduled).
func TestBindingEvents(t *testing.T) {
	startScheduler(t)
	ctx := context.Background()
	ns := "sched-events"
	setupNamespace(t, ns)

	registeredNode(t, "sched-events-1", "zone-events")
	first := pendingInstance(t, ns, "first", "zone-events")
	waitScheduled(t, first, metav1.ConditionTrue)

	refused := pendingInstance(t, ns, "refused", "zone-events-later")
	waitScheduled(t, refused, metav1.ConditionFalse)
	registeredNode(t, "sched-events-2", "zone-events-later")
	waitScheduled(t, refused, metav1.ConditionTrue)

	reasonsOf := func() (map[string][]string, error) {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		reasons := map[string][]string{}
		for _, e := range list.Items {
			reasons[e.Regarding.Name] = append(reasons[e.Regarding.Name], e.Reason)
		}
		return reasons, nil
	}
	var reasons map[string][]string
	testenv.Eventually(t, longWait, "the refused instance's events", func() error {
		var err error
		if reasons, err = reasonsOf(); err != nil {
			return err
		}
		if !hasAll(reasons["refused"], "FailedScheduling", "Scheduled") {
			return fmt.Errorf("events of the refused instance: %v", reasons["refused"])
		}
		return nil
	})
	// Recorded before the refused instance's, so delivered before them.
	if len(reasons["first"]) != 0 {
		t.Errorf("a first binding made events %v", reasons["first"])
	}
}

// waitScheduled waits until the instance's Scheduled condition has status.
func waitScheduled(t *testing.T, inst *cloudv1.Instance, status metav1.ConditionStatus) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s Scheduled=%s", inst.Name, status), func() error {
		got := &cloudv1.Instance{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(inst), got); err != nil {
			return err
		}
		if c := conditions.Get(got, cloudv1.InstanceScheduled); c == nil || c.Status != status {
			return fmt.Errorf("Scheduled %+v", c)
		}
		return nil
	})
}

func hasAll(have []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
