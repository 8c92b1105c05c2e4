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
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/lifecycle"
)

func findCondition(inst *cloudv1.Instance, t string) *metav1.Condition {
	return meta.FindStatusCondition(inst.Status.Conditions, t)
}

// updateStatus computes the conditions this controller owns and the EC2 state from the scope and
// from the conditions the scheduler and node agent reported.
func (r *Reconciler) updateStatus(s *scope) {
	inst := s.instance
	r.setReferencesResolved(s)
	r.setQuotaAdmitted(s)
	r.setAddressAssigned(s)

	prev := inst.Status.State
	state, reason := lifecycle.State(inst)
	inst.Status.State = state
	if inst.Status.GuestShutdown != nil {
		reason = cloudv1.ReasonShutdownByGuest
	}
	if state != prev {
		inst.Status.StateReason = reason
		if prev == cloudv1.InstanceStateStopped && state == cloudv1.InstanceStatePending {
			// EC2 reports the latest start as the launch time.
			inst.Status.LaunchTime = &s.now
		}
	}
	if state == cloudv1.InstanceStatePending {
		// A pending instance says what holds it, as long as something does.
		inst.Status.StateReason = pendingReason(inst)
	}
	if state == cloudv1.InstanceStateTerminated {
		if inst.Status.TerminatedTime == nil {
			inst.Status.TerminatedTime = &s.now
		}
		reportDomainGone(inst, s.now)
	}
	setReady(inst, s.now)
	// Unresolved references are the user's to fix: the status reflects this generation then too.
	inst.Status.ObservedGeneration = inst.Generation
}

// reportDomainGone says of a terminated instance, which no node agent holds any more (its domain
// finalizer is gone: the agent removed the domain, or the node was given up), that it has no
// domain and no block devices. The agent does not report an instance it lets go — that report
// would be one more write per instance, just before this controller's own — so its last report
// (defined, running) would stay.
func reportDomainGone(inst *cloudv1.Instance, now metav1.Time) {
	inst.Status.Domain = nil
	inst.Status.BlockDevices = nil
	for _, t := range []string{cloudv1.InstanceDomainDefined, cloudv1.InstanceGuestRunning} {
		if findCondition(inst, t) != nil {
			conditions.MarkFalse(inst, t, cloudv1.ReasonTerminated, "The instance is terminated: no domain is kept for it", now)
		}
	}
}

// maxStateReason is status.stateReason's MaxLength.
const maxStateReason = 256

// pendingReason is why a pending instance cannot go on — the first of the manager's checks on
// the way to a node (references, quota, address, placement) that failed, as "Reason: message"
// — or "" while none has.
func pendingReason(inst *cloudv1.Instance) string {
	for _, t := range []string{cloudv1.InstanceReferencesResolved, cloudv1.InstanceQuotaAdmitted,
		cloudv1.InstanceAddressAssigned, cloudv1.InstanceScheduled} {
		c := findCondition(inst, t)
		if c == nil || c.Status == metav1.ConditionTrue {
			continue
		}
		why := c.Reason
		if c.Message != "" {
			why += ": " + c.Message
		}
		if len(why) > maxStateReason {
			why = strings.ToValidUTF8(why[:maxStateReason-3], "") + "..."
		}
		return why
	}
	return ""
}

func (r *Reconciler) setReferencesResolved(s *scope) {
	inst := s.instance
	switch {
	case !s.resolving:
		return
	case s.refErr != nil:
		conditions.MarkFalse(inst, cloudv1.InstanceReferencesResolved, s.refReason, s.refErr.Error(), s.now)
	default:
		conditions.MarkTrue(inst, cloudv1.InstanceReferencesResolved, cloudv1.ReasonResolved, "", s.now)
	}
}

// setReady summarises the chain ReferencesResolved → QuotaAdmitted → AddressAssigned → Scheduled →
// DomainDefined → GuestRunning; the first check that fails gives the reason. Past this
// controller's own checks, an instance on its way to a node is Launching until a check fails or
// it runs: the scheduler's binding and the agent's conditions show each step, and Ready does not
// change with them, so the binding costs this controller no write of its own.
func setReady(inst *cloudv1.Instance, now metav1.Time) {
	switch inst.Status.State {
	case cloudv1.InstanceStateRunning:
		conditions.MarkTrue(inst, cloudv1.ReadyCondition, cloudv1.ReasonRunning, "", now)
		return
	case cloudv1.InstanceStateTerminated:
		conditions.MarkFalse(inst, cloudv1.ReadyCondition, cloudv1.ReasonTerminated, "The instance is terminated", now)
		return
	case cloudv1.InstanceStateShuttingDown:
		conditions.MarkFalse(inst, cloudv1.ReadyCondition, cloudv1.ReasonTerminating, "The instance is shutting down", now)
		return
	case cloudv1.InstanceStateStopping:
		conditions.MarkFalse(inst, cloudv1.ReadyCondition, cloudv1.ReasonStopping, "The instance is stopping", now)
		return
	case cloudv1.InstanceStateStopped:
		conditions.MarkFalse(inst, cloudv1.ReadyCondition, cloudv1.ReasonStopped, "The instance is stopped", now)
		return
	}
	for _, t := range []string{cloudv1.InstanceReferencesResolved, cloudv1.InstanceQuotaAdmitted,
		cloudv1.InstanceAddressAssigned, cloudv1.InstanceScheduled, cloudv1.InstanceDomainDefined, cloudv1.InstanceGuestRunning} {
		c := findCondition(inst, t)
		if c == nil && launchStep(t) {
			break // not reached yet: launching
		}
		if c == nil {
			conditions.MarkFalse(inst, cloudv1.ReadyCondition, waitingReason(t), fmt.Sprintf("Waiting for %s", t), now)
			return
		}
		if c.Status != metav1.ConditionTrue {
			conditions.MarkFalse(inst, cloudv1.ReadyCondition, c.Reason, c.Message, now)
			return
		}
	}
	conditions.MarkFalse(inst, cloudv1.ReadyCondition, cloudv1.ReasonLaunching, "The instance is starting", now)
}

// launchStep tells the conditions others report on the way from an address to a running guest.
func launchStep(condType string) bool {
	switch condType {
	case cloudv1.InstanceScheduled, cloudv1.InstanceDomainDefined, cloudv1.InstanceGuestRunning:
		return true
	}
	return false
}

func waitingReason(condType string) string {
	switch condType {
	case cloudv1.InstanceReferencesResolved:
		return cloudv1.ReasonWaitingForReferences
	case cloudv1.InstanceQuotaAdmitted:
		return cloudv1.ReasonWaitingForQuota
	case cloudv1.InstanceAddressAssigned:
		return cloudv1.ReasonWaitingForAddress
	default:
		return cloudv1.ReasonLaunching
	}
}
