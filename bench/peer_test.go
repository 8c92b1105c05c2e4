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
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	lv "libvirt.org/go/libvirt"

	"pinet.io/pinet/internal/sdkhttp"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testmoto"
)

var (
	latencyK = flag.Int("bench.latency", 30, "instances BenchmarkLaunchLatency starts 100 ms apart (the issue's size is 100)")
	peerN    = flag.Int("bench.peer", 200, "instances BenchmarkPeer runs and describes on PiNet and on moto_server (the issue's sizes are 1000 and 5000)")
)

const (
	latencyProject = "bench-latency"
	peerProject    = "bench-peer"
	// latencyGap is the time between two launch requests, KubeVirt's 100 ms.
	latencyGap  = 100 * time.Millisecond
	latencyPoll = 50 * time.Millisecond
)

// BenchmarkLaunchLatency is KubeVirt's method: -bench.latency instances are requested 100 ms
// apart, one RunInstances each, and each is timed from its request until DescribeInstances shows
// it running (polled every 50 ms). The baseline defines and starts the same number of domains
// straight through libvirt's test driver, 100 ms apart, each timed from the define until libvirt
// reports it running. It reports P50 and P95 of both and what PiNet adds at P50.
func BenchmarkLaunchLatency(b *testing.B) {
	f := setup(b)
	k := *latencyK
	latencyOnce.Do(func() { latencyImage, latencyCreds = prepareNodes(b, f, latencyProject, "latency", k) })
	for b.Loop() {
		pinet := pinetLatencies(b, f, k)
		base := libvirtLatencies(b, k)
		p50, p95, b50, b95 := reportLatencies(b, pinet, base)
		b.Logf("%d instances 100 ms apart: request → running P50 %v P95 %v; libvirt define+start P50 %v P95 %v; PiNet adds %v at P50",
			k, p50, p95, b50, b95, p50-b50)
	}
}

// reportLatencies reports P50 and P95 of PiNet's and the baseline's latencies, what PiNet adds
// at P50 and the P50 ratio, and returns the four percentiles.
func reportLatencies(b *testing.B, pinet, base []time.Duration) (p50, p95, b50, b95 time.Duration) {
	p50, p95 = percentile(pinet, 50), percentile(pinet, 95)
	b50, b95 = percentile(base, 50), percentile(base, 95)
	b.ReportMetric(p50.Seconds(), "s-P50")
	b.ReportMetric(p95.Seconds(), "s-P95")
	b.ReportMetric(b50.Seconds(), "s-baseline-P50")
	b.ReportMetric(b95.Seconds(), "s-baseline-P95")
	b.ReportMetric((p50 - b50).Seconds(), "s-added-P50")
	b.ReportMetric(p50.Seconds()/b50.Seconds(), "ratio-P50")
	return p50, p95, b50, b95
}

var (
	latencyOnce  sync.Once
	latencyImage string
	latencyCreds testcloud.Credentials
	peerOnce     sync.Once
	peerImage    string
	peerCreds    testcloud.Credentials
)

// prepareNodes adds a project, its user, an image and four nodes with room for n tiny instances.
func prepareNodes(b *testing.B, f *fixture, project, prefix string, n int) (string, testcloud.Credentials) {
	f.cloud.AddProjectWithQuota(b, project, testcloud.NoQuota())
	creds := f.cloud.AddUser(b, prefix+"-user", false, project)
	addNodes(b, f, prefix, n)
	image := f.cloud.RegisterRawImage(b, creds, project, prefix+"-image", bytes.Repeat([]byte{0}, 1<<16), false)
	return image, creds
}

// pinetLatencies requests k instances 100 ms apart and returns each one's request → running time.
func pinetLatencies(b *testing.B, f *fixture, k int) []time.Duration {
	ctx := context.Background()
	cl := f.cloud.EC2(latencyCreds)
	seen := runningSeen(ctx, b, cl, k)
	type req struct {
		id    string
		start time.Time
		err   error
	}
	reqs := make([]req, k)
	spaced(k, func(i int) {
		reqs[i].start = time.Now()
		out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(latencyImage), InstanceType: types.InstanceType("m1.tiny"),
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		})
		if err == nil {
			reqs[i].id = aws.ToString(out.Instances[0].InstanceId)
		}
		reqs[i].err = err
	})
	ids := make([]string, 0, k)
	for _, r := range reqs {
		if r.err != nil {
			b.Fatalf("RunInstances: %v", r.err)
		}
		ids = append(ids, r.id)
	}
	at := <-seen
	out := make([]time.Duration, 0, k)
	for _, r := range reqs {
		t, ok := at[r.id]
		if !ok {
			b.Fatalf("instance %s never seen running (seen: %d)", r.id, len(at))
		}
		out = append(out, t.Sub(r.start))
	}
	terminateWith(b, cl, ids)
	return out
}

// runningSeen polls DescribeInstances of the project until k instances not seen running before
// the call are running, and delivers the time each was first seen running.
func runningSeen(ctx context.Context, b *testing.B, cl *ec2.Client, k int) <-chan map[string]time.Time {
	before := map[string]bool{}
	for _, i := range describeAll(ctx, b, cl, 0) {
		before[aws.ToString(i.InstanceId)] = true
	}
	done := make(chan map[string]time.Time, 1)
	go func() {
		at := map[string]time.Time{}
		deadline := time.Now().Add(time.Duration(k)*time.Second + 5*time.Minute)
		for len(at) < k && time.Now().Before(deadline) {
			time.Sleep(latencyPoll)
			p := ec2.NewDescribeInstancesPaginator(cl, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					break // the machine is loaded: try again on the next poll
				}
				now := time.Now()
				for _, r := range page.Reservations {
					for _, i := range r.Instances {
						id := aws.ToString(i.InstanceId)
						if _, ok := at[id]; !ok && !before[id] && i.State.Name == types.InstanceStateNameRunning {
							at[id] = now
						}
					}
				}
			}
		}
		done <- at
	}()
	return done
}

// libvirtLatencies defines and starts k domains on a fresh test-driver connection, 100 ms apart,
// and returns each one's define → running time.
func libvirtLatencies(b *testing.B, k int) []time.Duration {
	dir := b.TempDir()
	node := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(node, []byte("<node></node>\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	conn, err := lv.NewConnect("test://" + node)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	out := make([]time.Duration, k)
	errs := make([]error, k)
	spaced(k, func(i int) {
		start := time.Now()
		errs[i] = defineAndStart(conn, fmt.Sprintf("base-%d", i))
		out[i] = time.Since(start)
	})
	for _, err := range errs {
		if err != nil {
			b.Fatalf("baseline: %v", err)
		}
	}
	return out
}

// defineAndStart defines a domain like the ones the node agent defines (memory, one vCPU, a
// disk, a network interface), starts it and waits until libvirt reports it running.
func defineAndStart(conn *lv.Connect, name string) error {
	x := `<domain type="test"><name>` + name + `</name><memory unit="MiB">512</memory><vcpu>1</vcpu>` +
		`<os><type arch="x86_64">hvm</type></os><devices>` +
		`<disk type="file" device="disk"><source file="/var/lib/pinet/` + name + `.qcow2"/><target dev="vda" bus="virtio"/></disk>` +
		`<interface type="user"><model type="virtio"/></interface></devices></domain>`
	d, err := conn.DomainDefineXML(x)
	if err != nil {
		return fmt.Errorf("defining %s: %w", name, err)
	}
	defer d.Free()
	if err := d.Create(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	for {
		s, _, err := d.GetState()
		if err != nil {
			return fmt.Errorf("state of %s: %w", name, err)
		}
		if s == lv.DOMAIN_RUNNING {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
}

// percentile is the p-th percentile of ds by the nearest-rank method.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

// BenchmarkPeer runs -bench.peer instances (100 a RunInstances call) and then describes them all
// (every page of 1000, mean of five rounds), on PiNet and on moto_server with the same
// aws-sdk-go-v2 client. It reports RunInstances time per instance and the Describe time of both,
// and PiNet's ratio to moto for each. Both describe right after their RunInstances calls, so
// PiNet's controllers are still scheduling and starting the instances while it answers.
func BenchmarkPeer(b *testing.B) {
	f := setup(b)
	n := *peerN
	ctx := context.Background()
	peerOnce.Do(func() { peerImage, peerCreds = prepareNodes(b, f, peerProject, "peer", n) })
	moto := testmoto.Run(b)
	mc := ec2.New(ec2.Options{
		BaseEndpoint: aws.String("http://" + moto.Endpoint), Region: testmoto.Region,
		Credentials: credentials.NewStaticCredentialsProvider(testmoto.AccessKey, testmoto.SecretKey, ""),
		// The same HTTP client as PiNet's (testcloud.Cloud.EC2).
		HTTPClient: sdkhttp.New(),
	})
	motoImage := motoAMI(ctx, b, mc)
	pc := f.cloud.EC2(peerCreds)
	for b.Loop() {
		pinetRun, ids := runInBatches(ctx, b, pc, peerImage, n)
		pinetDescribe := describeMean(ctx, b, pc, n)
		terminateWith(b, pc, ids)
		motoRun, motoIDs := runInBatches(ctx, b, mc, motoImage, n)
		motoDescribe := describeMean(ctx, b, mc, n)
		terminateWith(b, mc, motoIDs)
		perInst := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(n) }
		b.ReportMetric(perInst(pinetRun), "ms-run/inst")
		b.ReportMetric(perInst(motoRun), "ms-run/inst-moto")
		b.ReportMetric(pinetRun.Seconds()/motoRun.Seconds(), "run-ratio")
		b.ReportMetric(pinetDescribe.Seconds()*1000, "ms-describe")
		b.ReportMetric(motoDescribe.Seconds()*1000, "ms-describe-moto")
		b.ReportMetric(pinetDescribe.Seconds()/motoDescribe.Seconds(), "describe-ratio")
		b.Logf("%d instances: RunInstances %.2f ms/instance vs moto %.2f (ratio %.2f); DescribeInstances %v vs moto %v (ratio %.3f)",
			n, perInst(pinetRun), perInst(motoRun), pinetRun.Seconds()/motoRun.Seconds(),
			pinetDescribe, motoDescribe, pinetDescribe.Seconds()/motoDescribe.Seconds())
	}
}

// motoAMI is the first image moto_server lists.
func motoAMI(ctx context.Context, b *testing.B, cl *ec2.Client) string {
	out, err := cl.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil {
		b.Fatalf("moto DescribeImages: %v", err)
	}
	if len(out.Images) == 0 {
		b.Fatal("moto_server lists no images")
	}
	return aws.ToString(out.Images[0].ImageId)
}

// runInBatches runs n tiny instances, 100 a call, and returns the time the calls took and the ids.
func runInBatches(ctx context.Context, b *testing.B, cl *ec2.Client, image string, n int) (time.Duration, []string) {
	var ids []string
	start := time.Now()
	for left := n; left > 0; left -= launchPerCall {
		k := int32(min(left, launchPerCall))
		out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(image), InstanceType: types.InstanceType("m1.tiny"),
			MinCount: aws.Int32(k), MaxCount: aws.Int32(k),
		})
		if err != nil {
			b.Fatalf("RunInstances after %d instances: %v", len(ids), err)
		}
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	took := time.Since(start)
	if len(ids) != n {
		b.Fatalf("RunInstances made %d instances, want %d", len(ids), n)
	}
	return took, ids
}

// describeMean is the mean time of five DescribeInstances of every page, each checked to list
// exactly n instances that are not terminated.
func describeMean(ctx context.Context, b *testing.B, cl *ec2.Client, n int) time.Duration {
	const rounds = 5
	start := time.Now()
	for range rounds {
		if got := len(describeAll(ctx, b, cl, n)); got != n {
			b.Fatalf("DescribeInstances listed %d live instances, want %d", got, n)
		}
	}
	return time.Since(start) / rounds
}

// describeAll lists every page of DescribeInstances and returns the instances not terminated
// (or, with want 0, every instance).
func describeAll(ctx context.Context, b *testing.B, cl *ec2.Client, want int) []types.Instance {
	var out []types.Instance
	p := ec2.NewDescribeInstancesPaginator(cl, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			b.Fatalf("DescribeInstances: %v", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				if want == 0 || i.State.Name != types.InstanceStateNameTerminated {
					out = append(out, i)
				}
			}
		}
	}
	return out
}

// terminateWith terminates ids, 500 a call.
func terminateWith(b *testing.B, cl *ec2.Client, ids []string) {
	for len(ids) > 0 {
		k := min(len(ids), 500)
		if _, err := cl.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: ids[:k]}); err != nil {
			b.Fatalf("TerminateInstances: %v", err)
		}
		ids = ids[k:]
	}
}
