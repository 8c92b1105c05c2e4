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

// Package lifecycle derives an Instance's EC2 state from its spec, its finalizers and the
// conditions reported on it. The instance controller writes the state; a node agent writes the
// one step its own launch report makes (pending to running), so both derive it the same way.
package lifecycle

import (
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
)

// State maps the instance's desired state (its spec's, or what its guest's power-off
// made it), finalizers and conditions to an EC2 state, with a reason.
func State(inst *cloudv1.Instance) (cloudv1.InstanceState, string) {
	desired := inst.EffectiveDesiredState()
	terminating := inst.Terminating()
	hasDomain := controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer)
	running := conditions.IsTrue(inst, cloudv1.InstanceGuestRunning)

	switch {
	case terminating && hasDomain:
		return cloudv1.InstanceStateShuttingDown, "User initiated"
	case terminating:
		return cloudv1.InstanceStateTerminated, "User initiated"
	case !conditions.IsTrue(inst, cloudv1.InstanceScheduled):
		return cloudv1.InstanceStatePending, ""
	case desired == cloudv1.DesiredStopped && running:
		return cloudv1.InstanceStateStopping, "User initiated"
	case desired == cloudv1.DesiredStopped:
		return cloudv1.InstanceStateStopped, "User initiated"
	case running:
		return cloudv1.InstanceStateRunning, ""
	default:
		// Launching, or starting again after a stop: EC2 shows pending until the guest runs.
		return cloudv1.InstanceStatePending, ""
	}
}
