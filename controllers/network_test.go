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
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	testclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers"
	"pinet.io/pinet/controllers/instance"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/testenv"
)

// claimsHeldBy lists the ipam claims held by uid.
func claimsHeldBy(t *testing.T, uid string) []coordinationv1.Lease {
	t.Helper()
	list := &coordinationv1.LeaseList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(testenv.SystemNamespace),
		client.MatchingLabels{ipam.LabelHolder: uid}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func getProject(t *testing.T, name string) *cloudv1.Project {
	t.Helper()
	p := &cloudv1.Project{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitProjectCondition waits until the project's Ready and NetworkAllocated say reason.
func waitProjectNetworkReason(t *testing.T, name, reason string) *cloudv1.Project {
	t.Helper()
	p := &cloudv1.Project{}
	testenv.Eventually(t, longWait, fmt.Sprintf("project %s %s", name, reason), func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, p); err != nil {
			return err
		}
		c := conditions.Get(p, cloudv1.ProjectNetworkAllocated)
		r := conditions.Get(p, cloudv1.ReadyCondition)
		if c == nil || c.Reason != reason || r == nil || r.Reason != reason && reason != cloudv1.ReasonNetworkAllocated {
			return fmt.Errorf("network %+v, ready %+v", c, r)
		}
		return nil
	})
	return p
}

// deleteProject deletes a project (its instances must be gone) and waits until it is.
func deleteProject(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Delete(ctx, &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}}); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "project "+name+" to go", func() error {
		err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &cloudv1.Project{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}

// Projects get distinct segments from the range and distinct subnets from the supernet, shown by
// kubectl; a deleted project's claims go with it.
func TestProjectsGetDistinctNetworks(t *testing.T) {
	startManager(t)
	names := []string{"net-one", "net-two", "net-three"}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = env.Client.Create(context.Background(), &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: n}})
		}()
	}
	wg.Wait()
	supernet := netip.MustParsePrefix(controllers.DefaultTenantSupernet)
	segs, subnets := map[int32]string{}, map[string]string{}
	for _, n := range names {
		p := waitProjectNetworkReason(t, n, cloudv1.ReasonNetworkAllocated)
		waitReady(t, p)
		sub, err := netip.ParsePrefix(p.Status.Subnet)
		if err != nil || sub.Bits() != controllers.DefaultTenantSubnetPrefix || !supernet.Contains(sub.Addr()) {
			t.Fatalf("%s: subnet %q", n, p.Status.Subnet)
		}
		if p.Status.SegmentID < 100 || p.Status.SegmentID > 4000 {
			t.Fatalf("%s: segment %d", n, p.Status.SegmentID)
		}
		if other, dup := segs[p.Status.SegmentID]; dup {
			t.Fatalf("segment %d given to %s and %s", p.Status.SegmentID, n, other)
		}
		if other, dup := subnets[p.Status.Subnet]; dup {
			t.Fatalf("subnet %s given to %s and %s", p.Status.Subnet, n, other)
		}
		segs[p.Status.SegmentID], subnets[p.Status.Subnet] = n, n
	}
	out, err := kubectl(t, env.Config, "", "get", "projects", "net-one")
	p := getProject(t, "net-one")
	if err != nil || !strings.Contains(out, "SEGMENT") || !strings.Contains(out, p.Status.Subnet) ||
		!strings.Contains(out, fmt.Sprint(p.Status.SegmentID)) {
		t.Fatalf("kubectl get projects: %v\n%s", err, out)
	}

	uid := string(p.UID)
	if held := claimsHeldBy(t, uid); len(held) != 2 {
		t.Fatalf("net-one holds %d claims, want a segment and a subnet", len(held))
	}
	deleteProject(t, "net-one")
	if held := claimsHeldBy(t, uid); len(held) != 0 {
		t.Fatalf("the deleted project still holds %d claims", len(held))
	}
	for _, n := range names[1:] {
		deleteProject(t, n)
	}
}

// With every segment or every subnet held, a new project says which ran out (Ready=False), holds
// neither, and gets both once another project goes.
func TestProjectNetworkExhaustion(t *testing.T) {
	t.Run("segments", func(t *testing.T) {
		startManagerWith(t, controllers.Options{SegmentRange: "4001-4001", TenantSupernet: "10.250.0.0/28", TenantSubnetPrefix: 29})
		exhaustOneProject(t, "seg-full", cloudv1.ReasonSegmentsExhausted)
	})
	t.Run("subnets", func(t *testing.T) {
		startManagerWith(t, controllers.Options{SegmentRange: "4001-4002", TenantSupernet: "10.250.0.0/29", TenantSubnetPrefix: 29})
		exhaustOneProject(t, "subnet-full", cloudv1.ReasonSubnetsExhausted)
	})
}

// exhaustOneProject creates two projects where only one network is free.
func exhaustOneProject(t *testing.T, prefix, reason string) {
	t.Helper()
	first, second := prefix+"-a", prefix+"-b"
	createProject(t, first)
	if err := env.Client.Create(context.Background(), &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: second}}); err != nil {
		t.Fatal(err)
	}
	p := waitProjectNetworkReason(t, second, reason)
	if p.Status.SegmentID != 0 || p.Status.Subnet != "" {
		t.Fatalf("an exhausted project shows segment %d subnet %q", p.Status.SegmentID, p.Status.Subnet)
	}
	// A retry may claim one half for a moment before it gives it back again: what it holds settles
	// at nothing.
	testenv.Eventually(t, shortWait, "the exhausted project to hold nothing", func() error {
		if held := claimsHeldBy(t, string(p.UID)); len(held) != 0 {
			return fmt.Errorf("an exhausted project holds %s", held[0].Name)
		}
		return nil
	})
	// Its namespace and the rest are there: only instances wait.
	if c := conditions.Get(p, cloudv1.ProjectNamespaceReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("NamespaceReady %+v", c)
	}
	held := getProject(t, first)
	deleteProject(t, first)
	p = waitProjectNetworkReason(t, second, cloudv1.ReasonNetworkAllocated)
	if p.Status.Subnet != held.Status.Subnet {
		t.Fatalf("the freed subnet %s went elsewhere: %s", held.Status.Subnet, p.Status.Subnet)
	}
	deleteProject(t, second)
}

// Bad network options stop the manager's setup with a clear error.
func TestBadNetworkOptionsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		opts controllers.Options
		want string
	}{
		{controllers.Options{SegmentRange: "4000-100"}, "segment range"},
		{controllers.Options{SegmentRange: "0-10"}, "segment range"},
		{controllers.Options{TenantSupernet: "10.0.0.0/33"}, "tenant supernet"},
		{controllers.Options{TenantSupernet: "fd00::/8"}, "tenant supernet"},
		{controllers.Options{TenantSubnetPrefix: 31}, "prefix"},
		{controllers.Options{TenantSupernet: "10.0.0.0/16", TenantSubnetPrefix: 8}, "prefix"},
		// A /17's instances would not all fit in the status of their default security group.
		{controllers.Options{TenantSubnetPrefix: 17}, "prefix"},
	} {
		mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
		if err != nil {
			t.Fatal(err)
		}
		err = controllers.Setup(context.Background(), mgr, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error about the %s", tc.opts, err, tc.want)
		}
	}
}

// instanceIn creates an instance that resolves and fits the quota in project.
func instanceIn(t *testing.T, project, name string) *cloudv1.Instance {
	t.Helper()
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
		Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny"}}
	if err := env.Client.Create(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	return inst
}

// projectWithImage creates a project without quota limits and an image its instances resolve.
func projectWithImage(t *testing.T, name string) *cloudv1.Project {
	t.Helper()
	ctx := context.Background()
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.ProjectSpec{Quota: cloudv1.ProjectQuota{
		Instances: ptr.To[int32](0), VCPUs: ptr.To[int32](0), MemoryMiB: ptr.To[int64](0)}}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p)
	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: name},
		Spec: cloudv1.ImageSpec{ImageLocation: "bucket/img.manifest.xml"}}
	if err := env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// addressCondition reads an instance and its AddressAssigned condition.
func addressCondition(inst *cloudv1.Instance) (*metav1.Condition, error) {
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(inst), inst); err != nil {
		return nil, err
	}
	return conditions.Get(inst, cloudv1.InstanceAddressAssigned), nil
}

func waitAddressed(t *testing.T, inst *cloudv1.Instance) {
	t.Helper()
	testenv.Eventually(t, longWait, inst.Name+" to get an address", func() error {
		c, err := addressCondition(inst)
		if err != nil {
			return err
		}
		if c == nil || c.Status != metav1.ConditionTrue || inst.Status.PrivateIPAddress == "" {
			return fmt.Errorf("AddressAssigned %+v", c)
		}
		return nil
	})
}

// checkNetworkStatus asserts an addressed instance shows its project's network and a MAC derived
// from its segment and address.
func checkNetworkStatus(t *testing.T, inst *cloudv1.Instance, p *cloudv1.Project) netip.Addr {
	t.Helper()
	st := inst.Status
	subnet := netip.MustParsePrefix(p.Status.Subnet)
	ip, err := netip.ParseAddr(st.PrivateIPAddress)
	if err != nil || !subnet.Contains(ip) || ip == subnet.Addr() || ip == ipam.Gateway(subnet) || ip == ipam.Broadcast(subnet) {
		t.Fatalf("%s: address %q in %s", inst.Name, st.PrivateIPAddress, subnet)
	}
	if st.SegmentID != p.Status.SegmentID || st.Subnet != p.Status.Subnet || st.Gateway != ipam.Gateway(subnet).String() ||
		st.MACAddress != ipam.MAC(p.Status.SegmentID, ip) || !strings.HasPrefix(st.MACAddress, "02:") ||
		st.PrivateDNSName != "ip-"+strings.ReplaceAll(ip.String(), ".", "-")+".compute.internal" {
		t.Fatalf("%s: network status %+v, project %+v", inst.Name, st, p.Status)
	}
	return ip
}

// Instances get distinct addresses of their project's subnet; when it is full the next one waits
// unscheduled with InsufficientAddresses and holds nothing; a terminated instance's address goes
// back and is reused; a deleted instance's claim goes.
func TestInstanceAddresses(t *testing.T) {
	// Each project gets a /29: five addresses for instances.
	startManagerWith(t, controllers.Options{TenantSupernet: "10.251.0.0/24", TenantSubnetPrefix: 29})
	ctx := context.Background()
	const project = "addrs"
	projectWithImage(t, project)
	p := getProject(t, project)

	var insts []*cloudv1.Instance
	for i := range 6 {
		insts = append(insts, instanceIn(t, project, fmt.Sprintf("vm-%d", i)))
	}
	var full *cloudv1.Instance
	testenv.Eventually(t, longWait, "five addressed, one refused", func() error {
		addressed, refused := 0, 0
		full = nil
		for _, inst := range insts {
			c, err := addressCondition(inst)
			if err != nil {
				return err
			}
			switch {
			case c != nil && c.Status == metav1.ConditionTrue:
				addressed++
			case c != nil && c.Reason == cloudv1.ReasonInsufficientAddresses:
				refused++
				full = inst
			}
		}
		if addressed != 5 || refused != 1 {
			return fmt.Errorf("%d addressed, %d refused", addressed, refused)
		}
		return nil
	})
	seen := map[netip.Addr]string{}
	macs := map[string]string{}
	for _, inst := range insts {
		if inst == full {
			continue
		}
		ip := checkNetworkStatus(t, inst, p)
		if other, dup := seen[ip]; dup {
			t.Fatalf("%s given to %s and %s", ip, inst.Name, other)
		}
		if other, dup := macs[inst.Status.MACAddress]; dup {
			t.Fatalf("MAC %s given to %s and %s", inst.Status.MACAddress, inst.Name, other)
		}
		seen[ip], macs[inst.Status.MACAddress] = inst.Name, inst.Name
	}
	// The refused one: nothing half-made, not scheduled (the scheduler leaves alone what the
	// instance controller has not cleared), and Ready says why.
	testenv.Eventually(t, longWait, "the refused instance's conditions", func() error {
		if _, err := addressCondition(full); err != nil {
			return err
		}
		ready, sched := conditions.Get(full, cloudv1.ReadyCondition), conditions.Get(full, cloudv1.InstanceScheduled)
		if ready == nil || ready.Reason != cloudv1.ReasonInsufficientAddresses || sched != nil {
			return fmt.Errorf("ready %+v, scheduled %+v", ready, sched)
		}
		return nil
	})
	if full.Status.PrivateIPAddress != "" || full.Status.MACAddress != "" || full.Status.Hypervisor != "" {
		t.Fatalf("the refused instance shows %+v", full.Status)
	}
	if held := claimsHeldBy(t, string(full.UID)); len(held) != 0 {
		t.Fatalf("the refused instance holds %s", held[0].Name)
	}
	out, err := kubectl(t, env.Config, "", "get", "instances", "-n", project)
	if err != nil || !strings.Contains(out, "PRIVATE IP") || !strings.Contains(out, insts[0].Status.PrivateIPAddress) {
		t.Fatalf("kubectl get instances: %v\n%s", err, out)
	}

	// Terminating one gives its address back; the waiting instance gets it.
	victim := insts[0]
	if victim == full {
		victim = insts[1]
	}
	freed := victim.Status.PrivateIPAddress
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(victim), victim); err != nil {
			return err
		}
		victim.Spec.DesiredState = cloudv1.DesiredTerminated
		return env.Client.Update(ctx, victim)
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the terminated instance to release its address", func() error {
		c, err := addressCondition(victim)
		if err != nil {
			return err
		}
		if c == nil || c.Reason != cloudv1.ReasonAddressReleased || victim.Status.PrivateIPAddress != "" || victim.Status.MACAddress != "" {
			return fmt.Errorf("AddressAssigned %+v, status %+v", c, victim.Status)
		}
		return nil
	})
	if held := claimsHeldBy(t, string(victim.UID)); len(held) != 0 {
		t.Fatalf("the terminated instance holds %s", held[0].Name)
	}
	waitAddressed(t, full)
	if full.Status.PrivateIPAddress != freed {
		t.Fatalf("the waiting instance got %s, not the freed %s", full.Status.PrivateIPAddress, freed)
	}
	checkNetworkStatus(t, full, p)

	// Deleting releases the claim too; the project then goes with its network.
	for _, inst := range insts {
		if err := env.Client.Delete(ctx, inst); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, longWait, "the instances to go", func() error {
		list := &cloudv1.InstanceList{}
		if err := env.Client.List(ctx, list, client.InNamespace(project)); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d left", len(list.Items))
		}
		return nil
	})
	for _, inst := range insts {
		if held := claimsHeldBy(t, string(inst.UID)); len(held) != 0 {
			t.Fatalf("deleted %s holds %s", inst.Name, held[0].Name)
		}
	}
	deleteProject(t, project)
	if held := claimsHeldBy(t, string(p.UID)); len(held) != 0 {
		t.Fatalf("the deleted project holds %s", held[0].Name)
	}
}

// strayClaim makes a claim on ip for holder the way a reconcile that never recorded it would
// have left it.
func strayClaim(t *testing.T, subnet netip.Prefix, ip netip.Addr, holder string) string {
	t.Helper()
	set := ipam.HostSet(subnet)
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.SystemNamespace, Name: ipam.ClaimName(set.Name, ip),
			Labels:      map[string]string{ipam.LabelSet: set.Name, ipam.LabelHolder: holder, ipam.LabelHolderKind: ipam.HostHolderKind},
			Annotations: map[string]string{ipam.AnnotationValue: ip.String()}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder)},
	}
	if err := env.Client.Create(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return l.Name
}

// Instances release the address they record by its claim's name; the claims none of them needs
// (one a reconcile made and never recorded, one of an instance gone while no manager ran, one
// of a terminated instance) are the address sweeper's, which keeps every recorded address.
func TestAddressClaimsNoInstanceNeedsAreSwept(t *testing.T) {
	startManagerWith(t, controllers.Options{TenantSupernet: "10.252.0.0/24", TenantSubnetPrefix: 28})
	ctx := context.Background()
	const project = "sweep"
	projectWithImage(t, project)
	p := getProject(t, project)
	subnet := netip.MustParsePrefix(p.Status.Subnet)
	live, done := instanceIn(t, project, "live"), instanceIn(t, project, "done")
	waitAddressed(t, live)
	waitAddressed(t, done)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(done), done); err != nil {
			return err
		}
		done.Spec.DesiredState = cloudv1.DesiredTerminated
		return env.Client.Update(ctx, done)
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the terminated instance to release its address", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(done), done); err != nil {
			return err
		}
		if done.Status.PrivateIPAddress != "" {
			return fmt.Errorf("it records %s", done.Status.PrivateIPAddress)
		}
		return nil
	})
	if held := claimsHeldBy(t, string(done.UID)); len(held) != 0 {
		t.Fatalf("the terminated instance holds %s", held[0].Name)
	}

	// Three free addresses of the subnet, claimed for holders that do not need them.
	var free []netip.Addr
	set := ipam.HostSet(subnet)
	for a := subnet.Addr(); subnet.Contains(a) && len(free) < 3; a = a.Next() {
		if set.Contains(a) && a.String() != live.Status.PrivateIPAddress {
			free = append(free, a)
		}
	}
	stray := map[string]string{
		strayClaim(t, subnet, free[0], string(live.UID)):                       "the running instance's unrecorded claim",
		strayClaim(t, subnet, free[1], "9d2c6a4e-0000-4000-8000-000000000000"): "a gone instance's claim",
		strayClaim(t, subnet, free[2], string(done.UID)):                       "the terminated instance's claim",
	}

	r := &instance.Reconciler{Client: env.Client, APIReader: env.Client,
		Addresses: &ipam.Allocator{Client: env.Client, Reader: env.Client, Namespace: testenv.SystemNamespace}}
	sweeper := r.AddressSweeper(time.Minute)
	sweeper.Clock = testclock.NewFakePassiveClock(time.Now())
	if n, err := sweeper.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("a sweep within the grace released %d claims (%v)", n, err)
	}
	sweeper.Clock = testclock.NewFakePassiveClock(time.Now().Add(time.Hour))
	if n, err := sweeper.Sweep(ctx); n != 3 || err != nil {
		t.Fatalf("the sweep released %d claims (%v), want 3", n, err)
	}
	for name, what := range stray {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: name}, &coordinationv1.Lease{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s (%s) is still there: %v", what, name, err)
		}
	}
	held := claimsHeldBy(t, string(live.UID))
	if len(held) != 1 || held[0].Name != ipam.ClaimName(set.Name, netip.MustParseAddr(live.Status.PrivateIPAddress)) {
		t.Fatalf("the running instance holds %d claims after the sweep, want its address's", len(held))
	}
}

// A member of project B, with kubectl, cannot get an address of project A: an instance named like
// A's, with A's address written in its manifest's status, gets one of B's subnet, and the member
// cannot write status.
func TestInstanceOfAnotherProjectNeverGetsItsAddress(t *testing.T) {
	startManager(t)
	pa, pb := projectWithImage(t, "net-iso-a"), projectWithImage(t, "net-iso-b")
	a := instanceIn(t, pa.Name, "vm")
	waitAddressed(t, a)
	checkNetworkStatus(t, a, pa)

	cfg, err := env.AddUser("pinet:user:bee", cloudv1.ProjectGroupPrefix+pb.Name)
	if err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`apiVersion: cloud.pinet.io/v1alpha1
kind: Instance
metadata: {name: vm, namespace: %s}
spec: {imageId: img, instanceType: m1.tiny}
status: {privateIpAddress: %q, macAddress: %q, subnet: %q, segmentId: %d, gateway: %q}
`, pb.Name, a.Status.PrivateIPAddress, a.Status.MACAddress, a.Status.Subnet, a.Status.SegmentID, a.Status.Gateway)
	if out, err := kubectl(t, cfg, manifest, "create", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: pb.Name, Name: "vm"}}
	waitAddressed(t, b)
	ipB := checkNetworkStatus(t, b, pb)
	if netip.MustParsePrefix(pa.Status.Subnet).Contains(ipB) {
		t.Fatalf("B's instance got %s of A's subnet %s", ipB, pa.Status.Subnet)
	}
	patch := fmt.Sprintf(`{"status":{"privateIpAddress":%q}}`, a.Status.PrivateIPAddress)
	if out, err := kubectl(t, cfg, "", "patch", "instance", "vm", "-n", pb.Name, "--subresource=status", "--type=merge", "-p", patch); err == nil ||
		!strings.Contains(out, "forbidden") {
		t.Fatalf("a member wrote an instance's status: %v\n%s", err, out)
	}
	for _, inst := range []*cloudv1.Instance{a, b} {
		if err := env.Client.Delete(context.Background(), inst); err != nil {
			t.Fatal(err)
		}
	}
	deleteProject(t, pa.Name)
	deleteProject(t, pb.Name)
}

// Two managers running at once (no leader election) never give two projects one segment or
// subnet, nor two instances one address, and each holder ends with one claim of each kind.
func TestTwoManagersNeverShareANetwork(t *testing.T) {
	opts := controllers.Options{SegmentRange: "5000-5999", TenantSupernet: "10.252.0.0/16", TenantSubnetPrefix: 28}
	startManagerWith(t, opts)
	startManagerWith(t, opts)
	ctx := context.Background()
	var names []string
	for i := range 8 {
		names = append(names, fmt.Sprintf("twin-%d", i))
	}
	for _, n := range names {
		if err := env.Client.Create(ctx, &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	segs, subnets := map[int32]string{}, map[string]string{}
	for _, n := range names {
		p := waitProjectNetworkReason(t, n, cloudv1.ReasonNetworkAllocated)
		if other, dup := segs[p.Status.SegmentID]; dup {
			t.Fatalf("segment %d given to %s and %s", p.Status.SegmentID, n, other)
		}
		if other, dup := subnets[p.Status.Subnet]; dup {
			t.Fatalf("subnet %s given to %s and %s", p.Status.Subnet, n, other)
		}
		segs[p.Status.SegmentID], subnets[p.Status.Subnet] = n, n
		// As for instances below: the other manager may still be giving back a claim of its own.
		testenv.Eventually(t, longWait, n+" to hold two claims", func() error {
			if held := claimsHeldBy(t, string(p.UID)); len(held) != 2 {
				return fmt.Errorf("%s holds %d claims, want 2", n, len(held))
			}
			return nil
		})
	}

	p := getProject(t, names[0])
	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: p.Name}, Spec: cloudv1.ImageSpec{ImageLocation: "bucket/img.manifest.xml"}}
	if err := env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	var insts []*cloudv1.Instance
	for i := range 6 {
		insts = append(insts, instanceIn(t, p.Name, fmt.Sprintf("twin-vm-%d", i)))
	}
	ips := map[netip.Addr]string{}
	for _, inst := range insts {
		waitAddressed(t, inst)
		ip := checkNetworkStatus(t, inst, p)
		if other, dup := ips[ip]; dup {
			t.Fatalf("%s given to %s and %s", ip, inst.Name, other)
		}
		ips[ip] = inst.Name
		// The other manager may be settling a claim of its own for the same instance (made
		// before it saw this one); it gives that back, and the holder ends with one.
		testenv.Eventually(t, longWait, inst.Name+" to hold one claim", func() error {
			if held := claimsHeldBy(t, string(inst.UID)); len(held) != 1 || held[0].Annotations[ipam.AnnotationValue] != ip.String() {
				return fmt.Errorf("%s holds %d claims for %s", inst.Name, len(held), ip)
			}
			return nil
		})
	}
	for _, inst := range insts {
		if err := env.Client.Delete(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, longWait, "the instances to go", func() error {
		list := &cloudv1.InstanceList{}
		if err := env.Client.List(ctx, list, client.InNamespace(p.Name)); err != nil || len(list.Items) > 0 {
			return fmt.Errorf("%d left (%v)", len(list.Items), err)
		}
		return nil
	})
	for _, n := range names {
		deleteProject(t, n)
	}
}
