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

package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// allocators returns n allocators, each with its own connection to the API server, sharing a
// fresh namespace for their claims: as n managers would.
func allocators(t *testing.T, n int) []*Allocator {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ipam-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	out := make([]*Allocator, n)
	for i := range out {
		c, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = &Allocator{Client: c, Reader: c, Namespace: ns.Name}
	}
	return out
}

// race has holders h0…h(n-1) take from the pool at once, spread over the allocators, and returns
// what each got (or its error).
func race(als []*Allocator, n int, take func(al *Allocator, holder string) (string, error)) ([]string, []error) {
	got, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], errs[i] = take(als[i%len(als)], fmt.Sprintf("h%d", i))
		}(i)
	}
	wg.Wait()
	return got, errs
}

// checkRace asserts that exactly want holders got an item, all distinct, the rest ErrExhausted,
// and that there are exactly want claims.
func checkRace(t *testing.T, al *Allocator, label string, got []string, errs []error, want int) {
	t.Helper()
	seen := map[string]string{}
	for i, v := range got {
		switch {
		case errs[i] == nil:
			if other, dup := seen[v]; dup {
				t.Fatalf("%s handed out to h%d and %s", v, i, other)
			}
			seen[v] = fmt.Sprintf("h%d", i)
		case !errors.Is(errs[i], ErrExhausted):
			t.Fatalf("h%d: %v", i, errs[i])
		}
	}
	if len(seen) != want {
		t.Fatalf("%d holders got one, want %d: %v", len(seen), want, seen)
	}
	claims, err := al.Claims(context.Background(), label)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != want {
		t.Fatalf("%d claims, want %d", len(claims), want)
	}
}

// Two managers' allocators racing for segments, subnets and addresses never hand one out twice,
// and say ErrExhausted once the pool is empty.
func TestConcurrentAllocatorsNeverShare(t *testing.T) {
	ctx := context.Background()
	t.Run("segments", func(t *testing.T) {
		als := allocators(t, 2)
		r := Range{First: 7, Last: 16}
		got, errs := race(als, 16, func(al *Allocator, h string) (string, error) {
			n, err := al.AllocateSegment(ctx, r, h)
			return fmt.Sprint(n), err
		})
		checkRace(t, als[0], SegmentsLabel, got, errs, 10)
		for i, v := range got {
			var n int32
			if _, err := fmt.Sscan(v, &n); errs[i] == nil && (err != nil || n < r.First || n > r.Last) {
				t.Fatalf("segment %s outside %s", v, r)
			}
		}
	})
	t.Run("subnets", func(t *testing.T) {
		als := allocators(t, 2)
		s, err := NewSubnets("10.99.0.0/26", 28)
		if err != nil {
			t.Fatal(err)
		}
		got, errs := race(als, 7, func(al *Allocator, h string) (string, error) {
			p, err := al.AllocateSubnet(ctx, s, h)
			return p.String(), err
		})
		checkRace(t, als[0], SubnetsLabel, got, errs, 4)
		for i, v := range got {
			if errs[i] == nil && !s.Supernet.Contains(netip.MustParsePrefix(v).Addr()) {
				t.Fatalf("subnet %s outside %s", v, s.Supernet)
			}
		}
	})
	t.Run("addresses", func(t *testing.T) {
		als := allocators(t, 2)
		set := HostSet(netip.MustParsePrefix("10.99.1.0/28"))
		got, errs := race(als, 16, func(al *Allocator, h string) (string, error) {
			a, err := al.Allocate(ctx, set, h)
			return a.String(), err
		})
		checkRace(t, als[0], set.Name, got, errs, 13)
		for i, v := range got {
			if errs[i] == nil && (v == "10.99.1.0" || v == "10.99.1.1" || v == "10.99.1.15") {
				t.Fatalf("reserved address %s handed out", v)
			}
		}
	})
}

// A holder gets the same item every time; released, the item goes to the next holder.
func TestAllocateIsPerHolderAndReleaseFrees(t *testing.T) {
	ctx := context.Background()
	al := allocators(t, 1)[0]
	r := Range{First: 100, Last: 101}
	a1, err := al.AllocateSegment(ctx, r, "a")
	if err != nil {
		t.Fatal(err)
	}
	again, err := al.AllocateSegment(ctx, r, "a")
	if err != nil || again != a1 {
		t.Fatalf("second call: %d %v, first %d", again, err, a1)
	}
	if _, err := al.AllocateSegment(ctx, r, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := al.AllocateSegment(ctx, r, "c"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("third holder: %v", err)
	}
	if held, err := al.Held(ctx, SegmentsLabel, "a"); err != nil || len(held) != 1 || held[0] != fmt.Sprint(a1) {
		t.Fatalf("held %v %v", held, err)
	}
	if err := al.Release(ctx, SegmentsLabel, "a"); err != nil {
		t.Fatal(err)
	}
	if c, err := al.AllocateSegment(ctx, r, "c"); err != nil || c != a1 {
		t.Fatalf("after release: %d %v, want %d", c, err, a1)
	}
	// A shrunk range never hands out what is claimed outside it, nor inside it twice.
	if _, err := al.AllocateSegment(ctx, Range{First: 101, Last: 101}, "d"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("shrunk range: %v", err)
	}
}

// Subnets of another length that overlap a claimed one are skipped.
func TestSubnetsOfAnotherLengthDoNotOverlap(t *testing.T) {
	ctx := context.Background()
	al := allocators(t, 1)[0]
	wide, _ := NewSubnets("10.98.0.0/23", 24)
	first, err := al.AllocateSubnet(ctx, wide, "a")
	if err != nil || first.String() != "10.98.0.0/24" {
		t.Fatalf("first: %v %v", first, err)
	}
	narrow, _ := NewSubnets("10.98.0.0/23", 25)
	for _, h := range []string{"b", "c"} {
		p, err := al.AllocateSubnet(ctx, narrow, h)
		if err != nil || p.Overlaps(first) {
			t.Fatalf("%s got %v (%v), overlapping %v", h, p, err, first)
		}
	}
	if _, err := al.AllocateSubnet(ctx, narrow, "d"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("fourth: %v", err)
	}
}

// Purge removes a pool's claims and no other pool's.
func TestPurge(t *testing.T) {
	ctx := context.Background()
	al := allocators(t, 1)[0]
	one, two := HostSet(netip.MustParsePrefix("10.97.0.0/29")), HostSet(netip.MustParsePrefix("10.97.0.8/29"))
	for _, h := range []string{"a", "b"} {
		for _, s := range []*Set{one, two} {
			if _, err := al.Allocate(ctx, s, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := al.Purge(ctx, one.Name); err != nil {
		t.Fatal(err)
	}
	list := &coordinationv1.LeaseList{}
	if err := env.Client.List(ctx, list, client.InNamespace(al.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, l := range list.Items {
		if l.Labels[LabelSet] != two.Name {
			t.Fatalf("claim %s of %s left", l.Name, l.Labels[LabelSet])
		}
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d claims left, want 2", len(list.Items))
	}
}

// Allocators racing for one holder (two managers reconciling one project) all return the same
// item, and the holder is left with that one claim — through Allocate, and through AllocateNew,
// which does not look for the holder's claims before it makes one.
func TestConcurrentAllocationsForOneHolderAgree(t *testing.T) {
	als := allocators(t, 2)
	set := HostSet(netip.MustParsePrefix("10.96.0.0/24"))
	for round := range 8 {
		holder := fmt.Sprintf("one-%d", round)
		allocate := (*Allocator).Allocate
		if round%2 == 1 {
			allocate = (*Allocator).AllocateNew
		}
		raceForOneHolder(t, als, set, holder, allocate)
	}
}

// holderAt names a holder, prefix-<n>, whose search in set starts at offset.
func holderAt(set *Set, offset uint64, prefix string) string {
	for i := 0; ; i++ {
		if h := fmt.Sprintf("%s-%d", prefix, i); set.offset(h) == offset {
			return h
		}
	}
}

// raceForOneHolder has eight goroutines over the allocators claim for holder at once, and checks
// that all were given one address and that the holder holds that one claim.
func raceForOneHolder(t *testing.T, als []*Allocator, set *Set, holder string,
	allocate func(*Allocator, context.Context, *Set, string) (netip.Addr, error)) {
	t.Helper()
	ctx := context.Background()
	got, errs := make([]netip.Addr, 8), make([]error, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], errs[i] = allocate(als[i%len(als)], ctx, set, holder)
		}(i)
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("%s got %s and %s", holder, got[0], got[i])
		}
	}
	held, err := als[0].Held(ctx, set.Name, holder)
	if err != nil || len(held) != 1 || held[0] != got[0].String() {
		t.Fatalf("%s holds %v (%v), was given %s", holder, held, err, got[0])
	}
}

// ReleaseAll gives back what a holder holds in every pool, and nothing of others.
func TestReleaseAll(t *testing.T) {
	ctx := context.Background()
	al := allocators(t, 1)[0]
	one, two := HostSet(netip.MustParsePrefix("10.95.0.0/29")), HostSet(netip.MustParsePrefix("10.95.0.8/29"))
	for _, h := range []string{"a", "b"} {
		for _, s := range []*Set{one, two} {
			if _, err := al.Allocate(ctx, s, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := al.ReleaseAll(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Set{one, two} {
		if held, _ := al.Held(ctx, s.Name, "a"); len(held) != 0 {
			t.Fatalf("a still holds %v in %s", held, s.Name)
		}
		if held, _ := al.Held(ctx, s.Name, "b"); len(held) != 1 {
			t.Fatalf("b holds %v in %s", held, s.Name)
		}
	}
}

// Many instances given addresses at once (the instance controller's workers, several managers)
// each get one of their own, none twice, and none is refused while addresses are free.
func TestConcurrentAddressesAllSucceed(t *testing.T) {
	ctx := context.Background()
	als := allocators(t, 4)
	set := HostSet(netip.MustParsePrefix("10.94.0.0/26")) // 61 addresses
	const holders = 48
	got, errs := race(als, holders, func(al *Allocator, h string) (string, error) {
		a, err := al.Allocate(ctx, set, h)
		return a.String(), err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("h%d: %v", i, err)
		}
	}
	checkRace(t, als[0], set.Name, got, errs, holders)
	// The rest of the subnet goes too, to the last address, and then nothing more.
	got, errs = race(als, 61-holders+2, func(al *Allocator, h string) (string, error) {
		a, err := al.Allocate(ctx, set, "more-"+h)
		return a.String(), err
	})
	refused := 0
	for i, err := range errs {
		switch {
		case errors.Is(err, ErrExhausted):
			refused++
		case err != nil:
			t.Fatalf("more-h%d: %v", i, err)
		case !set.Contains(netip.MustParseAddr(got[i])):
			t.Fatalf("more-h%d got %s, outside the set", i, got[i])
		}
	}
	if refused != 2 {
		t.Fatalf("%d refused once the subnet was full, want 2", refused)
	}
}

// poolLists counts the lists of a whole pool (a selector without a holder) an allocator makes,
// and in all the lists it makes.
type poolLists struct {
	client.Reader
	n, all atomic.Int32
}

func (c *poolLists) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	c.all.Add(1)
	o := &client.ListOptions{}
	o.ApplyOptions(opts)
	if o.LabelSelector != nil {
		if _, byHolder := o.LabelSelector.RequiresExactMatch(LabelHolder); !byHolder {
			c.n.Add(1)
		}
	}
	return c.Reader.List(ctx, list, opts...)
}

// A spread set is claimed from without listing the pool while it has room near each holder's
// offset; full, it is still claimed to the last address (through a list) and then refused.
func TestSpreadSetClaimsWithoutListingThePool(t *testing.T) {
	ctx := context.Background()
	al := allocators(t, 1)[0]
	lists := &poolLists{Reader: al.Reader}
	al.Reader = lists
	set := HostSet(netip.MustParsePrefix("10.95.0.0/24")) // 253 addresses
	seen := map[netip.Addr]bool{}
	for i := range 40 {
		a, err := al.Allocate(ctx, set, fmt.Sprintf("sparse-%d", i))
		if err != nil || seen[a] {
			t.Fatalf("holder %d: %s, %v (given before: %t)", i, a, err, seen[a])
		}
		seen[a] = true
	}
	if n := lists.n.Load(); n != 0 {
		t.Fatalf("40 claims in a set of 253 listed the pool %d times", n)
	}
	for i := 0; len(seen) < 253; i++ {
		a, err := al.Allocate(ctx, set, fmt.Sprintf("fill-%d", i))
		if err != nil || seen[a] {
			t.Fatalf("filling, holder %d: %s, %v (given before: %t)", i, a, err, seen[a])
		}
		seen[a] = true
	}
	if _, err := al.Allocate(ctx, set, "one-too-many"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("a full set answered %v, want ErrExhausted", err)
	}
}

// AllocateNew claims in a spread set without listing anything: the address at the holder's
// offset when it is free, the holder's own claim when it is the holder's (a call that failed after
// its claim), the next free one when another holder has it — a read of that one claim each.
func TestAllocateNewListsNothing(t *testing.T) {
	ctx := context.Background()
	al := allocators(t, 1)[0]
	lists := &poolLists{Reader: al.Reader}
	al.Reader = lists
	set := HostSet(netip.MustParsePrefix("10.93.0.0/24"))

	a, err := al.AllocateNew(ctx, set, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	again, err := al.AllocateNew(ctx, set, "fresh")
	if n := lists.all.Load(); n != 0 {
		t.Errorf("two claims made %d lists, want none", n)
	}
	if err != nil || again != a {
		t.Fatalf("the holder of %s asked again and got %s, %v", a, again, err)
	}
	if held, err := al.Held(ctx, set.Name, "fresh"); err != nil || len(held) != 1 || held[0] != a.String() {
		t.Fatalf("the holder holds %v (%v), want only %s", held, err, a)
	}

	// Another holder whose first address is taken (by "fresh": same offset) gets an address of
	// its own.
	other := holderAt(set, set.offset("fresh"), "other")
	lists.all.Store(0)
	b, err := al.AllocateNew(ctx, set, other)
	if err != nil || b == a {
		t.Fatalf("a second holder got %s (the first holds %s), %v", b, a, err)
	}
	if n := lists.all.Load(); n != 0 {
		t.Errorf("a claim past another holder's address made %d lists, want none", n)
	}
	if held, err := al.Held(ctx, set.Name, other); err != nil || len(held) != 1 || held[0] != b.String() {
		t.Fatalf("the second holder holds %v (%v), want only %s", held, err, b)
	}
}

// Allocators racing for one holder whose first address another holder has still agree, and
// leave the holder one claim.
func TestRacersPastAnotherHoldersAddressAgree(t *testing.T) {
	ctx := context.Background()
	als := allocators(t, 2)
	set := HostSet(netip.MustParsePrefix("10.90.0.0/24"))
	for round := range 6 {
		holder := fmt.Sprintf("racer-%d", round)
		// Another holder takes the racers' first address, and for some rounds the second.
		for i := 0; i <= round%2; i++ {
			blocker := holderAt(set, (set.offset(holder)+uint64(i))%set.span(), fmt.Sprintf("blocker-%d-%d", round, i))
			if _, err := als[0].AllocateNew(ctx, set, blocker); err != nil {
				t.Fatal(err)
			}
		}
		raceForOneHolder(t, als, set, holder, (*Allocator).AllocateNew)
	}
}

// A holder that records its address releases it by name, without a list, and only its own claim.
func TestReleaseClaimByName(t *testing.T) {
	ctx := context.Background()
	al := allocators(t, 1)[0]
	lists := &poolLists{Reader: al.Reader}
	al.Reader = lists
	set := HostSet(netip.MustParsePrefix("10.92.0.0/24"))
	a, err := al.AllocateNew(ctx, set, "a")
	if err != nil {
		t.Fatal(err)
	}
	name := ClaimName(set.Name, a)
	l := &coordinationv1.Lease{}
	if err := al.Reader.Get(ctx, client.ObjectKey{Namespace: al.Namespace, Name: name}, l); err != nil {
		t.Fatal(err)
	}
	if got := l.Labels[LabelHolderKind]; got != HostHolderKind {
		t.Errorf("a subnet address's claim says holder kind %q, want %q", got, HostHolderKind)
	}
	if err := al.ReleaseClaim(ctx, name, "b"); err != nil {
		t.Fatal(err)
	}
	if held, _ := al.Held(ctx, set.Name, "a"); len(held) != 1 {
		t.Fatalf("another holder's release took a's claim: a holds %v", held)
	}
	lists.all.Store(0)
	if err := al.ReleaseClaim(ctx, name, "a"); err != nil {
		t.Fatal(err)
	}
	if n := lists.all.Load(); n != 0 {
		t.Errorf("a release by name made %d lists, want none", n)
	}
	if held, _ := al.Held(ctx, set.Name, "a"); len(held) != 0 {
		t.Fatalf("a still holds %v after its release", held)
	}
	if err := al.ReleaseClaim(ctx, name, "a"); err != nil {
		t.Fatalf("releasing a claim released before: %v", err)
	}
}

// The sweeper releases, of the claims of its holder kind older than its grace, those the holders
// do not need, and no other claim.
func TestSweeperReleasesOnlyClaimsNotNeeded(t *testing.T) {
	ctx := context.Background()
	al := allocators(t, 1)[0]
	set := HostSet(netip.MustParsePrefix("10.91.0.0/24"))
	pool, err := NewSet("pool-91", []string{"10.91.1.0/24"}, nil) // no holder kind: not swept
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]string{}
	for _, h := range []string{"kept", "stale", "failing"} {
		a, err := al.AllocateNew(ctx, set, h)
		if err != nil {
			t.Fatal(err)
		}
		held[h] = a.String()
	}
	if _, err := al.Allocate(ctx, pool, "stale"); err != nil {
		t.Fatal(err)
	}
	clk := testclock.NewFakePassiveClock(time.Now())
	asked := map[string]string{}
	s := &Sweeper{Allocator: al, Clock: clk, Grace: time.Hour, HolderKind: HostHolderKind,
		Needed: func(context.Context) (NeededFunc, error) {
			return func(_ context.Context, holder, v string) (bool, error) {
				asked[holder] = v
				if holder == "failing" {
					return false, errors.New("cannot tell")
				}
				return holder == "kept", nil
			}, nil
		}}

	if n, err := s.Sweep(ctx); n != 0 || err != nil || len(asked) != 0 {
		t.Fatalf("a sweep within the grace released %d (%v) and asked about %v", n, err, asked)
	}
	clk.SetTime(time.Now().Add(2 * time.Hour))
	n, err := s.Sweep(ctx)
	if n != 1 || err == nil {
		t.Fatalf("the sweep released %d claims (%v), want 1 and the failing holder's error", n, err)
	}
	for h, v := range held {
		if asked[h] != v {
			t.Errorf("the sweep asked about %s's claim with value %q, want %q", h, asked[h], v)
		}
	}
	for h, want := range map[string]int{"kept": 1, "stale": 0, "failing": 1} {
		if got, _ := al.Held(ctx, set.Name, h); len(got) != want {
			t.Errorf("%s holds %v in the subnet after the sweep, want %d claims", h, got, want)
		}
	}
	if got, _ := al.Held(ctx, pool.Name, "stale"); len(got) != 1 {
		t.Errorf("the sweep took a claim of a pool without its holder kind: %v left", got)
	}
}
