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
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// Addresses moved between instances, withdrawn and deleted as fast as writes go, many at once,
// round after round with no pause: whatever order the address controller sees the changes in,
// and however far its cache lags its own writes, it converges on the specs — each address records
// the instance it names and each instance shows the public IP of the address naming it, or none.
func TestAddressAssociationsConvergeUnderRaces(t *testing.T) {
	startManager(t)
	ns := newNamespace(t)
	ctx := context.Background()
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: "race-pool"},
		Spec: cloudv1.AddressPoolSpec{CIDRs: []string{"198.18.5.0/26"}}}
	if err := env.Client.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pool) })

	insts := make([]string, 4)
	for i := range insts {
		inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("vm-%d", i), Namespace: ns},
			Spec: cloudv1.InstanceSpec{ImageID: "img"}}
		if err := env.Client.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, shortWait, "an id for "+inst.Name, func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
				return err
			}
			if inst.Status.InstanceID == "" {
				return errors.New("no id yet")
			}
			return nil
		})
		insts[i] = inst.Status.InstanceID
	}
	made := 0
	newAddress := func() string {
		made++
		a := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("eip-%d", made), Namespace: ns},
			Spec: cloudv1.AddressSpec{Pool: pool.Name}}
		if err := env.Client.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a.Name
	}
	addrs := make([]string, 6)
	for i := range addrs {
		addrs[i] = newAddress()
	}
	testenv.Eventually(t, longWait, "the addresses to be allocated", func() error {
		for _, name := range addrs {
			a := &cloudv1.Address{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
				return err
			}
			if a.Status.PublicIP == "" {
				return fmt.Errorf("address %s has no IP yet", name)
			}
		}
		return nil
	})

	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	// Bursts of rounds, each burst checked: a stuck association is not mended by a later one.
	for burst := range 10 {
		for round := range 4 {
			addrs = raceAddressWishes(t, rnd, ns, addrs, insts, burst*4+round, newAddress)
		}
		testenv.Eventually(t, longWait, fmt.Sprintf("each instance to show the one address naming it after burst %d", burst), func() error {
			return testenv.OneAddressEach(ctx, env.Client, ns)
		})
	}
}

// raceAddressWishes writes one round's wish at once: each instance named by at most one of the
// addresses, and every few rounds one address deleted (and replaced by a new one, named by
// newAddress), whatever it is associated with. It returns the addresses for the next round.
func raceAddressWishes(t *testing.T, rnd *rand.Rand, ns string, addrs, insts []string, round int, newAddress func() string) []string {
	t.Helper()
	ctx := context.Background()
	wish := make([]string, len(addrs))
	for i, k := range rnd.Perm(len(addrs)) {
		if k < len(insts) && rnd.IntN(3) > 0 {
			wish[i] = insts[k]
		}
	}
	doomed := -1
	if round%4 == 3 {
		doomed = rnd.IntN(len(addrs))
	}
	for i, err := range testenv.Race(len(addrs), func(i int) error {
		obj := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: addrs[i]}}
		if i == doomed {
			return env.Client.Delete(ctx, obj)
		}
		body := fmt.Sprintf(`{"spec":{"instanceId":%q}}`, wish[i])
		if wish[i] == "" {
			body = `{"spec":{"instanceId":null}}`
		}
		return env.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(body)))
	}) {
		if err != nil {
			t.Fatalf("round %d, address %s: %v", round, addrs[i], err)
		}
	}
	next := slices.Clone(addrs)
	if doomed >= 0 {
		next[doomed] = newAddress()
	}
	return next
}

// Two addresses naming one instance (the EC2 API moves the instance to the newer one; a manifest
// can name it twice): the instance shows one of them, the other waits with Associated=False and
// takes the instance once the first lets it go, instead of the two taking it in turn.
func TestAddressesNamingOneInstance(t *testing.T) {
	startManager(t)
	ns := newNamespace(t)
	ctx := context.Background()
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: "twice-pool"},
		Spec: cloudv1.AddressPoolSpec{CIDRs: []string{"198.18.6.0/29"}}}
	if err := env.Client.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pool) })
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: ns}, Spec: cloudv1.InstanceSpec{ImageID: "img"}}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "an id for the instance", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		if inst.Status.InstanceID == "" {
			return errors.New("no id yet")
		}
		return nil
	})
	addrs := make([]*cloudv1.Address, 2)
	for i := range addrs {
		addrs[i] = &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("eip-%d", i), Namespace: ns},
			Spec: cloudv1.AddressSpec{Pool: pool.Name, InstanceID: inst.Status.InstanceID}}
		if err := env.Client.Create(ctx, addrs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// holderAndWaiter finds the address the instance shows and checks that the other waits.
	holderAndWaiter := func() (holder, waiter *cloudv1.Address, err error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return nil, nil, err
		}
		for _, a := range addrs {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(a), a); err != nil {
				return nil, nil, err
			}
		}
		for i, a := range addrs {
			if a.Status.PublicIP == "" || a.Status.PublicIP != inst.Status.PublicIPAddress {
				continue
			}
			other := addrs[1-i]
			c := conditions.Get(other, cloudv1.AddressAssociated)
			if a.Status.InstanceID != inst.Status.InstanceID || other.Status.InstanceID != "" ||
				c == nil || c.Reason != cloudv1.ReasonInstanceHasAddress {
				return nil, nil, fmt.Errorf("holder %s records %q; the other records %q, Associated %+v",
					a.Name, a.Status.InstanceID, other.Status.InstanceID, c)
			}
			return a, other, nil
		}
		return nil, nil, fmt.Errorf("the instance shows %q, neither address's IP", inst.Status.PublicIPAddress)
	}
	var holder, waiter *cloudv1.Address
	testenv.Eventually(t, shortWait, "one address to hold the instance and the other to wait", func() (err error) {
		holder, waiter, err = holderAndWaiter()
		return err
	})
	if err := testenv.Update(ctx, env.Client, holder, func(a *cloudv1.Address) { a.Spec.InstanceID = "" }); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the waiting address to take the instance", func() error {
		return testenv.OneAddressEach(ctx, env.Client, ns)
	})
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
		t.Fatal(err)
	}
	if inst.Status.PublicIPAddress != waiter.Status.PublicIP {
		t.Fatalf("the instance shows %q, the waiting address is %q", inst.Status.PublicIPAddress, waiter.Status.PublicIP)
	}
}
