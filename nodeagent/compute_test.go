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

package nodeagent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"libvirt.org/go/libvirtxml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// An instance gets a copy-on-write root over the cached image and sparse ephemeral and swap disks
// of its type's sizes; terminating it removes them.
func TestDisksFollowTheInstanceType(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "disks-1", "zone-disks", 4, 8192)
	ns := newProject(t, c, "agent-disks")
	inst := newInstance(t, ns, "vm", "m1.small", "zone-disks")
	key := client.ObjectKeyFromObject(inst)
	inst = waitState(t, key, cloudv1.InstanceStateRunning)
	dir := filepath.Join(node.StateDir(), "instances", inst.Status.InstanceID)

	out, err := exec.Command("qemu-img", "info", filepath.Join(dir, "root.qcow2")).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img info: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "virtual size: 10 GiB") || !strings.Contains(string(out), "backing file: "+filepath.Join(node.StateDir(), "images")) {
		t.Fatalf("root disk is not a 10 GiB overlay of the cached image:\n%s", out)
	}
	for file, size := range map[string]int64{"ephemeral0.img": 20 << 30, "swap.img": 512 << 20} {
		st, err := os.Stat(filepath.Join(dir, file))
		if err != nil || st.Size() != size {
			t.Fatalf("%s: %v, size %d want %d", file, err, st.Size(), size)
		}
	}
	d := node.Domains(t)[inst.Status.InstanceID]
	for _, want := range []string{"root.qcow2", "ephemeral0.img", "swap.img", "<entry name='serial'>" + inst.Status.InstanceID} {
		if !strings.Contains(d.XML, want) {
			t.Fatalf("domain XML lacks %q:\n%s", want, d.XML)
		}
	}
	// The instance-store disks take the guest disks the type says they do, which the EC2 API
	// keeps volumes from.
	it := &cloudv1.InstanceType{}
	if err := c.Env.Client.Get(context.Background(), client.ObjectKey{Name: "m1.small"}, it); err != nil {
		t.Fatal(err)
	}
	dom := &libvirtxml.Domain{}
	if err := dom.Unmarshal(d.XML); err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{}
	for _, disk := range dom.Devices.Disks {
		if disk.Source != nil && disk.Source.File != nil && disk.Target != nil {
			targets[filepath.Base(disk.Source.File.File)] = disk.Target.Dev
		}
	}
	stores := it.InstanceStoreDisks()
	if len(stores) != 2 {
		t.Fatalf("m1.small's instance stores: %v", stores)
	}
	for i, name := range stores {
		if got, want := targets[name+".img"], "vd"+string(rune('b'+i)); got != want {
			t.Errorf("%s is at %q, want %q (targets %v)", name, got, want, targets)
		}
	}

	update(t, key, func(i *cloudv1.Instance) { i.Spec.DesiredState = cloudv1.DesiredTerminated })
	waitState(t, key, cloudv1.InstanceStateTerminated)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the instance's files survived its termination: %v", err)
	}
}

// A cached image that changed on disk is checked against its MD5 and fetched again before a new
// instance uses it.
func TestCorruptedCachedImageIsFetchedAgain(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "corrupt-1", "zone-corrupt", 4, 8192)
	ns := newProject(t, c, "agent-corrupt")
	first := waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "first", "m1.tiny", "zone-corrupt")), cloudv1.InstanceStateRunning)
	img := &cloudv1.Image{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "img"}, img); err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(node.StateDir(), "images", img.Status.ImageID, "image")
	good, err := os.ReadFile(cached)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte(strings.Repeat("X", len(good))), 0o644); err != nil {
		t.Fatal(err)
	}
	waitState(t, client.ObjectKeyFromObject(newInstance(t, ns, "second", "m1.tiny", "zone-corrupt")), cloudv1.InstanceStateRunning)
	now, _ := os.ReadFile(cached)
	if string(now) != string(good) {
		t.Fatal("the corrupted cached image is still in use")
	}
	_ = first
}

// A guest that powers itself off makes its instance stopped, as in EC2; starting it again works.
func TestGuestPowerOffStopsTheInstance(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "poweroff-1", "zone-poweroff", 2, 4096)
	ns := newProject(t, c, "agent-poweroff")
	inst := newInstance(t, ns, "vm", "m1.tiny", "zone-poweroff")
	key := client.ObjectKeyFromObject(inst)
	inst = waitState(t, key, cloudv1.InstanceStateRunning)
	// What a guest's poweroff looks like to libvirt.
	if err := node.Conn.Shutdown(inst.Status.InstanceID); err != nil {
		t.Fatal(err)
	}
	generation := inst.Generation
	inst = waitState(t, key, cloudv1.InstanceStateStopped)
	if inst.Status.StateReason != cloudv1.ReasonShutdownByGuest || inst.Status.GuestShutdown == nil {
		t.Fatalf("after a guest power-off: reason %q, guest shutdown %+v", inst.Status.StateReason, inst.Status.GuestShutdown)
	}
	// The spec is the user's: no controller rewrote it.
	if inst.Spec.DesiredState != cloudv1.DesiredRunning || inst.Generation != generation {
		t.Fatalf("a controller rewrote the spec: desired %s, generation %d (was %d)", inst.Spec.DesiredState, inst.Generation, generation)
	}
	time.Sleep(2 * time.Second)
	if st := node.Domains(t)[inst.Status.InstanceID].State; st != "shutoff" {
		t.Fatalf("the agent restarted a guest that powered itself off: %s", st)
	}
	// A start request (what StartInstances sends) starts it again.
	update(t, key, func(i *cloudv1.Instance) {
		i.Annotations[cloudv1.AnnotationStartRequested] = time.Now().UTC().Format(time.RFC3339Nano)
	})
	if got := waitState(t, key, cloudv1.InstanceStateRunning); got.Status.GuestShutdown != nil {
		t.Fatalf("running with a guest shutdown recorded: %+v", got.Status.GuestShutdown)
	}

	// A reboot request is carried out once.
	request := time.Now().UTC().Format(time.RFC3339Nano)
	update(t, key, func(i *cloudv1.Instance) { i.Annotations[cloudv1.AnnotationRebootRequested] = request })
	testenv.Eventually(t, shortWait, "the reboot to be recorded", func() error {
		got, err := get(t, key)
		if err != nil {
			return err
		}
		if got.Status.Domain != nil && got.Status.Domain.RebootRequest == request {
			return nil
		}
		return fmt.Errorf("domain %+v", got.Status.Domain)
	})
	if got := waitState(t, key, cloudv1.InstanceStateRunning); !conditions.IsTrue(got, cloudv1.ReadyCondition) {
		t.Fatalf("not ready after the reboot: %+v", got.Status.Conditions)
	}
}

// A guest that powers itself off with shutdown behavior terminate ends terminated, its domain
// removed, its spec untouched.
func TestGuestPowerOffTerminatesTheInstance(t *testing.T) {
	c := startCloud(t)
	node := c.AddNode(t, "poweroff-term-1", "zone-poweroff-term", 2, 4096)
	ns := newProject(t, c, "agent-poweroff-term")
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: ns},
		Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny", AvailabilityZone: "zone-poweroff-term",
			ShutdownBehavior: cloudv1.ShutdownBehaviorTerminate},
	}
	if err := env.Client.Create(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(inst)
	inst = waitState(t, key, cloudv1.InstanceStateRunning)
	generation := inst.Generation
	if err := node.Conn.Shutdown(inst.Status.InstanceID); err != nil {
		t.Fatal(err)
	}
	inst = waitState(t, key, cloudv1.InstanceStateTerminated)
	if inst.Spec.DesiredState != cloudv1.DesiredRunning || inst.Generation != generation {
		t.Fatalf("a controller rewrote the spec: desired %s, generation %d (was %d)", inst.Spec.DesiredState, inst.Generation, generation)
	}
	if inst.Status.StateReason != cloudv1.ReasonShutdownByGuest {
		t.Errorf("state reason %q", inst.Status.StateReason)
	}
	testenv.Eventually(t, longWait, "the domain to be removed", func() error {
		if _, ok := node.Domains(t)[inst.Status.InstanceID]; ok {
			return errors.New("it is still defined")
		}
		return nil
	})
	waitGone(t, key) // after the retention period
}

// update changes an instance, retrying when someone else changed it first.
func update(t *testing.T, key client.ObjectKey, mutate func(*cloudv1.Instance)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		inst, err := get(t, key)
		if err != nil {
			return err
		}
		if inst.Annotations == nil {
			inst.Annotations = map[string]string{}
		}
		mutate(inst)
		return env.Client.Update(context.Background(), inst)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An instance whose key pair is gone by the time its node defines it is not booted without the
// key: it stays pending with the reason, and boots with the key once a key pair of that name is
// back.
func TestMissingKeyPairFailsTheLaunch(t *testing.T) {
	c := startCloud(t)
	ns := newProject(t, c, "agent-keyless")
	ctx := context.Background()
	kp := &cloudv1.KeyPair{
		ObjectMeta: metav1.ObjectMeta{Name: "mykey", Namespace: ns},
		Spec:       cloudv1.KeyPairSpec{PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEl6bm9QWzhrFsd2w6vL3JbYmbQm5ytq3ww6w5+3cO7N keyless"},
	}
	if err := env.Client.Create(ctx, kp); err != nil {
		t.Fatal(err)
	}
	// No node serves the zone yet: the instance resolves its references and waits to be placed.
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: ns},
		Spec:       cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny", AvailabilityZone: "zone-keyless", KeyName: "mykey"},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(inst)
	testenv.Eventually(t, longWait, "the references to resolve", func() error {
		got, err := get(t, key)
		if err != nil {
			return err
		}
		if conditions.IsTrue(got, cloudv1.InstanceReferencesResolved) {
			return nil
		}
		return fmt.Errorf("conditions %v", got.Status.Conditions)
	})
	if err := env.Client.Delete(ctx, kp); err != nil {
		t.Fatal(err)
	}
	node := c.AddNode(t, "keyless-1", "zone-keyless", 2, 4096)

	testenv.Eventually(t, longWait, "the launch to fail for the key pair", func() error {
		got, err := get(t, key)
		if err != nil {
			return err
		}
		cond := conditions.Get(got, cloudv1.InstanceDomainDefined)
		if cond != nil && cond.Reason == cloudv1.ReasonKeyPairNotFound {
			return nil
		}
		return fmt.Errorf("conditions %v", got.Status.Conditions)
	})
	got, err := get(t, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.State != cloudv1.InstanceStatePending || conditions.IsTrue(got, cloudv1.ReadyCondition) {
		t.Fatalf("state %s, ready %v: want pending", got.Status.State, conditions.IsTrue(got, cloudv1.ReadyCondition))
	}
	if d, ok := node.Domains(t)[got.Status.InstanceID]; ok {
		t.Fatalf("a domain was defined without the key pair: %+v", d)
	}

	kp = &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "mykey-again", Namespace: ns}, Spec: cloudv1.KeyPairSpec{KeyName: "mykey", PublicKey: kp.Spec.PublicKey}}
	if err := env.Client.Create(ctx, kp); err != nil {
		t.Fatal(err)
	}
	waitState(t, key, cloudv1.InstanceStateRunning)
}
