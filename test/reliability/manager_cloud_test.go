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

// The manager's crash tests (manager_*_test.go) run the real manager binary as processes
// (internal/proccloud), kill them with SIGKILL and check that the cloud converges with nothing
// lost or duplicated. They start a control plane of their own and need no TestMain.

package reliability

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/proccloud"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// Named timeouts of the manager tests; the machines are loaded, so they are generous.
const (
	managerConvergeTimeout = 10 * time.Minute
	managerCallTimeout     = 5 * time.Minute
)

// managerLongFlag selects the long forms of the suite. Another file of this package may define
// the flag too: package variables are initialised before init functions run, so a definition
// there comes first, and this file only looks the flag up then, rather than defining it twice.
const managerLongFlag = "reliability.long"

func init() {
	if flag.Lookup(managerLongFlag) == nil {
		flag.Bool(managerLongFlag, false, "Run the long forms of the reliability tests.")
	}
}

// managerLongForm reports whether the long forms were asked for.
func managerLongForm() bool {
	f := flag.Lookup(managerLongFlag)
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	v, _ := g.Get().(bool)
	return v
}

// managerWorld is a control plane with manager processes, simulated nodes, a project with a
// user and an image.
type managerWorld struct {
	cloud   *proccloud.Cloud
	nodes   []*testcloud.Node
	project string
	creds   testcloud.Credentials
	image   string
}

// startManagerWorld starts a control plane of its own (so the test needs no TestMain), builds the
// manager and runs replicas of it, adds nodes enough for instances, a project whose quota is
// large but not unlimited (so every launch goes through the quota ledger), a user and an image.
func startManagerWorld(t *testing.T, replicas, instances int) *managerWorld {
	t.Helper()
	if os.Getenv("PINET_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Log("stopping the control plane:", err)
		}
	})
	bin, err := proccloud.BuildManager(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := proccloud.Start(t, env, proccloud.Options{Binary: bin, Replicas: replicas})
	w := &managerWorld{cloud: c, project: "reliab"}
	// A node takes 64 instances (the Hypervisor's default); one more than needed.
	for i := range instances/64 + 2 {
		w.nodes = append(w.nodes, c.AddNode(t, fmt.Sprintf("rel-node-%d", i), "pinet-1a", 256, 1<<20))
	}
	c.AddProjectWithQuota(t, w.project, cloudv1.ProjectQuota{
		Instances: ptr.To(int32(4 * instances)), VCPUs: ptr.To(int32(4 * instances)), MemoryMiB: ptr.To(int64(4096 * instances)),
	})
	w.creds = c.AddUser(t, "reliab-user", false, w.project)
	w.image = c.RegisterRawImage(t, w.creds, w.project, "rel-image", []byte("a raw image that no guest boots\n"), false)
	return w
}

// launched is what the launches returned: every instance id, with how often it was returned.
type launched map[string]int

// converge waits until the project has want instances, all running, each with exactly one
// domain; then it checks what must hold after any crash: the instances are exactly those the
// launches returned, each once; distinct private addresses each held by one claim of its
// instance; no id claim whose holder is gone.
func (w *managerWorld) converge(t *testing.T, want int, ids launched) {
	t.Helper()
	ctx := context.Background()
	env := w.cloud.Env
	var insts []cloudv1.Instance
	var domains map[string][]string
	testenv.Eventually(t, managerConvergeTimeout, fmt.Sprintf("%d instances running, one domain each", want), func() error {
		list := &cloudv1.InstanceList{}
		if err := env.Client.List(ctx, list, client.InNamespace(w.project)); err != nil {
			return err
		}
		insts = list.Items
		running := 0
		for i := range insts {
			if insts[i].Status.State == cloudv1.InstanceStateRunning {
				running++
			}
		}
		var err error
		if domains, err = w.domains(); err != nil {
			return err
		}
		if len(insts) != want || running != want || len(domains) != want {
			return fmt.Errorf("%d instances, %d running, %d domains", len(insts), running, len(domains))
		}
		return nil
	})
	w.checkExactlyOnce(t, insts, domains, ids)
	w.checkAddresses(t, insts)
	w.checkClaims(t, insts)
}

// running counts the project's running instances.
func (w *managerWorld) running(t *testing.T) int {
	t.Helper()
	list := &cloudv1.InstanceList{}
	if err := w.cloud.Env.Client.List(context.Background(), list, client.InNamespace(w.project)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range list.Items {
		if list.Items[i].Status.State == cloudv1.InstanceStateRunning {
			n++
		}
	}
	return n
}

// domains maps every domain name on the nodes to the nodes that have it.
func (w *managerWorld) domains() (map[string][]string, error) {
	out := map[string][]string{}
	for _, n := range w.nodes {
		list, err := n.Conn.List()
		if err != nil {
			return nil, fmt.Errorf("listing the domains of %s: %w", n.Name, err)
		}
		for _, d := range list {
			out[d.Name] = append(out[d.Name], n.Name)
		}
	}
	return out, nil
}

func (w *managerWorld) checkExactlyOnce(t *testing.T, insts []cloudv1.Instance, domains map[string][]string, ids launched) {
	t.Helper()
	if len(ids) != len(insts) {
		t.Errorf("the launches returned %d instance ids, the project has %d instances", len(ids), len(insts))
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("instance %s was returned by %d launches", id, n)
		}
	}
	for i := range insts {
		inst := &insts[i]
		if _, ok := ids[inst.Name]; !ok {
			t.Errorf("instance %s was made but no launch returned it", inst.Name)
		}
		if inst.Status.InstanceID != inst.Name {
			t.Errorf("instance %s has id %q", inst.Name, inst.Status.InstanceID)
		}
		if nodes := domains[inst.Name]; len(nodes) != 1 || nodes[0] != inst.Status.Hypervisor {
			t.Errorf("instance %s on %q has domains on %v", inst.Name, inst.Status.Hypervisor, nodes)
		}
	}
}

// checkAddresses checks that the instances have distinct private addresses of the project's
// subnet, each claimed once, by its instance.
func (w *managerWorld) checkAddresses(t *testing.T, insts []cloudv1.Instance) {
	t.Helper()
	ctx := context.Background()
	env := w.cloud.Env
	p := &cloudv1.Project{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: w.project}, p); err != nil {
		t.Fatal(err)
	}
	subnet, err := netip.ParsePrefix(p.Status.Subnet)
	if err != nil {
		t.Fatalf("the project's subnet %q: %v", p.Status.Subnet, err)
	}
	byIP := map[string]string{}
	uids := map[string]string{}
	for i := range insts {
		inst := &insts[i]
		ip, err := netip.ParseAddr(inst.Status.PrivateIPAddress)
		if err != nil || !subnet.Contains(ip) {
			t.Errorf("instance %s has private address %q, not in %s", inst.Name, inst.Status.PrivateIPAddress, subnet)
			continue
		}
		if other, dup := byIP[ip.String()]; dup {
			t.Errorf("instances %s and %s share the private address %s", other, inst.Name, ip)
		}
		byIP[ip.String()] = inst.Name
		uids[string(inst.UID)] = ip.String()
	}
	al := &ipam.Allocator{Client: env.Client, Reader: env.Client, Namespace: testenv.SystemNamespace}
	leases, err := al.Claims(ctx, ipam.HostSet(subnet).Label())
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int{}
	for i := range leases {
		holder := ptr.Deref(leases[i].Spec.HolderIdentity, "")
		if _, ok := uids[holder]; !ok {
			t.Errorf("address claim %s is held by %q, no instance of the project", leases[i].Name, holder)
		}
		held[holder]++
	}
	for uid, ip := range uids {
		if held[uid] != 1 {
			t.Errorf("the instance with %s (uid %s) holds %d address claims", ip, uid, held[uid])
		}
	}
}

// checkClaims checks that every instance holds the claim of its id, and that no id claim of any
// kind has lost its holder (the sweeper, with no grace, finds none to remove).
func (w *managerWorld) checkClaims(t *testing.T, insts []cloudv1.Instance) {
	t.Helper()
	ctx := context.Background()
	env := w.cloud.Env
	cl := &claims.Claimer{Client: env.Client, Reader: env.Client, Namespace: testenv.SystemNamespace}
	for i := range insts {
		if ok, err := cl.Holds(ctx, insts[i].Name, insts[i].UID); err != nil || !ok {
			t.Errorf("instance %s does not hold the claim of its id (%v)", insts[i].Name, err)
		}
	}
	removed, err := (&claims.Sweeper{Claimer: cl, Clock: clock.RealClock{}}).Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 0 {
		t.Errorf("%d id claims had lost their holders", removed)
	}
}
