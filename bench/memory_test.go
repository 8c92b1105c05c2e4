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

package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/proccloud"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var memoryN = flag.Int("bench.memory", 500, "Instances BenchmarkMemory runs (the issue's size is 5000)")

const (
	memoryProject = "bench-memory"
	memoryNodes   = 4
	// memoryStart is how long the processes get after they start before they are first measured;
	// memorySettle how long, once every instance runs, to finish what the last changes started
	// (reports, requeues) and for the Go runtime to return to the system what the launch's peak
	// took, before they are measured again.
	memoryStart  = 15 * time.Second
	memorySettle = time.Minute
	// memorySubnetPrefix gives the project a subnet of 16,382 addresses.
	memorySubnetPrefix = 18
)

// BenchmarkMemory runs the real manager binary and memoryNodes real node agent binaries (on
// libvirt's test driver) as processes beside a control plane of their own, creates -bench.memory
// Instance objects with a controller-runtime client (spec only, as kubectl would) and waits until
// the manager has scheduled every one and the agents run them. It reports each process's
// resident set (VmRSS) growth per instance it holds — the manager holds all N, an agent those
// of its node — and, for comparison, the growth of its anonymous resident memory and of its live
// heap (after a collection). The agents' baseline is libvirt's test driver alone holding as many
// domains (bench/testdrivermem): on a simulated node the domains live in the agent's process, on
// a real one in libvirtd; agent-own-RSS-KiB/inst is the agents' growth less the baseline's.
func BenchmarkMemory(b *testing.B) {
	n := *memoryN
	if n <= 0 || n > 16000 {
		b.Fatalf("-bench.memory must be within 1-16000 (the project's subnet), got %d", n)
	}
	w := startMemoryWorld(b, n)
	cl := w.cloud.Env.Client
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if i > 0 {
			if err := cl.DeleteAllOf(ctx, &cloudv1.Instance{}, client.InNamespace(memoryProject)); err != nil {
				b.Fatal(err)
			}
			waitInstances(b, cl, 0, "")
		}
		time.Sleep(memoryStart)
		before := w.measure(b)
		start := time.Now()
		createInstances(b, cl, w.image, n)
		waitInstances(b, cl, n, cloudv1.InstanceStateRunning)
		b.Logf("%d instances running after %s", n, time.Since(start).Round(time.Second))
		time.Sleep(memorySettle)
		after := w.measure(b)
		w.report(b, n, before, after)
	}
}

// memoryWorld is a control plane with a manager process, node agent processes, a project, its
// user and an image.
type memoryWorld struct {
	cloud   *proccloud.Cloud
	manager *proccloud.Process
	agents  []*proccloud.Process
	image   string
	// testDriver is the baseline binary (bench/testdrivermem).
	testDriver string
}

func startMemoryWorld(b *testing.B, n int) *memoryWorld {
	b.Helper()
	// A control plane of its own: the in-process cloud of the other benchmarks would act on the
	// same objects as the manager process.
	e := ownControlPlane(b)
	dir := b.TempDir()
	mgrBin, err := proccloud.BuildManager(dir)
	if err != nil {
		b.Fatal(err)
	}
	agentBin, err := proccloud.BuildNodeAgent(dir)
	if err != nil {
		b.Fatal(err)
	}
	// One replica, with a lease it keeps on a loaded machine: proccloud's default (a 3 s renewal
	// deadline, for fail-over tests) made a manager busy with thousands of instances lose it and
	// exit in the middle of a run.
	c := proccloud.Start(b, e, proccloud.Options{Binary: mgrBin,
		LeaseDuration: 2 * time.Minute, RenewDeadline: 90 * time.Second, RetryPeriod: 10 * time.Second,
		ExtraArgs: []string{fmt.Sprintf("--tenant-subnet-prefix=%d", memorySubnetPrefix)}})
	w := &memoryWorld{cloud: c, manager: c.Replicas[0].Process, testDriver: filepath.Join(dir, "testdrivermem")}
	if out, err := buildCmd(w.testDriver, "./bench/testdrivermem").CombinedOutput(); err != nil {
		b.Fatalf("building the test driver's baseline: %v\n%s", err, out)
	}
	// Room for every instance with a few to spare on each node, so none waits unscheduled.
	room := int32(n/memoryNodes + 16)
	for i := range memoryNodes {
		w.agents = append(w.agents, c.AddNodeAgent(b, fmt.Sprintf("mem-node-%d", i), proccloud.AgentOptions{
			Binary: agentBin, VCPUs: room, MemoryMiB: int64(room) * 1024, MaxInstances: room,
		}))
	}
	c.AddProjectWithQuota(b, memoryProject, testcloud.NoQuota())
	creds := c.AddUser(b, "memory", false, memoryProject)
	w.image = c.RegisterRawImage(b, creds, memoryProject, "memory-image", make([]byte, 1<<16), false)
	return w
}

// usage is one process's memory at one moment: its resident set, the anonymous part of it, its
// live heap, and the part of its resident set the Go runtime does not manage (RSS - (Sys -
// HeapReleased)): the program's text and C allocations — on the test driver, libvirt's
// simulated domains.
type usage struct{ rss, anon, heap, nonGo int64 }

// measure reads every process's resident memory, then its live heap (the heap profile collects
// first, so the resident set is read as the process left it).
func (w *memoryWorld) measure(b *testing.B) []usage {
	b.Helper()
	procs := append([]*proccloud.Process{w.manager}, w.agents...)
	out := make([]usage, len(procs))
	for i, p := range procs {
		r, err := p.Resident()
		if err != nil {
			b.Fatal(err)
		}
		out[i].rss, out[i].anon = r.RSS, r.Anon
	}
	for i, p := range procs {
		m, err := p.GoMemory()
		if err != nil {
			b.Fatal(err)
		}
		out[i].heap, out[i].nonGo = m.HeapAlloc, out[i].rss-(m.Sys-m.HeapReleased)
	}
	return out
}

// growth is a process's growth per instance in KiB.
type growth struct{ rss, anon, heap, nonGo float64 }

func growthOf(before, after usage, k int) growth {
	kib := func(d int64) float64 { return float64(d) / 1024 / float64(k) }
	return growth{kib(after.rss - before.rss), kib(after.anon - before.anon), kib(after.heap - before.heap), kib(after.nonGo - before.nonGo)}
}

func logGrowth(b *testing.B, what string, before, after usage, g growth, k int) {
	b.Logf("%s, %d instances: RSS %.1f -> %.1f MiB (%.1f KiB/instance), anonymous %.1f -> %.1f MiB (%.1f KiB/instance), live heap %.1f -> %.1f MiB (%.1f KiB/instance), not Go's %.1f -> %.1f MiB (%.1f KiB/instance)",
		what, k, mib(before.rss), mib(after.rss), g.rss, mib(before.anon), mib(after.anon), g.anon,
		mib(before.heap), mib(after.heap), g.heap, mib(before.nonGo), mib(after.nonGo), g.nonGo)
}

// report gives the manager's growth per instance (it holds all n) and the agents' (each holds
// its node's; their mean, and the largest resident growth).
func (w *memoryWorld) report(b *testing.B, n int, before, after []usage) {
	b.Helper()
	perNode := nodeCounts(b, w.cloud.Env.Client)
	m := growthOf(before[0], after[0], n)
	logGrowth(b, "manager", before[0], after[0], m, n)
	b.ReportMetric(m.rss, "mgr-RSS-KiB/inst")
	b.ReportMetric(m.anon, "mgr-anon-KiB/inst")
	b.ReportMetric(m.heap, "mgr-heap-KiB/inst")
	b.ReportMetric(mib(after[0].rss), "mgr-RSS-MiB")
	var sum growth
	var rssMax float64
	for i, p := range w.agents {
		k := perNode[p.Name]
		if k == 0 {
			b.Fatalf("node %s runs no instance", p.Name)
		}
		g := growthOf(before[i+1], after[i+1], k)
		logGrowth(b, "agent "+p.Name, before[i+1], after[i+1], g, k)
		sum.rss, sum.anon, sum.heap, sum.nonGo = sum.rss+g.rss, sum.anon+g.anon, sum.heap+g.heap, sum.nonGo+g.nonGo
		rssMax = max(rssMax, g.rss)
	}
	k := float64(len(w.agents))
	td := w.testDriverBaseline(b, n/len(w.agents))
	b.ReportMetric(td, "testdriver-RSS-KiB/inst")
	b.ReportMetric(sum.rss/k-td, "agent-own-RSS-KiB/inst")
	b.ReportMetric(sum.rss/k, "agent-RSS-KiB/inst")
	b.ReportMetric(rssMax, "agent-max-RSS-KiB/inst")
	b.ReportMetric(sum.anon/k, "agent-anon-KiB/inst")
	b.ReportMetric(sum.heap/k, "agent-heap-KiB/inst")
	b.ReportMetric(sum.nonGo/k, "agent-nonGo-KiB/inst")
}

// testDriverBaseline runs bench/testdrivermem for k domains and returns its resident set's growth
// per domain in KiB: what libvirt's test driver, which runs inside each agent's process, holds
// of the simulated domains (on a real node libvirtd holds them).
func (w *memoryWorld) testDriverBaseline(b *testing.B, k int) float64 {
	b.Helper()
	out, err := exec.Command(w.testDriver, fmt.Sprintf("-n=%d", k)).Output()
	if err != nil {
		b.Fatalf("the test driver's baseline: %v", err)
	}
	var r struct{ RSSBefore, AnonBefore, RSSAfter, AnonAfter int64 }
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("the test driver's baseline said %q: %v", out, err)
	}
	per := float64(r.RSSAfter-r.RSSBefore) / 1024 / float64(k)
	b.Logf("libvirt's test driver alone, %d domains: RSS %.1f -> %.1f MiB (%.1f KiB/domain), anonymous %.1f -> %.1f MiB",
		k, mib(r.RSSBefore), mib(r.RSSAfter), per, mib(r.AnonBefore), mib(r.AnonAfter))
	return per
}

// buildCmd is `go build -o out pkg` in the repository.
func buildCmd(out, pkg string) *exec.Cmd {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = testenv.RepoRoot()
	return cmd
}

func mib(v int64) float64 { return float64(v) / (1 << 20) }

// nodeCounts counts the project's instances by the node they run on.
func nodeCounts(b *testing.B, cl client.Client) map[string]int {
	b.Helper()
	var list cloudv1.InstanceList
	if err := cl.List(context.Background(), &list, client.InNamespace(memoryProject)); err != nil {
		b.Fatal(err)
	}
	out := map[string]int{}
	for _, i := range list.Items {
		out[i.Labels[cloudv1.LabelHypervisor]]++
	}
	return out
}

// createInstances creates n Instance objects of m1.tiny from image, 16 at a time.
func createInstances(b *testing.B, cl client.Client, image string, n int) {
	b.Helper()
	ctx := context.Background()
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	stamp := time.Now().Unix()
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- cl.Create(ctx, &cloudv1.Instance{
				ObjectMeta: metav1.ObjectMeta{Namespace: memoryProject, Name: fmt.Sprintf("mem-%d-%d", stamp, i)},
				Spec:       cloudv1.InstanceSpec{ImageID: image, InstanceType: "m1.tiny"},
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			b.Fatalf("creating instances: %v", err)
		}
	}
}

// waitInstances waits until the project has n instances, all in state (any state when empty).
func waitInstances(b *testing.B, cl client.Client, n int, state cloudv1.InstanceState) {
	b.Helper()
	seen := map[string]int{}
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Second, time.Duration(n)*time.Second+10*time.Minute, true,
		func(ctx context.Context) (bool, error) {
			var list cloudv1.InstanceList
			if err := cl.List(ctx, &list, client.InNamespace(memoryProject)); err != nil {
				return false, nil
			}
			seen = map[string]int{}
			k := 0
			for _, i := range list.Items {
				seen[string(i.Status.State)]++
				if state == "" || i.Status.State == state {
					k++
				}
			}
			return len(list.Items) == n && k == n, nil
		})
	if err != nil {
		b.Fatalf("waiting for %d instances %s: %v (states: %v)", n, state, err, seen)
	}
}
