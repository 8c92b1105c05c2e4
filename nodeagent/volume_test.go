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
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
)

// storageNode starts a storage node (testcloud.AddStorageNode) and returns it with its storage
// network and the directory of its volumes' backing files.
func storageNode(t *testing.T, c *testcloud.Cloud, name, zone string, capacityGiB int64) (*testcloud.Node, *aoetest.Pair, string) {
	t.Helper()
	n := c.AddStorageNode(t, name, zone, capacityGiB)
	return n, n.StorageNet, n.VolumeDir()
}

// waitVolume waits until the volume's state is want.
func waitVolume(t *testing.T, v *cloudv1.Volume, want cloudv1.VolumeState) *cloudv1.Volume {
	t.Helper()
	testenv.Eventually(t, longWait, v.Name+" "+string(want), func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(v), v); err != nil {
			return err
		}
		if v.Status.State != want {
			return fmt.Errorf("state %q, conditions %+v", v.Status.State, v.Status.Conditions)
		}
		return nil
	})
	return v
}

// dial reaches the volume's export from the B end of the pair, as an initiator on another host.
func dial(t *testing.T, pair *aoetest.Pair, v *cloudv1.Volume) *aoe.Device {
	t.Helper()
	conn, err := aoetest.ListenIn(pair.NSB, pair.IfaceB)
	if err != nil {
		t.Fatal(err)
	}
	dl := aoe.Dialer{Conn: conn}
	d, err := dl.Dial(context.Background(), "", uint16(v.Status.AoE.Shelf), uint8(v.Status.AoE.Slot))
	if err != nil {
		t.Fatalf("dialling e%d.%d: %v", v.Status.AoE.Shelf, v.Status.AoE.Slot, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func backingFile(dir string, v *cloudv1.Volume) string {
	return filepath.Join(dir, string(v.UID)+".img")
}

// A volume placed on a storage node is made as a sparse file and exported over AoE: an initiator
// in another namespace reads and writes it, and the bytes are in the file. After the agent is
// killed and restarted, the export is back at the same address with the data. A snapshot of it,
// copied by the storage node into the object store, holds little more than what was written,
// and a volume made from it has the same bytes. Deleting a volume removes its export, its file
// and its address.
func TestStorageNodeExportsSnapshotsAndRemovesVolumes(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	ns := "storage"
	c.AddProjectWithQuota(t, ns, testcloud.NoQuota())
	node, pair, dir := storageNode(t, c, "store-1", "zone-store", 100)
	testenv.Eventually(t, shortWait, "the storage role reported", func() error {
		hv := &cloudv1.Hypervisor{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: node.Name}, hv); err != nil {
			return err
		}
		if s := hv.Status.Storage; s == nil || s.CapacityGiB != 100 || s.Interface != pair.IfaceA {
			return fmt.Errorf("storage %+v", s)
		}
		return nil
	})

	v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns},
		Spec: cloudv1.VolumeSpec{SizeGiB: 10, AvailabilityZone: "zone-store"}}
	if err := env.Client.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	v = waitVolume(t, v, cloudv1.VolumeStateAvailable)
	if !conditions.IsTrue(v, cloudv1.VolumeExported) || v.Status.AoE.Node != node.Name {
		t.Fatalf("available but %+v", v.Status)
	}
	fi, err := os.Stat(backingFile(dir, v))
	if err != nil || fi.Size() != 10<<30 {
		t.Fatalf("backing file: %v %v", fi, err)
	}

	// 1 MiB of random bytes at 3 GiB, through AoE from the other namespace.
	d := dial(t, pair, v)
	if d.Size() != 10<<30 {
		t.Fatalf("the device has %d bytes", d.Size())
	}
	pattern := make([]byte, 1<<20)
	_, _ = rand.Read(pattern)
	const off = 3 << 30
	if _, err := d.WriteAt(pattern, off); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	inFile(t, backingFile(dir, v), off, pattern)

	// kill the agent and start it again: same address, same data.
	addr := *v.Status.AoE
	_ = d.Close()
	node.Stop()
	node.Start()
	testenv.Eventually(t, longWait, "the export back after the restart", func() error {
		conn, err := aoetest.ListenIn(pair.NSB, pair.IfaceB)
		if err != nil {
			return err
		}
		dl := aoe.Dialer{Conn: conn, Timeout: 3e9}
		d2, err := dl.Dial(ctx, "", uint16(addr.Shelf), uint8(addr.Slot))
		if err != nil {
			return err
		}
		defer func() { _ = d2.Close() }()
		got := make([]byte, len(pattern))
		if _, err := d2.ReadAt(got, off); err != nil {
			return err
		}
		if !bytes.Equal(got, pattern) {
			return errors.New("the data read after the restart differs")
		}
		return nil
	})
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil || *v.Status.AoE != addr {
		t.Fatalf("address %+v after the restart, was %+v (%v)", v.Status.AoE, addr, err)
	}

	// A snapshot, copied by the storage node: small, and a new volume from it has the bytes.
	snap := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "snap", Namespace: ns}, Spec: cloudv1.SnapshotSpec{VolumeID: v.Status.VolumeID}}
	if err := env.Client.Create(ctx, snap); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the snapshot completed", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(snap), snap); err != nil {
			return err
		}
		if snap.Status.State != cloudv1.SnapshotCompleted {
			return fmt.Errorf("status %+v", snap.Status)
		}
		return nil
	})
	if snap.Status.Progress != 100 || snap.Status.StoredBytes < 1<<20 || snap.Status.StoredBytes >= 20<<20 {
		t.Fatalf("a 10 GiB volume holding 1 MiB stored %d bytes (progress %d)", snap.Status.StoredBytes, snap.Status.Progress)
	}
	restored := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "restored", Namespace: ns},
		Spec: cloudv1.VolumeSpec{SizeGiB: 12, AvailabilityZone: "zone-store", SnapshotID: snap.Status.SnapshotID}}
	if err := env.Client.Create(ctx, restored); err != nil {
		t.Fatal(err)
	}
	restored = waitVolume(t, restored, cloudv1.VolumeStateAvailable)
	inFile(t, backingFile(dir, restored), off, pattern)
	d3 := dial(t, pair, restored)
	got := make([]byte, len(pattern))
	if _, err := d3.ReadAt(got, off); err != nil || !bytes.Equal(got, pattern) {
		t.Fatalf("the volume made from the snapshot reads other bytes (%v)", err)
	}
	if d3.Size() != 12<<30 {
		t.Fatalf("the restored volume has %d bytes", d3.Size())
	}

	// A snapshot said to be completed whose objects do not exist: the volume from it ends in
	// error, and no backing file is left half-made.
	ghost := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "ghost", Namespace: ns}, Spec: cloudv1.SnapshotSpec{VolumeID: "vol-0123456789abcdef0"}}
	if err := env.Client.Create(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the ghost snapshot failed", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ghost), ghost); err != nil {
			return err
		}
		if ghost.Status.State != cloudv1.SnapshotError {
			return fmt.Errorf("status %+v", ghost.Status)
		}
		return nil
	})
	ghost.Status.State, ghost.Status.VolumeSizeGiB = cloudv1.SnapshotCompleted, 1
	if err := env.Client.Status().Update(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	fromGhost := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "from-ghost", Namespace: ns},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "zone-store", SnapshotID: ghost.Status.SnapshotID}}
	if err := env.Client.Create(ctx, fromGhost); err != nil {
		t.Fatal(err)
	}
	fromGhost = waitVolume(t, fromGhost, cloudv1.VolumeStateError)
	if c := conditions.Get(fromGhost, cloudv1.VolumeExported); c == nil || c.Reason != cloudv1.ReasonExportFailed {
		t.Fatalf("Exported %+v", c)
	}
	for _, p := range []string{backingFile(dir, fromGhost), backingFile(dir, fromGhost) + ".new"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s is left: %v", p, err)
		}
	}

	// Growing the volume grows the file and the device.
	if err := testenv.Update(ctx, env.Client, restored, func(v *cloudv1.Volume) { v.Spec.SizeGiB = 13 }); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the grown device", func() error {
		conn, err := aoetest.ListenIn(pair.NSB, pair.IfaceB)
		if err != nil {
			return err
		}
		dl := aoe.Dialer{Conn: conn, Timeout: 3e9}
		d, err := dl.Dial(ctx, "", uint16(restored.Status.AoE.Shelf), uint8(restored.Status.AoE.Slot))
		if err != nil {
			return err
		}
		defer func() { _ = d.Close() }()
		if d.Size() != 13<<30 {
			return fmt.Errorf("the device has %d bytes", d.Size())
		}
		return nil
	})
	inFile(t, backingFile(dir, restored), off, pattern)
	// Grown past what its storage node holds, it is not given the size: the file stays as it was.
	if err := testenv.Update(ctx, env.Client, restored, func(v *cloudv1.Volume) { v.Spec.SizeGiB = 1000 }); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the growth refused", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(restored), restored); err != nil {
			return err
		}
		if c := conditions.Get(restored, cloudv1.VolumeResized); c == nil || c.Reason != cloudv1.ReasonNoStorageNode {
			return fmt.Errorf("Resized is %+v", c)
		}
		return nil
	})
	// The storage agent saw the spec change as the controller did: give it time to act on it.
	for range 6 {
		fi, err := os.Stat(backingFile(dir, restored))
		if err != nil || fi.Size() != 13<<30 || restored.Status.SizeGiB != 13 {
			t.Fatalf("the volume refused its growth has size %d GiB, a file of %+v (%v)", restored.Status.SizeGiB, fi, err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Deleting: the export, the file and the address go.
	claimName := fmt.Sprintf("aoe-%d-%d", addr.Shelf, addr.Slot)
	path := backingFile(dir, v)
	if err := env.Client.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the volume gone", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v %+v", err, v.Status.Conditions)
		}
		return nil
	})
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the backing file is left: %v", err)
	}
	claim := &coordinationv1.Lease{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: claimName}, claim); err == nil && claim.Labels["ipam.pinet.io/holder"] == string(v.UID) {
		t.Fatalf("the address claim %s is left", claimName)
	}
	conn, err := aoetest.ListenIn(pair.NSB, pair.IfaceB)
	if err != nil {
		t.Fatal(err)
	}
	dl := aoe.Dialer{Conn: conn, Timeout: 3e9}
	if d, err := dl.Dial(ctx, "", uint16(addr.Shelf), uint8(addr.Slot)); err == nil {
		_ = d.Close()
		t.Fatalf("e%d.%d still answers", addr.Shelf, addr.Slot)
	}
}

// inFile checks that the file holds want at off.
func inFile(t *testing.T, path string, off int64, want []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s does not hold the bytes written at %d", path, off)
	}
}
