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
	"fmt"
	"slices"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/testenv"
)

// sgfinZone is the zone of the node the group-finalizer tests launch on.
const sgfinZone = "svc-sgfin-zone"

// TestSecurityGroupInUseSurvivesKubectlDelete deletes groups through the kubectl door (a
// client acting as a member of the project): one used by an instance or admitted by another
// group's rule stays, says why, and goes once unused; another project can neither delete nor
// unblock it, through kubectl or EC2.
func TestSecurityGroupInUseSurvivesKubectlDelete(t *testing.T) {
	s := service(t)
	imageService(t)
	svcCloud.AddNode(t, "svc-sgfin-node", sgfinZone, 8, 16384)
	ami := svcCloud.RegisterRawImage(t, imageAliceKeys, "svc-a", "svc-sgfin-disk", []byte(strings.Repeat("f", 4096)), false)
	removeAfter(t, &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "svc-sgfin-disk", Namespace: "svc-a"}})
	aliceKube := memberClient(t, "svc-alice", "svc-a")
	bobKube := memberClient(t, "svc-bob", "svc-b")

	t.Run("used by an instance", func(t *testing.T) { usedByInstance(t, s, ami, aliceKube, bobKube) })
	t.Run("admitted by a rule", func(t *testing.T) { admittedByRule(t, s, aliceKube) })
	t.Run("unused", func(t *testing.T) { unusedGoes(t, s, aliceKube) })
	t.Run("made with kubectl", func(t *testing.T) { kubectlGroupGetsFinalizer(t, aliceKube) })
}

// memberClient is a Kubernetes client acting as the PiNet user, a member of project.
func memberClient(t *testing.T, user, project string) client.Client {
	t.Helper()
	c, err := env.ClientAs(cloudv1.UserPrefix+user, cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sgfinLaunch(ami string, groups ...string) cloud.RunInstancesInput {
	return cloud.RunInstancesInput{ImageID: ami, MinCount: 1, MaxCount: 1, InstanceType: "m1.tiny",
		Placement: &cloud.Placement{AvailabilityZone: sgfinZone}, SecurityGroups: groups}
}

// groupKey is the key of one of alice's groups, by its id.
func groupKey(id string) client.ObjectKey { return client.ObjectKey{Namespace: "svc-a", Name: id} }

// awaitInUse waits until the group is being deleted and its Ready says InUse naming user.
func awaitInUse(t *testing.T, id, user string) *cloudv1.SecurityGroup {
	t.Helper()
	sg := &cloudv1.SecurityGroup{}
	testenv.Eventually(t, serviceWait, "group "+id+" to say it is in use by "+user, func() error {
		if err := env.Client.Get(context.Background(), groupKey(id), sg); err != nil {
			return err
		}
		c := conditions.Get(sg, cloudv1.ReadyCondition)
		switch {
		case sg.DeletionTimestamp.IsZero():
			return fmt.Errorf("not being deleted")
		case c == nil || c.Status != metav1.ConditionFalse || c.Reason != cloudv1.ReasonInUse || !strings.Contains(c.Message, user):
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})
	return sg
}

// awaitGone waits until the API server no longer has the group.
func awaitGone(t *testing.T, id string) {
	t.Helper()
	testenv.Eventually(t, serviceWait, "group "+id+" to go", func() error {
		err := env.Client.Get(context.Background(), groupKey(id), &cloudv1.SecurityGroup{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}

// deleteBlockedEvents counts the DeleteBlocked Warnings about the group.
func deleteBlockedEvents(t *testing.T, id string) int {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace("svc-a")); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == "DeleteBlocked" && e.Type == "Warning" && e.Regarding.Name == id {
			n++
		}
	}
	return n
}

// unblockAs tries to take the group's finalizer off as c.
func unblockAs(c client.Client, id string) error {
	return c.Patch(context.Background(), &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: "svc-a"}},
		client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
}

// usedByInstance: a group a running instance is in outlives its kubectl delete, and goes once
// the instance is terminated; meanwhile no door puts anything new into it.
func usedByInstance(t *testing.T, s *cloud.Service, ami string, aliceKube, bobKube client.Client) {
	ctx := context.Background()
	g := createGroup(t, s, "sgfin-inst")
	if sg := groupObject(t, g.ID); sg == nil || !slices.Contains(sg.Finalizers, cloudv1.SecurityGroupFinalizer) {
		t.Fatalf("CreateSecurityGroup made a group without the finalizer: %+v", sg)
	}
	res := launchWhenCached(t, s, alice, sgfinLaunch(ami, "sgfin-inst"))
	instID := res.Instances[0].InstanceID
	removeAfter(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: instID, Namespace: "svc-a"}})
	testenv.Eventually(t, instanceWait, "the instance to run", func() error {
		if st := instanceObject(t, "svc-a", instID).Status.State; st != cloudv1.InstanceStateRunning {
			return fmt.Errorf("state %q", st)
		}
		return nil
	})

	// Another project can neither delete the group nor (below) unblock it, at either door.
	if err := bobKube.Delete(ctx, &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: g.ID, Namespace: "svc-a"}}); !apierrors.IsForbidden(err) {
		t.Fatalf("another project's kubectl delete: %v, want Forbidden", err)
	}
	_, err := s.DeleteSecurityGroup(ctx, bob, cloud.GroupInput{GroupID: g.ID})
	expectCode(t, err, cloud.CodeGroupNotFound)

	if err := aliceKube.Delete(ctx, &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: g.ID, Namespace: "svc-a"}}); err != nil {
		t.Fatalf("the member's kubectl delete: %v", err)
	}
	awaitInUse(t, g.ID, "instance "+instID)
	testenv.Eventually(t, serviceWait, "one DeleteBlocked event", func() error {
		if n := deleteBlockedEvents(t, g.ID); n != 1 {
			return fmt.Errorf("%d DeleteBlocked events", n)
		}
		return nil
	})
	inst := instanceObject(t, "svc-a", instID)
	if !inst.DeletionTimestamp.IsZero() || inst.Status.State != cloudv1.InstanceStateRunning ||
		!slices.Equal(inst.Spec.SecurityGroups, []string{"sgfin-inst"}) {
		t.Fatalf("the group's delete touched its instance: %v %s %v", inst.DeletionTimestamp, inst.Status.State, inst.Spec.SecurityGroups)
	}
	if err := unblockAs(bobKube, g.ID); !apierrors.IsForbidden(err) {
		t.Fatalf("another project took the finalizer off: %v, want Forbidden", err)
	}
	if _, err := s.DeleteSecurityGroup(ctx, bob, cloud.GroupInput{GroupID: g.ID}); codeOf(err) != cloud.CodeGroupNotFound {
		t.Fatalf("another project's EC2 delete of the blocked group: %v", err)
	}

	deletingRefusesEverything(t, s, ami, g)
	kubectlInstanceWaits(t, aliceKube, g)
	if n := deleteBlockedEvents(t, g.ID); n != 1 {
		t.Fatalf("%d DeleteBlocked events, want 1", n)
	}

	if _, err := s.TerminateInstances(ctx, alice, cloud.InstanceIDsInput{InstanceIDs: []string{instID}}); err != nil {
		t.Fatal(err)
	}
	awaitGone(t, g.ID)
}

// deletingRefusesEverything: to EC2 a group being deleted is gone: not described, not deleted
// again, launched into by neither name nor id, admitted by no new rule; nothing is left behind.
func deletingRefusesEverything(t *testing.T, s *cloud.Service, ami string, g *cloud.SecurityGroup) {
	ctx := context.Background()
	if _, ok := describeGroups(t, s, alice)[g.ID]; ok {
		t.Fatal("DescribeSecurityGroups shows a group being deleted")
	}
	_, _, err := s.DescribeSecurityGroups(ctx, alice, cloud.DescribeSecurityGroupsInput{IDs: []string{g.ID}})
	expectCode(t, err, cloud.CodeGroupNotFound)
	_, err = s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: g.ID})
	expectCode(t, err, cloud.CodeGroupNotFound)
	before := len(instanceObjects(t, "svc-a"))
	_, err = s.RunInstances(ctx, alice, sgfinLaunch(ami, "sgfin-inst"))
	expectCode(t, err, cloud.CodeGroupNotFound)
	byID := sgfinLaunch(ami)
	byID.SecurityGroupIDs = []string{g.ID}
	_, err = s.RunInstances(ctx, alice, byID)
	expectCode(t, err, cloud.CodeGroupIDNotFound)
	if after := len(instanceObjects(t, "svc-a")); after != before {
		t.Fatalf("refused launches left instances: %d before, %d after", before, after)
	}
	other := createGroup(t, s, "sgfin-other")
	_, err = s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupID: other.ID,
		Flat: cloud.FlatPermission{SourceGroupName: "sgfin-inst"}})
	expectCode(t, err, cloud.CodeGroupNotFound)
	_, err = s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupID: other.ID, Permissions: []cloud.IPPermission{
		{Protocol: "-1", Groups: []cloud.GroupPair{{GroupID: g.ID}}}}})
	expectCode(t, err, cloud.CodeGroupNotFound)
	if sg := groupObject(t, other.ID); sg == nil || len(sg.Spec.Ingress) != 0 {
		t.Fatalf("a refused rule was left: %+v", sg)
	}
}

// kubectlInstanceWaits: an Instance made with kubectl naming a group being deleted waits as for a
// missing group (ReferencesResolved=False, SecurityGroupNotFound) and is never scheduled into it.
func kubectlInstanceWaits(t *testing.T, aliceKube client.Client, g *cloud.SecurityGroup) {
	ctx := context.Background()
	for _, ref := range []string{"sgfin-inst", g.ID} {
		inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: ids.New(ids.Instance), Namespace: "svc-a"},
			Spec: cloudv1.InstanceSpec{ImageID: "svc-sgfin-disk", InstanceType: "m1.tiny", AvailabilityZone: sgfinZone,
				SecurityGroups: []string{ref}, DesiredState: cloudv1.DesiredRunning}}
		if err := aliceKube.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, serviceWait, "the kubectl instance naming "+ref+" to wait for its group", func() error {
			got := instanceObject(t, "svc-a", inst.Name)
			c := conditions.Get(got, cloudv1.InstanceReferencesResolved)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != cloudv1.ReasonSecurityGroupNotFound {
				return fmt.Errorf("references %+v", c)
			}
			return nil
		})
		// It names the group, so it holds it like any instance until it goes.
		awaitInUse(t, g.ID, "instance "+inst.Name)
		got := instanceObject(t, "svc-a", inst.Name)
		if conditions.IsTrue(got, cloudv1.InstanceScheduled) || got.Status.PrivateIPAddress != "" {
			t.Fatalf("an instance naming a group being deleted was placed: %+v", got.Status)
		}
		if err := aliceKube.Delete(ctx, inst); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, instanceWait, "the kubectl instance to go", func() error {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), &cloudv1.Instance{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (%v)", err)
		})
	}
}

// admittedByRule: a group another group's rule admits outlives its kubectl delete, and goes once
// the rule is revoked (here through kubectl too).
func admittedByRule(t *testing.T, s *cloud.Service, aliceKube client.Client) {
	ctx := context.Background()
	src := createGroup(t, s, "sgfin-src")
	admits := createGroup(t, s, "sgfin-admits")
	if _, err := s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupID: admits.ID,
		Flat: cloud.FlatPermission{SourceGroupName: "sgfin-src"}}); err != nil {
		t.Fatal(err)
	}
	if err := aliceKube.Delete(ctx, &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: src.ID, Namespace: "svc-a"}}); err != nil {
		t.Fatal(err)
	}
	awaitInUse(t, src.ID, "group sgfin-admits")
	testenv.Eventually(t, serviceWait, "one DeleteBlocked event", func() error {
		if n := deleteBlockedEvents(t, src.ID); n != 1 {
			return fmt.Errorf("%d DeleteBlocked events", n)
		}
		return nil
	})
	// The rule still admits the group's members meanwhile.
	if got := ingressOf(t, s, alice, admits.ID); !strings.Contains(got, src.ID) {
		t.Fatalf("the admitting rule changed: %s", got)
	}
	obj := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: admits.ID, Namespace: "svc-a"}}
	if err := testenv.Update(ctx, aliceKube, obj, func(sg *cloudv1.SecurityGroup) { sg.Spec.Ingress = nil }); err != nil {
		t.Fatal(err)
	}
	awaitGone(t, src.ID)
}

// unusedGoes: an unused group deleted through kubectl goes; one deleted through EC2 is gone when
// the call returns, and its name can be used again at once.
func unusedGoes(t *testing.T, s *cloud.Service, aliceKube client.Client) {
	ctx := context.Background()
	g := createGroup(t, s, "sgfin-unused")
	if err := aliceKube.Delete(ctx, &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: g.ID, Namespace: "svc-a"}}); err != nil {
		t.Fatal(err)
	}
	awaitGone(t, g.ID)
	if n := deleteBlockedEvents(t, g.ID); n != 0 {
		t.Fatalf("%d DeleteBlocked events for an unused group", n)
	}

	e := createGroup(t, s, "sgfin-ec2")
	if _, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: e.ID}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, groupKey(e.ID), &cloudv1.SecurityGroup{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the group is still there after DeleteSecurityGroup returned: %v", err)
	}
	again := createGroup(t, s, "sgfin-ec2")
	if again.ID != e.ID {
		t.Fatalf("the name made group %s, then %s", e.ID, again.ID)
	}
}

// kubectlGroupGetsFinalizer: a group made with kubectl (no finalizer) gets one, and its id.
func kubectlGroupGetsFinalizer(t *testing.T, aliceKube client.Client) {
	ctx := context.Background()
	sg := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "sgfin-kube", Namespace: "svc-a"}}
	if err := aliceKube.Create(ctx, sg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), sg) })
	testenv.Eventually(t, serviceWait, "the kubectl group's finalizer and id", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sg), sg); err != nil {
			return err
		}
		if !slices.Contains(sg.Finalizers, cloudv1.SecurityGroupFinalizer) || sg.Status.GroupID == "" {
			return fmt.Errorf("finalizers %v, id %q", sg.Finalizers, sg.Status.GroupID)
		}
		return nil
	})
}
