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
	"flag"
	"fmt"
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
	// memorySettle is how long the processes get, once every instance runs, to finish what the
	// last changes started (reports, requeues) before they are measured.
	memorySettle = 15 * time.Second
	// memorySubnetPrefix gives the project a subnet of 16,382 addresses.
	memorySubnetPrefix = 18
)

// BenchmarkMemory runs the real manager binary and memoryNodes real node agent binaries (on
// libvirt's test driver) as processes beside a control plane of their own, creates -bench.memory
// Instance objects with a controller-runtime client (spec only, as kubectl would) and waits until
// the manager has scheduled every one and the agents run them. It reports each process's
// resident set (VmRSS) growth per instance it holds — the manager holds all N, an agent those
// of its node — and the same for the live heap (after a collection) for comparison.
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
		time.Sleep(memorySettle)
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
}

func startMemoryWorld(b *testing.B, n int) *memoryWorld {
	b.Helper()
	// A control plane of its own: the in-process cloud of the other benchmarks would act on the
	// same objects as the manager process.
	e, err := testenv.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := e.Stop(); err != nil {
			b.Log("stopping the control plane:", err)
		}
	})
	dir := b.TempDir()
	mgrBin, err := proccloud.BuildManager(dir)
	if err != nil {
		b.Fatal(err)
	}
	agentBin, err := proccloud.BuildNodeAgent(dir)
	if err != nil {
		b.Fatal(err)
	}
	c := proccloud.Start(b, e, proccloud.Options{Binary: mgrBin,
		ExtraArgs: []string{fmt.Sprintf("--tenant-subnet-prefix=%d", memorySubnetPrefix)}})
	w := &memoryWorld{cloud: c, manager: c.Replicas[0].Process}
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

// usage is one process's memory at one moment: its resident set, its live heap, and the part of
// its resident set the Go runtime does not manage (at least RSS - (Sys - HeapReleased)): the
// program's text and C allocations — on the test driver, libvirt's simulated domains.
type usage struct{ rss, heap, nonGo int64 }

// measure reads every process's resident set, then its live heap (the heap profile collects
// first, so the resident set is read as the process left it).
func (w *memoryWorld) measure(b *testing.B) []usage {
	b.Helper()
	procs := append([]*proccloud.Process{w.manager}, w.agents...)
	out := make([]usage, len(procs))
	for i, p := range procs {
		rss, err := p.RSS()
		if err != nil {
			b.Fatal(err)
		}
		out[i].rss = rss
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

// report gives the manager's growth per instance (it holds all n) and the agents' (each holds
// its node's; their mean, and the largest).
func (w *memoryWorld) report(b *testing.B, n int, before, after []usage) {
	b.Helper()
	perNode := nodeCounts(b, w.cloud.Env.Client)
	kib := func(d int64, k int) float64 { return float64(d) / 1024 / float64(k) }
	m0, m1 := before[0], after[0]
	b.ReportMetric(kib(m1.rss-m0.rss, n), "mgr-RSS-KiB/inst")
	b.ReportMetric(kib(m1.heap-m0.heap, n), "mgr-heap-KiB/inst")
	b.ReportMetric(float64(m1.rss)/(1<<20), "mgr-RSS-MiB")
	b.Logf("manager: RSS %.1f -> %.1f MiB (%.1f KiB/instance), live heap %.1f -> %.1f MiB (%.1f KiB/instance), not Go's %.1f -> %.1f MiB, %d instances",
		mib(m0.rss), mib(m1.rss), kib(m1.rss-m0.rss, n), mib(m0.heap), mib(m1.heap), kib(m1.heap-m0.heap, n), mib(m0.nonGo), mib(m1.nonGo), n)
	var rssSum, heapSum, nonGoSum, rssMax float64
	for i, p := range w.agents {
		a0, a1, k := before[i+1], after[i+1], perNode[p.Name]
		if k == 0 {
			b.Fatalf("node %s runs no instance", p.Name)
		}
		rss, heap, nonGo := kib(a1.rss-a0.rss, k), kib(a1.heap-a0.heap, k), kib(a1.nonGo-a0.nonGo, k)
		rssSum, heapSum, nonGoSum, rssMax = rssSum+rss, heapSum+heap, nonGoSum+nonGo, max(rssMax, rss)
		b.Logf("agent %s: RSS %.1f -> %.1f MiB (%.1f KiB/instance), live heap %.1f -> %.1f MiB (%.1f KiB/instance), not Go's %.1f -> %.1f MiB (%.1f KiB/instance), %d instances",
			p.Name, mib(a0.rss), mib(a1.rss), rss, mib(a0.heap), mib(a1.heap), heap, mib(a0.nonGo), mib(a1.nonGo), nonGo, k)
	}
	b.ReportMetric(nonGoSum/float64(len(w.agents)), "agent-nonGo-KiB/inst")
	b.ReportMetric(rssSum/float64(len(w.agents)), "agent-RSS-KiB/inst")
	b.ReportMetric(rssMax, "agent-max-RSS-KiB/inst")
	b.ReportMetric(heapSum/float64(len(w.agents)), "agent-heap-KiB/inst")
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
