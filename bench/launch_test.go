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
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
)

var (
	launchN         = flag.Int("bench.launch", 100, "instances BenchmarkLaunch starts (the issue's size is 1000)")
	instanceWorkers = flag.Int("bench.instance-workers", 0, "the instance controller's workers in the benchmarks' cloud (0: its default)")
	launchProgress  = flag.Bool("bench.launch-progress", false, "BenchmarkLaunch logs every 2 s how many instances have reached each step on the way (address, binding, domain, running)")
	apiProfile      = flag.String("bench.apiserver-cpuprofile", "", "file BenchmarkLaunch writes a CPU profile of the cloud's API server to, taken over the launch's first -bench.apiserver-profile-seconds")
	apiProfileSecs  = flag.Int("bench.apiserver-profile-seconds", 20, "seconds of -bench.apiserver-cpuprofile")
	testIntervals   = flag.Bool("bench.test-intervals", false, "the benchmarks' node agents keep the test suites' short intervals (a resync of every instance every 3 s, host facts every 0.5 s) instead of the agent's own defaults (30 s, 5 s)")
)

const (
	launchProject  = "bench-launch"
	launchBaseline = "bench-baseline"
	launchNodes    = 4
	launchPerCall  = 100
)

// BenchmarkLaunch starts -bench.launch instances with RunInstances (100 a call) over four
// simulated nodes until every one is running, then terminates them all; the baseline creates the
// same number of Instance objects with a plain client and writes a running status into each.
// It reports both durations, their ratio and the API server writes per instance (every client's
// writes for PiNet, from the API server's own counters; the baseline client's own).
func BenchmarkLaunch(b *testing.B) {
	f := setup(b)
	n := *launchN
	ctx := context.Background()
	prepareLaunchOnce(b, f)
	base := startBaselineControlPlane(b)
	cloudCPU, err := newCPUMeter(f.cloud.Env)
	if err != nil {
		b.Fatal(err)
	}
	baseCPU, err := newCPUMeter(base)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		by0, w0, err := apiRequests(ctx, f.cloud.Env.Config)
		if err != nil {
			b.Fatal(err)
		}
		f.requests.Reset()
		heap0 := liveHeap()
		profiled := profileAPIServer(b, f.cloud.Env.Config)
		cpu0 := readCPU(b, cloudCPU)
		start := time.Now()
		ids := launchAll(b, f, n)
		waitState(b, f, launchProject, n, cloudv1.InstanceStateRunning)
		running := time.Since(start)
		cpuRunning := readCPU(b, cloudCPU).since(cpu0)
		heapPer := float64(liveHeap()-heap0) / float64(n)
		describe, list := describeVsList(b, f, n)
		terminateAll(b, f, ids)
		waitState(b, f, launchProject, n, cloudv1.InstanceStateTerminated)
		pinet := time.Since(start)
		<-profiled
		by1, w1, err := apiRequests(ctx, f.cloud.Env.Config)
		if err != nil {
			b.Fatal(err)
		}
		byClient := clientWrites(f.requests, n)
		byReason := eventReasons(b, f, launchProject, n)
		baseTook, baseWrites, cpuBase := baselineLaunch(b, base, baseCPU, n)
		b.ReportMetric(running.Seconds(), "s-to-running")
		b.ReportMetric(pinet.Seconds(), "s-launch+terminate")
		b.ReportMetric(baseTook.Seconds(), "s-baseline")
		b.ReportMetric(running.Seconds()/baseTook.Seconds(), "ratio")
		b.ReportMetric(heapPer/1024, "heap-KiB/inst")
		b.ReportMetric(describe.Seconds()*1000, "ms-describe")
		b.ReportMetric(list.Seconds()*1000, "ms-list")
		b.ReportMetric(describe.Seconds()/list.Seconds(), "describe-ratio")
		b.ReportMetric(float64(w1-w0)/float64(n), "writes/inst")
		b.ReportMetric(float64(baseWrites)/float64(n), "baseline-writes/inst")
		b.ReportMetric(cpuRunning.APIServer*1000/float64(n), "apiserver-cpu-ms/inst")
		b.ReportMetric(cpuRunning.total()*1000/float64(n), "cpu-ms/inst")
		b.ReportMetric(cpuBase.total()*1000/float64(n), "baseline-cpu-ms/inst")
		b.ReportMetric(cpuRunning.Machine*1000/float64(n), "machine-cpu-ms/inst")
		b.ReportMetric(cpuBase.Machine*1000/float64(n), "baseline-machine-cpu-ms/inst")
		b.Logf("%d instances: running after %.1fs (baseline %.2fs, ratio %.1f), terminated after %.1fs; writes/instance %.1f vs %.1f; Describe %v vs LIST %v (ratio %.1f); live heap %.1f KiB/instance",
			n, running.Seconds(), baseTook.Seconds(), running.Seconds()/baseTook.Seconds(), pinet.Seconds(),
			float64(w1-w0)/float64(n), float64(baseWrites)/float64(n), describe, list, describe.Seconds()/list.Seconds(), heapPer/1024)
		b.Logf("CPU per instance until running: %s; baseline: %s",
			cpuRunning.perInstance(n, running), cpuBase.perInstance(n, baseTook))
		b.Logf("API server writes per instance by verb and resource (all clients):\n%s",
			perInstance(onlyKeys(by0, isWrite), onlyKeys(by1, isWrite), n))
		notWrite := func(k string) bool { return !isWrite(k) }
		b.Logf("API server reads per instance by verb and resource (all clients; a WATCH counts when it ends):\n%s",
			perInstance(onlyKeys(by0, notWrite), onlyKeys(by1, notWrite), n))
		b.Logf("writes per instance by client (manager = controllers and the EC2 API's service; agent = node agents), verb, resource and answer:\n%s", byClient)
		b.Logf("events per instance by reporter and reason:\n%s", byReason)
	}
}

var (
	launchOnce  sync.Once
	launchErr   error
	launchImage string
	launchCreds testcloud.Credentials
)

// prepareLaunchOnce prepares the launch benchmarks' project, user, image and nodes once, for
// the largest launch any of them makes.
func prepareLaunchOnce(b *testing.B, f *fixture) {
	b.Helper()
	launchOnce.Do(func() { launchErr = prepareLaunch(b, f, max(*launchN, largestScalingSize())) })
	if launchErr != nil {
		b.Fatal(launchErr)
	}
}

// prepareLaunch adds the launch project (with a subnet large enough for n), its user, an image
// and four nodes with room for n tiny instances.
func prepareLaunch(b *testing.B, f *fixture, n int) error {
	q := testcloud.NoQuota()
	f.cloud.AddProjectWithQuota(b, launchProject, q)
	launchCreds = f.cloud.AddUser(b, "launcher", false, launchProject)
	addNodes(b, f, "launch", n)
	launchImage = f.cloud.RegisterRawImage(b, launchCreds, launchProject, "launch-image", bytes.Repeat([]byte{0}, 1<<16), false)
	return nil
}

// ownControlPlane starts an API server and etcd for the benchmark alone, stopped when it ends.
func ownControlPlane(b *testing.B) *testenv.Env {
	b.Helper()
	e, err := testenv.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := e.Stop(); err != nil {
			b.Log("stopping the benchmark's control plane:", err)
		}
	})
	return e
}

// startBaselineControlPlane starts the baseline's own API server and etcd (stopped when the
// benchmark ends), with its namespace. Its own: in the cloud's, the manager would act on the
// baseline's instances (a finalizer, an id claim, a status each) while they are written, and
// the baseline would time the manager as well as the writes.
func startBaselineControlPlane(b *testing.B) *testenv.Env {
	b.Helper()
	e := ownControlPlane(b)
	if err := e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: launchBaseline}}); err != nil {
		b.Fatal(err)
	}
	return e
}

// addNodes adds launchNodes nodes with room for n tiny instances together: each node twice its
// even share, at most n, as vCPUs, memory and its instance quota (without that the agent
// registers the default of 64, and a launch beyond the nodes' 64 each waits unscheduled, "at
// their instance quota", forever; a Hypervisor takes at most 4,096). The agents run with their
// own default intervals, as deployed, unless -bench.test-intervals: the test suites' resync of
// every instance every 3 s costs a node O(its instances) every 3 s, which is the test cloud's
// speed, not the product's.
func addNodes(b *testing.B, f *fixture, prefix string, n int) {
	room := min(n, 2*n/launchNodes+16)
	for i := range launchNodes {
		f.cloud.AddNodeWith(shared{b}, fmt.Sprintf("%s-node-%d", prefix, i), "", int32(room), int64(room)*1024,
			func(cfg *nodeagent.Config) {
				cfg.MaxInstances = int32(room)
				if !*testIntervals {
					// The heartbeat stays the test cloud's: its manager takes a node silent
					// for 30 s as not ready, where a deployed manager waits 150 s.
					cfg.MinReportInterval, cfg.FactsInterval, cfg.ResyncInterval = 0, 0, 0
				}
			})
	}
}

func launchAll(b *testing.B, f *fixture, n int) []string {
	cl := f.cloud.EC2(launchCreds)
	var ids []string
	for left := n; left > 0; left -= launchPerCall {
		k := int32(min(left, launchPerCall))
		out, err := cl.RunInstances(context.Background(), &ec2.RunInstancesInput{
			ImageId: aws.String(launchImage), InstanceType: types.InstanceType("m1.tiny"),
			MinCount: aws.Int32(k), MaxCount: aws.Int32(k),
		})
		if err != nil {
			b.Fatalf("RunInstances after %d instances: %v", len(ids), err)
		}
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return ids
}

func terminateAll(b *testing.B, f *fixture, ids []string) {
	cl := f.cloud.EC2(launchCreds)
	for len(ids) > 0 {
		k := min(len(ids), 500)
		if _, err := cl.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: ids[:k]}); err != nil {
			b.Fatalf("TerminateInstances: %v", err)
		}
		ids = ids[k:]
	}
}

// waitState waits until n Instance objects of the namespace are in state.
func waitState(b *testing.B, f *fixture, ns string, n int, state cloudv1.InstanceState) {
	// A watch of the benchmark's own reads the instances: LISTs of all of them every 250 ms
	// would load the API server (and the two cores) with the harness's work, more the more
	// instances there are.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watched, err := cache.New(f.cloud.Env.Config, cache.Options{Scheme: f.cloud.Env.Scheme,
		DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		b.Fatal(err)
	}
	inf, err := watched.GetInformer(ctx, &cloudv1.Instance{})
	if err != nil {
		b.Fatal(err)
	}
	// The instances in state are counted as their events arrive: listing thousands every 250 ms
	// took 5 % of the benchmark process's CPU at 5,000, on the cores the cloud runs on.
	var mu sync.Mutex
	inState, present := map[string]bool{}, map[string]bool{}
	note := func(o any, gone bool) {
		if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		i, ok := o.(*cloudv1.Instance)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if gone {
			delete(present, i.Name)
		} else {
			present[i.Name] = true
		}
		if !gone && i.Status.State == state {
			inState[i.Name] = true
		} else {
			delete(inState, i.Name)
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { note(o, false) },
		UpdateFunc: func(_, o any) { note(o, false) },
		DeleteFunc: func(o any) { note(o, true) },
	}); err != nil {
		b.Fatal(err)
	}
	go func() { _ = watched.Start(ctx) }()
	if !watched.WaitForCacheSync(ctx) {
		b.Fatal("the benchmark's watch of instances did not sync")
	}
	// count returns how many instances are in state. Terminated instances are deleted after a
	// minute's retention: at thousands the first are gone before the last are terminated, and
	// count as terminated.
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		k := len(inState)
		if state == cloudv1.InstanceStateTerminated && len(present) < n {
			k += n - len(present)
		}
		return k
	}
	// seen counts the instances in each state and reason by the node they are bound to, for a
	// failure's message.
	seen := func() map[string]int {
		var list cloudv1.InstanceList
		out := map[string]int{}
		if err := watched.List(ctx, &list, client.UnsafeDisableDeepCopy); err == nil {
			for _, i := range list.Items {
				out[string(i.Status.State)+"/"+i.Status.StateReason+" on "+i.Labels[cloudv1.LabelHypervisor]]++
			}
			if len(list.Items) < n {
				out["gone"] = n - len(list.Items)
			}
		}
		return out
	}
	start, last := time.Now(), time.Now()
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Duration(n)*time.Second+5*time.Minute, true,
		func(context.Context) (bool, error) {
			if *launchProgress && time.Since(last) >= 2*time.Second {
				last = time.Now()
				b.Logf("%5.1fs: %s", time.Since(start).Seconds(), launchStages(ctx, watched))
			}
			return count() >= n, nil
		})
	if err != nil {
		b.Fatalf("waiting for %d instances in %s to be %s: %v (states: %v)", n, ns, state, err, seen())
	}
}

// baselineLaunch creates n Instance objects and sets each one's status to running, from a client
// whose transport counts its own writes, and then deletes them. It returns the time until all
// were running, the writes, and the CPU time m read over the same span (the deletion left out).
func baselineLaunch(b *testing.B, e *testenv.Env, m cpuMeter, n int) (time.Duration, int64, cpuUse) {
	var writes atomic.Int64
	cfg := rest.CopyConfig(e.Config)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return countWrites{rt: rt, n: &writes}
	}
	cl, err := client.New(cfg, client.Options{Scheme: e.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cpu0 := readCPU(b, m)
	start := time.Now()
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			inst := &cloudv1.Instance{
				ObjectMeta: metav1.ObjectMeta{Namespace: launchBaseline, Name: fmt.Sprintf("base-%d-%d", start.UnixNano(), i)},
				Spec:       cloudv1.InstanceSpec{ImageID: launchImage, InstanceType: "m1.tiny"},
			}
			if err := cl.Create(ctx, inst); err != nil {
				errs <- err
				return
			}
			before := inst.DeepCopy()
			inst.Status.State = cloudv1.InstanceStateRunning
			inst.Status.LaunchTime = &metav1.Time{Time: time.Now()}
			errs <- cl.Status().Patch(ctx, inst, client.MergeFrom(before))
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			b.Fatalf("baseline: %v", err)
		}
	}
	took := time.Since(start)
	cpu := readCPU(b, m).since(cpu0)
	_ = cl.DeleteAllOf(ctx, &cloudv1.Instance{}, client.InNamespace(launchBaseline))
	return took, writes.Load(), cpu
}

// countWrites counts the requests that change something.
type countWrites struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c countWrites) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		c.n.Add(1)
	}
	return c.rt.RoundTrip(r)
}

// launchStages counts the instances the reader shows at each step of a launch: made, with an
// address, bound, with a domain, running.
func launchStages(ctx context.Context, r client.Reader) string {
	var list cloudv1.InstanceList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return err.Error()
	}
	var addressed, bound, defined, running int
	for i := range list.Items {
		inst := &list.Items[i]
		for _, step := range []struct {
			cond string
			n    *int
		}{
			{cloudv1.InstanceAddressAssigned, &addressed}, {cloudv1.InstanceScheduled, &bound},
			{cloudv1.InstanceDomainDefined, &defined},
		} {
			if c := meta.FindStatusCondition(inst.Status.Conditions, step.cond); c != nil && c.Status == metav1.ConditionTrue {
				*step.n++
			}
		}
		if inst.Status.State == cloudv1.InstanceStateRunning {
			running++
		}
	}
	return fmt.Sprintf("%d made, %d with an address, %d bound, %d with a domain, %d running", len(list.Items), addressed, bound, defined, running)
}

// profileAPIServer starts taking a CPU profile of the API server at cfg for
// -bench.apiserver-profile-seconds into -bench.apiserver-cpuprofile (when set), and returns a
// channel closed once it is written: where the API server's time goes is most of a launch's.
func profileAPIServer(b *testing.B, cfg *rest.Config) <-chan struct{} {
	done := make(chan struct{})
	if *apiProfile == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			b.Error(err)
			return
		}
		raw, err := cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(*apiProfileSecs)).Timeout(time.Duration(*apiProfileSecs+60) * time.Second).DoRaw(context.Background())
		if err != nil {
			b.Errorf("profiling the API server: %v", err)
			return
		}
		if err := os.WriteFile(*apiProfile, raw, 0o644); err != nil {
			b.Error(err)
		}
	}()
	return done
}

// apiRequests reads the API server's apiserver_request_total summed by verb, resource and
// subresource ("PATCH instances/status"), and the total of the verbs that write.
func apiRequests(ctx context.Context, cfg *rest.Config) (map[string]int64, int64, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, 0, err
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	by := map[string]int64{}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels := metricLabels(line)
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return nil, 0, fmt.Errorf("reading %q: %w", line, err)
		}
		key := labels["verb"] + " " + labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		by[key] += int64(v)
		if isWrite(key) {
			total += int64(v)
		}
	}
	return by, total, sc.Err()
}

// isWrite tells a key of apiRequests' counts whose verb writes.
func isWrite(key string) bool {
	verb, _, _ := strings.Cut(key, " ")
	switch verb {
	case "POST", "PUT", "PATCH", "DELETE", "APPLY":
		return true
	}
	return false
}

// onlyKeys keeps the counts whose key keep accepts.
func onlyKeys(by map[string]int64, keep func(string) bool) map[string]int64 {
	out := map[string]int64{}
	for k, v := range by {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

// metricLabels parses the labels of one line of Prometheus' text format (values without
// escaped quotes, as the API server's request labels are).
func metricLabels(line string) map[string]string {
	out := map[string]string{}
	open, end := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
	if open < 0 || end < open {
		return out
	}
	for _, kv := range strings.Split(line[open+1:end], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// perInstance lists the growth of each count from before to after, per instance, the
// largest first.
func perInstance(before, after map[string]int64, n int) string {
	type row struct {
		key   string
		delta int64
	}
	var rows []row
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			rows = append(rows, row{k, d})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.delta != b.delta {
			return int(b.delta - a.delta)
		}
		return strings.Compare(a.key, b.key)
	})
	var sb strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&sb, "  %6.2f  %s\n", float64(r.delta)/float64(n), r.key)
	}
	return sb.String()
}

// clientWrites lists the writes the cloud's own clients sent (counted on their transports), per
// instance, by component, verb, resource and answer, the largest first.
func clientWrites(rc *testcloud.RequestCounter, n int) string {
	counts := map[string]int64{}
	for k, c := range rc.Counts() {
		if k.IsWrite() {
			counts[k.String()] += int64(c)
		}
	}
	return perInstance(nil, counts, n)
}

// eventReasons lists the events of the namespace per instance, by reporting controller and
// reason, the most first.
func eventReasons(b *testing.B, f *fixture, ns string, n int) string {
	var list eventsv1.EventList
	if err := f.cloud.Env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		b.Fatalf("listing the events of %s: %v", ns, err)
	}
	counts := map[string]int64{}
	for _, e := range list.Items {
		counts[e.ReportingController+" "+e.Reason]++
	}
	return perInstance(nil, counts, n)
}

// describeVsList times DescribeInstances of the launch project (every page of 1000) against one
// LIST of the same Instance objects from the API server, each the mean of five rounds.
func describeVsList(b *testing.B, f *fixture, n int) (time.Duration, time.Duration) {
	const rounds = 5
	ctx := context.Background()
	cl := f.cloud.EC2(launchCreds)
	start := time.Now()
	for range rounds {
		got := 0
		p := ec2.NewDescribeInstancesPaginator(cl, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				b.Fatalf("DescribeInstances: %v", err)
			}
			got += countInstances(out)
		}
		if got != n {
			b.Fatalf("DescribeInstances returned %d instances, want %d", got, n)
		}
	}
	describe := time.Since(start) / rounds
	start = time.Now()
	for range rounds {
		var list cloudv1.InstanceList
		if err := f.cloud.Env.Client.List(ctx, &list, client.InNamespace(launchProject)); err != nil {
			b.Fatal(err)
		}
		if len(list.Items) != n {
			b.Fatalf("listed %d instances, want %d", len(list.Items), n)
		}
	}
	return describe, time.Since(start) / rounds
}

// liveHeap is the process's live heap after a collection: the manager, front ends and node agents
// run in this process, so its growth while instances run is their memory per instance.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
