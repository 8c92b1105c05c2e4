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
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/testenv"
)

// sgdelZone is the zone of the node the group-delete tests launch on.
const sgdelZone = "svc-sgdel-zone"

// TestSecurityGroupDeleteAgainstLaunches checks both sides of the handshake that keeps a delete
// of a group and a launch into it (or a rule naming it) exclusive, and races them.
func TestSecurityGroupDeleteAgainstLaunches(t *testing.T) {
	s := service(t)
	imageService(t)
	svcCloud.AddNode(t, "svc-sgdel-node", sgdelZone, 8, 16384)
	ami := svcCloud.RegisterRawImage(t, imageAliceKeys, "svc-a", "svc-sgdel-disk", []byte(strings.Repeat("g", 4096)), false)
	removeAfter(t, &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "svc-sgdel-disk", Namespace: "svc-a"}})
	// A launch into a group of its own first, until the service's cache shows the node and image.
	warm := createGroup(t, s, "sgdel-warm")
	res := launchWhenCached(t, s, alice, launchInto(ami, "sgdel-warm"))
	removeAfter(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: res.Instances[0].InstanceID, Namespace: "svc-a"}})

	t.Run("a marked group refuses launches and rules", func(t *testing.T) { markedGroupRefuses(t, s, ami, warm) })
	t.Run("a member after the mark", func(t *testing.T) { memberAfterMark(t, s, ami) })
	t.Run("a rule after the mark", func(t *testing.T) { ruleAfterMark(t, s) })
	t.Run("race", func(t *testing.T) { raceDeleteAndLaunch(t, s, ami) })
	t.Run("an expired mark", func(t *testing.T) { expiredMarkRefusesNothing(t, s, ami) })
}

// createGroup makes a group of alice's, removed when the test ends if it is left.
func createGroup(t *testing.T, s *cloud.Service, name string) *cloud.SecurityGroup {
	t.Helper()
	sg, err := s.CreateSecurityGroup(context.Background(), alice, cloud.CreateSecurityGroupInput{Name: name, Description: "delete races"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: sg.ID, Namespace: "svc-a"}})
	})
	return sg
}

func launchInto(ami, group string) cloud.RunInstancesInput {
	return cloud.RunInstancesInput{ImageID: ami, MinCount: 1, MaxCount: 1, InstanceType: "m1.tiny",
		Placement: &cloud.Placement{AvailabilityZone: sgdelZone}, SecurityGroups: []string{group}}
}

// groupObject reads one of alice's groups from the API server; nil when it is gone or going.
func groupObject(t *testing.T, id string) *cloudv1.SecurityGroup {
	t.Helper()
	sg := &cloudv1.SecurityGroup{}
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: "svc-a", Name: id}, sg)
	if client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	if err != nil || !sg.DeletionTimestamp.IsZero() {
		return nil
	}
	return sg
}

// membersOf lists alice's instances in the group (by name or id) that are not being deleted.
func membersOf(t *testing.T, sg *cloud.SecurityGroup) []string {
	t.Helper()
	var out []string
	list := &cloudv1.InstanceList{}
	for _, inst := range liveObjects(t, "svc-a", list, func() []cloudv1.Instance { return list.Items }) {
		for _, ref := range inst.Spec.SecurityGroups {
			if ref == sg.Name || ref == sg.ID {
				out = append(out, inst.Name)
			}
		}
	}
	return out
}

// markedGroupRefuses: a group a delete has marked (here one whose delete died on the way) is
// refused to launches and to rules naming it, which leave nothing; a delete takes the mark over.
func markedGroupRefuses(t *testing.T, s *cloud.Service, ami string, warm *cloud.SecurityGroup) {
	ctx := context.Background()
	marked := createGroup(t, s, "sgdel-marked")
	obj := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: marked.ID, Namespace: "svc-a"}}
	if err := testenv.Update(ctx, env.Client, obj, func(sg *cloudv1.SecurityGroup) {
		metav1.SetMetaDataAnnotation(&sg.ObjectMeta, "cloud.pinet.io/deleting", "del-died")
	}); err != nil {
		t.Fatal(err)
	}
	byID := launchInto(ami, "")
	byID.SecurityGroups, byID.SecurityGroupIDs = nil, []string{marked.ID}
	for _, in := range []cloud.RunInstancesInput{launchInto(ami, "sgdel-marked"), byID} {
		_, err := s.RunInstances(ctx, alice, in)
		expectCode(t, err, cloud.CodeGroupNotFound)
	}
	if left := membersOf(t, marked); len(left) > 0 {
		t.Fatalf("refused launches left instances %v in the marked group", left)
	}
	_, err := s.AuthorizeSecurityGroupIngress(ctx, alice, cloud.IngressInput{GroupID: warm.ID,
		Flat: cloud.FlatPermission{SourceGroupName: "sgdel-marked"}})
	expectCode(t, err, cloud.CodeGroupNotFound)
	if got := ingressOf(t, s, alice, warm.ID); got != "[]" {
		t.Fatalf("a refused rule was left: %s", got)
	}
	if sg := groupObject(t, warm.ID); sg == nil || len(sg.Spec.Ingress) != 0 {
		t.Fatalf("the API server has the refused rule: %+v", sg)
	}
	// The withdrawn instances go once their finalizers are done; until then they hold the group.
	testenv.Eventually(t, instanceWait, "the withdrawn instances to go", func() error {
		for _, inst := range instanceObjects(t, "svc-a") {
			if len(inst.Spec.SecurityGroups) > 0 && (inst.Spec.SecurityGroups[0] == marked.Name || inst.Spec.SecurityGroups[0] == marked.ID) {
				return fmt.Errorf("instance %s is still there", inst.Name)
			}
		}
		return nil
	})
	if _, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: marked.ID}); err != nil {
		t.Fatalf("deleting the marked group: %v", err)
	}
	if groupObject(t, marked.ID) != nil {
		t.Fatal("the marked group is still there after its delete")
	}
}

// expiredMarkRefusesNothing: a mark older than any delete call may take (its call died, and no
// delete came again) no longer keeps launches out of the group.
func expiredMarkRefusesNothing(t *testing.T, s *cloud.Service, ami string) {
	ctx := context.Background()
	g := createGroup(t, s, "sgdel-expired")
	obj := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: g.ID, Namespace: "svc-a"}}
	old := time.Now().Add(-3*time.Minute).UTC().Format(time.RFC3339Nano) + " del-died"
	if err := testenv.Update(ctx, env.Client, obj, func(sg *cloudv1.SecurityGroup) {
		metav1.SetMetaDataAnnotation(&sg.ObjectMeta, "cloud.pinet.io/deleting", old)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunInstances(ctx, alice, launchInto(ami, "sgdel-expired")); err != nil {
		t.Fatalf("a launch into a group whose delete mark expired: %v", err)
	}
}

// memberAfterMark: an instance that joins the group after the delete marked it (and after the
// cache's check) makes the delete answer DependencyViolation, and the group stays, unmarked.
func memberAfterMark(t *testing.T, s *cloud.Service, ami string) {
	ctx := context.Background()
	sg := createGroup(t, s, "sgdel-member")
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: ids.New(ids.Instance), Namespace: "svc-a"},
		Spec: cloudv1.InstanceSpec{ImageID: ami, InstanceType: "m1.tiny", AvailabilityZone: sgdelZone,
			SecurityGroups: []string{"sgdel-member"}, DesiredState: cloudv1.DesiredRunning}}
	markSeen := ""
	cloud.SetAfterDeleteMark(s, func(id string) {
		if id != sg.ID {
			return
		}
		if got := groupObject(t, id); got != nil {
			markSeen = got.Annotations["cloud.pinet.io/deleting"]
		}
		if err := env.Client.Create(context.Background(), inst); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { cloud.SetAfterDeleteMark(s, nil) })
	removeAfter(t, inst)
	_, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: sg.ID})
	expectCode(t, err, cloud.CodeDependencyViolation)
	cloud.SetAfterDeleteMark(s, nil)
	if markSeen == "" {
		t.Fatal("the group was not marked when the member joined")
	}
	after := groupObject(t, sg.ID)
	if after == nil {
		t.Fatal("a refused delete removed the group")
	}
	if mark, ok := after.Annotations["cloud.pinet.io/deleting"]; ok {
		t.Fatalf("a refused delete left its mark %q", mark)
	}
	// The launch side sees an unmarked group again.
	res, err := s.RunInstances(ctx, alice, launchInto(ami, "sgdel-member"))
	if err != nil {
		t.Fatalf("launching into the group kept: %v", err)
	}
	removeAfter(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: res.Instances[0].InstanceID, Namespace: "svc-a"}})
}

// ruleAfterMark: a rule naming the group as a source that an Authorize writes after the delete
// marked the group is withdrawn by the Authorize, and the delete goes on; one written past the
// service (as kubectl would) in that window makes the delete answer DependencyViolation.
func ruleAfterMark(t *testing.T, s *cloud.Service) {
	ctx := context.Background()
	admits := createGroup(t, s, "sgdel-admits")
	source := createGroup(t, s, "sgdel-source")
	var authorizeErr error
	cloud.SetAfterDeleteMark(s, func(id string) {
		if id == source.ID {
			_, authorizeErr = s.AuthorizeSecurityGroupIngress(context.Background(), alice, cloud.IngressInput{GroupID: admits.ID,
				Flat: cloud.FlatPermission{SourceGroupName: "sgdel-source"}})
		}
	})
	t.Cleanup(func() { cloud.SetAfterDeleteMark(s, nil) })
	if _, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: source.ID}); err != nil {
		t.Fatalf("deleting a group whose rule was withdrawn: %v", err)
	}
	expectCode(t, authorizeErr, cloud.CodeGroupNotFound)
	if sg := groupObject(t, admits.ID); sg == nil || len(sg.Spec.Ingress) != 0 {
		t.Fatalf("the refused rule is left: %+v", sg)
	}
	if groupObject(t, source.ID) != nil {
		t.Fatal("the source group is still there after its delete")
	}

	kept := createGroup(t, s, "sgdel-kept")
	obj := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: admits.ID, Namespace: "svc-a"}}
	cloud.SetAfterDeleteMark(s, func(id string) {
		if id != kept.ID {
			return
		}
		if err := testenv.Update(context.Background(), env.Client, obj, func(sg *cloudv1.SecurityGroup) {
			sg.Spec.Ingress = []cloudv1.IngressRule{{Protocol: cloudv1.ProtocolAll, SourceGroups: []string{"sgdel-kept"}}}
		}); err != nil {
			t.Error(err)
		}
	})
	_, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: kept.ID})
	expectCode(t, err, cloud.CodeDependencyViolation)
	after := groupObject(t, kept.ID)
	if after == nil || after.Annotations["cloud.pinet.io/deleting"] != "" {
		t.Fatalf("a refused delete left the group %+v", after)
	}
}

// raceDeleteAndLaunch races a launch into a group with the group's delete, one or the other
// started a little later each round: whichever wins, no instance is ever left in a group that is
// gone.
func raceDeleteAndLaunch(t *testing.T, s *cloud.Service, ami string) {
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	outcomes := map[string]int{}
	for round := range rounds {
		name := fmt.Sprintf("sgdel-race-%d", round)
		sg := createGroup(t, s, name)
		var res *cloud.Reservation
		errs := testenv.Race(2, func(i int) error {
			if i == round%2 { // varies the interleaving only
				time.Sleep(time.Duration(round/2) * 10 * time.Millisecond)
			}
			if i == 0 {
				var err error
				res, err = s.RunInstances(ctx, alice, launchInto(ami, name))
				return err
			}
			_, err := s.DeleteSecurityGroup(ctx, alice, cloud.GroupInput{GroupID: sg.ID})
			return err
		})
		if res != nil {
			removeAfter(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: res.Instances[0].InstanceID, Namespace: "svc-a"}})
		}
		launchErr, deleteErr := errs[0], errs[1]
		if launchErr != nil && codeOf(launchErr) != cloud.CodeGroupNotFound {
			t.Fatalf("round %d: launch: %v", round, launchErr)
		}
		if deleteErr != nil && codeOf(deleteErr) != cloud.CodeDependencyViolation {
			t.Fatalf("round %d: delete: %v", round, deleteErr)
		}
		gone := groupObject(t, sg.ID) == nil
		members := membersOf(t, sg)
		switch {
		case launchErr == nil && deleteErr == nil:
			t.Fatalf("round %d: both the launch and the delete of its group succeeded", round)
		case gone != (deleteErr == nil):
			t.Fatalf("round %d: the group is gone: %v, yet the delete answered %v", round, gone, deleteErr)
		case gone && len(members) > 0:
			t.Fatalf("round %d: instances %v are in the deleted group", round, members)
		case launchErr == nil && len(members) != 1:
			t.Fatalf("round %d: the launch succeeded, the group has members %v", round, members)
		}
		outcomes[fmt.Sprintf("launch %s, delete %s", codeOf(launchErr), codeOf(deleteErr))]++
	}
	t.Logf("outcomes over %d rounds: %v", rounds, outcomes)
}
