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
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/sshkey"
	"pinet.io/pinet/internal/testenv"
)

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "objs-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func TestKeyPairs(t *testing.T) {
	startManager(t)
	ns := newNamespace(t)
	ctx := context.Background()
	dir := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "k")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	fp, _ := exec.Command("sh", "-c", "ssh-keygen -l -E sha256 -f "+filepath.Join(dir, "k.pub")+" | awk '{print $2}'").Output()
	pub, _ := exec.Command("cat", filepath.Join(dir, "k.pub")).Output()

	imported := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "laptop", Namespace: ns}, Spec: cloudv1.KeyPairSpec{PublicKey: string(pub)}}
	if err := env.Client.Create(ctx, imported); err != nil {
		t.Fatal(err)
	}
	waitReady(t, imported)
	want := strings.TrimPrefix(strings.TrimSpace(string(fp)), "SHA256:")
	if imported.Status.KeyType != cloudv1.KeyTypeED25519 || strings.TrimRight(imported.Status.Fingerprint, "=") != want ||
		!strings.HasPrefix(imported.Status.KeyPairID, "key-") {
		t.Fatalf("status %+v, ssh-keygen fingerprint %s", imported.Status, want)
	}

	// A generated key carries the fingerprint of its private key.
	g, err := sshkey.Generate(sshkey.RSA, "")
	if err != nil {
		t.Fatal(err)
	}
	gen := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "key-0123456789abcdef0", Namespace: ns,
		Annotations: map[string]string{cloudv1.AnnotationGeneratedFingerprint: g.Fingerprint}},
		Spec: cloudv1.KeyPairSpec{KeyName: "generated", PublicKey: g.Public}}
	if err := env.Client.Create(ctx, gen); err != nil {
		t.Fatal(err)
	}
	waitReady(t, gen)
	if gen.Status.Fingerprint != g.Fingerprint || gen.Status.KeyPairID != "key-0123456789abcdef0" || gen.Status.KeyType != cloudv1.KeyTypeRSA {
		t.Fatalf("generated key status %+v", gen.Status)
	}

	// Garbage and a duplicate key name are reported, not retried.
	bad := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Spec: cloudv1.KeyPairSpec{PublicKey: "ssh-rsa this-is-not-a-key"}}
	dup := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "dup", Namespace: ns}, Spec: cloudv1.KeyPairSpec{KeyName: "laptop", PublicKey: string(pub)}}
	for _, kp := range []*cloudv1.KeyPair{bad, dup} {
		if err := env.Client.Create(ctx, kp); err != nil {
			t.Fatal(err)
		}
	}
	for kp, reason := range map[*cloudv1.KeyPair]string{bad: cloudv1.ReasonInvalidPublicKey, dup: cloudv1.ReasonDuplicateKeyName} {
		testenv.Eventually(t, shortWait, kp.Name+" "+reason, func() error {
			_ = env.Client.Get(ctx, client.ObjectKeyFromObject(kp), kp)
			if c := conditions.Get(kp, cloudv1.ReadyCondition); c == nil || c.Reason != reason {
				return fmt.Errorf("ready %+v", c)
			}
			return nil
		})
	}
	// When the original goes, the namesake takes the name.
	if err := env.Client.Delete(ctx, imported); err != nil {
		t.Fatal(err)
	}
	waitReady(t, dup)

	// A refused key holds no name: a valid key of the same name made after it is ready.
	badNamesake := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: ns}, Spec: cloudv1.KeyPairSpec{KeyName: "spare", PublicKey: "ssh-ed25519 AAAA"}}
	if err := env.Client.Create(ctx, badNamesake); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "broken InvalidPublicKey", func() error {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(badNamesake), badNamesake)
		if c := conditions.Get(badNamesake, cloudv1.ReadyCondition); c == nil || c.Reason != cloudv1.ReasonInvalidPublicKey {
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})
	spare := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "spare", Namespace: ns}, Spec: cloudv1.KeyPairSpec{PublicKey: string(pub)}}
	if err := env.Client.Create(ctx, spare); err != nil {
		t.Fatal(err)
	}
	waitReady(t, spare)
}

func TestSecurityGroups(t *testing.T) {
	startManager(t)
	ns := newNamespace(t)
	ctx := context.Background()
	web := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: cloudv1.SecurityGroupSpec{
		Ingress: []cloudv1.IngressRule{{Protocol: cloudv1.ProtocolTCP, FromPort: ptr.To[int32](80), ToPort: ptr.To[int32](80), SourceGroups: []string{"lb"}}},
	}}
	if err := env.Client.Create(ctx, web); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "SourceGroupNotFound", func() error {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(web), web)
		if c := conditions.Get(web, cloudv1.ReadyCondition); c == nil || c.Reason != "SourceGroupNotFound" || !strings.Contains(c.Message, "lb") {
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})
	lb := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: ns}}
	if err := env.Client.Create(ctx, lb); err != nil {
		t.Fatal(err)
	}
	waitReady(t, web)
	if !strings.HasPrefix(web.Status.GroupID, "sg-") || web.Status.OwnerID != ns {
		t.Fatalf("status %+v", web.Status)
	}
}

func TestAddressesComeFromTheirPoolOnce(t *testing.T) {
	startManager(t)
	ns := newNamespace(t)
	ctx := context.Background()
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: "tiny-pool"},
		Spec: cloudv1.AddressPoolSpec{CIDRs: []string{"203.0.113.0/30"}, Exclude: []string{"203.0.113.0"}}}
	if err := env.Client.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var addrs []*cloudv1.Address
	for i := 0; i < 4; i++ {
		a := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("eip-%d", i), Namespace: ns}, Spec: cloudv1.AddressSpec{Pool: "tiny-pool"}}
		if err := env.Client.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, a)
	}
	// Three addresses fit; the fourth says the pool is exhausted.
	seen := map[string]bool{}
	testenv.Eventually(t, longWait, "three allocations and one exhausted", func() error {
		seen = map[string]bool{}
		exhausted := 0
		for _, a := range addrs {
			_ = env.Client.Get(ctx, client.ObjectKeyFromObject(a), a)
			if a.Status.PublicIP != "" {
				seen[a.Status.PublicIP] = true
			}
			if c := conditions.Get(a, cloudv1.AddressAllocated); c != nil && c.Reason == cloudv1.ReasonPoolExhausted {
				exhausted++
			}
		}
		if len(seen) != 3 || exhausted != 1 {
			return fmt.Errorf("%d distinct addresses, %d exhausted", len(seen), exhausted)
		}
		return nil
	})
	if seen["203.0.113.0"] {
		t.Fatal("an excluded address was handed out")
	}
	testenv.Eventually(t, shortWait, "pool counts", func() error {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(pool), pool)
		if pool.Status.Total != 3 || pool.Status.Allocated != 3 {
			return fmt.Errorf("pool status %+v", pool.Status)
		}
		return nil
	})

	// Association mirrors into the instance; deleting an address frees it for the waiting one.
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: cloudv1.InstanceSpec{ImageID: "img"}}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the instance id", func() error {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst)
		if inst.Status.InstanceID == "" {
			return fmt.Errorf("no id yet")
		}
		return nil
	})
	var holder *cloudv1.Address
	for _, a := range addrs {
		if a.Status.PublicIP != "" {
			holder = a
			break
		}
	}
	if err := testenv.Update(ctx, env.Client, holder, func(a *cloudv1.Address) { a.Spec.InstanceID = inst.Status.InstanceID }); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the association", func() error {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst)
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(holder), holder)
		if inst.Status.PublicIPAddress != holder.Status.PublicIP || holder.Status.InstanceID != inst.Status.InstanceID ||
			!strings.HasPrefix(holder.Status.AssociationID, "eipassoc-") {
			return fmt.Errorf("instance ip %q, address %+v", inst.Status.PublicIPAddress, holder.Status)
		}
		return nil
	})
	testenv.Eventually(t, shortWait, "an Associated event", func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "Associated" && e.Regarding.Name == holder.Name && strings.Contains(e.Note, inst.Status.InstanceID) {
				return nil
			}
		}
		return fmt.Errorf("%d events, none Associated", len(list.Items))
	})
	freed := holder.Status.PublicIP
	if err := env.Client.Delete(ctx, holder); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the freed address to go to the waiting one", func() error {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst)
		for _, a := range addrs {
			if a == holder {
				continue
			}
			_ = env.Client.Get(ctx, client.ObjectKeyFromObject(a), a)
			if a.Status.PublicIP == freed && inst.Status.PublicIPAddress == "" {
				return nil
			}
		}
		return fmt.Errorf("instance ip %q", inst.Status.PublicIPAddress)
	})
}

// Many allocators racing over a small set never hand out one address twice.
func TestIPAMConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	set, err := ipam.NewSet("race", []string{"198.18.0.0/28"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	al := &ipam.Allocator{Client: env.Client, Reader: env.Client, Namespace: testenv.SystemNamespace}
	var mu sync.Mutex
	got := map[netip.Addr]string{}
	exhausted := 0
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(holder string) {
			defer wg.Done()
			a, err := al.Allocate(ctx, set, holder)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				exhausted++
				return
			}
			if other, dup := got[a]; dup {
				t.Errorf("%s handed to %s and %s", a, other, holder)
			}
			got[a] = holder
		}(fmt.Sprintf("holder-%d", i))
	}
	wg.Wait()
	if len(got) != 16 || exhausted != 4 {
		t.Fatalf("%d allocated, %d exhausted", len(got), exhausted)
	}
	// A holder asking again gets its own address back.
	for a, holder := range got {
		again, err := al.Allocate(ctx, set, holder)
		if err != nil || again != a {
			t.Fatalf("%s asked again: %s %v, had %s", holder, again, err, a)
		}
		if err := al.Release(ctx, "race", holder); err != nil {
			t.Fatal(err)
		}
		lease := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: ipam.ClaimName("race", a)}, lease); !apierrors.IsNotFound(err) {
			t.Fatalf("claim on %s survived its release: %v", a, err)
		}
		break
	}
}
