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
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/lifecycle"
)

// A guest's power-off changes the state the instance is to be in without touching its spec.
func TestEffectiveDesiredState(t *testing.T) {
	stopped := &cloudv1.GuestShutdown{State: cloudv1.InstanceStateStopped}
	terminated := &cloudv1.GuestShutdown{State: cloudv1.InstanceStateTerminated}
	for _, tc := range []struct {
		spec cloudv1.DesiredState
		gs   *cloudv1.GuestShutdown
		want cloudv1.DesiredState
	}{
		{cloudv1.DesiredRunning, nil, cloudv1.DesiredRunning},
		{cloudv1.DesiredStopped, nil, cloudv1.DesiredStopped},
		{cloudv1.DesiredRunning, stopped, cloudv1.DesiredStopped},
		{cloudv1.DesiredStopped, stopped, cloudv1.DesiredStopped},
		{cloudv1.DesiredTerminated, stopped, cloudv1.DesiredTerminated},
		{cloudv1.DesiredRunning, terminated, cloudv1.DesiredTerminated},
		// Terminated is for good: a later spec cannot bring the guest back.
		{cloudv1.DesiredStopped, terminated, cloudv1.DesiredTerminated},
	} {
		inst := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: tc.spec}, Status: cloudv1.InstanceStatus{GuestShutdown: tc.gs}}
		if got := inst.EffectiveDesiredState(); got != tc.want {
			t.Errorf("spec %s, guest shutdown %+v: %s, want %s", tc.spec, tc.gs, got, tc.want)
		}
	}
}

// The derived EC2 state follows the guest's power-off.
func TestDeriveStateAfterGuestPowerOff(t *testing.T) {
	scheduled := metav1.Condition{Type: cloudv1.InstanceScheduled, Status: metav1.ConditionTrue, Reason: "Scheduled"}
	inst := &cloudv1.Instance{
		Spec: cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning},
		Status: cloudv1.InstanceStatus{
			GuestShutdown: &cloudv1.GuestShutdown{State: cloudv1.InstanceStateStopped},
			Conditions:    []metav1.Condition{scheduled},
		},
	}
	if got, _ := lifecycle.State(inst); got != cloudv1.InstanceStateStopped {
		t.Errorf("stopped by the guest: %s", got)
	}
	inst.Status.GuestShutdown.State = cloudv1.InstanceStateTerminated
	inst.Finalizers = []string{cloudv1.DomainFinalizer}
	if got, _ := lifecycle.State(inst); got != cloudv1.InstanceStateShuttingDown {
		t.Errorf("terminated by the guest, domain not yet removed: %s", got)
	}
	inst.Finalizers = nil
	if got, _ := lifecycle.State(inst); got != cloudv1.InstanceStateTerminated {
		t.Errorf("terminated by the guest: %s", got)
	}
}

// Ready waits on AddressAssigned between quota admission and scheduling, and gives its reason.
func TestReadyWaitsForAnAddress(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
	}
	inst := &cloudv1.Instance{Status: cloudv1.InstanceStatus{State: cloudv1.InstanceStatePending, Conditions: []metav1.Condition{
		cond(cloudv1.InstanceReferencesResolved, metav1.ConditionTrue, cloudv1.ReasonResolved),
		cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionTrue, cloudv1.ReasonAdmitted),
	}}}
	setReady(inst, metav1.Now())
	if c := findCondition(inst, cloudv1.ReadyCondition); c.Reason != cloudv1.ReasonWaitingForAddress {
		t.Fatalf("no AddressAssigned yet: %+v", c)
	}
	inst.Status.Conditions = append(inst.Status.Conditions,
		cond(cloudv1.InstanceAddressAssigned, metav1.ConditionFalse, cloudv1.ReasonInsufficientAddresses))
	setReady(inst, metav1.Now())
	if c := findCondition(inst, cloudv1.ReadyCondition); c.Reason != cloudv1.ReasonInsufficientAddresses {
		t.Fatalf("subnet full: %+v", c)
	}
	findCondition(inst, cloudv1.InstanceAddressAssigned).Status = metav1.ConditionTrue
	setReady(inst, metav1.Now())
	launching := *findCondition(inst, cloudv1.ReadyCondition)
	if launching.Reason != cloudv1.ReasonLaunching {
		t.Fatalf("addressed: %+v", launching)
	}
	// The scheduler's binding changes nothing in Ready (no write of this controller's own)...
	inst.Status.Conditions = append(inst.Status.Conditions,
		cond(cloudv1.InstanceScheduled, metav1.ConditionTrue, cloudv1.ReasonScheduled))
	setReady(inst, metav1.Now())
	if c := findCondition(inst, cloudv1.ReadyCondition); *c != launching {
		t.Fatalf("bound: %+v, was %+v", c, launching)
	}
	// ...and a failed step of the node agent's says what failed.
	inst.Status.Conditions = append(inst.Status.Conditions,
		cond(cloudv1.InstanceDomainDefined, metav1.ConditionFalse, cloudv1.ReasonDefineFailed))
	setReady(inst, metav1.Now())
	if c := findCondition(inst, cloudv1.ReadyCondition); c.Reason != cloudv1.ReasonDefineFailed {
		t.Fatalf("define failed: %+v", c)
	}
}

func TestPrivateDNSName(t *testing.T) {
	ip := netip.MustParseAddr("10.128.3.17")
	if got := privateDNSName(ip, "pinet"); got != "ip-10-128-3-17.pinet.compute.internal" {
		t.Fatal(got)
	}
	if got := privateDNSName(ip, ""); got != "ip-10-128-3-17.compute.internal" {
		t.Fatal(got)
	}
}

// A pending instance that cannot be placed says why in its state reason (EC2's reason), and
// stops saying it once it is placed; one that merely waits says nothing.
func TestPendingInstanceSaysWhyItWaits(t *testing.T) {
	r := &Reconciler{}
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	inst := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredRunning},
		Status: cloudv1.InstanceStatus{Conditions: []metav1.Condition{
			cond(cloudv1.InstanceReferencesResolved, metav1.ConditionTrue, cloudv1.ReasonResolved, ""),
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionTrue, cloudv1.ReasonAdmitted, ""),
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionTrue, cloudv1.ReasonAddressAssigned, ""),
		}}}
	s := &scope{instance: inst, now: metav1.Now()}
	r.updateStatus(s)
	if inst.Status.State != cloudv1.InstanceStatePending || inst.Status.StateReason != "" {
		t.Fatalf("waiting for the scheduler: %s %q", inst.Status.State, inst.Status.StateReason)
	}

	msg := "0/4 hypervisors can take 1000 mCPU and 512 MiB of Standard-class instance: 4 short of memory"
	inst.Status.Conditions = append(inst.Status.Conditions,
		cond(cloudv1.InstanceScheduled, metav1.ConditionFalse, cloudv1.ReasonInsufficientCapacity, msg))
	r.updateStatus(s)
	if want := cloudv1.ReasonInsufficientCapacity + ": " + msg; inst.Status.StateReason != want {
		t.Fatalf("refused by the scheduler: %q, want %q", inst.Status.StateReason, want)
	}
	if c := findCondition(inst, cloudv1.ReadyCondition); c.Reason != cloudv1.ReasonInsufficientCapacity || c.Message != msg {
		t.Fatalf("Ready: %+v", c)
	}

	// Longer than the field allows: cut, never refused by the API server.
	findCondition(inst, cloudv1.InstanceScheduled).Message = strings.Repeat("é", 300)
	r.updateStatus(s)
	if n := len(inst.Status.StateReason); n > maxStateReason || !utf8.ValidString(inst.Status.StateReason) {
		t.Fatalf("a long message gives a state reason of %d bytes (valid UTF-8: %v)", n, utf8.ValidString(inst.Status.StateReason))
	}

	findCondition(inst, cloudv1.InstanceScheduled).Status = metav1.ConditionTrue
	r.updateStatus(s)
	if inst.Status.State != cloudv1.InstanceStatePending || inst.Status.StateReason != "" {
		t.Fatalf("placed, launching: %s %q", inst.Status.State, inst.Status.StateReason)
	}
}

// A terminated instance the node agent let go shows no domain, no block devices and domain
// conditions that say so (the agent writes no report when it lets go); one still shutting down
// keeps the agent's report, and one that never had a domain gets no domain conditions.
func TestTerminatedInstanceShowsNoDomain(t *testing.T) {
	now := metav1.Now()
	held := func(finalizers ...string) *cloudv1.Instance {
		return &cloudv1.Instance{
			ObjectMeta: metav1.ObjectMeta{Finalizers: finalizers},
			Spec:       cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredTerminated},
			Status: cloudv1.InstanceStatus{
				State:        cloudv1.InstanceStateRunning,
				Domain:       &cloudv1.DomainStatus{Name: "i-1", State: "running"},
				BlockDevices: []cloudv1.InstanceBlockDevice{{DeviceName: "/dev/sdf", VolumeID: "vol-1"}},
				Conditions: []metav1.Condition{
					{Type: cloudv1.InstanceScheduled, Status: metav1.ConditionTrue, Reason: cloudv1.ReasonScheduled},
					{Type: cloudv1.InstanceDomainDefined, Status: metav1.ConditionTrue, Reason: cloudv1.ReasonDomainDefined},
					{Type: cloudv1.InstanceGuestRunning, Status: metav1.ConditionTrue, Reason: cloudv1.ReasonRunning},
				},
			},
		}
	}
	r := &Reconciler{}

	letGo := held(cloudv1.InstanceFinalizer)
	r.updateStatus(&scope{instance: letGo, now: now})
	if letGo.Status.State != cloudv1.InstanceStateTerminated || letGo.Status.Domain != nil || letGo.Status.BlockDevices != nil {
		t.Errorf("let go: state %s, domain %+v, block devices %+v", letGo.Status.State, letGo.Status.Domain, letGo.Status.BlockDevices)
	}
	for _, typ := range []string{cloudv1.InstanceDomainDefined, cloudv1.InstanceGuestRunning} {
		if c := findCondition(letGo, typ); c == nil || c.Status != metav1.ConditionFalse || c.Reason != cloudv1.ReasonTerminated {
			t.Errorf("let go: %s is %+v, want False/%s", typ, c, cloudv1.ReasonTerminated)
		}
	}

	shuttingDown := held(cloudv1.InstanceFinalizer, cloudv1.DomainFinalizer)
	r.updateStatus(&scope{instance: shuttingDown, now: now})
	if shuttingDown.Status.State != cloudv1.InstanceStateShuttingDown || shuttingDown.Status.Domain == nil ||
		len(shuttingDown.Status.BlockDevices) != 1 || findCondition(shuttingDown, cloudv1.InstanceGuestRunning).Status != metav1.ConditionTrue {
		t.Errorf("shutting down: the agent's report was changed: %+v", shuttingDown.Status)
	}

	never := &cloudv1.Instance{Spec: cloudv1.InstanceSpec{DesiredState: cloudv1.DesiredTerminated}}
	r.updateStatus(&scope{instance: never, now: now})
	if never.Status.State != cloudv1.InstanceStateTerminated || findCondition(never, cloudv1.InstanceDomainDefined) != nil || findCondition(never, cloudv1.InstanceGuestRunning) != nil {
		t.Errorf("never placed: %+v", never.Status)
	}
}
