/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent/libvirt"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// Timeouts for waits; generous, because tests run on loaded two-core machines.
const (
	shortWait = 30 * time.Second
	longWait  = 3 * time.Minute
)

var managerOnce sync.Once

// startControllers runs the real manager (every controller) once for the package.
func startControllers(t *testing.T) {
	t.Helper()
	managerOnce.Do(func() {
		mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
			Scheme:                 env.Scheme,
			Metrics:                metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress: "0",
			Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := env.Ctx
		if err := controllers.Setup(ctx, mgr, controllers.Options{
			SeedInstanceTypes: true, HeartbeatTimeout: 20 * time.Second, TerminatedRetention: 3 * time.Second,
		}); err != nil {
			t.Fatal(err)
		}
		go func() {
			if err := mgr.Start(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "manager:", err)
			}
		}()
	})
}

// simNode is a simulated hypervisor: a real agent on its own libvirt test-driver connection. The
// connection outlives agent restarts, as libvirtd outlives a node agent.
type simNode struct {
	cfg    Config
	conn   *libvirt.Conn
	cancel context.CancelFunc
	done   chan error
}

func startNode(t *testing.T, name, zone string, vcpus int32, memMiB int64) *simNode {
	t.Helper()
	dir := t.TempDir()
	nodeXML := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conn, err := libvirt.Open(context.Background(), "test://"+nodeXML)
	if err != nil {
		t.Fatal(err)
	}
	n := &simNode{conn: conn, cfg: Config{
		NodeName: name, LibvirtURI: conn.URI(), Zone: zone, VCPUs: vcpus, MemoryMiB: memMiB,
		StateDir: dir, HeartbeatInterval: 2 * time.Second, MinReportInterval: 200 * time.Millisecond,
		FactsInterval: 200 * time.Millisecond, ResyncInterval: 2 * time.Second, ShutdownGrace: 2 * time.Second,
	}}
	n.start()
	t.Cleanup(func() {
		n.stop()
		conn.Close()
	})
	return n
}

func (n *simNode) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- run(ctx, n.cfg, env.Config, n.conn) }()
}

func (n *simNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

func (n *simNode) domains(t *testing.T) map[string]libvirt.Domain {
	t.Helper()
	list, err := n.conn.List()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]libvirt.Domain{}
	for _, d := range list {
		out[d.Name] = d
	}
	return out
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}

// newProject makes a namespace with a machine image named "img" in it.
func newProject(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "agent-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	img := &cloudv1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: ns.Name},
		Spec:       cloudv1.ImageSpec{ImageLocation: "images/sample/manifest.xml"},
	}
	if err := env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	return ns.Name
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
	waitFor(t, longWait, fmt.Sprintf("%s to be %s", key, state), func() (bool, error) {
		var err error
		inst, err = get(t, key)
		if err != nil {
			return false, err
		}
		return inst.Status.State == state, fmt.Errorf("state %q, conditions %v", inst.Status.State, inst.Status.Conditions)
	})
	return inst
}

func waitGone(t *testing.T, key client.ObjectKey) {
	t.Helper()
	waitFor(t, longWait, fmt.Sprintf("%s to be deleted", key), func() (bool, error) {
		_, err := get(t, key)
		return apierrors.IsNotFound(err), err
	})
}

func TestInstanceLifecycle(t *testing.T) {
	startControllers(t)
	node := startNode(t, "life-1", "zone-life", 4, 8192)
	ns := newProject(t)
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
	d, ok := node.domains(t)[id]
	if !ok || d.State != "running" || d.VCPUs != 1 || d.MemoryMiB != 2048 {
		t.Fatalf("domain %s: %+v (found %v)", id, d, ok)
	}
	if inst.Status.AvailabilityZone != "zone-life" || inst.Status.ReservationID == "" || inst.Status.OwnerID != ns {
		t.Fatalf("status %+v", inst.Status)
	}

	// Stop, then start again: the id never changes.
	inst.Spec.DesiredState = cloudv1.DesiredStopped
	if err := env.Client.Update(ctx, inst); err != nil {
		t.Fatal(err)
	}
	inst = waitState(t, key, cloudv1.InstanceStateStopped)
	waitFor(t, shortWait, "domain to shut off", func() (bool, error) {
		return node.domains(t)[id].State == "shutoff", nil
	})
	inst.Spec.DesiredState = cloudv1.DesiredRunning
	if err := env.Client.Update(ctx, inst); err != nil {
		t.Fatal(err)
	}
	inst = waitState(t, key, cloudv1.InstanceStateRunning)
	if inst.Status.InstanceID != id {
		t.Fatalf("instance id changed from %s to %s", id, inst.Status.InstanceID)
	}

	// Delete: the domain goes, then the object.
	if err := env.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	waitGone(t, key)
	if _, ok := node.domains(t)[id]; ok {
		t.Fatalf("domain %s still defined after delete", id)
	}
}

func TestTerminateKeepsInstanceForRetention(t *testing.T) {
	startControllers(t)
	node := startNode(t, "term-1", "zone-term", 2, 4096)
	ns := newProject(t)
	inst := newInstance(t, ns, "short-lived", "m1.tiny", "zone-term")
	key := client.ObjectKeyFromObject(inst)
	inst = waitState(t, key, cloudv1.InstanceStateRunning)
	id := inst.Status.InstanceID

	inst.Spec.DesiredState = cloudv1.DesiredTerminated
	if err := env.Client.Update(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	inst = waitState(t, key, cloudv1.InstanceStateTerminated)
	if inst.Status.TerminatedTime == nil {
		t.Fatal("terminated instance has no terminatedTime")
	}
	if _, ok := node.domains(t)[id]; ok {
		t.Fatal("terminated instance still has a domain")
	}
	// A terminated instance cannot be started again.
	inst.Spec.DesiredState = cloudv1.DesiredRunning
	if err := env.Client.Update(context.Background(), inst); err == nil {
		t.Fatal("starting a terminated instance was accepted")
	}
	// The package's manager keeps terminated instances for 3s.
	waitGone(t, key)
}

func TestTooBigStaysPending(t *testing.T) {
	startControllers(t)
	startNode(t, "small-1", "zone-small", 2, 4096)
	ns := newProject(t)
	inst := newInstance(t, ns, "huge", "m1.xlarge", "zone-small")
	key := client.ObjectKeyFromObject(inst)
	waitFor(t, longWait, "Scheduled=False with a capacity reason", func() (bool, error) {
		got, err := get(t, key)
		if err != nil {
			return false, err
		}
		c := conditions.Get(got, cloudv1.InstanceScheduled)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == cloudv1.ReasonInsufficientCapacity, fmt.Errorf("%+v", c)
	})
	// It stays pending, and the reason names the shortage.
	time.Sleep(2 * time.Second)
	got, _ := get(t, key)
	c := conditions.Get(got, cloudv1.InstanceScheduled)
	if got.Status.State != cloudv1.InstanceStatePending || got.Status.Hypervisor != "" {
		t.Fatalf("too-big instance is %s on %q", got.Status.State, got.Status.Hypervisor)
	}
	if want := "short of CPU"; !contains(c.Message, want) {
		t.Fatalf("message %q does not name the shortage (%q)", c.Message, want)
	}
	if r := conditions.Get(got, cloudv1.ReadyCondition); r == nil || r.Status != metav1.ConditionFalse || r.Reason != cloudv1.ReasonInsufficientCapacity {
		t.Fatalf("Ready: %+v", r)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// Fifty instances across three simulated nodes: every instance runs on exactly the node its status
// names, and no node takes more than it has.
func TestFiftyInstancesAcrossThreeNodes(t *testing.T) {
	startControllers(t)
	const zone = "zone-fifty"
	nodes := map[string]*simNode{
		"fifty-1": startNode(t, "fifty-1", zone, 6, 16384),
		"fifty-2": startNode(t, "fifty-2", zone, 6, 16384),
		"fifty-3": startNode(t, "fifty-3", zone, 8, 16384),
	}
	ns := newProject(t)
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
	waitFor(t, longWait, "all 50 instances running", func() (bool, error) {
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		running := 0
		for _, inst := range list.Items {
			if inst.Status.State == cloudv1.InstanceStateRunning {
				running++
			}
		}
		return running == 50, fmt.Errorf("%d running", running)
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
			_, there := other.domains(t)[inst.Status.InstanceID]
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
		if u.milliCPU > int64(n.cfg.VCPUs)*1000 || u.memMiB > n.cfg.MemoryMiB {
			t.Fatalf("node %s over capacity: %d mCPU of %d, %d MiB of %d", name, u.milliCPU, n.cfg.VCPUs*1000, u.memMiB, n.cfg.MemoryMiB)
		}
		if got := len(n.domains(t)); got != int(countOn(list.Items, name)) {
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
	startControllers(t)
	node := startNode(t, "restart-1", "zone-restart", 4, 8192)
	ns := newProject(t)
	ctx := context.Background()
	a := newInstance(t, ns, "stays", "m1.small", "zone-restart")
	b := newInstance(t, ns, "goes", "m1.small", "zone-restart")
	a = waitState(t, client.ObjectKeyFromObject(a), cloudv1.InstanceStateRunning)
	b = waitState(t, client.ObjectKeyFromObject(b), cloudv1.InstanceStateRunning)
	before := node.domains(t)

	node.stop()
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	// Without the agent the delete cannot finish: the domain still exists.
	time.Sleep(2 * time.Second)
	if got, err := get(t, client.ObjectKeyFromObject(b)); err != nil || got.Status.State != cloudv1.InstanceStateShuttingDown {
		t.Fatalf("deleted instance with its agent down: %v, state %q", err, got.Status.State)
	}
	if _, ok := node.domains(t)[b.Status.InstanceID]; !ok {
		t.Fatal("domain vanished while the agent was down")
	}

	node.start()
	waitGone(t, client.ObjectKeyFromObject(b))
	after := node.domains(t)
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

// A domain of this cloud whose instance is gone is removed by the sweep; domains PiNet did not
// make, or another cloud's agent made on a shared libvirtd, are left alone.
func TestOrphanSweep(t *testing.T) {
	startControllers(t)
	node := startNode(t, "orphan-1", "zone-orphan", 2, 4096)
	ks := &corev1.Namespace{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "kube-system"}, ks); err != nil {
		t.Fatal(err)
	}
	owned := func(name, cloud string) string {
		return `<domain type="test"><name>` + name + `</name>
<metadata><instance xmlns="https://pinet.io/xmlns/domain/1"><cloud>` + cloud + `</cloud><namespace>nowhere</namespace>
<name>gone</name><uid>11111111-2222-3333-4444-555555555555</uid><instanceId>` + name + `</instanceId></instance></metadata>
<memory unit="MiB">64</memory><os><type arch="x86_64">hvm</type></os></domain>`
	}
	for _, x := range []string{
		owned("i-00000000000000001", string(ks.UID)),
		owned("i-00000000000000002", "another-cloud"),
		`<domain type="test"><name>not-ours</name><memory unit="MiB">64</memory><os><type arch="x86_64">hvm</type></os></domain>`,
	} {
		if err := node.conn.Define(x); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, shortWait, "the orphan to be removed", func() (bool, error) {
		_, ok := node.domains(t)["i-00000000000000001"]
		return !ok, nil
	})
	for _, keep := range []string{"not-ours", "i-00000000000000002"} {
		if _, ok := node.domains(t)[keep]; !ok {
			t.Fatalf("the sweep removed %s, which this cloud did not make", keep)
		}
	}
}
