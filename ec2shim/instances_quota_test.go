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
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// liveInstances lists the project's Instance objects that hold quota (not terminated, not
// being deleted), straight from the API server; it fails on any still marked pending.
func liveInstances(ctx context.Context, project string) ([]cloudv1.Instance, error) {
	list := &cloudv1.InstanceList{}
	if err := env.Client.List(ctx, list, client.InNamespace(project)); err != nil {
		return nil, err
	}
	var live []cloudv1.Instance
	for _, inst := range list.Items {
		if inst.DeletionTimestamp.IsZero() && inst.Spec.DesiredState != cloudv1.DesiredTerminated {
			if _, pending := inst.Annotations["cloud.pinet.io/quota-pending"]; pending {
				return nil, fmt.Errorf("instance %s is still marked pending", inst.Name)
			}
			live = append(live, inst)
		}
	}
	return live, nil
}

// expectLive waits until the project holds exactly n instances.
func expectLive(t *testing.T, project string, n int) {
	t.Helper()
	testenv.Eventually(t, shortWait, fmt.Sprintf("%d instances in %s", n, project), func() error {
		live, err := liveInstances(context.Background(), project)
		if err != nil {
			return err
		}
		if len(live) != n {
			return fmt.Errorf("%d instances", len(live))
		}
		return nil
	})
}

// expectWithdrawnGone waits until no instance of the project is held being deleted: what refused
// launches withdrew goes for good, though RunInstances creates every instance with the instance
// controller's finalizer.
func expectWithdrawnGone(t *testing.T, project string) {
	t.Helper()
	testenv.Eventually(t, shortWait, "withdrawn instances of "+project+" to go", func() error {
		list := &cloudv1.InstanceList{}
		if err := env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
			return err
		}
		for _, inst := range list.Items {
			if !inst.DeletionTimestamp.IsZero() {
				return fmt.Errorf("instance %s is still being deleted, held by %v", inst.Name, inst.Finalizers)
			}
		}
		return nil
	})
}

func expectLimit(t *testing.T, err error, field string) {
	t.Helper()
	expectCode(t, err, "InstanceLimitExceeded")
	if !strings.Contains(err.Error(), "project quota "+field) {
		t.Fatalf("the refusal does not name the limit %s: %v", field, err)
	}
}

func run(ctx context.Context, cl *ec2.Client, ami string, itype types.InstanceType, minCount, maxCount int32) (*ec2.RunInstancesOutput, error) {
	return cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: itype,
		MinCount: aws.Int32(minCount), MaxCount: aws.Int32(maxCount)})
}

// runIn launches one instance in zone: on a project's own node (tenantOnNode's zone is
// project+"-zone"), where a test that waits for it to run must place it — the cloud the suite
// shares has other tests' nodes, whose agents may be gone.
func runIn(ctx context.Context, cl *ec2.Client, ami, zone string, itype types.InstanceType) (*ec2.RunInstancesOutput, error) {
	return cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: itype,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), Placement: &types.Placement{AvailabilityZone: aws.String(zone)}})
}

func terminateAll(t *testing.T, cl *ec2.Client, out ...*ec2.RunInstancesOutput) {
	t.Helper()
	var ids []string
	for _, o := range out {
		for _, i := range o.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	if _, err := cl.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatal(err)
	}
}

// RunInstances launches as many as fit between MinCount and MaxCount under each of the instance,
// vCPU and memory limits, and a launch whose MinCount does not fit is refused with nothing made.
func TestRunInstancesQuota(t *testing.T) {
	const project = "iquota"
	_, _, cl, ami := tenantWithNode(t, project)
	ctx := context.Background()

	for i, tc := range []struct {
		field string
		quota cloudv1.ProjectQuota
		itype types.InstanceType
		fits  int32
	}{
		{"instances", cloudv1.ProjectQuota{Instances: ptr.To[int32](3)}, types.InstanceType("m1.tiny"), 3},
		{"vcpus", cloudv1.ProjectQuota{VCPUs: ptr.To[int32](5)}, types.InstanceTypeM1Medium, 2},
		{"memoryMiB", cloudv1.ProjectQuota{MemoryMiB: ptr.To[int64](5000)}, types.InstanceTypeM1Small, 2},
	} {
		// setQuota waits until the API reads the address limit: a new one each time.
		tc.quota.Addresses = ptr.To(int32(100 + i))
		setQuota(t, cl, project, tc.quota)
		_, err := run(ctx, cl, ami, tc.itype, tc.fits+1, tc.fits+1)
		expectLimit(t, err, tc.field)
		expectLive(t, project, 0)
		expectWithdrawnGone(t, project)

		out, err := run(ctx, cl, ami, tc.itype, 1, tc.fits+2)
		if err != nil {
			t.Fatalf("%s: launching as many as fit: %v", tc.field, err)
		}
		if int32(len(out.Instances)) != tc.fits {
			t.Fatalf("%s: launched %d instances, want the %d that fit", tc.field, len(out.Instances), tc.fits)
		}
		for i, inst := range out.Instances {
			if aws.ToInt32(inst.AmiLaunchIndex) != int32(i) {
				t.Fatalf("%s: launch indices %v", tc.field, out.Instances)
			}
		}
		_, err = run(ctx, cl, ami, tc.itype, 1, 1)
		expectLimit(t, err, tc.field)
		expectLive(t, project, int(tc.fits))

		// Terminating releases the quota.
		terminateAll(t, cl, out)
		var again *ec2.RunInstancesOutput
		testenv.Eventually(t, shortWait, tc.field+" released by terminating", func() error {
			again, err = run(ctx, cl, ami, tc.itype, tc.fits, tc.fits)
			return err
		})
		terminateAll(t, cl, again)
		expectLive(t, project, 0)
	}

	// A retry of a partial launch answers with what the first call kept, though nothing fits now.
	setQuota(t, cl, project, cloudv1.ProjectQuota{Instances: ptr.To[int32](2)})
	in := &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: types.InstanceTypeM1Small,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(4), ClientToken: aws.String("partial")}
	first, err := cl.RunInstances(ctx, in)
	if err != nil || len(first.Instances) != 2 {
		t.Fatalf("partial launch: %v", err)
	}
	retry, err := cl.RunInstances(ctx, in)
	if err != nil {
		t.Fatalf("retrying a partial launch: %v", err)
	}
	if len(retry.Instances) != 2 || aws.ToString(retry.ReservationId) != aws.ToString(first.ReservationId) ||
		aws.ToString(retry.Instances[1].InstanceId) != aws.ToString(first.Instances[1].InstanceId) {
		t.Fatalf("the retry answered %+v, the first call %+v", retry.Instances, first.Instances)
	}
	expectLive(t, project, 2)
}

// Resizing a stopped instance beyond the vCPU quota is refused; within it, allowed.
func TestResizeWithinQuota(t *testing.T) {
	const project = "iquota-resize"
	_, _, cl, ami := tenantOnNode(t, project, 8, 16384)
	ctx := context.Background()
	setQuota(t, cl, project, cloudv1.ProjectQuota{VCPUs: ptr.To[int32](3)})

	id := runThenStop(t, cl)(runIn(ctx, cl, ami, project+"-zone", types.InstanceTypeM1Small))
	resize := func(to types.InstanceType) error {
		_, err := cl.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id),
			InstanceType: &types.AttributeValue{Value: aws.String(string(to))}})
		return err
	}
	expectLimit(t, resize(types.InstanceTypeM1Large), "vcpus")
	if err := resize(types.InstanceTypeM1Medium); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the new type in the cache", func() error {
		d, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return err
		}
		if got := d.Reservations[0].Instances[0].InstanceType; got != types.InstanceTypeM1Medium {
			return fmt.Errorf("type %s", got)
		}
		return nil
	})
	// The resized instance counts with its new size: another m1.medium no longer fits.
	_, err := run(ctx, cl, ami, types.InstanceTypeM1Medium, 1, 1)
	expectLimit(t, err, "vcpus")
}

// Resizes racing through ModifyInstanceAttribute are decided by the project's ledger before the
// calls answer: of two that each fit alone but not together, one is accepted and the other
// answers InstanceLimitExceeded with its instance's type put back, and the accepted one is given.
func TestConcurrentResizesStayWithinQuota(t *testing.T) {
	const project = "iquota-resize-race"
	_, _, cl, ami := tenantOnNode(t, project, 8, 16384)
	ctx := context.Background()
	setQuota(t, cl, project, cloudv1.ProjectQuota{VCPUs: ptr.To[int32](3)})
	ids := []string{
		runThenStop(t, cl)(runIn(ctx, cl, ami, project+"-zone", types.InstanceTypeM1Small)),
		runThenStop(t, cl)(runIn(ctx, cl, ami, project+"-zone", types.InstanceTypeM1Small)),
	}
	// 2 vCPUs in use; an m1.medium adds 1.
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cl.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id),
				InstanceType: &types.AttributeValue{Value: aws.String(string(types.InstanceTypeM1Medium))}})
		}()
	}
	wg.Wait()
	accepted := -1
	for i, err := range errs {
		switch {
		case err == nil && accepted >= 0:
			t.Fatalf("both resizes accepted past the quota of 3 vCPUs")
		case err == nil:
			accepted = i
		default:
			expectLimit(t, err, "vcpus")
		}
	}
	if accepted < 0 {
		t.Fatalf("both resizes refused: %v", errs)
	}
	refused := ids[1-accepted]
	if inst := instanceByID(t, project, refused); inst.Spec.InstanceType != "m1.small" || inst.Status.InstanceType != "m1.small" {
		t.Fatalf("the refused resize left %s asking %s, given %s", refused, inst.Spec.InstanceType, inst.Status.InstanceType)
	}
	testenv.Eventually(t, shortWait, "the accepted resize to be given", func() error {
		inst := instanceByID(t, project, ids[accepted])
		if c := conditions.Get(inst, cloudv1.InstanceResized); inst.Status.InstanceType != "m1.medium" || c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("given %s, Resized %v", inst.Status.InstanceType, c)
		}
		return nil
	})
	for _, id := range ids {
		if _, err := cl.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
			t.Fatal(err)
		}
		waitState(t, cl, id, types.InstanceStateNameRunning)
	}
}

// Racing launches never exceed the quota, and the refused ones leave nothing behind.
func TestConcurrentRunInstancesStayWithinQuota(t *testing.T) {
	const project = "iquota-race"
	_, _, cl, ami := tenantWithNode(t, project)
	ctx := context.Background()
	setQuota(t, cl, project, cloudv1.ProjectQuota{Instances: ptr.To[int32](5)})

	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = run(ctx, cl, ami, types.InstanceType("m1.tiny"), 1, 1)
		}(i)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch apiCode(err) {
		case "":
			if err != nil {
				t.Fatal(err)
			}
			won++
		case "InstanceLimitExceeded":
		default:
			t.Fatalf("racing launch: %v", err)
		}
	}
	if won != 5 {
		t.Fatalf("%d of 20 racing launches succeeded under a quota of 5", won)
	}
	expectLive(t, project, 5)
	expectWithdrawnGone(t, project)
}

// A new project gets the default quota: EC2's five elastic IPs, ten instances.
func TestProjectQuotaDefaults(t *testing.T) {
	const project = "iquota-defaults"
	_, _, cl, ami := tenantOnNode(t, project, 8, 16384)
	ctx := context.Background()

	p := &cloudv1.Project{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: project}, p); err != nil {
		t.Fatal(err)
	}
	q := p.Spec.Quota
	for _, l := range []struct {
		name      string
		got, want int64
	}{
		{"instances", int64(ptr.Deref(q.Instances, -1)), cloudv1.DefaultQuotaInstances},
		{"vcpus", int64(ptr.Deref(q.VCPUs, -1)), cloudv1.DefaultQuotaVCPUs},
		{"memoryMiB", ptr.Deref(q.MemoryMiB, -1), cloudv1.DefaultQuotaMemoryMiB},
		{"volumes", int64(ptr.Deref(q.Volumes, -1)), cloudv1.DefaultQuotaVolumes},
		{"volumeGiB", ptr.Deref(q.VolumeGiB, -1), cloudv1.DefaultQuotaVolumeGiB},
		{"addresses", int64(ptr.Deref(q.Addresses, -1)), cloudv1.DefaultQuotaAddresses},
		{"snapshots", int64(ptr.Deref(q.Snapshots, -1)), cloudv1.DefaultQuotaSnapshots},
		{"images", int64(ptr.Deref(q.Images, -1)), cloudv1.DefaultQuotaImages},
	} {
		if l.got != l.want {
			t.Errorf("default quota %s = %d, want %d", l.name, l.got, l.want)
		}
	}
	out, err := cl.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{
		AttributeNames: []types.AccountAttributeName{"max-instances", "max-elastic-ips"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range out.AccountAttributes {
		if got := aws.ToString(a.AttributeValues[0].AttributeValue); got != map[string]string{"max-instances": "10", "max-elastic-ips": "5"}[aws.ToString(a.AttributeName)] {
			t.Errorf("%s = %s", aws.ToString(a.AttributeName), got)
		}
	}
	// The defaults hold: eleven instances do not fit, and 20 vCPUs are three m1.xlarge too many.
	_, err = run(ctx, cl, ami, types.InstanceType("m1.tiny"), 11, 11)
	expectLimit(t, err, "instances")
	_, err = run(ctx, cl, ami, types.InstanceTypeM1Xlarge, 3, 3)
	expectLimit(t, err, "vcpus")
	expectLive(t, project, 0)
}

// kubectlInstance creates an Instance as a member of the project would with kubectl.
func kubectlInstance(t *testing.T, project, name, ami string) {
	t.Helper()
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
		Spec:       cloudv1.InstanceSpec{ImageID: ami, InstanceType: "m1.tiny", DesiredState: cloudv1.DesiredRunning},
	}
	if err := env.Client.Create(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
}

// waitAdmission waits until check accepts the instance's QuotaAdmitted and Ready conditions and
// its node.
func waitAdmission(t *testing.T, wait time.Duration, project, name, what string, check func(admitted, ready *metav1.Condition, node string) error) {
	t.Helper()
	testenv.Eventually(t, wait, name+" "+what, func() error {
		inst := &cloudv1.Instance{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: project, Name: name}, inst); err != nil {
			return err
		}
		return check(conditions.Get(inst, cloudv1.InstanceQuotaAdmitted), conditions.Get(inst, cloudv1.ReadyCondition), inst.Status.Hypervisor)
	})
}

func waitAdmitted(t *testing.T, project, name string) {
	t.Helper()
	waitAdmission(t, longWait, project, name, "admitted and placed", func(admitted, _ *metav1.Condition, node string) error {
		switch {
		case admitted == nil || admitted.Status != metav1.ConditionTrue:
			return fmt.Errorf("QuotaAdmitted %v", admitted)
		case node == "":
			return fmt.Errorf("not placed")
		}
		return nil
	})
}

// waitHeldBack waits until the instance waits for quota, naming the limit, and checks that it
// is not placed.
func waitHeldBack(t *testing.T, project, name, field string) {
	t.Helper()
	waitAdmission(t, shortWait, project, name, "held back by the quota", func(admitted, ready *metav1.Condition, node string) error {
		switch {
		case node != "":
			return fmt.Errorf("placed on %s beyond the quota", node)
		case admitted == nil || admitted.Status != metav1.ConditionFalse || admitted.Reason != cloudv1.ReasonQuotaExceeded:
			return fmt.Errorf("QuotaAdmitted %v", admitted)
		case ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != cloudv1.ReasonQuotaExceeded ||
			!strings.Contains(ready.Message, "project quota "+field):
			return fmt.Errorf("Ready %v", ready)
		}
		return nil
	})
}

// Instances made with kubectl beyond the quota wait unscheduled with the reason, and are
// admitted when another goes or an admin raises the limit.
func TestKubectlInstancesWaitForQuota(t *testing.T) {
	const project = "iquota-kubectl"
	c, creds, cl := tenant(t, project)
	c.AddNode(t, "iquota-kubectl-node", "", 4, 8192)
	ami := c.RegisterRawImage(t, creds, project, "disk", []byte("0123456789"), false)
	ctx := context.Background()
	setQuota(t, cl, project, cloudv1.ProjectQuota{Instances: ptr.To[int32](2)})

	kubectlInstance(t, project, "first", ami)
	waitAdmitted(t, project, "first")
	kubectlInstance(t, project, "second", ami)
	waitAdmitted(t, project, "second")
	kubectlInstance(t, project, "third", ami)
	waitHeldBack(t, project, "third", "instances")
	// The EC2 API sees the same quota.
	_, err := run(ctx, cl, ami, types.InstanceType("m1.tiny"), 1, 1)
	expectLimit(t, err, "instances")

	// Deleting one makes room for the waiting one.
	if err := env.Client.Delete(ctx, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "first", Namespace: project}}); err != nil {
		t.Fatal(err)
	}
	waitAdmitted(t, project, "third")

	// An admin raising the limit admits the next waiting one.
	kubectlInstance(t, project, "fourth", ami)
	waitHeldBack(t, project, "fourth", "instances")
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: project}}
	if err := testenv.Update(ctx, env.Client, p, func(p *cloudv1.Project) { p.Spec.Quota.Instances = ptr.To[int32](3) }); err != nil {
		t.Fatal(err)
	}
	waitAdmitted(t, project, "fourth")
	expectLive(t, project, 3)
}

// A stopped instance resized with kubectl (as a member of its project) is given the new type
// only once its project's quota and its hypervisor have room: until then it keeps its size, does
// not start with it, and says why; StartInstances answers EC2's refusal. (ModifyInstanceAttribute
// refuses a resize over the quota outright.)
func TestKubectlResizeWaitsForRoom(t *testing.T) {
	const project = "iquota-kresize"
	_, _, cl, ami := tenantOnNode(t, project, 10, 16384)
	ctx := context.Background()
	setQuota(t, cl, project, cloudv1.ProjectQuota{VCPUs: ptr.To[int32](5)})
	member, err := env.ClientAs(cloudv1.UserPrefix+project+"-user", cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	runHere := func(itype types.InstanceType) (*ec2.RunInstancesOutput, error) {
		return runIn(ctx, cl, ami, project+"-zone", itype)
	}
	id := runThenStop(t, cl)(runHere(types.InstanceTypeM1Small))
	inst := instanceByID(t, project, id)
	key := client.ObjectKeyFromObject(inst)
	kubectlPatch := func(spec string) {
		t.Helper()
		if err := member.Patch(ctx, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}},
			client.RawPatch(k8stypes.MergePatchType, []byte(`{"spec":`+spec+`}`))); err != nil {
			t.Fatal(err)
		}
	}
	resized := func(what string, check func(inst *cloudv1.Instance, resized *metav1.Condition) error) *cloudv1.Instance {
		t.Helper()
		got := &cloudv1.Instance{}
		testenv.Eventually(t, shortWait, id+" "+what, func() error {
			if err := env.Client.Get(ctx, key, got); err != nil {
				return err
			}
			return check(got, conditions.Get(got, cloudv1.InstanceResized))
		})
		return got
	}
	refused := func(reason, says string) {
		t.Helper()
		resized("refused the resize ("+reason+")", func(inst *cloudv1.Instance, c *metav1.Condition) error {
			switch {
			case c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason || !strings.Contains(c.Message, says):
				return fmt.Errorf("Resized %v", c)
			case inst.Status.InstanceType != "m1.small":
				return fmt.Errorf("given %s", inst.Status.InstanceType)
			}
			return nil
		})
	}
	hypervisorVCPUs := func(want int32) {
		t.Helper()
		testenv.Eventually(t, shortWait, fmt.Sprintf("the hypervisor to count %d vCPUs", want), func() error {
			hv := &cloudv1.Hypervisor{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: inst.Status.Hypervisor}, hv); err != nil {
				return err
			}
			if hv.Status.Allocated.VCPUs != want {
				return fmt.Errorf("%d vCPUs allocated", hv.Status.Allocated.VCPUs)
			}
			return nil
		})
	}

	// 8 vCPUs: past the project's 5 (the node has room).
	kubectlPatch(`{"instanceType":"m1.xlarge"}`)
	refused(cloudv1.ReasonQuotaExceeded, "project quota vcpus")
	_, err = cl.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
	expectLimit(t, err, "vcpus")
	// The quota and the node count the size it has, not the one asked for: an m1.medium (2)
	// still fits beside it.
	hypervisorVCPUs(1)
	if _, err := runHere(types.InstanceTypeM1Medium); err != nil {
		t.Fatalf("an m1.medium beside the m1.small asked to be an m1.xlarge: %v", err)
	}
	hypervisorVCPUs(3)

	// Within the quota, past the node's 16 GiB of memory beside the m1.medium.
	setQuota(t, cl, project, cloudv1.ProjectQuota{VCPUs: ptr.To[int32](100)})
	refused(cloudv1.ReasonInsufficientCapacity, "short of memory")
	_, err = cl.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
	expectCode(t, err, "InsufficientInstanceCapacity")
	// Started with kubectl, it waits for the type rather than run with its old size.
	kubectlPatch(`{"desiredState":"Running"}`)
	waiting := resized("to wait for its type", func(inst *cloudv1.Instance, _ *metav1.Condition) error {
		if c := conditions.Get(inst, cloudv1.InstanceGuestRunning); c == nil || c.Reason != cloudv1.ReasonWaitingForResize ||
			!strings.Contains(c.Message, "short of memory") {
			return fmt.Errorf("GuestRunning %v", c)
		}
		return nil
	})
	if d := waiting.Status.Domain; d == nil || d.VCPUs != 1 || waiting.Status.State == cloudv1.InstanceStateRunning {
		t.Fatalf("waiting for its type, the instance is %s with domain %+v", waiting.Status.State, d)
	}
	if _, err := cl.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, id, types.InstanceStateNameStopped)

	// 4 vCPUs and 8 GiB fit both: given, and it runs with them.
	kubectlPatch(`{"instanceType":"m1.large"}`)
	resized("given m1.large", func(inst *cloudv1.Instance, c *metav1.Condition) error {
		if c == nil || c.Status != metav1.ConditionTrue || inst.Status.InstanceType != "m1.large" {
			return fmt.Errorf("Resized %v, given %s", c, inst.Status.InstanceType)
		}
		return nil
	})
	hypervisorVCPUs(6)
	if _, err := cl.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, id, types.InstanceStateNameRunning)
	if d := instanceByID(t, project, id).Status.Domain; d == nil || d.VCPUs != 4 || d.MemoryMiB != 8192 {
		t.Fatalf("running as m1.large, the domain is %+v", d)
	}
}

// runThenStop returns a function that takes a launch's answer, waits for its one instance to
// run, stops it, waits for it to be stopped and returns its id.
func runThenStop(t *testing.T, cl *ec2.Client) func(*ec2.RunInstancesOutput, error) string {
	return func(out *ec2.RunInstancesOutput, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.Instances[0].InstanceId)
		waitState(t, cl, id, types.InstanceStateNameRunning)
		if _, err := cl.StopInstances(context.Background(), &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
			t.Fatal(err)
		}
		waitState(t, cl, id, types.InstanceStateNameStopped)
		return id
	}
}

// instanceByID finds the Instance object of an instance id in project.
func instanceByID(t *testing.T, project, id string) *cloudv1.Instance {
	t.Helper()
	list := &cloudv1.InstanceList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if list.Items[i].Status.InstanceID == id {
			return &list.Items[i]
		}
	}
	t.Fatalf("no instance %s in %s", id, project)
	return nil
}
