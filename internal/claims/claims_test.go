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

package claims_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func claimer() *claims.Claimer {
	return &claims.Claimer{Client: env.Client, Reader: env.Client, Namespace: testenv.SystemNamespace}
}

// keyPair creates a real object to hold claims in namespace ns.
func keyPair(t *testing.T, ns, name string) *cloudv1.KeyPair {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	kp := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cloudv1.KeyPairSpec{PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBr7mMz0uH6jyW1w4E6B3N9d8wB6n7m9l0C1a2b3c4d5 t"}}
	if err := env.Client.Create(ctx, kp); err != nil {
		t.Fatal(err)
	}
	return kp
}

// Of many objects in different projects that want one id at once, exactly one gets it.
func TestConcurrentClaimsOfOneID(t *testing.T) {
	const id = "key-0123456789abcdef0"
	var holders []*cloudv1.KeyPair
	for i := 0; i < 12; i++ {
		holders = append(holders, keyPair(t, fmt.Sprintf("claims-p%d", i), "kp"))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(holders))
	for i, h := range holders {
		wg.Add(1)
		go func(i int, h *cloudv1.KeyPair) {
			defer wg.Done()
			errs[i] = claimer().Claim(context.Background(), id, claims.HolderOf("KeyPair", h))
		}(i, h)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, claims.ErrTaken):
			t.Fatalf("claim: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d objects hold %s, want 1", won, id)
	}
}

// A claim whose holder is gone is taken over; one whose holder lives is not; releasing drops
// only the holder's own claims.
func TestStaleClaimsAndRelease(t *testing.T) {
	ctx := context.Background()
	c := claimer()
	first, second := keyPair(t, "claims-stale-a", "kp"), keyPair(t, "claims-stale-b", "kp")
	id, taken, err := c.Assign(ctx, "key", "key-00000000000000abc", claims.HolderOf("KeyPair", first))
	if err != nil || taken || id != "key-00000000000000abc" {
		t.Fatalf("assign: %s %v %v", id, taken, err)
	}
	id2, taken, err := c.Assign(ctx, "key", "key-00000000000000abc", claims.HolderOf("KeyPair", second))
	if err != nil || !taken || id2 == id {
		t.Fatalf("a second object got %s (taken %v, %v)", id2, taken, err)
	}
	if err := c.Release(ctx, id, second.UID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Holds(ctx, id, first.UID); !ok {
		t.Fatal("another object's release dropped the claim")
	}
	if err := env.Client.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := c.Claim(ctx, id, claims.HolderOf("KeyPair", second)); err != nil {
		t.Fatalf("taking over a stale claim: %v", err)
	}
	if err := c.ReleaseAll(ctx, second.UID); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{id, id2} {
		if ok, _ := c.Holds(ctx, want, second.UID); ok {
			t.Fatalf("%s still held after ReleaseAll", want)
		}
	}
}

// The sweeper removes claims whose holders are gone, once they are older than the grace, and
// leaves the living's.
func TestSweeperRemovesStaleClaims(t *testing.T) {
	ctx := context.Background()
	c := claimer()
	alive, doomed := keyPair(t, "claims-sweep-a", "kp"), keyPair(t, "claims-sweep-b", "kp")
	for _, h := range []struct {
		id string
		kp *cloudv1.KeyPair
	}{{"key-000000000000000a1", alive}, {"key-000000000000000d1", doomed}} {
		if err := c.Claim(ctx, h.id, claims.HolderOf("KeyPair", h.kp)); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Delete(ctx, doomed); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakePassiveClock(time.Now())
	s := &claims.Sweeper{Claimer: c, Clock: clk, Grace: time.Hour}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("within the grace: removed %d, %v", n, err)
	}
	clk.SetTime(time.Now().Add(2 * time.Hour))
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: claims.LeaseName("key-000000000000000d1")}, lease); !apierrors.IsNotFound(err) {
		t.Fatalf("the stale claim is still there: %v", err)
	}
	if ok, _ := c.Holds(ctx, "key-000000000000000a1", alive.UID); !ok {
		t.Fatal("the sweeper removed a living object's claim")
	}
}
