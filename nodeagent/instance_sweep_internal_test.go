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
	"fmt"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/nodeagent/imagecache"
	"pinet.io/pinet/nodeagent/libvirt"
)

// listed is the agent's cache as the sweep reads it: the node's instances, and no volumes.
type listed struct {
	client.Client
	items []*cloudv1.Instance
}

func (l *listed) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	if il, ok := list.(*cloudv1.InstanceList); ok {
		for _, i := range l.items {
			il.Items = append(il.Items, *i.DeepCopy())
		}
	}
	return nil
}

func (l *listed) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	for _, i := range l.items {
		if client.ObjectKeyFromObject(i) == key {
			*obj.(*cloudv1.Instance) = *i.DeepCopy()
			return nil
		}
	}
	return apierrors.NewNotFound(cloudv1.GroupVersion.WithResource("instances").GroupResource(), key.Name)
}

// A resync reconciles only the instances whose domain is not what they ask for or what their
// status reports; guests that run (or stay off) as reported cost it nothing.
func TestSweepReconcilesOnlyDriftedInstances(t *testing.T) {
	dir := t.TempDir()
	conn := testDriverNode(t, dir)
	ctx := context.Background()
	cache := &listed{}
	s := &instanceSync{virt: conn, client: cache, apiReader: noVolumes{}, cloudID: "cloud-1",
		cfg: Config{NodeName: "node-1", StateDir: dir}, images: &imagecache.Cache{Dir: dir}}

	n := 0
	// launch defines name's domain, starts it unless the instance is to stay stopped, and has
	// the agent report it: the status a settled instance has.
	launch := func(name string, desired cloudv1.DesiredState) *cloudv1.Instance {
		t.Helper()
		n++
		id, uid := fmt.Sprintf("i-%017x", n), fmt.Sprintf("aaaaaaaa-0000-0000-0000-%012x", n)
		x := `<domain type="test"><name>` + id + `</name><uuid>` + uid + `</uuid>
<metadata><instance xmlns="https://pinet.io/xmlns/domain/1"><cloud>cloud-1</cloud><namespace>p1</namespace>
<name>` + name + `</name><uid>` + uid + `</uid><instanceId>` + id + `</instanceId><node>node-1</node></instance></metadata>
<memory unit="MiB">64</memory><vcpu>1</vcpu><os><type arch="x86_64">hvm</type></os></domain>`
		if err := conn.Define(x); err != nil {
			t.Fatal(err)
		}
		inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "p1", UID: types.UID(uid), Generation: 1,
			Finalizers: []string{cloudv1.DomainFinalizer}}}
		inst.Spec.DesiredState = desired
		inst.Status.InstanceID, inst.Status.Hypervisor = id, "node-1"
		if desired == cloudv1.DesiredRunning {
			must(t, conn.Start(id))
		}
		s.reconcileForTest(t, inst)
		cache.items = append(cache.items, inst)
		return inst
	}

	settled := map[string]*cloudv1.Instance{
		"running":   launch("running", cloudv1.DesiredRunning),
		"stopped":   launch("stopped", cloudv1.DesiredStopped),
		"guest-off": launch("guest-off", cloudv1.DesiredRunning),
	}
	// The guest powers itself off; the agent reports it, and the instance controller makes the
	// instance stopped.
	if err := conn.Shutdown(settled["guest-off"].Status.InstanceID); err != nil {
		t.Fatal(err)
	}
	s.reconcileForTest(t, settled["guest-off"])
	settled["guest-off"].Status.GuestShutdown = &cloudv1.GuestShutdown{State: cloudv1.InstanceStateStopped}

	elsewhere := launch("elsewhere", cloudv1.DesiredRunning)
	elsewhere.Status.Hypervisor = "node-2"
	settled["elsewhere"] = elsewhere
	released := launch("released", cloudv1.DesiredRunning)
	released.DeletionTimestamp, released.Finalizers = &metav1.Time{Time: time.Now()}, []string{"other"}
	settled["released"] = released

	drifted := map[string]*cloudv1.Instance{}
	for _, c := range []struct {
		name  string
		drift func(*cloudv1.Instance)
	}{
		{"destroyed", func(i *cloudv1.Instance) { must(t, conn.Destroy(i.Status.InstanceID)) }},
		{"undefined", func(i *cloudv1.Instance) {
			must(t, conn.Destroy(i.Status.InstanceID))
			must(t, conn.Undefine(i.Status.InstanceID))
		}},
		{"spec-changed", func(i *cloudv1.Instance) { i.Generation++ }},
		{"reboot-asked", func(i *cloudv1.Instance) {
			i.Annotations = map[string]string{cloudv1.AnnotationRebootRequested: "2026-12-05T00:00:00Z"}
		}},
		{"terminating", func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredTerminated }},
		{"not-held", func(i *cloudv1.Instance) { i.Finalizers = nil }},
		{"status-stale", func(i *cloudv1.Instance) { i.Status.Domain.State = "shutoff" }},
		{"volume-gone", func(i *cloudv1.Instance) {
			i.Status.BlockDevices = []cloudv1.InstanceBlockDevice{{DeviceName: "/dev/sdf", VolumeID: "vol-0123456789abcdef0"}}
		}},
	} {
		inst := launch(c.name, cloudv1.DesiredRunning)
		c.drift(inst)
		drifted[c.name] = inst
	}
	// A stopped instance whose domain was started behind the agent's back.
	startedAnyway := launch("started-anyway", cloudv1.DesiredStopped)
	must(t, conn.Start(startedAnyway.Status.InstanceID))
	drifted["started-anyway"] = startedAnyway

	doms, err := conn.List()
	if err != nil {
		t.Fatal(err)
	}
	byName := func(id string) *libvirt.Domain {
		for i := range doms {
			if doms[i].Name == id {
				return &doms[i]
			}
		}
		return nil
	}
	for name, inst := range settled {
		if s.needsSync(ctx, inst, byName(inst.Status.InstanceID)) {
			t.Errorf("%s: a settled instance would be reconciled by a resync", name)
		}
	}
	for name, inst := range drifted {
		if !s.needsSync(ctx, inst, byName(inst.Status.InstanceID)) {
			t.Errorf("%s: a drifted instance would be left alone by a resync", name)
		}
	}

	// The sweep itself: exactly the drifted instances are queued.
	out := make(chan event.TypedGenericEvent[*cloudv1.Instance], len(cache.items))
	(&orphanSweeper{sync: s, out: out}).sweep(ctx)
	close(out)
	var got, want []string
	for e := range out {
		got = append(got, e.Object.Name)
	}
	for name := range drifted {
		want = append(want, name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the sweep queued %v, want %v", got, want)
	}
}

// reconcileForTest runs one reconcile's decision and report on inst, as Reconcile does (without
// its writes).
func (s *instanceSync) reconcileForTest(t *testing.T, inst *cloudv1.Instance) {
	t.Helper()
	ctx := context.Background()
	sc := &syncScope{inst: inst, now: metav1.NewTime(time.Now())}
	must(t, s.observe(sc))
	var err error
	if inst.EffectiveDesiredState() == cloudv1.DesiredStopped {
		_, err = s.stop(ctx, sc)
	} else {
		_, err = s.start(ctx, sc)
	}
	must(t, err)
	must(t, s.report(ctx, sc))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
