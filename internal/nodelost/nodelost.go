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

// Package nodelost judges whether a node is gone for good: when a controller waiting on a node's
// agent (to remove an instance's domain, to copy an instance's disk) stops waiting.
package nodelost

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Check reads the node's Hypervisor and judges it (Judge).
func Check(ctx context.Context, r client.Reader, node string, now time.Time, timeout time.Duration) (bool, string, time.Duration, error) {
	hv := &cloudv1.Hypervisor{}
	err := r.Get(ctx, client.ObjectKey{Name: node}, hv)
	switch {
	case apierrors.IsNotFound(err):
		hv = nil
	case err != nil:
		return false, "", 0, fmt.Errorf("getting hypervisor %s: %w", node, err)
	}
	lost, why, wait := Judge(hv, now, timeout)
	return lost, why, wait, nil
}

// Judge says whether a node is gone for good: its Hypervisor is deleted (nil) or being deleted,
// or it has not been ready for the timeout. If not, it returns how long until it would be (0:
// never, while the node is ready).
func Judge(hv *cloudv1.Hypervisor, now time.Time, timeout time.Duration) (lost bool, why string, wait time.Duration) {
	if hv == nil {
		return true, "its hypervisor was deleted", 0
	}
	if !hv.DeletionTimestamp.IsZero() {
		return true, fmt.Sprintf("its hypervisor %s is being deleted", hv.Name), 0
	}
	ready := meta.FindStatusCondition(hv.Status.Conditions, cloudv1.ReadyCondition)
	if ready == nil || ready.Status == metav1.ConditionTrue {
		// Never judged, or ready: the node's agent does its own work.
		return false, "", 0
	}
	down := now.Sub(ready.LastTransitionTime.Time)
	if down >= timeout {
		return true, fmt.Sprintf("its hypervisor %s has not been ready for %s", hv.Name, down.Truncate(time.Second)), 0
	}
	return false, "", timeout - down
}
