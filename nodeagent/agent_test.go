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

package nodeagent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/chainhost"
)

var (
	env   *testenv.Env
	cloud *testcloud.Cloud
	once  sync.Once
)

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(nodeagent.ChainHostArgsEnv); ok {
		// The test binary run as `nodeagent volume-chains` (the QEMU fixture's chain host).
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := chainhost.RunCommand(ctx, strings.Fields(args))
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	nodeagent.APIServer = func() *testenv.Env { return env }
	testenv.Main(m, &env)
}

// Timeouts for waits; generous, because tests run on loaded two-core machines.
const (
	shortWait = 30 * time.Second
	longWait  = 3 * time.Minute
)

// startCloud runs the package's cloud (manager, object store, EC2 API) once; tests add
// simulated nodes and images of their own.
func startCloud(t *testing.T) *testcloud.Cloud {
	t.Helper()
	once.Do(func() {
		c, err := testcloud.Start(env, testcloud.Options{TerminatedRetention: 3 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cloud = c
	})
	return cloud
}

// newProject makes a project with a user and an available machine image named "img".
func newProject(t *testing.T, c *testcloud.Cloud, name string) string {
	t.Helper()
	// The agent's tests launch more than a project's default quota allows.
	c.AddProjectWithQuota(t, name, testcloud.NoQuota())
	creds := c.AddUser(t, name+"-user", false, name)
	c.RegisterRawImage(t, creds, name, "img", []byte(strings.Repeat("pinet", 1000)), false)
	return name
}

func newInstance(t *testing.T, ns, name, itype, zone string) *cloudv1.Instance {
	t.Helper()
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       cloudv1.InstanceSpec{ImageID: "img", InstanceType: itype, AvailabilityZone: zone},
	}
	if err := env.Client.Create(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	return inst
}

func get(t *testing.T, key client.ObjectKey) (*cloudv1.Instance, error) {
	inst := &cloudv1.Instance{}
	err := env.Client.Get(context.Background(), key, inst)
	return inst, err
}

func waitState(t *testing.T, key client.ObjectKey, state cloudv1.InstanceState) *cloudv1.Instance {
	t.Helper()
	var inst *cloudv1.Instance
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to be %s", key, state), func() error {
		var err error
		inst, err = get(t, key)
		if err != nil {
			return err
		}
		if inst.Status.State == state {
			return nil
		}
		return fmt.Errorf("state %q, conditions %v", inst.Status.State, inst.Status.Conditions)
	})
	return inst
}

func waitGone(t *testing.T, key client.ObjectKey) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to be deleted", key), func() error {
		_, err := get(t, key)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			return errors.New("it still exists")
		}
		return err
	})
}

func TestInstanceLifecycle(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "life-1", "zone-life", 4, 8192)
	ns := newProject(t, c, "agent-life")
	ctx := context.Background()

	inst := newInstance(t, ns, "web", "m1.small", "zone-life")
	key := client.ObjectKeyFromObject(inst)
	inst = waitState(t, key, cloudv1.InstanceStateRunning)

	if inst.Status.Hypervisor != "life-1" || inst.Labels[cloudv1.LabelHypervisor] != "life-1" {
		t.Fatalf("placement %q / label %q", inst.Status.Hypervisor, inst.Labels[cloudv1.LabelHypervisor])
	}
	id := inst.Status.InstanceID
	for _, c := range []string{cloudv1.InstanceScheduled, cloudv1.ReadyCondition, cloudv1.InstanceDomainDefined, cloudv1.InstanceGuestRunning} {
		if !conditions.IsTrue(inst, c) {
			t.Errorf("condition %s not True: %+v", c, conditions.Get(inst, c))
		}
	}
	d, ok := node.Domains(t)[id]
	if !ok || d.State != "running" || d.VCPUs != 1 || d.MemoryMiB != 2048 {
		t.Fatalf("domain %s: %+v (found %v)", id, d, ok)
	}
	if inst.Status.AvailabilityZone != "zone-life" || inst.Status.ReservationID == "" || inst.Status.OwnerID != ns {
		t.Fatalf("status %+v", inst.Status)
	}

	// Stop, then start again: the id never changes.
	update(t, key, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredStopped })
	inst = waitState(t, key, cloudv1.InstanceStateStopped)
	testenv.Eventually(t, shortWait, "domain to shut off", func() error {
		if state := node.Domains(t)[id].State; state != "shutoff" {
			return fmt.Errorf("domain state %q", state)
		}
		return nil
	})
	update(t, key, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredRunning })
	inst = waitState(t, key, cloudv1.InstanceStateRunning)
	if inst.Status.InstanceID != id {
		t.Fatalf("instance id changed from %s to %s", id, inst.Status.InstanceID)
	}
	// The agent's report that shows the guest running made it running, at the launch and at the
	// start: one Running event each, the agent's (the instance controller wrote no state of its
	// own after the report).
	testenv.Eventually(t, shortWait, "two Running events from the agent", func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		var running []string
		for _, e := range list.Items {
			if e.Reason == "Running" && e.Regarding.Name == "web" {
				n := 1 // a second alike event makes the first a series
				if e.Series != nil {
					n = int(e.Series.Count)
				}
				for range n {
					running = append(running, e.ReportingController)
				}
			}
		}
		if len(running) != 2 || running[0] != "pinet-nodeagent" || running[1] != "pinet-nodeagent" {
			return fmt.Errorf("Running events reported by %v", running)
		}
		return nil
	})

	// Delete: the domain goes, then the object.
	if err := env.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	waitGone(t, key)
	if _, ok := node.Domains(t)[id]; ok {
		t.Fatalf("domain %s still defined after delete", id)
	}
}

func TestTerminateKeepsInstanceForRetention(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "term-1", "zone-term", 2, 4096)
	ns := newProject(t, c, "agent-term")
	inst := newInstance(t, ns, "short-lived", "m1.tiny", "zone-term")
	key := client.ObjectKeyFromObject(inst)
	inst = waitState(t, key, cloudv1.InstanceStateRunning)
	id := inst.Status.InstanceID

	update(t, key, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredTerminated })
	inst = waitState(t, key, cloudv1.InstanceStateTerminated)
	if inst.Status.TerminatedTime == nil {
		t.Fatal("terminated instance has no terminatedTime")
	}
	if _, ok := node.Domains(t)[id]; ok {
		t.Fatal("terminated instance still has a domain")
	}
	// A terminated instance cannot be started again.
	err := testenv.Update(context.Background(), env.Client, inst, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredRunning })
	if err == nil || !strings.Contains(err.Error(), "cannot be started or stopped") {
		t.Fatalf("starting a terminated instance: %v", err)
	}
	// The package's manager keeps terminated instances for 3s.
	waitGone(t, key)
}

func TestTooBigStaysPending(t *testing.T) {
	tc := startCloud(t)
	tc.AddNode(t, "small-1", "zone-small", 2, 4096)
	ns := newProject(t, tc, "agent-small")
	inst := newInstance(t, ns, "huge", "m1.xlarge", "zone-small")
	key := client.ObjectKeyFromObject(inst)
	testenv.Eventually(t, longWait, "Scheduled=False with a capacity reason", func() error {
		got, err := get(t, key)
		if err != nil {
			return err
		}
		c := conditions.Get(got, cloudv1.InstanceScheduled)
		if c != nil && c.Status == metav1.ConditionFalse && c.Reason == cloudv1.ReasonInsufficientCapacity {
			return nil
		}
		return fmt.Errorf("%+v", c)
	})
	// It stays pending, and the reason names the shortage.
	time.Sleep(2 * time.Second)
	got, _ := get(t, key)
	c := conditions.Get(got, cloudv1.InstanceScheduled)
	if got.Status.State != cloudv1.InstanceStatePending || got.Status.Hypervisor != "" {
		t.Fatalf("too-big instance is %s on %q", got.Status.State, got.Status.Hypervisor)
	}
	if want := "short of CPU"; !strings.Contains(c.Message, want) {
		t.Fatalf("message %q does not name the shortage (%q)", c.Message, want)
	}
	if r := conditions.Get(got, cloudv1.ReadyCondition); r == nil || r.Status != metav1.ConditionFalse || r.Reason != cloudv1.ReasonInsufficientCapacity {
		t.Fatalf("Ready: %+v", r)
	}
}

// Fifty instances across three simulated nodes: every instance runs on exactly the node its status
// names, and no node takes more than it has.
func TestFiftyInstancesAcrossThreeNodes(t *testing.T) {
	c := startCloud(t)
	const zone = "zone-fifty"
	nodes := map[string]*testcloud.Node{
		"fifty-1": c.AddNode(t, "fifty-1", zone, 6, 16384),
		"fifty-2": c.AddNode(t, "fifty-2", zone, 6, 16384),
		"fifty-3": c.AddNode(t, "fifty-3", zone, 8, 16384),
	}
	capacity := map[string][2]int64{"fifty-1": {6, 16384}, "fifty-2": {6, 16384}, "fifty-3": {8, 16384}}
	ns := newProject(t, c, "agent-fifty")
	ctx := context.Background()
	// m1.tiny claims 0.2 CPU and 512 MiB; m1.small 1 CPU and 2048 MiB. 40 tiny + 10 small need
	// 18 of the 20 CPUs and 40960 of the 49152 MiB: the nodes are nearly full.
	for i := 0; i < 50; i++ {
		itype := "m1.tiny"
		if i%5 == 0 {
			itype = "m1.small"
		}
		newInstance(t, ns, fmt.Sprintf("vm-%02d", i), itype, zone)
	}
	var list cloudv1.InstanceList
	testenv.Eventually(t, longWait, "all 50 instances running", func() error {
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		running := 0
		for _, inst := range list.Items {
			if inst.Status.State == cloudv1.InstanceStateRunning {
				running++
			}
		}
		if running == 50 {
			return nil
		}
		return fmt.Errorf("%d running", running)
	})

	type use struct{ milliCPU, memMiB int64 }
	used := map[string]*use{}
	claims := map[string]use{"m1.tiny": {200, 512}, "m1.small": {1000, 2048}}
	for _, inst := range list.Items {
		n := nodes[inst.Status.Hypervisor]
		if n == nil {
			t.Fatalf("%s bound to unknown node %q", inst.Name, inst.Status.Hypervisor)
		}
		for name, other := range nodes {
			_, there := other.Domains(t)[inst.Status.InstanceID]
			if there != (name == inst.Status.Hypervisor) {
				t.Fatalf("%s (%s): domain on %s is %v; status says %s", inst.Name, inst.Status.InstanceID, name, there, inst.Status.Hypervisor)
			}
		}
		u := used[inst.Status.Hypervisor]
		if u == nil {
			u = &use{}
			used[inst.Status.Hypervisor] = u
		}
		c := claims[inst.Spec.InstanceType]
		u.milliCPU += c.milliCPU
		u.memMiB += c.memMiB
	}
	for name, n := range nodes {
		u := used[name]
		if u == nil {
			t.Fatalf("node %s got no instances", name)
		}
		if u.milliCPU > capacity[name][0]*1000 || u.memMiB > capacity[name][1] {
			t.Fatalf("node %s over capacity: %d mCPU of %d, %d MiB of %d", name, u.milliCPU, capacity[name][0]*1000, u.memMiB, capacity[name][1])
		}
		if got := len(n.Domains(t)); got != int(countOn(list.Items, name)) {
			t.Fatalf("node %s has %d domains, %d instances", name, got, countOn(list.Items, name))
		}
	}
}

func countOn(items []cloudv1.Instance, node string) int32 {
	var n int32
	for _, i := range items {
		if i.Status.Hypervisor == node {
			n++
		}
	}
	return n
}

// Killing the agent leaves running domains alone; when it comes back it re-reports, and a delete
// made while it was down completes.
func TestAgentRestart(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "restart-1", "zone-restart", 4, 8192)
	ns := newProject(t, c, "agent-restart")
	ctx := context.Background()
	a := newInstance(t, ns, "stays", "m1.small", "zone-restart")
	b := newInstance(t, ns, "goes", "m1.small", "zone-restart")
	a = waitState(t, client.ObjectKeyFromObject(a), cloudv1.InstanceStateRunning)
	b = waitState(t, client.ObjectKeyFromObject(b), cloudv1.InstanceStateRunning)
	before := node.Domains(t)

	node.Stop()
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	// Without the agent the delete cannot finish: the domain still exists.
	waitState(t, client.ObjectKeyFromObject(b), cloudv1.InstanceStateShuttingDown)
	if _, ok := node.Domains(t)[b.Status.InstanceID]; !ok {
		t.Fatal("domain vanished while the agent was down")
	}

	node.Start()
	waitGone(t, client.ObjectKeyFromObject(b))
	after := node.Domains(t)
	if _, ok := after[b.Status.InstanceID]; ok {
		t.Fatal("domain of the deleted instance survived the agent's restart")
	}
	da, db := before[a.Status.InstanceID], after[a.Status.InstanceID]
	if db.State != "running" || da.UUID != db.UUID {
		t.Fatalf("running domain disturbed by the restart: before %+v after %+v", da, db)
	}
	got := waitState(t, client.ObjectKeyFromObject(a), cloudv1.InstanceStateRunning)
	if got.Status.Domain == nil || !got.Status.Domain.StartTime.Equal(a.Status.Domain.StartTime) {
		t.Fatalf("restart changed the reported start time: %v -> %v", a.Status.Domain, got.Status.Domain)
	}
}

// An instance terminated after its binding but before its node's agent took it up gets no
// domain, and is not reported terminated while the agent may still act on it: the binding holds
// the instance for the agent (its domain finalizer), so it stays shutting-down until the agent,
// back, lets it go without defining anything.
func TestTerminatedBeforeItsAgentActsGetsNoDomain(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "early-1", "zone-early", 2, 4096)
	ns := newProject(t, c, "agent-early")
	// Stopped, the node stays ready until its heartbeats are missed (30 s here): long enough
	// to be bound to.
	node.Stop()
	inst := newInstance(t, ns, "early", "m1.tiny", "zone-early")
	key := client.ObjectKeyFromObject(inst)
	testenv.Eventually(t, shortWait, "the instance to be bound", func() error {
		got, err := get(t, key)
		if err != nil {
			return err
		}
		if got.Status.Hypervisor != "early-1" {
			return fmt.Errorf("hypervisor %q", got.Status.Hypervisor)
		}
		if !controllerutil.ContainsFinalizer(got, cloudv1.DomainFinalizer) {
			return fmt.Errorf("bound without the domain finalizer: %v", got.Finalizers)
		}
		return nil
	})
	update(t, key, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredTerminated })
	// Shutting down, not terminated (the state the instance controller derives without the
	// agent's hold): the agent down, nothing lets the hold go.
	if held := waitState(t, key, cloudv1.InstanceStateShuttingDown); !controllerutil.ContainsFinalizer(held, cloudv1.DomainFinalizer) {
		t.Fatalf("shutting down without the domain finalizer: %v", held.Finalizers)
	}

	node.Start()
	got := waitState(t, key, cloudv1.InstanceStateTerminated)
	if _, ok := node.Domains(t)[got.Status.InstanceID]; ok {
		t.Fatalf("a domain was defined for %s, terminated before its agent acted", got.Status.InstanceID)
	}
}

// A domain of this cloud whose instance is gone is removed by the sweep, whether it names this
// node or (made by an older agent) none; domains PiNet did not make, or another cloud's agent or
// another node's agent made on a shared libvirtd, are left alone.
func TestOrphanSweep(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "orphan-1", "zone-orphan", 2, 4096)
	ks := &corev1.Namespace{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "kube-system"}, ks); err != nil {
		t.Fatal(err)
	}
	owned := func(name, cloud, node string) string {
		return `<domain type="test"><name>` + name + `</name>
<metadata><instance xmlns="https://pinet.io/xmlns/domain/1"><cloud>` + cloud + `</cloud><namespace>nowhere</namespace>
<name>gone</name><uid>11111111-2222-3333-4444-555555555555</uid><instanceId>` + name + `</instanceId>` + node + `</instance></metadata>
<memory unit="MiB">64</memory><os><type arch="x86_64">hvm</type></os></domain>`
	}
	for _, x := range []string{
		owned("i-00000000000000001", string(ks.UID), ""),
		owned("i-00000000000000002", "another-cloud", ""),
		owned("i-00000000000000003", string(ks.UID), "<node>orphan-1</node>"),
		owned("i-00000000000000004", string(ks.UID), "<node>orphan-2</node>"),
		`<domain type="test"><name>not-ours</name><memory unit="MiB">64</memory><os><type arch="x86_64">hvm</type></os></domain>`,
	} {
		if err := node.Conn.Define(x); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, shortWait, "the orphans to be removed", func() error {
		for _, gone := range []string{"i-00000000000000001", "i-00000000000000003"} {
			if _, ok := node.Domains(t)[gone]; ok {
				return fmt.Errorf("%s is still defined", gone)
			}
		}
		return nil
	})
	for _, keep := range []string{"not-ours", "i-00000000000000002", "i-00000000000000004"} {
		if _, ok := node.Domains(t)[keep]; !ok {
			t.Fatalf("the sweep removed %s, which this cloud did not make", keep)
		}
	}
}
