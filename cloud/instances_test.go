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

package cloud_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/testenv"
)

// instanceWait bounds the instance tests' waits for caches, controllers and the node agent (the
// machine is loaded).
const instanceWait = 2 * time.Minute

// instanceTestZone is the zone of the instance tests' node.
const instanceTestZone = "svc-inst-zone"

// instanceObjects lists all of a project's Instance objects, as the API server has them.
func instanceObjects(t *testing.T, project string) []cloudv1.Instance {
	t.Helper()
	list := &cloudv1.InstanceList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// instanceObject reads an instance's object from the API server.
func instanceObject(t *testing.T, project, id string) *cloudv1.Instance {
	t.Helper()
	inst := &cloudv1.Instance{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: project, Name: id}, inst); err != nil {
		t.Fatalf("instance %s: %v", id, err)
	}
	return inst
}

// removeAfter deletes obj when the test ends and waits until it is gone (its finalizers done),
// so the tests after it find the projects as they were.
func removeAfter(t *testing.T, obj client.Object) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		if err := env.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
			return
		}
		testenv.Eventually(t, instanceWait, "removing "+obj.GetName(), func() error {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (%v)", err)
		})
	})
}

// launchWhenCached runs instances, retrying while the service's cache does not show the node, its
// zone or the image yet.
func launchWhenCached(t *testing.T, s *cloud.Service, c cloud.Caller, in cloud.RunInstancesInput) *cloud.Reservation {
	t.Helper()
	var res *cloud.Reservation
	testenv.Eventually(t, instanceWait, "a launch as "+c.Principal.User, func() error {
		var err error
		res, err = s.RunInstances(context.Background(), c, in)
		switch codeOf(err) {
		case "", cloud.CodeInsufficientCapacity, cloud.CodeAMINotFound, cloud.CodeInvalidParameter:
			if err != nil && codeOf(err) == cloud.CodeInvalidParameter && !strings.Contains(err.Error(), "availability zone") {
				t.Fatalf("launching: %v", err)
			}
			return err
		}
		t.Fatalf("launching: %v", err)
		return nil
	})
	return res
}

// reservationIDs are the ids of a reservation's instances, in launch order.
func reservationIDs(r *cloud.Reservation) []string {
	var out []string
	for _, inst := range r.Instances {
		out = append(out, inst.InstanceID)
	}
	return out
}

// describeInstanceStates maps the ids c names to their states as DescribeInstances shows them.
func describeInstanceStates(s *cloud.Service, c cloud.Caller, ids []string) (map[string]string, error) {
	res, _, err := s.DescribeInstances(context.Background(), c, cloud.DescribeInstancesInput{InstanceIDs: ids})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range res {
		for _, inst := range r.Instances {
			out[inst.InstanceID] = inst.State.Name
		}
	}
	return out, nil
}

// untilInstancesAre waits until DescribeInstances shows every instance in the state.
func untilInstancesAre(t *testing.T, s *cloud.Service, c cloud.Caller, ids []string, state string) {
	t.Helper()
	testenv.Eventually(t, instanceWait, fmt.Sprintf("%v %s", ids, state), func() error {
		states, err := describeInstanceStates(s, c, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if states[id] != state {
				return fmt.Errorf("states %v", states)
			}
		}
		return nil
	})
}

// TestInstances launches, describes, stops, starts and terminates instances through the service
// as alice, on a node agent running libvirt's test driver; bob, in another project, finds none of
// them through any operation; and refused launches leave nothing behind.
func TestInstances(t *testing.T) {
	s := service(t)
	imageService(t)
	svcCloud.AddNode(t, "svc-inst-node", instanceTestZone, 8, 16384)
	ami := svcCloud.RegisterRawImage(t, imageAliceKeys, "svc-a", "svc-inst-disk", []byte(strings.Repeat("i", 4096)), false)
	removeAfter(t, &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "svc-inst-disk", Namespace: "svc-a"}})
	ctx := context.Background()
	userData := []byte("#!/bin/sh\necho hello\n")
	launch := cloud.RunInstancesInput{ImageID: ami, MinCount: 2, MaxCount: 2, InstanceType: "m1.tiny",
		UserData: userData, Placement: &cloud.Placement{AvailabilityZone: instanceTestZone}, ClientToken: "svc-inst-token",
		TagSpecifications: tagSpecs("instance", "Name", "svc-inst")}
	res := launchWhenCached(t, s, alice, launch)
	ids := reservationIDs(res)
	for _, id := range ids {
		removeAfter(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: "svc-a"}})
	}

	t.Run("lifecycle", func(t *testing.T) { instanceLifecycle(t, s, launch, res) })
	t.Run("other projects", func(t *testing.T) { instancesHiddenFromOtherProjects(t, s, ami, ids) })
	t.Run("refused launches", func(t *testing.T) { refusedLaunchesLeaveNothing(t, s, ami) })
	t.Run("terminate", func(t *testing.T) {
		changes, err := s.TerminateInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: ids})
		if err != nil || len(changes) != 2 || changes[0].Current.Name != "shutting-down" {
			t.Fatalf("terminating: %+v %v", changes, err)
		}
		for _, id := range ids {
			if got := instanceObject(t, "svc-a", id).Spec.DesiredState; got != cloudv1.DesiredTerminated {
				t.Fatalf("%s desires %s", id, got)
			}
		}
		untilInstancesAre(t, s, alice, ids, "terminated")
		_, err = s.StartInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: ids})
		expectCode(t, err, cloud.CodeIncorrectState)
	})
}

func instanceLifecycle(t *testing.T, s *cloud.Service, launch cloud.RunInstancesInput, res *cloud.Reservation) {
	ctx := context.Background()
	ids := reservationIDs(res)
	if !strings.HasPrefix(res.ReservationID, "r-") || res.OwnerID != "svc-a" || len(ids) != 2 {
		t.Fatalf("reservation %+v", res)
	}
	if len(res.Groups) != 1 || res.Groups[0].GroupName != cloudv1.DefaultSecurityGroupName || !strings.HasPrefix(res.Groups[0].GroupID, "sg-") {
		t.Fatalf("reservation groups %+v", res.Groups)
	}
	for i, inst := range res.Instances {
		if !strings.HasPrefix(inst.InstanceID, "i-") || inst.LaunchIndex != i || inst.State.Name != "pending" ||
			inst.ImageID != launch.ImageID || inst.InstanceType != "m1.tiny" || inst.Tags["Name"] != "svc-inst" ||
			inst.ClientToken != launch.ClientToken || inst.ReservationID != res.ReservationID ||
			inst.Placement.AvailabilityZone != instanceTestZone || len(inst.Groups) != 1 {
			t.Fatalf("instance %d: %+v", i, inst)
		}
		obj := instanceObject(t, "svc-a", inst.InstanceID)
		if quota.IsMarkedPending(obj) || string(obj.Spec.UserData) != string(launch.UserData) ||
			obj.Labels[cloudv1.LabelReservationID] != res.ReservationID {
			t.Fatalf("instance object %s: %+v %+v", obj.Name, obj.ObjectMeta, obj.Spec)
		}
	}

	launchIsIdempotent(t, s, launch, res)
	describedByFilterAndPage(t, s, ids)

	untilInstancesAre(t, s, alice, ids, "running")
	statuses, _, err := s.DescribeInstanceStatus(ctx, alice, cloud.DescribeInstanceStatusInput{InstanceIDs: ids})
	if err != nil || len(statuses) != 2 || statuses[0].State.Name != "running" || statuses[0].AvailabilityZone != instanceTestZone {
		t.Fatalf("statuses %+v %v", statuses, err)
	}
	instanceAttributes(t, s, ids[0], launch.UserData)
	if err := s.RebootInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	if instanceObject(t, "svc-a", ids[0]).Annotations[cloudv1.AnnotationRebootRequested] == "" {
		t.Fatal("the reboot was not requested")
	}
	console, err := s.GetConsoleOutput(ctx, alice, cloud.GetConsoleOutputInput{InstanceID: ids[0]})
	if err != nil || console.InstanceID != ids[0] || console.Timestamp.IsZero() {
		t.Fatalf("console %+v %v", console, err)
	}

	// Stop, resize while stopped, start again.
	changes, err := s.StopInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: ids[:1]})
	if err != nil || len(changes) != 1 || changes[0].Previous.Name != "running" || changes[0].Current.Name != "stopping" {
		t.Fatalf("stopping: %+v %v", changes, err)
	}
	if got := instanceObject(t, "svc-a", ids[0]).Spec.DesiredState; got != cloudv1.DesiredStopped {
		t.Fatalf("%s desires %s", ids[0], got)
	}
	untilInstancesAre(t, s, alice, ids[:1], "stopped")
	if err := s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: ids[0],
		InstanceType: ptr.To("m1.small")}); err != nil {
		t.Fatal(err)
	}
	if got := instanceObject(t, "svc-a", ids[0]).Spec.InstanceType; got != "m1.small" {
		t.Fatalf("resized to %s", got)
	}
	changes, err = s.StartInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: ids[:1]})
	if err != nil || len(changes) != 1 || changes[0].Previous.Name != "stopped" || changes[0].Current.Name != "pending" {
		t.Fatalf("starting: %+v %v", changes, err)
	}
	untilInstancesAre(t, s, alice, ids, "running")
}

// launchIsIdempotent retries a launch: the same parameters meet it, others are refused and make
// nothing.
func launchIsIdempotent(t *testing.T, s *cloud.Service, launch cloud.RunInstancesInput, res *cloud.Reservation) {
	t.Helper()
	ctx := context.Background()
	ids := reservationIDs(res)
	again, err := s.RunInstances(ctx, alice, launch)
	if err != nil || again.ReservationID != res.ReservationID || !slices.Equal(reservationIDs(again), ids) {
		t.Fatalf("retried launch %+v %v", again, err)
	}
	// A call that crashed while it dropped the quota marks (the first instance's gone, the
	// second's left) is taken over by its retry, which answers with the whole reservation, even
	// with the quota full: its own instances never take its room.
	list := &cloudv1.InstanceList{}
	live := liveObjects(t, "svc-a", list, func() []cloudv1.Instance { return list.Items })
	setQuota(t, "svc-a", func(q *cloudv1.ProjectQuota) { q.Instances = ptr.To(int32(len(live))) })
	until(t, "the service to see the full quota", func() error {
		if q, err := s.ProjectQuota(ctx, "svc-a"); err != nil || ptr.Deref(q.Instances, 0) != int32(len(live)) {
			return fmt.Errorf("quota %+v, %v", q, err)
		}
		return nil
	})
	second := instanceObject(t, "svc-a", ids[1])
	if err := testenv.Update(ctx, env.Client, second, func(i *cloudv1.Instance) { quota.MarkPending(i) }); err != nil {
		t.Fatal(err)
	}
	again, err = s.RunInstances(ctx, alice, launch)
	if err != nil || again.ReservationID != res.ReservationID || !slices.Equal(reservationIDs(again), ids) {
		t.Fatalf("launch retried after a crash between the unmarks: %+v %v", again, err)
	}
	if quota.IsMarkedPending(instanceObject(t, "svc-a", ids[1])) {
		t.Fatal("the retry left the second instance marked")
	}
	other := launch
	other.MaxCount = 3
	_, err = s.RunInstances(ctx, alice, other)
	expectCode(t, err, cloud.CodeIdempotentMismatch)
	reserved := 0
	for _, obj := range instanceObjects(t, "svc-a") {
		if obj.Labels[cloudv1.LabelReservationID] == res.ReservationID {
			reserved++
		}
	}
	if reserved != 2 {
		t.Fatalf("the reservation has %d instances", reserved)
	}
}

// describedByFilterAndPage finds the instances by tag and page by page.
func describedByFilterAndPage(t *testing.T, s *cloud.Service, ids []string) {
	t.Helper()
	ctx := context.Background()
	byTag, _, err := s.DescribeInstances(ctx, alice, cloud.DescribeInstancesInput{
		Filters: []query.Filter{{Name: "tag:Name", Values: []string{"svc-inst"}}}})
	if err != nil || len(byTag) != 1 || !slices.Equal(reservationIDs(&byTag[0]), ids) {
		t.Fatalf("described by tag: %+v %v", byTag, err)
	}
	var paged []string
	page := cloud.Page{MaxResults: ptr.To[int32](5)}
	for {
		rs, next, err := s.DescribeInstances(ctx, alice, cloud.DescribeInstancesInput{Page: page})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			paged = append(paged, reservationIDs(&rs[i])...)
		}
		if next == "" {
			break
		}
		page.NextToken = next
	}
	if !slices.Contains(paged, ids[0]) || !slices.Contains(paged, ids[1]) || len(slices.Compact(slices.Sorted(slices.Values(paged)))) != len(paged) {
		t.Fatalf("pages listed %v", paged)
	}
}

// instanceAttributes reads and changes a running instance's attributes.
func instanceAttributes(t *testing.T, s *cloud.Service, id string, userData []byte) {
	t.Helper()
	ctx := context.Background()
	for attr, want := range map[string]string{"instanceType": "m1.tiny", "userData": base64.StdEncoding.EncodeToString(userData),
		"instanceInitiatedShutdownBehavior": "stop", "rootDeviceName": "/dev/sda1", "ebsOptimized": "false",
		"enaSupport": "false", "productCodes": "", "sriovNetSupport": "", "blockDeviceMapping": ""} {
		got, err := s.DescribeInstanceAttribute(ctx, alice, cloud.InstanceAttributeInput{InstanceID: id, Attribute: attr})
		if err != nil || got.InstanceID != id || got.Value != want {
			t.Fatalf("%s: %+v %v, want %q", attr, got, err, want)
		}
	}
	groups, err := s.DescribeInstanceAttribute(ctx, alice, cloud.InstanceAttributeInput{InstanceID: id, Attribute: "groupSet"})
	if err != nil || len(groups.Groups) != 1 || groups.Groups[0].GroupName != cloudv1.DefaultSecurityGroupName {
		t.Fatalf("groupSet: %+v %v", groups, err)
	}
	_, err = s.DescribeInstanceAttribute(ctx, alice, cloud.InstanceAttributeInput{InstanceID: id, Attribute: "favouriteColour"})
	expectCode(t, err, cloud.CodeInvalidParameter)

	// The type and user data change only while stopped; the shutdown behaviour any time.
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: id, InstanceType: ptr.To("m1.small")})
	expectCode(t, err, cloud.CodeIncorrectState)
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: id, UserData: &[]byte{}})
	expectCode(t, err, cloud.CodeIncorrectState)
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: id, ShutdownBehavior: ptr.To("explode")})
	expectCode(t, err, cloud.CodeInvalidParameter)
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: id})
	expectCode(t, err, cloud.CodeMissingParameter)
	obj := instanceObject(t, "svc-a", id)
	if obj.Spec.InstanceType != "m1.tiny" || string(obj.Spec.UserData) != string(userData) || obj.Spec.ShutdownBehavior != cloudv1.ShutdownBehaviorStop {
		t.Fatalf("refused modifications changed the spec: %+v", obj.Spec)
	}
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: id,
		Attribute: "instanceInitiatedShutdownBehavior", Value: ptr.To("terminate")})
	if err != nil {
		t.Fatal(err)
	}
	if got := instanceObject(t, "svc-a", id).Spec.ShutdownBehavior; got != cloudv1.ShutdownBehaviorTerminate {
		t.Fatalf("shutdown behaviour %s", got)
	}
	if err := s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: id,
		ShutdownBehavior: ptr.To("stop")}); err != nil {
		t.Fatal(err)
	}
}

// instancesHiddenFromOtherProjects has bob name alice's instances through every operation.
func instancesHiddenFromOtherProjects(t *testing.T, s *cloud.Service, ami string, ids []string) {
	ctx := context.Background()
	before := map[string]*cloudv1.Instance{}
	for _, id := range ids {
		before[id] = instanceObject(t, "svc-a", id)
	}
	all, _, err := s.DescribeInstances(ctx, bob, cloud.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range all {
		for _, id := range reservationIDs(&all[i]) {
			if slices.Contains(ids, id) {
				t.Fatalf("bob sees alice's %s", id)
			}
		}
	}
	filtered, _, err := s.DescribeInstances(ctx, bob, cloud.DescribeInstancesInput{
		Filters: []query.Filter{{Name: "instance-id", Values: ids}}})
	if err != nil || len(filtered) != 0 {
		t.Fatalf("bob's filter found %+v %v", filtered, err)
	}
	byID := cloud.InstanceIDsInput{InstanceIDs: ids[1:]}
	id := ids[1]
	ops := map[string]func() error{
		"DescribeInstances": func() error {
			_, _, err := s.DescribeInstances(ctx, bob, cloud.DescribeInstancesInput{InstanceIDs: ids})
			return err
		},
		"DescribeInstanceStatus": func() error {
			_, _, err := s.DescribeInstanceStatus(ctx, bob, cloud.DescribeInstanceStatusInput{InstanceIDs: ids, IncludeAllInstances: true})
			return err
		},
		"StopInstances":      func() error { _, err := s.StopInstances(ctx, bob, byID); return err },
		"StartInstances":     func() error { _, err := s.StartInstances(ctx, bob, byID); return err },
		"TerminateInstances": func() error { _, err := s.TerminateInstances(ctx, bob, byID); return err },
		"RebootInstances":    func() error { return s.RebootInstances(ctx, bob, byID) },
		"DescribeInstanceAttribute": func() error {
			_, err := s.DescribeInstanceAttribute(ctx, bob, cloud.InstanceAttributeInput{InstanceID: id, Attribute: "userData"})
			return err
		},
		"ModifyInstanceAttribute": func() error {
			return s.ModifyInstanceAttribute(ctx, bob, cloud.ModifyInstanceAttributeInput{InstanceID: id, ShutdownBehavior: ptr.To("terminate")})
		},
		"GetConsoleOutput": func() error {
			_, err := s.GetConsoleOutput(ctx, bob, cloud.GetConsoleOutputInput{InstanceID: id})
			return err
		},
	}
	for name, op := range ops {
		if err := op(); codeOf(err) != cloud.CodeInstanceNotFound {
			t.Errorf("%s as bob: error %v, want code %s", name, err, cloud.CodeInstanceNotFound)
		}
	}
	for _, id := range ids {
		after := instanceObject(t, "svc-a", id)
		if after.Generation != before[id].Generation || after.Spec.DesiredState != cloudv1.DesiredRunning ||
			after.Annotations[cloudv1.AnnotationRebootRequested] != before[id].Annotations[cloudv1.AnnotationRebootRequested] {
			t.Fatalf("bob's calls changed alice's %s: %+v", id, after.Spec)
		}
	}
	// Nor can bob launch alice's private image.
	made := len(instanceObjects(t, "svc-b"))
	_, err = s.RunInstances(ctx, bob, cloud.RunInstancesInput{ImageID: ami, MinCount: 1, MaxCount: 1, InstanceType: "m1.tiny"})
	expectCode(t, err, cloud.CodeAMINotFound)
	if now := len(instanceObjects(t, "svc-b")); now != made {
		t.Fatalf("bob's refused launch left %d instances, had %d", now, made)
	}
}

// refusedLaunchesLeaveNothing launches what EC2 refuses: each gets its code, and no Instance
// object is made.
func refusedLaunchesLeaveNothing(t *testing.T, s *cloud.Service, ami string) {
	ctx := context.Background()
	public := svcCloud.RegisterRawImage(t, imageAliceKeys, "svc-a", "svc-inst-public", []byte(strings.Repeat("p", 4096)), true)
	removeAfter(t, &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "svc-inst-public", Namespace: "svc-a"}})
	if _, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "svc-inst-key"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := s.DeleteKeyPair(context.Background(), alice, cloud.DeleteKeyPairInput{Name: "svc-inst-key"}); err != nil {
			t.Error(err)
		}
	})
	groups, _, err := s.DescribeSecurityGroups(ctx, alice, cloud.DescribeSecurityGroupsInput{Names: []string{cloudv1.DefaultSecurityGroupName}})
	if err != nil || len(groups) != 1 {
		t.Fatalf("alice's default group: %+v %v", groups, err)
	}
	alicesGroup := groups[0].ID
	// Bob can launch the public image: his refusals below are for what he names, not the image.
	ok := launchWhenCached(t, s, bob, cloud.RunInstancesInput{ImageID: public, MinCount: 1, MaxCount: 1, InstanceType: "m1.tiny"})
	removeAfter(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: ok.Instances[0].InstanceID, Namespace: "svc-b"}})

	run := func(mutate func(*cloud.RunInstancesInput)) cloud.RunInstancesInput {
		in := cloud.RunInstancesInput{ImageID: ami, MinCount: 1, MaxCount: 1, InstanceType: "m1.tiny"}
		mutate(&in)
		return in
	}
	for _, tc := range []struct {
		name   string
		caller cloud.Caller
		in     cloud.RunInstancesInput
		code   string
	}{
		{"no image", alice, run(func(in *cloud.RunInstancesInput) { in.ImageID = "" }), cloud.CodeMissingParameter},
		{"malformed image", alice, run(func(in *cloud.RunInstancesInput) { in.ImageID = "ami-nope" }), cloud.CodeAMIMalformed},
		{"unknown image", alice, run(func(in *cloud.RunInstancesInput) { in.ImageID = "ami-0000000000000000f" }), cloud.CodeAMINotFound},
		{"unknown kernel", alice, run(func(in *cloud.RunInstancesInput) { in.KernelID = "aki-0000000000000000f" }), cloud.CodeAMINotFound},
		{"bad type", alice, run(func(in *cloud.RunInstancesInput) { in.InstanceType = "m9.enormous" }), cloud.CodeInvalidParameter},
		{"MinCount above MaxCount", alice, run(func(in *cloud.RunInstancesInput) { in.MinCount, in.MaxCount = 3, 2 }), cloud.CodeInvalidParameter},
		{"MinCount 0", alice, run(func(in *cloud.RunInstancesInput) { in.MinCount = 0 }), cloud.CodeInvalidParameter},
		{"too many", alice, run(func(in *cloud.RunInstancesInput) { in.MinCount, in.MaxCount = 1, 501 }), cloud.CodeInvalidParameter},
		{"unknown group", alice, run(func(in *cloud.RunInstancesInput) { in.SecurityGroups = []string{"svc-no-such-group"} }), cloud.CodeGroupNotFound},
		{"unknown group id", alice, run(func(in *cloud.RunInstancesInput) { in.SecurityGroupIDs = []string{"sg-0000000000000000f"} }), cloud.CodeGroupIDNotFound},
		{"unknown key pair", alice, run(func(in *cloud.RunInstancesInput) { in.KeyName = "svc-no-such-key" }), cloud.CodeKeyPairNotFound},
		{"unknown zone", alice, run(func(in *cloud.RunInstancesInput) { in.Placement = &cloud.Placement{AvailabilityZone: "mars-1a"} }), cloud.CodeInvalidParameter},
		{"shutdown behaviour", alice, run(func(in *cloud.RunInstancesInput) { in.ShutdownBehavior = "explode" }), cloud.CodeInvalidParameter},
		{"user data", alice, run(func(in *cloud.RunInstancesInput) { in.UserData = make([]byte, 16<<10+1) }), cloud.CodeInvalidParameter},
		{"tag type", alice, run(func(in *cloud.RunInstancesInput) {
			in.TagSpecifications = []cloud.TagSpecification{{ResourceType: "key-pair", Tags: []cloud.Tag{{Key: "a"}}}}
		}), cloud.CodeInvalidParameter},
		{"device twice", alice, run(func(in *cloud.RunInstancesInput) {
			in.BlockDeviceMappings = []cloud.BlockDeviceMappingInput{{DeviceName: "/dev/sdb", VirtualName: "ephemeral0"},
				{DeviceName: "/dev/sdb", VirtualName: "ephemeral1"}}
		}), cloud.CodeInvalidParameter},
		// More than the project's /24 holds (253 addresses), refused before the quota is asked.
		{"more than the subnet holds", alice, run(func(in *cloud.RunInstancesInput) { in.MinCount, in.MaxCount = 254, 254 }), cloud.CodeInsufficientAddresses},
		// Over the project's quota of 10 instances (the default).
		{"over quota", alice, run(func(in *cloud.RunInstancesInput) { in.MinCount, in.MaxCount = 11, 11 }), cloud.CodeInstanceLimit},
		// Another project's key pair, group and private image are unknown to bob.
		{"another project's key pair", bob, run(func(in *cloud.RunInstancesInput) { in.ImageID, in.KeyName = public, "svc-inst-key" }), cloud.CodeKeyPairNotFound},
		{"another project's group", bob, run(func(in *cloud.RunInstancesInput) { in.ImageID, in.SecurityGroupIDs = public, []string{alicesGroup} }), cloud.CodeGroupIDNotFound},
		{"another project's image", bob, run(func(in *cloud.RunInstancesInput) {}), cloud.CodeAMINotFound},
		{"dry run", alice, run(func(in *cloud.RunInstancesInput) { in.DryRun = true }), cloud.CodeDryRun},
		{"no rights", stranger, run(func(in *cloud.RunInstancesInput) {}), cloud.CodeUnauthorized},
	} {
		before := map[string]int{"svc-a": len(instanceObjects(t, "svc-a")), "svc-b": len(instanceObjects(t, "svc-b"))}
		_, err := s.RunInstances(ctx, tc.caller, tc.in)
		if codeOf(err) != tc.code {
			t.Errorf("%s: error %v, want code %s", tc.name, err, tc.code)
		}
		for project, n := range before {
			if now := len(instanceObjects(t, project)); now != n {
				t.Errorf("%s: project %s has %d instances, had %d", tc.name, project, now, n)
			}
		}
	}
	var qe *query.Error
	if _, err := s.RunInstances(ctx, alice, run(func(in *cloud.RunInstancesInput) { in.MinCount, in.MaxCount = 11, 11 })); !errors.As(err, &qe) ||
		!strings.Contains(qe.Message, "quota") {
		t.Errorf("over quota: %v does not name the quota", err)
	}
}

// TestInstancesNamedTwice names one instance many times in one call: each change is made as if
// it were named once, and the calls that write in parallel never share one copy of it (go test
// -race reports the shared copy; without -race a shared annotation map can crash the process).
func TestInstancesNamedTwice(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	id := kubectlInstance(t, "svc-a", "svc-inst-twice", "")
	named := slices.Repeat([]string{id}, 8)
	var changes []cloud.InstanceStateChange
	until(t, "stopping "+id, func() error {
		var err error
		changes, err = s.StopInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: named})
		return err
	})
	if len(changes) != len(named) {
		t.Fatalf("%d changes for %d names: %+v", len(changes), len(named), changes)
	}
	for _, ch := range changes {
		if ch.InstanceID != id || ch.Current.Name != "stopping" {
			t.Fatalf("changes %+v", changes)
		}
	}
	if got := instanceObject(t, "svc-a", "svc-inst-twice").Spec.DesiredState; got != cloudv1.DesiredStopped {
		t.Fatalf("%s desires %s", id, got)
	}
	// Named many times by bob, it is still not found, and unchanged.
	_, err := s.TerminateInstances(ctx, bob, cloud.InstanceIDsInput{InstanceIDs: named})
	expectCode(t, err, cloud.CodeInstanceNotFound)
	if got := instanceObject(t, "svc-a", "svc-inst-twice").Spec.DesiredState; got != cloudv1.DesiredStopped {
		t.Fatalf("after bob's call %s desires %s", id, got)
	}
	changes, err = s.TerminateInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: named})
	if err != nil || len(changes) != len(named) || changes[len(named)-1].Current.Name != "shutting-down" {
		t.Fatalf("terminating: %+v %v", changes, err)
	}
	if got := instanceObject(t, "svc-a", "svc-inst-twice").Spec.DesiredState; got != cloudv1.DesiredTerminated {
		t.Fatalf("%s desires %s", id, got)
	}
}
