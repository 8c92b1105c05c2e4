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

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// Deleting an instance whose node is down waits for the node; once its Hypervisor is deleted
// (the node is gone for good) the deletion completes, with a NodeLost event.
func TestDeletingAnInstanceOfALostNodeCompletes(t *testing.T) {
	startManager(t)
	createProject(t, "lost")
	ctx := context.Background()
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "lost-node"}, Spec: cloudv1.HypervisorSpec{Zone: "zone-lost"}}
	if err := env.Client.Create(ctx, hv); err != nil {
		t.Fatal(err)
	}
	// An instance its node's agent had taken on (the agent's finalizer), then the node went down.
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "lost", Finalizers: []string{cloudv1.DomainFinalizer}},
		Spec:       cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny", AvailabilityZone: "zone-lost"},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(inst)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, key, inst); err != nil {
			return err
		}
		inst.Status.Hypervisor = hv.Name
		return env.Client.Status().Update(ctx, inst)
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the deletion to be taken up", func() error {
		if err := env.Client.Get(ctx, key, inst); err != nil {
			return err
		}
		if inst.Status.State != cloudv1.InstanceStateShuttingDown {
			return fmt.Errorf("state %q", inst.Status.State)
		}
		return nil
	})
	// Down, not gone: the node's cleanup is still owed.
	if err := env.Client.Get(ctx, key, inst); err != nil || !controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer) {
		t.Fatalf("the domain of a node that may come back was given up: %v %v", err, inst.Finalizers)
	}

	if err := env.Client.Delete(ctx, hv); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the instance to go", func() error {
		err := env.Client.Get(ctx, key, &cloudv1.Instance{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	testenv.Eventually(t, longWait, "a NodeLost event", func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace("lost")); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == cloudv1.ReasonNodeLost && e.Regarding.Name == "vm" && e.Type == "Warning" {
				return nil
			}
		}
		return fmt.Errorf("%d events, none NodeLost", len(list.Items))
	})
}

// An instance whose binding reached its labels and finalizers but not its status (the scheduler
// failed between its two writes) has no domain anywhere: no agent acts on an instance whose
// status does not name its node. Its deletion completes without waiting for one.
func TestDeletingAnInstanceBoundOnlyInItsLabelsCompletes(t *testing.T) {
	startManager(t)
	createProject(t, "halfbound")
	ctx := context.Background()
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "halfbound-node"}, Spec: cloudv1.HypervisorSpec{Zone: "zone-halfbound"}}
	if err := env.Client.Create(ctx, hv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, hv) })
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "halfbound",
			Labels:     map[string]string{cloudv1.LabelHypervisor: hv.Name},
			Finalizers: []string{cloudv1.DomainFinalizer}},
		Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny", AvailabilityZone: "zone-halfbound"},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(inst)
	testenv.Eventually(t, longWait, "the instance to go", func() error {
		err := env.Client.Get(ctx, key, &cloudv1.Instance{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}
