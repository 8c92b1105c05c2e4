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
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"pinet.io/pinet/internal/testcloud"
)

func TestInstanceLifecycle(t *testing.T) {
	c := theCloud(t)
	c.AddProject(t, "life")
	creds := c.AddUser(t, "life-user", false, "life")
	c.AddNode(t, "life-node", "life-zone", 8, 16384)
	ami := c.RegisterRawImage(t, creds, "life", "disk", []byte(strings.Repeat("x", 4096)), false)
	ctx := context.Background()
	cl := c.EC2(creds)

	userData := "#!/bin/sh\necho hello\n"
	out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(ami), MinCount: aws.Int32(3), MaxCount: aws.Int32(3),
		InstanceType: types.InstanceTypeM1Small,
		UserData:     aws.String(base64.StdEncoding.EncodeToString([]byte(userData))),
		Placement:    &types.Placement{AvailabilityZone: aws.String("life-zone")},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance,
			Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("web server")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Instances) != 3 || !strings.HasPrefix(aws.ToString(out.ReservationId), "r-") || aws.ToString(out.OwnerId) != "life" {
		t.Fatalf("reservation %s owner %s with %d instances", aws.ToString(out.ReservationId), aws.ToString(out.OwnerId), len(out.Instances))
	}
	var ids []string
	for i, inst := range out.Instances {
		ids = append(ids, aws.ToString(inst.InstanceId))
		if inst.State.Name != types.InstanceStateNamePending || aws.ToInt32(inst.AmiLaunchIndex) != int32(i) || aws.ToString(inst.ImageId) != ami {
			t.Fatalf("launched instance %d: %+v", i, inst)
		}
	}
	for _, id := range ids {
		waitState(t, cl, id, types.InstanceStateNameRunning)
	}

	// Filters.
	for _, tc := range []struct {
		filters []types.Filter
		want    int
	}{
		{[]types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}, 3},
		{[]types.Filter{{Name: aws.String("tag:Name"), Values: []string{"web*"}}}, 3},
		{[]types.Filter{{Name: aws.String("image-id"), Values: []string{ami}}}, 3},
		{[]types.Filter{{Name: aws.String("instance-id"), Values: []string{ids[1]}}}, 1},
		{[]types.Filter{{Name: aws.String("instance-type"), Values: []string{"m1.large"}}}, 0},
		{[]types.Filter{{Name: aws.String("availability-zone"), Values: []string{"life-zone"}}}, 3},
	} {
		d, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: tc.filters})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range d.Reservations {
			n += len(r.Instances)
		}
		if n != tc.want {
			t.Errorf("filter %s=%v: %d instances, want %d", aws.ToString(tc.filters[0].Name), tc.filters[0].Values, n, tc.want)
		}
	}
	if _, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}}); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("unknown filter: %v", err)
	}

	// User data reads back.
	attr, err := cl.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(ids[0]), Attribute: types.InstanceAttributeNameUserData})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := base64.StdEncoding.DecodeString(aws.ToString(attr.UserData.Value)); string(got) != userData {
		t.Fatalf("user data %q", got)
	}

	// Stop, resize while stopped, start.
	if _, err := cl.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(ids[0]),
		InstanceType: &types.AttributeValue{Value: aws.String("m1.medium")}}); apiCode(err) != "IncorrectInstanceState" {
		t.Fatalf("resizing a running instance: %v", err)
	}
	stop, err := cl.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if stop.StoppingInstances[0].CurrentState.Name != types.InstanceStateNameStopping || stop.StoppingInstances[0].PreviousState.Name != types.InstanceStateNameRunning {
		t.Fatalf("stop: %+v", stop.StoppingInstances[0])
	}
	waitState(t, cl, ids[0], types.InstanceStateNameStopped)
	if _, err := cl.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(ids[0]),
		InstanceType: &types.AttributeValue{Value: aws.String("m1.medium")}}); err != nil {
		t.Fatalf("resizing a stopped instance: %v", err)
	}
	if _, err := cl.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, ids[0], types.InstanceStateNameRunning)

	// Reboot is accepted; status reports.
	if _, err := cl.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: ids[1:2]}); err != nil {
		t.Fatal(err)
	}
	st, err := cl.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: ids})
	if err != nil || len(st.InstanceStatuses) != 3 {
		t.Fatalf("status: %v %d", err, len(st.InstanceStatuses))
	}

	// Terminate: shutting-down, then terminated, still visible.
	term, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range term.TerminatingInstances {
		if ch.CurrentState.Name != types.InstanceStateNameShuttingDown {
			t.Fatalf("terminate: %+v", ch)
		}
	}
	for _, id := range ids {
		waitState(t, cl, id, types.InstanceStateNameTerminated)
	}
	if _, err := cl.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids[:1]}); apiCode(err) != "IncorrectInstanceState" {
		t.Fatalf("starting a terminated instance: %v", err)
	}
}

func TestRunInstancesRefusesBadInput(t *testing.T) {
	_, _, cl, ami := tenantOnNode(t, "bad", 2, 4096)
	ctx := context.Background()
	run := func(mut func(*ec2.RunInstancesInput)) error {
		in := &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}
		mut(in)
		_, err := cl.RunInstances(ctx, in)
		return err
	}
	for _, tc := range []struct {
		name string
		mut  func(*ec2.RunInstancesInput)
		code string
	}{
		{"malformed image", func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("nope") }, "InvalidAMIID.Malformed"},
		{"unknown image", func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("ami-0123456789abcdef0") }, "InvalidAMIID.NotFound"},
		{"unknown type", func(in *ec2.RunInstancesInput) { in.InstanceType = "m9.huge" }, "InvalidParameterValue"},
		{"min over max", func(in *ec2.RunInstancesInput) { in.MinCount = aws.Int32(3) }, "InvalidParameterValue"},
		{"zero count", func(in *ec2.RunInstancesInput) { in.MinCount, in.MaxCount = aws.Int32(0), aws.Int32(0) }, "InvalidParameterValue"},
		{"unknown key", func(in *ec2.RunInstancesInput) { in.KeyName = aws.String("nokey") }, "InvalidKeyPair.NotFound"},
		{"unknown group", func(in *ec2.RunInstancesInput) { in.SecurityGroups = []string{"nogroup"} }, "InvalidGroup.NotFound"},
		{"unknown group id", func(in *ec2.RunInstancesInput) { in.SecurityGroupIds = []string{"sg-0123456789abcdef0"} }, "InvalidGroupId.NotFound"},
		{"unknown zone", func(in *ec2.RunInstancesInput) {
			in.Placement = &types.Placement{AvailabilityZone: aws.String("mars-1a")}
		}, "InvalidParameterValue"},
		{"huge user data", func(in *ec2.RunInstancesInput) {
			in.UserData = aws.String(base64.StdEncoding.EncodeToString(make([]byte, 17<<10)))
		}, "InvalidParameterValue"},
		{"dry run", func(in *ec2.RunInstancesInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
		{"too big for the zone", func(in *ec2.RunInstancesInput) {
			in.InstanceType = types.InstanceTypeM1Xlarge
			in.Placement = &types.Placement{AvailabilityZone: aws.String("bad-zone")}
		}, "InsufficientInstanceCapacity"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectCode(t, run(tc.mut), tc.code) })
	}
	// Nothing was half-made.
	d, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil || len(d.Reservations) != 0 {
		t.Fatalf("refused launches left instances: %v %d", err, len(d.Reservations))
	}
}

func TestClientTokenIdempotency(t *testing.T) {
	_, _, cl, ami := tenantOnNode(t, "idem", 2, 4096)
	ctx := context.Background()
	in := &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(2), MaxCount: aws.Int32(2), ClientToken: aws.String("token-1")}
	var wg sync.WaitGroup
	results := make([]*ec2.RunInstancesOutput, 20)
	errs := make([]error, 20)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = cl.RunInstances(ctx, in)
		}(i)
	}
	wg.Wait()
	var first string
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		key := aws.ToString(r.ReservationId) + "/" + aws.ToString(r.Instances[0].InstanceId) + "/" + aws.ToString(r.Instances[1].InstanceId)
		if first == "" {
			first = key
		}
		if key != first {
			t.Fatalf("call %d got %s, call 0 got %s", i, key, first)
		}
	}
	d, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Reservations) != 1 || len(d.Reservations[0].Instances) != 2 {
		t.Fatalf("%d reservations after 20 retries", len(d.Reservations))
	}
	changed := *in
	changed.InstanceType = types.InstanceType("m1.tiny")
	_, err = cl.RunInstances(ctx, &changed)
	expectCode(t, err, "IdempotentParameterMismatch")
}

func TestPaginationOver250Instances(t *testing.T) {
	c := theCloud(t)
	c.AddProjectWithQuota(t, "many", testcloud.NoQuota())
	creds := c.AddUser(t, "many-user", false, "many")
	c.AddNode(t, "many-node", "many-zone", 2, 4096)
	ami := c.RegisterRawImage(t, creds, "many", "disk", []byte("0123456789"), false)
	ctx := context.Background()
	cl := c.EC2(creds)
	for i := 0; i < 5; i++ {
		if _, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(50), MaxCount: aws.Int32(50)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	pages := 0
	p := ec2.NewDescribeInstancesPaginator(cl, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(40)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				if seen[aws.ToString(inst.InstanceId)] {
					t.Fatalf("%s on two pages", aws.ToString(inst.InstanceId))
				}
				seen[aws.ToString(inst.InstanceId)] = true
			}
		}
	}
	if len(seen) != 250 || pages != 7 {
		t.Fatalf("%d instances on %d pages", len(seen), pages)
	}
	if _, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(40), NextToken: aws.String("forged")}); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("forged token: %v", err)
	}
	// Most of them never fit on the node: terminated, they stop waiting for a place on the nodes
	// later tests add.
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatal(err)
	}
}

func TestProjectsCannotSeeEachOther(t *testing.T) {
	c := theCloud(t)
	c.AddProject(t, "iso-a")
	c.AddProject(t, "iso-b")
	a := c.AddUser(t, "iso-a-user", false, "iso-a")
	b := c.AddUser(t, "iso-b-user", false, "iso-b")
	c.AddNode(t, "iso-node", "iso-zone", 2, 4096)
	ami := c.RegisterRawImage(t, a, "iso-a", "private", []byte("0123456789"), false)
	ctx := context.Background()
	out, err := c.EC2(a).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	cb := c.EC2(b)
	d, err := cb.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil || len(d.Reservations) != 0 {
		t.Fatalf("b sees %d reservations (%v)", len(d.Reservations), err)
	}
	_, err = cb.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	_, err = cb.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	// a's private image is not b's to launch.
	_, err = cb.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	expectCode(t, err, "InvalidAMIID.NotFound")
	if st, err := stateOf(ctx, c.EC2(a), id); err != nil || st == types.InstanceStateNameShuttingDown {
		t.Fatalf("a's instance after b's attempts: %s %v", st, err)
	}
	_ = fmt.Sprint()
}

// A guest that powers itself off leaves its instance stopped (Client.InstanceInitiatedShutdown)
// with the user's spec untouched, and StartInstances starts it again.
func TestStartAfterGuestPowerOff(t *testing.T) {
	ctx := context.Background()
	cl, id := poweredOffByGuest(t, "gstop", nil, types.InstanceStateNameStopped)
	started, err := cl.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if st := started.StartingInstances[0]; st.PreviousState.Name != types.InstanceStateNameStopped || st.CurrentState.Name != types.InstanceStateNamePending {
		t.Errorf("start: %s -> %s", st.PreviousState.Name, st.CurrentState.Name)
	}
	waitState(t, cl, id, types.InstanceStateNameRunning)
}

// poweredOffByGuest launches one tiny instance (launch changes the request) on a node of a new
// project's own, waits until it runs, has its guest power itself off, waits for want, and checks
// that DescribeInstances says the instance initiated it. It returns the project's client and
// the instance's id.
func poweredOffByGuest(t *testing.T, project string, launch func(*ec2.RunInstancesInput), want types.InstanceStateName) (*ec2.Client, string) {
	t.Helper()
	c := theCloud(t)
	c.AddProject(t, project)
	creds := c.AddUser(t, project+"-user", false, project)
	node := c.AddNode(t, project+"-node", project+"-zone", 2, 4096)
	ami := c.RegisterRawImage(t, creds, project, "disk", []byte(strings.Repeat("x", 4096)), false)
	ctx := context.Background()
	cl := c.EC2(creds)
	in := &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: types.InstanceType("m1.tiny"), Placement: &types.Placement{AvailabilityZone: aws.String(project + "-zone")}}
	if launch != nil {
		launch(in)
	}
	out, err := cl.RunInstances(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	waitState(t, cl, id, types.InstanceStateNameRunning)
	if err := node.Conn.Shutdown(id); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, id, want)
	d, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if r := d.Reservations[0].Instances[0].StateReason; r == nil || aws.ToString(r.Code) != "Client.InstanceInitiatedShutdown" {
		t.Errorf("state reason %+v", r)
	}
	return cl, id
}
