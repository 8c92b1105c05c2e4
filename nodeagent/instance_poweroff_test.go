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

package nodeagent

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/nodeagent/libvirt"
)

// poweringOff is a real libvirt connection that shows its domains the way QEMU guests look
// between the guest's ACPI power-off and the end of their process: state "shutdown" (being shut
// down), while the domain is still active. The test driver has no such window; a loaded node's
// QEMU shows it for seconds.
type poweringOff struct {
	*libvirt.Conn
	shuttingDown bool
	starts       int
}

func (p *poweringOff) Lookup(name string) (libvirt.Domain, error) {
	d, err := p.Conn.Lookup(name)
	if err == nil && p.shuttingDown {
		d.State = "shutdown"
	}
	return d, err
}

// noVolumes is the API server as this test needs it: no attached volumes (the status report
// lists an instance's volumes) and no earlier report of the instance (asked for its start time).
type noVolumes struct{ client.Client }

func (noVolumes) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func (noVolumes) Get(_ context.Context, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	return apierrors.NewNotFound(cloudv1.GroupVersion.WithResource("instances").GroupResource(), key.Name)
}

func (p *poweringOff) Start(name string) error {
	p.starts++
	return p.Conn.Start(name)
}

// A guest seen on its way off is neither started again (QEMU would answer "already running")
// nor reported down; once off, its power-off is recognised from that report, so the instance
// stops instead of booting again. A shutdown the agent itself asked for is no guest power-off.
func TestGuestSeenPoweringOffIsRecognisedOnceOff(t *testing.T) {
	dir := t.TempDir()
	conn := testDriverNode(t, dir)
	ctx := context.Background()
	v := &poweringOff{Conn: conn}
	s := &instanceSync{virt: v, client: noVolumes{}, apiReader: noVolumes{}, cloudID: "cloud-1", cfg: Config{NodeName: "node-1", StateDir: dir}}

	const id, uid = "i-0123456789abcdef0", "aaaaaaaa-0000-0000-0000-000000000001"
	x := `<domain type="test"><name>` + id + `</name><uuid>` + uid + `</uuid>
<metadata><instance xmlns="https://pinet.io/xmlns/domain/1"><cloud>cloud-1</cloud><namespace>p1</namespace>
<name>vm</name><uid>` + uid + `</uid><instanceId>` + id + `</instanceId></instance></metadata>
<memory unit="MiB">64</memory><vcpu>1</vcpu><os><type arch="x86_64">hvm</type></os></domain>`
	if err := conn.Define(x); err != nil {
		t.Fatal(err)
	}
	if err := conn.Start(id); err != nil {
		t.Fatal(err)
	}
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "p1", UID: uid, Generation: 1}}
	inst.Status.InstanceID = id
	inst.Status.Hypervisor = "node-1"
	// between runs after the reconcile's decision and before its report.
	var between func()
	var requeue time.Duration
	reconcileOnce := func() *syncScope {
		t.Helper()
		sc := &syncScope{inst: inst, now: metav1.NewTime(time.Now())}
		if err := s.observe(sc); err != nil {
			t.Fatal(err)
		}
		res, err := s.start(ctx, sc)
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if between != nil {
			between()
			between = nil
		}
		if err := s.report(ctx, sc); err != nil {
			t.Fatal(err)
		}
		requeue = res.RequeueAfter
		return sc
	}

	reconcileOnce() // running: reported as such
	if got := inst.Status.Domain.State; got != "running" || !conditions.IsTrue(inst, cloudv1.InstanceGuestRunning) {
		t.Fatalf("a running domain reported as %q, %+v", got, inst.Status.Conditions)
	}

	v.shuttingDown = true
	sc := reconcileOnce()
	if v.starts != 0 {
		t.Fatal("the agent started a domain that is powering off")
	}
	if requeue == 0 {
		t.Fatal("a domain powering off is not looked at again")
	}
	if got := inst.Status.Domain.State; got != "shutdown" || !conditions.IsTrue(inst, cloudv1.InstanceGuestRunning) {
		t.Fatalf("a domain powering off reported as %q, %+v", got, inst.Status.Conditions)
	}

	// QEMU's process ends: libvirt shows the domain off with reason "shutdown".
	v.shuttingDown = false
	if err := conn.Shutdown(id); err != nil {
		t.Fatal(err)
	}
	sc = reconcileOnce()
	if !sc.poweredOff || v.starts != 0 {
		t.Fatalf("the guest's power-off was not recognised (powered off %v, starts %d)", sc.poweredOff, v.starts)
	}
	c := conditions.Get(inst, cloudv1.InstanceGuestRunning)
	if c == nil || c.Reason != cloudv1.ReasonShutdownByGuest {
		t.Fatalf("guest running condition %+v", c)
	}

	// The guest goes off between the reconcile's look at its domain (running) and its report:
	// the report says it powered itself off, not merely that the domain is off.
	inst.Status.Conditions = nil
	if err := conn.Start(id); err != nil {
		t.Fatal(err)
	}
	reconcileOnce()
	if got := inst.Status.Domain.State; got != "running" {
		t.Fatalf("a running domain reported as %q", got)
	}
	between = func() {
		if err := conn.Shutdown(id); err != nil {
			t.Fatal(err)
		}
	}
	sc = reconcileOnce()
	if !sc.poweredOff || v.starts != 0 {
		t.Fatalf("a power-off between the look and the report was not recognised (powered off %v, starts %d)", sc.poweredOff, v.starts)
	}
	if c := conditions.Get(inst, cloudv1.InstanceGuestRunning); c == nil || c.Reason != cloudv1.ReasonShutdownByGuest {
		t.Fatalf("guest running condition %+v", c)
	}

	// Stopped by the agent (the user's stop, taken back before the agent saw the domain off):
	// started again, not taken for the guest's own power-off.
	inst.Status.Conditions = nil
	inst.Status.Domain.State = "running"
	if err := conn.Start(id); err != nil {
		t.Fatal(err)
	}
	if _, asked := s.shutdownAsked(uid, time.Now()); asked {
		t.Fatal("a shutdown was remembered before one was asked")
	}
	if err := conn.Shutdown(id); err != nil {
		t.Fatal(err)
	}
	s.cfg.ShutdownGrace = time.Minute
	sc = &syncScope{inst: inst, defined: true, now: metav1.NewTime(time.Now())}
	if err := s.observe(sc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.start(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if sc.poweredOff || v.starts != 1 {
		t.Fatalf("a shutdown the agent asked for was taken for the guest's (powered off %v, starts %d)", sc.poweredOff, v.starts)
	}
	if s.shutdownPending(uid) {
		t.Fatal("the agent still remembers a shutdown after starting the domain")
	}
}
