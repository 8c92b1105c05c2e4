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
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
)

const protectZone = "svc-protect-zone"

// TestInstanceProtection launches an instance with termination and stop protection beside one
// without, and tries to stop and terminate it through the service (the EC2 API's and the
// dashboard's path), as another project, and with kubectl as a member of its project.
func TestInstanceProtection(t *testing.T) {
	s := service(t)
	ami := ownNodeAndImage(t, "svc-protect-node", protectZone, "svc-protect-disk")
	ctx := context.Background()
	launch := cloud.RunInstancesInput{ImageID: ami, MinCount: 1, MaxCount: 1, InstanceType: "m1.tiny",
		Placement: &cloud.Placement{AvailabilityZone: protectZone}, DisableAPITermination: true, DisableAPIStop: true}
	protected := reservationIDs(launchWhenCached(t, s, alice, launch))[0]
	launch.DisableAPITermination, launch.DisableAPIStop = false, false
	plain := reservationIDs(launchWhenCached(t, s, alice, launch))[0]
	for _, id := range []string{protected, plain} {
		// The test's cleanup deletes as the manager does, which the protection lets through.
		removeAfter(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: "svc-a"}})
	}
	untilInstancesAre(t, s, alice, []string{protected, plain}, "running")

	attr := func(c cloud.Caller, id, name string) (string, error) {
		got, err := s.DescribeInstanceAttribute(ctx, c, cloud.InstanceAttributeInput{InstanceID: id, Attribute: name})
		if err != nil {
			return "", err
		}
		return got.Value, nil
	}
	for id, want := range map[string]string{protected: "true", plain: "false"} {
		for _, name := range []string{"disableApiTermination", "disableApiStop"} {
			if got, err := attr(alice, id, name); err != nil || got != want {
				t.Fatalf("%s of %s: %q %v, want %q", name, id, got, err, want)
			}
		}
	}
	desired := func(want cloudv1.DesiredState) {
		t.Helper()
		for _, id := range []string{protected, plain} {
			if got := instanceObject(t, "svc-a", id).Spec.DesiredState; got != want {
				t.Fatalf("%s desires %s, want %s", id, got, want)
			}
		}
	}

	// One protected instance in a call refuses the whole call: the unprotected one is untouched.
	_, err := s.TerminateInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: []string{plain, protected}})
	expectCode(t, err, cloud.CodeNotPermitted)
	if !strings.Contains(err.Error(), protected) || !strings.Contains(err.Error(), "disableApiTermination") {
		t.Fatalf("the refusal does not name the instance and its attribute: %v", err)
	}
	_, err = s.StopInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: []string{plain, protected}})
	expectCode(t, err, cloud.CodeNotPermitted)
	if !strings.Contains(err.Error(), "disableApiStop") {
		t.Fatalf("the stop refusal does not name its attribute: %v", err)
	}
	desired(cloudv1.DesiredRunning)

	// Another project neither sees nor changes the protection.
	_, err = attr(bob, protected, "disableApiTermination")
	expectCode(t, err, cloud.CodeInstanceNotFound)
	err = s.ModifyInstanceAttribute(ctx, bob, cloud.ModifyInstanceAttributeInput{InstanceID: protected, DisableAPITermination: ptr.To(false)})
	expectCode(t, err, cloud.CodeInstanceNotFound)
	err = s.ModifyInstanceAttribute(ctx, bob, cloud.ModifyInstanceAttributeInput{InstanceID: protected, Attribute: "disableApiStop", Value: ptr.To("false")})
	expectCode(t, err, cloud.CodeInstanceNotFound)

	// Bad values change nothing.
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: protected, Attribute: "disableApiTermination", Value: ptr.To("maybe")})
	expectCode(t, err, cloud.CodeInvalidParameter)
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: protected, Attribute: "disableApiStop"})
	expectCode(t, err, cloud.CodeMissingParameter)
	// One attribute a call: two would have changed only one.
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: protected,
		DisableAPITermination: ptr.To(false), DisableAPIStop: ptr.To(false)})
	expectCode(t, err, cloud.CodeParamCombination)
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: protected,
		Attribute: "disableApiStop", Value: ptr.To("false"), ShutdownBehavior: ptr.To("terminate")})
	expectCode(t, err, cloud.CodeParamCombination)
	if got := instanceObject(t, "svc-a", protected).Spec; !got.DisableAPITermination || !got.DisableAPIStop || got.ShutdownBehavior != cloudv1.ShutdownBehaviorStop {
		t.Fatalf("refused modifications changed the protection: %+v", got)
	}

	kubectlDoorRefuses(t, protected)

	// Stop protection off (EC2's older form): it stops; termination protection still holds it.
	if err := s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: protected,
		Attribute: "disableApiStop", Value: ptr.To("false")}); err != nil {
		t.Fatal(err)
	}
	if got, err := attr(alice, protected, "disableApiStop"); err != nil || got != "false" {
		t.Fatalf("disableApiStop after turning it off: %q %v", got, err)
	}
	changes, err := s.StopInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: []string{protected}})
	if err != nil || len(changes) != 1 || changes[0].Current.Name != "stopping" {
		t.Fatalf("stopping: %+v %v", changes, err)
	}
	untilInstancesAre(t, s, alice, []string{protected}, "stopped")
	_, err = s.TerminateInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: []string{protected}})
	expectCode(t, err, cloud.CodeNotPermitted)

	// Termination protection off (the newer form): both go.
	if err := s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: protected,
		DisableAPITermination: ptr.To(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TerminateInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: []string{plain, protected}}); err != nil {
		t.Fatal(err)
	}
	desired(cloudv1.DesiredTerminated)
	untilInstancesAre(t, s, alice, []string{protected, plain}, "terminated")
	// A terminated instance's protection no longer changes.
	err = s.ModifyInstanceAttribute(ctx, alice, cloud.ModifyInstanceAttributeInput{InstanceID: plain, DisableAPITermination: ptr.To(true)})
	expectCode(t, err, cloud.CodeIncorrectState)
}

// kubectlDoorRefuses has a member of the instance's project stop, terminate and delete it
// with kubectl: the API server refuses each while the protection is on.
func kubectlDoorRefuses(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	aliceKube := memberClient(t, "svc-alice", "svc-a")
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: "svc-a"}}
	for state, want := range map[cloudv1.DesiredState]string{
		cloudv1.DesiredTerminated: "termination protection", cloudv1.DesiredStopped: "stop protection"} {
		patch := []byte(`{"spec":{"desiredState":"` + string(state) + `"}}`)
		err := aliceKube.Patch(ctx, inst.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("kubectl patch desiredState %s: %v, want a refusal for %s", state, err, want)
		}
	}
	// Turning the protection off and terminating in one write is refused too.
	both := []byte(`{"spec":{"desiredState":"Terminated","disableApiTermination":false}}`)
	if err := aliceKube.Patch(ctx, inst.DeepCopy(), client.RawPatch(types.MergePatchType, both)); err == nil ||
		!strings.Contains(err.Error(), "termination protection") {
		t.Fatalf("protection off and terminate at once: %v", err)
	}
	if err := aliceKube.Delete(ctx, inst.DeepCopy()); err == nil || !strings.Contains(err.Error(), "has termination protection") {
		t.Fatalf("kubectl delete: %v", err)
	}
	got := instanceObject(t, "svc-a", id)
	if got.Spec.DesiredState != cloudv1.DesiredRunning || !got.DeletionTimestamp.IsZero() || !got.Spec.DisableAPITermination {
		t.Fatalf("the refused kubectl writes changed the instance: %+v deleted %v", got.Spec, got.DeletionTimestamp)
	}
}
