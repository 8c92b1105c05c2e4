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
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"k8s.io/utils/ptr"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// TestTerminationAndStopProtection drives EC2's termination and stop protection with the AWS
// SDK: set at launch, read back, refused calls that change nothing, and turned off again in
// both of ModifyInstanceAttribute's forms.
func TestTerminationAndStopProtection(t *testing.T) {
	c := theCloud(t)
	c.AddProject(t, "prot")
	c.AddProject(t, "prot-other")
	creds := c.AddUser(t, "prot-user", false, "prot")
	other := c.EC2(c.AddUser(t, "prot-other-user", false, "prot-other"))
	c.AddNode(t, "prot-node", "prot-zone", 8, 16384)
	ami := c.RegisterRawImage(t, creds, "prot", "disk", []byte(strings.Repeat("p", 4096)), false)
	ctx := context.Background()
	cl := c.EC2(creds)

	out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: types.InstanceTypeM1Small, Placement: &types.Placement{AvailabilityZone: aws.String("prot-zone")},
		DisableApiTermination: aws.Bool(true), DisableApiStop: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	waitState(t, cl, id, types.InstanceStateNameRunning)

	protection := func() (termination, stop bool) {
		t.Helper()
		a, err := cl.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id),
			Attribute: types.InstanceAttributeNameDisableApiTermination})
		if err != nil || a.DisableApiTermination == nil {
			t.Fatalf("disableApiTermination: %+v %v", a, err)
		}
		b, err := cl.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id),
			Attribute: types.InstanceAttributeNameDisableApiStop})
		if err != nil || b.DisableApiStop == nil {
			t.Fatalf("disableApiStop: %+v %v", b, err)
		}
		return aws.ToBool(a.DisableApiTermination.Value), aws.ToBool(b.DisableApiStop.Value)
	}
	if term, stop := protection(); !term || !stop {
		t.Fatalf("launched with protection, reads termination %v stop %v", term, stop)
	}

	_, err = cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if apiCode(err) != "OperationNotPermitted" || !strings.Contains(err.Error(), "may not be terminated") {
		t.Fatalf("terminating a protected instance: %v", err)
	}
	_, err = cl.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	if apiCode(err) != "OperationNotPermitted" || !strings.Contains(err.Error(), "may not be stopped") {
		t.Fatalf("stopping a protected instance: %v", err)
	}
	// Another project's calls find no such instance.
	if _, err := other.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id),
		DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(false)}}); apiCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("another project's modification: %v", err)
	}
	if _, err := other.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); apiCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("another project's termination: %v", err)
	}
	// A value that is not a boolean is refused (the older form carries it as text).
	if _, err := cl.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id),
		Attribute: types.InstanceAttributeNameDisableApiTermination, Value: aws.String("yes please")}); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("a value that is no boolean: %v", err)
	}
	waitState(t, cl, id, types.InstanceStateNameRunning)
	if term, stop := protection(); !term || !stop {
		t.Fatalf("refused calls changed the protection: termination %v stop %v", term, stop)
	}

	// Off again: stop protection in the newer form, termination protection in the older one.
	if _, err := cl.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id),
		DisableApiStop: &types.AttributeBooleanValue{Value: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id),
		Attribute: types.InstanceAttributeNameDisableApiTermination, Value: aws.String("false")}); err != nil {
		t.Fatal(err)
	}
	if term, stop := protection(); term || stop {
		t.Fatalf("after turning both off: termination %v stop %v", term, stop)
	}
	if _, err := cl.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, id, types.InstanceStateNameStopped)
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, cl, id, types.InstanceStateNameTerminated)
}

// TestProtectedLaunchBeyondQuota launches protected instances beyond the project's quota: the
// service withdraws those that do not fit (a deletion the protection lets the manager make)
// and keeps those that do, protected.
func TestProtectedLaunchBeyondQuota(t *testing.T) {
	const project = "prot-quota"
	_, _, cl, ami := tenantWithNode(t, project)
	ctx := context.Background()
	setQuota(t, cl, project, cloudv1.ProjectQuota{Instances: ptr.To[int32](1)})
	out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "m1.tiny",
		MinCount: aws.Int32(1), MaxCount: aws.Int32(3), DisableApiTermination: aws.Bool(true),
		Placement: &types.Placement{AvailabilityZone: aws.String(project + "-zone")}})
	if err != nil || len(out.Instances) != 1 {
		t.Fatalf("a protected launch of up to 3 under a quota of 1: %v", err)
	}
	expectWithdrawnGone(t, project)
	expectLive(t, project, 1)
	id := aws.ToString(out.Instances[0].InstanceId)
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); apiCode(err) != "OperationNotPermitted" {
		t.Fatalf("terminating the kept instance: %v", err)
	}
	if _, err := cl.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id),
		DisableApiTermination: &types.AttributeBooleanValue{Value: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
}

// TestGuestPowerOffTerminatesAProtectedInstance: termination protection guards the front doors,
// not the guest. A protected instance whose shutdown behaviour is terminate is terminated when
// its guest powers itself off (Client.InstanceInitiatedShutdown), and a TerminateInstances of it
// afterwards is answered without a refusal.
func TestGuestPowerOffTerminatesAProtectedInstance(t *testing.T) {
	ctx := context.Background()
	cl, id := poweredOffByGuest(t, "prot-guest", func(in *ec2.RunInstancesInput) {
		in.InstanceInitiatedShutdownBehavior, in.DisableApiTermination = types.ShutdownBehaviorTerminate, aws.Bool(true)
	}, types.InstanceStateNameTerminated)
	term, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil || term.TerminatingInstances[0].CurrentState.Name != types.InstanceStateNameTerminated {
		t.Fatalf("terminating the terminated instance again: %+v %v", term, err)
	}
}
