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

package capacity

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func bound(uid, node, itype string) *cloudv1.Instance {
	return &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Name: uid},
		Spec:       cloudv1.InstanceSpec{InstanceType: itype},
		Status:     cloudv1.InstanceStatus{Hypervisor: node},
	}
}

func TestLedgerTalliesByNodeAndType(t *testing.T) {
	var l Ledger
	if got := l.Observe(bound("a", "n1", "small")); len(got) != 1 || got[0] != "n1" {
		t.Fatalf("changed %v", got)
	}
	l.Observe(bound("b", "n1", "large"))
	l.Observe(bound("c", "n2", "small"))
	if got := l.Observe(bound("a", "n1", "small")); got != nil {
		t.Fatalf("an unchanged instance changed %v", got)
	}
	if tl := l.Tally("n1"); tl.Count != 2 || tl.ByType["small"] != 1 || tl.ByType["large"] != 1 {
		t.Fatalf("n1 %+v", tl)
	}
	// Moved (a rebinding), then terminated with its domain gone: it holds nothing.
	if got := l.Observe(bound("a", "n2", "small")); len(got) != 2 {
		t.Fatalf("a move changed %v", got)
	}
	gone := bound("c", "n2", "small")
	gone.Spec.DesiredState = cloudv1.DesiredTerminated
	l.Observe(gone)
	if tl := l.Tally("n2"); tl.Count != 1 || tl.ByType["small"] != 1 {
		t.Fatalf("n2 %+v", tl)
	}
	if got := l.Forget("b"); len(got) != 1 || got[0] != "n1" {
		t.Fatalf("forget changed %v", got)
	}
	if tl := l.Tally("n1"); tl.Count != 0 || len(tl.ByType) != 0 {
		t.Fatalf("n1 after forgetting %+v", tl)
	}
	if got := l.Forget("never-seen"); got != nil {
		t.Fatalf("forgetting an unknown uid changed %v", got)
	}
	// An unbound instance holds nothing.
	if got := l.Observe(bound("d", "", "small")); got != nil {
		t.Fatalf("an unbound instance changed %v", got)
	}
}

// An assumption counts until an event shows the binding, the instance goes, or it expires.
func TestLedgerAssumptions(t *testing.T) {
	var l Ledger
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.Assume("a", Holding{Node: "n1", InstanceType: "small"}, now.Add(time.Minute))
	l.Assume("b", Holding{Node: "n1", InstanceType: "small"}, now.Add(time.Minute))
	if tl := l.Tallies(now)["n1"]; tl.Count != 2 {
		t.Fatalf("assumed tally %+v", tl)
	}
	if tl := l.Tally("n1"); tl.Count != 0 {
		t.Fatalf("observed tally counts assumptions: %+v", tl)
	}
	if left, ok := l.Assumed("a", now.Add(59*time.Second)); !ok || left != time.Second {
		t.Fatalf("assumed %v %v", left, ok)
	}
	// The cache shows a's binding: observed once, no longer assumed.
	l.Observe(bound("a", "n1", "small"))
	if _, ok := l.Assumed("a", now); ok {
		t.Fatal("a is still assumed after its binding was observed")
	}
	if tl := l.Tallies(now)["n1"]; tl.Count != 2 {
		t.Fatalf("tally after observing %+v", tl)
	}
	// A still-unbound update does not end an assumption; a deletion does.
	l.Observe(bound("b", "", "small"))
	if _, ok := l.Assumed("b", now); !ok {
		t.Fatal("an update without the binding ended the assumption")
	}
	l.Forget("b")
	if l.Assumptions() != 0 {
		t.Fatalf("%d assumptions after the deletion", l.Assumptions())
	}
	// Expiry: gone from the tallies and the map.
	l.Assume("c", Holding{Node: "n2", InstanceType: "small"}, now.Add(time.Minute))
	if tl := l.Tallies(now.Add(time.Minute))["n2"]; tl.Count != 0 {
		t.Fatalf("an expired assumption still counts: %+v", tl)
	}
	if l.Assumptions() != 0 {
		t.Fatal("the expired assumption was kept")
	}
	l.Assume("d", Holding{Node: "n2"}, now.Add(time.Minute))
	if _, ok := l.Assumed("d", now.Add(time.Minute)); ok || l.Assumptions() != 0 {
		t.Fatal("an assumption outlived its expiry")
	}
	l.Assume("e", Holding{Node: "n2"}, now.Add(time.Minute))
	l.Unassume("e")
	if l.Assumptions() != 0 {
		t.Fatal("Unassume kept the assumption")
	}
}

// An assumption that ends without its instance holding the place gives the room back, and says
// where, so a scheduler can place what waits: the instance going (terminated or deleted) or the
// binding never written. One that ends in the binding it assumed frees nothing there.
func TestLedgerAssumptionEndsReportRoom(t *testing.T) {
	var l Ledger
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.Assume("going", Holding{Node: "n1", InstanceType: "small"}, now.Add(time.Minute))
	terminated := bound("going", "", "small")
	terminated.Spec.DesiredState = cloudv1.DesiredTerminated
	if got := l.Observe(terminated); len(got) != 1 || got[0] != "n1" {
		t.Fatalf("an assumed instance terminated before its binding showed changed %v, want [n1]", got)
	}
	if got := l.Observe(terminated); got != nil {
		t.Fatalf("the same event again changed %v", got)
	}

	l.Assume("deleted", Holding{Node: "n2", InstanceType: "small"}, now.Add(time.Minute))
	if got := l.Forget("deleted"); len(got) != 1 || got[0] != "n2" {
		t.Fatalf("an assumed instance deleted changed %v, want [n2]", got)
	}

	l.Assume("unwritten", Holding{Node: "n2", InstanceType: "small"}, now.Add(time.Minute))
	if !l.Unassume("unwritten") {
		t.Fatal("Unassume of an assumption reported none")
	}
	if l.Unassume("unwritten") {
		t.Fatal("Unassume of nothing reported an assumption")
	}

	l.Assume("bound", Holding{Node: "n1", InstanceType: "small"}, now.Add(time.Minute))
	got := l.Observe(bound("bound", "n1", "small"))
	if len(got) != 1 || got[0] != "n1" {
		t.Fatalf("the binding shown changed %v, want the tally of n1 only", got)
	}
	if tl := l.Tallies(now)["n1"]; tl.Count != 1 {
		t.Fatalf("the binding counts %d times on n1", tl.Count)
	}
}

// NextExpiry is the time left to the first live assumption's end.
func TestLedgerNextExpiry(t *testing.T) {
	var l Ledger
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := l.NextExpiry(now); ok {
		t.Fatal("an empty ledger has an expiry")
	}
	l.Assume("a", Holding{Node: "n1"}, now.Add(time.Minute))
	l.Assume("b", Holding{Node: "n1"}, now.Add(20*time.Second))
	l.Assume("c", Holding{Node: "n1"}, now.Add(-time.Second))
	if left, ok := l.NextExpiry(now); !ok || left != 20*time.Second {
		t.Fatalf("next expiry %v %v, want 20s", left, ok)
	}
}

// A bound instance counts with the type it was given (status.instanceType), not the one its
// spec asks for; a resize written but not yet observed counts its new type in place of the old
// one until an event shows it given, and ends without it on expiry.
func TestLedgerResizes(t *testing.T) {
	var l Ledger
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inst := bound("a", "n1", "large")
	inst.Status.InstanceType = "small" // asked to be large, given small
	l.Observe(inst)
	if tl := l.Tallies(now)["n1"]; tl.Count != 1 || tl.ByType["small"] != 1 || tl.ByType["large"] != 0 {
		t.Fatalf("a resize not given counts %+v", tl)
	}
	l.Assume("a", Holding{Node: "n1", InstanceType: "large"}, now.Add(time.Minute))
	if tl := l.Tallies(now)["n1"]; tl.Count != 1 || tl.ByType["large"] != 1 || tl.ByType["small"] != 0 {
		t.Fatalf("an assumed resize counts %+v", tl)
	}
	// An event from before the resize's write does not end the assumption.
	l.Observe(inst)
	if tl := l.Tallies(now)["n1"]; tl.Count != 1 || tl.ByType["large"] != 1 {
		t.Fatalf("after an older event %+v", tl)
	}
	given := inst.DeepCopy()
	given.Status.InstanceType = "large"
	if got := l.Observe(given); len(got) != 1 || got[0] != "n1" {
		t.Fatalf("the given resize changed %v", got)
	}
	if l.Assumptions() != 0 {
		t.Fatal("the given resize is still assumed")
	}
	if tl := l.Tallies(now)["n1"]; tl.Count != 1 || tl.ByType["large"] != 1 || tl.ByType["small"] != 0 {
		t.Fatalf("given %+v", tl)
	}
	// A resize no event shows ends with its expiry: the instance counts as given again.
	l.Assume("a", Holding{Node: "n1", InstanceType: "xlarge"}, now.Add(time.Minute))
	if tl := l.Tallies(now.Add(2 * time.Minute))["n1"]; tl.Count != 1 || tl.ByType["large"] != 1 || tl.ByType["xlarge"] != 0 {
		t.Fatalf("after the assumption expired %+v", tl)
	}
}
