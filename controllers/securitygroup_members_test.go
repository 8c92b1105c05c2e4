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

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers/securitygroup"
	"pinet.io/pinet/internal/testenv"
)

// A launch's instances join the default group's members, and the group's status (which carries
// every member's address) is written about once per batch while they join, not once per member.
// (That the controller's own write does not reconcile the group again is shown by
// securitygroup's TestGroupEventsPassedOnlyWhenTheyMatter: a launch this small does not bring
// members faster than a write goes round, so it passes either way.)
func TestGroupMembersAreWrittenInBatches(t *testing.T) {
	startManager(t)
	ctx := context.Background()
	const project = "members"
	projectWithImage(t, project)
	key := client.ObjectKey{Namespace: project, Name: cloudv1.DefaultSecurityGroupName}
	sg := &cloudv1.SecurityGroup{}
	testenv.Eventually(t, shortWait, "the default group", func() error {
		if err := env.Client.Get(ctx, key, sg); err != nil {
			return err
		}
		if sg.Status.GroupID == "" {
			return fmt.Errorf("no id yet")
		}
		return nil
	})

	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(ctx, &cloudv1.SecurityGroupList{}, client.InNamespace(project),
		client.MatchingFields{"metadata.name": key.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	start := time.Now()
	const n = 120
	var insts []*cloudv1.Instance
	for i := range n {
		// Spread over about three batches, members joining faster than a write and its event
		// go round: a recount on the controller's own write would always find a new one.
		insts = append(insts, instanceIn(t, project, fmt.Sprintf("member-%d", i)))
		time.Sleep(25 * time.Millisecond)
	}
	var want []string
	for _, inst := range insts {
		waitAddressed(t, inst)
		want = append(want, inst.Status.PrivateIPAddress)
	}
	slices.Sort(want)

	writes := 0
	deadline := time.After(longWait)
	for done := false; !done; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch of the group ended")
			}
			if ev.Type != watch.Modified {
				continue
			}
			writes++
			got := ev.Object.(*cloudv1.SecurityGroup).Status.MemberIPs
			done = slices.Equal(got, want)
		case <-deadline:
			t.Fatalf("the group's members never became the %d instances' addresses", n)
		}
	}
	elapsed := time.Since(start)
	// One write per batch of the time the launch took, and one for a batch cut by the end.
	if limit := 2 + int(elapsed/securitygroup.DefaultMemberBatch); writes > limit {
		t.Errorf("the group was written %d times in %v for %d joining members; want at most %d (one a batch)", writes, elapsed.Round(time.Millisecond), n, limit)
	}
	t.Logf("%d members joined in %v with %d writes of the group", n, elapsed.Round(time.Millisecond), writes)
}
