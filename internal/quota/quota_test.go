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

package quota_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, &env)
}

const timeout = 30 * time.Second

func namespace(t *testing.T, name string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

func ledger() *quota.Ledger { return &quota.Ledger{Reader: env.Client, Writer: env.Client} }

// address creates an Address, marked pending as the EC2 API makes them when pending is set.
func address(t *testing.T, ns, name string, pending bool) *cloudv1.Address {
	t.Helper()
	a := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if pending {
		quota.MarkPending(a)
	}
	if err := env.Client.Create(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func volume(t *testing.T, ns, name string, gib int32) {
	t.Helper()
	v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cloudv1.VolumeSpec{SizeGiB: gib, AvailabilityZone: "z"}}
	quota.MarkPending(v)
	if err := env.Client.Create(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

// Racing admissions never exceed the quota: of twenty, exactly the limit wins.
func TestRacingAdmissions(t *testing.T) {
	const ns = "race"
	namespace(t, ns)
	gate := quota.Addresses(ns, cloudv1.ProjectQuota{Addresses: ptr.To[int32](5)})
	var wg sync.WaitGroup
	won := make([]bool, 20)
	errs := make([]error, len(won))
	for i := range won {
		a := address(t, ns, fmt.Sprintf("a-%02d", i), true)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			admitted, refused, err := ledger().Admit(context.Background(), gate, []string{a.Name}, 1, timeout)
			switch {
			case err != nil:
				errs[i] = err
			case len(admitted) == 1:
				won[i] = true
			case refused == nil || refused.Limit.Field != "addresses" || refused.InUse != 5 || refused.Need != 1:
				errs[i] = fmt.Errorf("refused without the limit: %+v", refused)
			}
		}(i)
	}
	wg.Wait()
	n := 0
	for i, w := range won {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if w {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d of 20 racing admissions won under a quota of 5", n)
	}
}

// A batch admits candidates in order, as many as fit, only if at least the minimum does, and
// says which of several limits refused.
func TestBatchAdmission(t *testing.T) {
	const ns = "batch"
	namespace(t, ns)
	gate := quota.Volumes(ns, cloudv1.ProjectQuota{Volumes: ptr.To[int32](10), VolumeGiB: ptr.To[int64](10)})
	names := []string{"v0", "v1", "v2", "v3"}
	for _, n := range names {
		volume(t, ns, n, 3)
	}
	ctx := context.Background()
	admitted, refused, err := ledger().Admit(ctx, gate, names, 4, timeout)
	if err != nil || len(admitted) != 0 {
		t.Fatalf("four of 3 GiB under 10 GiB: admitted %v (%v)", admitted, err)
	}
	if refused == nil || refused.Limit.Field != "volumeGiB" || refused.InUse != 0 || refused.Need != 12 || refused.Left() != 10 {
		t.Fatalf("refusal %+v", refused)
	}
	admitted, _, err = ledger().Admit(ctx, gate, names, 2, timeout)
	if err != nil || strings.Join(admitted, ",") != "v0,v1,v2" {
		t.Fatalf("admitted %v, want the first three (%v)", admitted, err)
	}
	// Asking again changes nothing: admitted candidates stay admitted, the rest still do not fit.
	admitted, _, err = ledger().Admit(ctx, gate, names, 1, timeout)
	if err != nil || strings.Join(admitted, ",") != "v0,v1,v2" {
		t.Fatalf("admitted again %v (%v)", admitted, err)
	}
	// The cheap check counts only what is shown admitted; pending ones a ledger lists are Admit's.
	if n, _, err := gate.Room(ctx, env.Client, []int64{1, 3}, 1, 5); err != nil || n != 3 {
		t.Fatalf("room for %d of 3 GiB (%v)", n, err)
	}
}

func listedInLedger(t *testing.T, ns, kind string) string {
	t.Helper()
	l := &coordinationv1.Lease{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: quota.LedgerPrefix + kind}, l); err != nil {
		t.Fatal(err)
	}
	return l.Annotations["cloud.pinet.io/quota-admitted"]
}

// A crash at any point of an admission leaks no quota: an object created but never admitted
// counts for nothing, and a ledger entry whose object went is dropped.
func TestCrashedAdmissionsLeakNothing(t *testing.T) {
	const ns = "crash"
	namespace(t, ns)
	ctx := context.Background()
	gate := quota.Addresses(ns, cloudv1.ProjectQuota{Addresses: ptr.To[int32](1)})

	// Created, then the creator crashed before admitting: it holds nothing.
	address(t, ns, "never-admitted", true)
	b := address(t, ns, "b", true)
	if admitted, _, err := ledger().Admit(ctx, gate, []string{b.Name}, 1, timeout); err != nil || len(admitted) != 1 {
		t.Fatalf("b not admitted beside an abandoned object: %v (%v)", admitted, err)
	}
	// Admitted, then the creator crashed before dropping the mark: it counts while it exists.
	c := address(t, ns, "c", true)
	if _, refused, err := ledger().Admit(ctx, gate, []string{c.Name}, 1, timeout); err != nil || refused == nil {
		t.Fatalf("c admitted beyond the quota (%v)", err)
	}
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	if admitted, _, err := ledger().Admit(ctx, gate, []string{c.Name}, 1, timeout); err != nil || len(admitted) != 1 {
		t.Fatalf("c not admitted after b went: %v (%v)", admitted, err)
	}
	if got := listedInLedger(t, ns, "addresses"); got != "c" {
		t.Fatalf("ledger lists %q, want only c", got)
	}
	// Shown admitted (the mark dropped), the object needs no ledger entry any more.
	if err := quota.Unmark(ctx, env.Client, c); err != nil {
		t.Fatal(err)
	}
	d := address(t, ns, "d", true)
	if _, refused, err := ledger().Admit(ctx, gate, []string{d.Name}, 1, timeout); err != nil || refused == nil {
		t.Fatalf("d admitted beyond the quota (%v)", err)
	}
	if err := env.Client.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	if admitted, _, err := ledger().Admit(ctx, gate, []string{d.Name}, 1, timeout); err != nil || len(admitted) != 1 {
		t.Fatalf("d not admitted after c went: %v (%v)", admitted, err)
	}
	if got := listedInLedger(t, ns, "addresses"); got != "d" {
		t.Fatalf("ledger lists %q, want only d", got)
	}
}

// A project without limits admits everything without a ledger.
func TestUnlimited(t *testing.T) {
	gate := quota.Instances("nowhere", testQuotaNone())
	if !gate.Unlimited() {
		t.Fatal("zero limits are limits")
	}
	admitted, refused, err := ledger().Admit(context.Background(), gate, []string{"x", "y"}, 2, timeout)
	if err != nil || refused != nil || len(admitted) != 2 {
		t.Fatalf("admitted %v, refused %v (%v)", admitted, refused, err)
	}
	if q, err := quota.Of(context.Background(), env.Client, "no-such-project"); err != nil || !quota.Instances("x", q).Unlimited() {
		t.Fatalf("a namespace without a project has limits: %+v (%v)", q, err)
	}
}

func testQuotaNone() cloudv1.ProjectQuota {
	return cloudv1.ProjectQuota{Instances: ptr.To[int32](0), VCPUs: ptr.To[int32](0), MemoryMiB: ptr.To[int64](0)}
}

// Several requests decided with one write of the ledger: each as alone, in order, counting the
// admissions of those before it; one refused leaves its room to those after it; a name asked
// twice counts once; a withdrawn one is neither admitted nor refused.
func TestAdmitAll(t *testing.T) {
	const ns = "admit-all"
	namespace(t, ns)
	gate := quota.Volumes(ns, cloudv1.ProjectQuota{Volumes: ptr.To[int32](10), VolumeGiB: ptr.To[int64](10)})
	for _, v := range []struct {
		name string
		gib  int32
	}{{"a0", 3}, {"a1", 3}, {"b0", 5}, {"c0", 2}, {"d0", 3}} {
		volume(t, ns, v.name, v.gib)
	}
	ctx := context.Background()
	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: ns, Name: quota.LedgerPrefix + "volumes"}
	decisions, err := ledger().AdmitAll(ctx, gate, []quota.Request{
		{Names: []string{"a0", "a1"}, Minimum: 2}, // 6 GiB
		{Names: []string{"b0"}, Minimum: 1},       // 5 more do not fit
		{Names: []string{"c0", "a1"}, Minimum: 2}, // a1 is admitted already: 2 more
		{Names: []string{"gone"}, Minimum: 1},     // no such volume
		{Names: []string{"d0"}, Minimum: 1},       // 3 more do not fit
	}, timeout)
	if err != nil || len(decisions) != 5 {
		t.Fatalf("decisions %+v (%v)", decisions, err)
	}
	want := []string{"a0,a1", "", "c0,a1", "", ""}
	for i, d := range decisions {
		if got := strings.Join(d.Admitted, ","); got != want[i] {
			t.Errorf("request %d: admitted %q, want %q", i, got, want[i])
		}
	}
	if r := decisions[1].Refused; r == nil || r.Limit.Field != "volumeGiB" || r.InUse != 6 || r.Need != 5 {
		t.Errorf("b0 refused with %+v, want volumeGiB with 6 in use", decisions[1].Refused)
	}
	if decisions[3].Refused != nil {
		t.Errorf("a request of withdrawn objects refused by %+v", decisions[3].Refused)
	}
	if r := decisions[4].Refused; r == nil || r.InUse != 8 || r.Need != 3 {
		t.Errorf("d0 refused with %+v, want 8 in use", decisions[4].Refused)
	}
	if got := listedInLedger(t, ns, "volumes"); got != "a0 a1 c0" {
		t.Fatalf("ledger lists %q, want a0 a1 c0", got)
	}
	if err := env.Client.Get(ctx, key, lease); err != nil {
		t.Fatal(err)
	}
	// Asked again, nothing changes and the ledger is not written.
	again, err := ledger().AdmitAll(ctx, gate, []quota.Request{{Names: []string{"a0", "a1"}, Minimum: 2}, {Names: []string{"b0"}, Minimum: 1}}, timeout)
	if err != nil || strings.Join(again[0].Admitted, ",") != "a0,a1" || again[1].Refused == nil {
		t.Fatalf("asked again: %+v (%v)", again, err)
	}
	after := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, key, after); err != nil || after.ResourceVersion != lease.ResourceVersion {
		t.Fatalf("the ledger was written again: version %s, was %s (%v)", after.ResourceVersion, lease.ResourceVersion, err)
	}
}
