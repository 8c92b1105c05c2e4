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

package ec2shim_test

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// Launches, state changes and listings of hundreds of instances in single calls.

// fleetProject makes a project with no limits but instances, a user in it, a node to launch on
// and an image, and returns the user's client and the image.
func fleetProject(t *testing.T, project string, instances int32) (*ec2.Client, string) {
	t.Helper()
	c := theCloud(t)
	q := testcloud.NoQuota()
	q.Instances = ptr.To(instances)
	c.AddProjectWithQuota(t, project, q)
	creds := c.AddUser(t, project+"-user", false, project)
	c.AddNode(t, project+"-node", project+"-zone", 4, 8192)
	cl := c.EC2(creds)
	// Terminated, the fleet holds no place on the nodes of the tests that follow.
	t.Cleanup(func() { terminateProject(t, cl, project) })
	return cl, c.RegisterRawImage(t, creds, project, "disk", []byte("0123456789"), false)
}

// terminateProject terminates every instance of the project not terminated yet, 500 a call.
func terminateProject(t *testing.T, cl *ec2.Client, project string) {
	ctx := context.Background()
	list := &cloudv1.InstanceList{}
	if err := env.Client.List(ctx, list, client.InNamespace(project)); err != nil {
		t.Error(err)
		return
	}
	var ids []string
	for _, inst := range list.Items {
		if inst.DeletionTimestamp.IsZero() && inst.Spec.DesiredState != cloudv1.DesiredTerminated {
			ids = append(ids, inst.Name)
		}
	}
	for batch := range slices.Chunk(ids, 500) {
		if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: batch}); err != nil {
			t.Errorf("terminating %d instances of %s: %v", len(batch), project, err)
		}
	}
}

func launchWithToken(ctx context.Context, cl *ec2.Client, ami, token string, n int32) (*ec2.RunInstancesOutput, error) {
	return cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: types.InstanceType("m1.tiny"),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(n), ClientToken: aws.String(token)})
}

// launchRefused tells whether err refuses a launch for want of quota or addresses.
func launchRefused(err error) bool {
	return apiCode(err) == "InstanceLimitExceeded" || apiCode(err) == "InsufficientFreeAddressesInSubnet"
}

func instanceIDs(out *ec2.RunInstancesOutput) []string {
	var ids []string
	for _, inst := range out.Instances {
		ids = append(ids, aws.ToString(inst.InstanceId))
	}
	return ids
}

// Concurrent launches of 100 each, over a quota of 150, make exactly 150 instances between them;
// retries with their ClientTokens answer the same instances and make none; one call stops all of
// them and one call terminates all of them. A launch may also be refused because its project's
// /24 seemed full (the instances the others withdraw count until they are gone): refused, it makes
// nothing either.
func TestConcurrentLaunchesOfHundreds(t *testing.T) {
	const project, limit, calls, per = "fleet-q", 150, 4, 100
	cl, ami := fleetProject(t, project, limit)
	ctx := context.Background()

	answers := make([][]string, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := launchWithToken(ctx, cl, ami, fmt.Sprint("fleet-", i), per)
			if errs[i] = err; err == nil {
				answers[i] = instanceIDs(out)
				for j, inst := range out.Instances {
					if aws.ToInt32(inst.AmiLaunchIndex) != int32(j) || aws.ToString(out.ReservationId) == "" {
						errs[i] = fmt.Errorf("instance %d of the answer: launch index %d, reservation %q", j, aws.ToInt32(inst.AmiLaunchIndex), aws.ToString(out.ReservationId))
					}
				}
			}
		}()
	}
	wg.Wait()
	var all []string
	for i, err := range errs {
		if err != nil && !launchRefused(err) {
			t.Fatalf("launch %d: %v", i, err)
		}
		all = append(all, answers[i]...)
	}
	slices.Sort(all)
	if len(all) != limit || len(slices.Compact(slices.Clone(all))) != limit {
		t.Fatalf("the launches answered %d instances (%d distinct), want exactly %d", len(all), len(slices.Compact(slices.Clone(all))), limit)
	}
	expectLive(t, project, limit)
	live, err := liveInstances(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, inst := range live {
		names = append(names, inst.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, all) {
		t.Fatal("the instances in the API server are not those the launches answered")
	}

	// Retries, all at once, answer what each launch answered and make nothing.
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := launchWithToken(ctx, cl, ami, fmt.Sprint("fleet-", i), per)
			switch {
			case answers[i] == nil && launchRefused(err):
			case err != nil:
				errs[i] = fmt.Errorf("retry of launch %d: %w", i, err)
			case !slices.Equal(instanceIDs(out), answers[i]):
				errs[i] = fmt.Errorf("retry of launch %d answered other instances", i)
			default:
				errs[i] = nil
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !launchRefused(err) {
			t.Fatal(err)
		}
	}
	expectLive(t, project, limit)

	stopAndTerminate(t, cl, all)
	expectLive(t, project, 0)
}

// stopAndTerminate stops all the instances in one call, then terminates them in one call.
func stopAndTerminate(t *testing.T, cl *ec2.Client, all []string) {
	t.Helper()
	ctx := context.Background()
	stopped, err := cl.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: all})
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped.StoppingInstances) != len(all) {
		t.Fatalf("stopping answered %d instances, want %d", len(stopped.StoppingInstances), len(all))
	}
	terminated, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: all})
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, ch := range terminated.TerminatingInstances {
		if st := ch.CurrentState.Name; st != types.InstanceStateNameShuttingDown && st != types.InstanceStateNameTerminated {
			t.Fatalf("instance %s is %s right after its termination", aws.ToString(ch.InstanceId), st)
		}
		changed = append(changed, aws.ToString(ch.InstanceId))
	}
	slices.Sort(changed)
	if !slices.Equal(changed, slices.Sorted(slices.Values(all))) {
		t.Fatalf("terminating answered %d instances, want the %d", len(changed), len(all))
	}
}

// A launch that cannot make one of its instances makes none: here the 38th name of a
// ClientToken's launch is held by an instance of another request, so the launch is a mismatch
// and the 99 instances made beside it in parallel are withdrawn.
func TestLaunchFailureWithdrawsEverything(t *testing.T) {
	const project, token = "fleet-fail", "half-made"
	cl, ami := fleetProject(t, project, 0)
	ctx := context.Background()
	// Named as the launch names its 38th instance: from the project's namespace UID and the token.
	ns := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: project}, ns); err != nil {
		t.Fatal(err)
	}
	held := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: ids.Derive(ids.Instance, string(ns.UID)+"/"+token+"/37"),
			Annotations: map[string]string{"cloud.pinet.io/request-hash": "another request"}},
		Spec: cloudv1.InstanceSpec{ImageID: ami, InstanceType: "m1.tiny", DesiredState: cloudv1.DesiredStopped},
	}
	if err := env.Client.Create(ctx, held); err != nil {
		t.Fatal(err)
	}
	_, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: types.InstanceType("m1.tiny"),
		MinCount: aws.Int32(100), MaxCount: aws.Int32(100), ClientToken: aws.String(token)})
	expectCode(t, err, "IdempotentParameterMismatch")
	testenv.Eventually(t, shortWait, "only the instance held before", func() error {
		list := &cloudv1.InstanceList{}
		if err := env.Client.List(ctx, list, client.InNamespace(project)); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].Name != held.Name {
			return fmt.Errorf("%d instances", len(list.Items))
		}
		return nil
	})
	out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if n := countInstances(out.Reservations); n != 1 {
		t.Fatalf("DescribeInstances shows %d instances after the failed launch, want the 1 held before", n)
	}
}

func countInstances(rs []types.Reservation) int {
	n := 0
	for _, r := range rs {
		n += len(r.Instances)
	}
	return n
}

// pagedIDs pages through DescribeInstances with the filters, pageSize at a time, and returns the
// instance ids in the order the pages gave them; between the first page and the second it runs
// meanwhile.
func pagedIDs(t *testing.T, cl *ec2.Client, pageSize int32, filters []types.Filter, meanwhile func()) []string {
	t.Helper()
	var ids []string
	p := ec2.NewDescribeInstancesPaginator(cl, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(pageSize), Filters: filters})
	for pages := 0; p.HasMorePages(); pages++ {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if n := countInstances(out.Reservations); n > int(pageSize) || (n < int(pageSize) && out.NextToken != nil) {
			t.Fatalf("page %d holds %d instances (page size %d, next token %v)", pages, n, pageSize, out.NextToken != nil)
		}
		for _, r := range out.Reservations {
			for _, inst := range r.Instances {
				ids = append(ids, aws.ToString(inst.InstanceId))
			}
		}
		if pages == 0 && meanwhile != nil {
			meanwhile()
		}
	}
	return ids
}

// exactlyOnce fails unless got holds each of want once, and nothing else.
func exactlyOnce(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Fatalf("%s: %s listed %d times", what, id, seen[id])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d instances listed, want %d", what, len(got), len(want))
	}
}

// Paging through hundreds of instances (240, and 10 more launched meanwhile), with and without
// filters, lists each matching instance exactly once, and instances launched while a client pages
// do not shift the pages it has yet to read.
func TestPagingThroughManyInstances(t *testing.T) {
	const project = "fleet-page"
	cl, ami := fleetProject(t, project, 0)
	ctx := context.Background()
	byTier := map[string][]string{}
	var all, small []string
	launch := func(tier string, itype types.InstanceType, n int32) []string {
		out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: itype,
			MinCount: aws.Int32(n), MaxCount: aws.Int32(n), TagSpecifications: []types.TagSpecification{{
				ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("tier"), Value: aws.String(tier)}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return instanceIDs(out)
	}
	for i, tier := range []string{"web", "db", "web"} {
		itype := types.InstanceType("m1.tiny")
		if i == 2 {
			itype = types.InstanceTypeM1Small
		}
		ids := launch(tier, itype, 80)
		byTier[tier] = append(byTier[tier], ids...)
		all = append(all, ids...)
		if i == 2 {
			small = ids
		}
	}

	unpaged, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var inOrder []string
	for _, r := range unpaged.Reservations {
		for _, inst := range r.Instances {
			inOrder = append(inOrder, aws.ToString(inst.InstanceId))
		}
	}
	exactlyOnce(t, "unpaged", inOrder, all)
	var later []string
	paged := pagedIDs(t, cl, 7, nil, func() {
		// The listing orders by creation second, then id: instances made within the second of
		// the first page's would sort among them by their random ids, some before the page
		// read, and rightly not be listed. Launched in a later second, they all come after.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		later = launch("late", "m1.tiny", 10)
	})
	exactlyOnce(t, "pages of 7, with a launch meanwhile", paged, append(slices.Clone(all), later...))

	tag := func(v string) []types.Filter {
		return []types.Filter{{Name: aws.String("tag:tier"), Values: []string{v}}}
	}
	exactlyOnce(t, "web in pages of 50", pagedIDs(t, cl, 50, tag("web"), nil), byTier["web"])
	exactlyOnce(t, "db in pages of 1000", pagedIDs(t, cl, 1000, tag("db"), nil), byTier["db"])
	exactlyOnce(t, "m1.small in pages of 5", pagedIDs(t, cl, 5, []types.Filter{
		{Name: aws.String("instance-type"), Values: []string{"m1.small"}}}, nil), small)
	exactlyOnce(t, "no match", pagedIDs(t, cl, 5, tag("none"), nil), nil)

	var statuses []string
	sp := ec2.NewDescribeInstanceStatusPaginator(cl, &ec2.DescribeInstanceStatusInput{IncludeAllInstances: aws.Bool(true), MaxResults: aws.Int32(64)})
	for sp.HasMorePages() {
		out, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range out.InstanceStatuses {
			statuses = append(statuses, aws.ToString(st.InstanceId))
		}
	}
	exactlyOnce(t, "statuses in pages of 64", statuses, append(slices.Clone(all), later...))

	// A page token is bound to its query.
	first, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), Filters: tag("web")})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first page: %v", err)
	}
	_, err = cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), Filters: tag("db"), NextToken: first.NextToken})
	expectCode(t, err, "InvalidParameterValue")

	stopAndTerminate(t, cl, append(all, later...))
	expectLive(t, project, 0)
}

// measureFleet, when set, is how many instances TestMeasureFleet launches; the package's cloud
// then gives projects subnets large enough.
var measureFleet = flag.Int("fleet.measure", 0, "launch this many instances and log how long launching, paging and terminating them take")

// TestMeasureFleet logs what launching (100 a call), paging through (1,000 and 100 a page) and
// terminating (500 a call) a fleet costs. It asserts no timing: run it with -fleet.measure=N.
func TestMeasureFleet(t *testing.T) {
	n := *measureFleet
	if n == 0 {
		t.Skip("-fleet.measure is not set")
	}
	cl, ami := fleetProject(t, "fleet-measure", 0)
	ctx := context.Background()
	var all []string
	start := time.Now()
	for len(all) < n {
		out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: types.InstanceType("m1.tiny"),
			MinCount: aws.Int32(1), MaxCount: aws.Int32(int32(min(100, n-len(all))))})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, instanceIDs(out)...)
	}
	launch := time.Since(start)
	t.Logf("RunInstances of %d in calls of 100: %v, %.2f ms per instance", n, launch, float64(launch.Milliseconds())/float64(n))

	for round := range 3 {
		start = time.Now()
		got := pagedIDs(t, cl, 1000, nil, nil)
		paged := time.Since(start)
		exactlyOnce(t, "the fleet", got, all)
		start = time.Now()
		got = pagedIDs(t, cl, 100, nil, nil)
		paged100 := time.Since(start)
		exactlyOnce(t, "the fleet", got, all)
		start = time.Now()
		out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil || countInstances(out.Reservations) != n {
			t.Fatalf("describing the fleet: %v", err)
		}
		t.Logf("round %d: DescribeInstances of %d, all pages of 1000: %v; of 100: %v; unpaged: %v", round, n, paged, paged100, time.Since(start))
	}

	batch := all[:min(500, n)]
	start = time.Now()
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: batch}); err != nil {
		t.Fatal(err)
	}
	t.Logf("TerminateInstances of %d in one call: %v", len(batch), time.Since(start))
}
