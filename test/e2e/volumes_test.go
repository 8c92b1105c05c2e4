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

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/internal/testenv"
)

// waitVolumeDisk is the start of a guest's user data that waits for the volume's disk, found by
// its serial (virtio keeps the first 20 characters of the volume id), and names it $d.
func waitVolumeDisk(volumeID string) string {
	return fmt.Sprintf(`#!/bin/sh
echo "waiting for the disk of %[1]s"
d=
while [ -z "$d" ]; do
  for s in /sys/block/*/serial; do
    case "$(cat $s 2>/dev/null)" in %[1]s*) d=$(basename $(dirname $s)) ;; esac
  done
  [ -n "$d" ] || sleep 1
done
echo "new disk $d sectors $(cat /sys/block/$d/size)"
`, volumeID[:min(len(volumeID), 20)])
}

// volumePattern is what the first guest writes at the start of the volume.
const volumePattern = "PINET-VOLUME-PATTERN-7f3a"

// writesPattern: the first guest writes the pattern and flushes it to the volume.
const writesPattern = `printf '` + volumePattern + `\n' | dd of=/dev/$d bs=512 conv=sync,fsync 2>/dev/null && sync && echo "pattern written to $d"
`

// readsThenWrites: the second guest reads the pattern, then writes numbered records, one 512-byte
// sector each from sector 4096 on, printing "acked N" once record N is flushed to the volume.
const readsThenWrites = `echo "read: $(dd if=/dev/$d bs=512 count=1 2>/dev/null | head -n 1)"
i=1
while true; do
  if printf 'REC-%08d\n' $i | dd of=/dev/$d bs=512 seek=$((4096 + i)) conv=sync,fsync 2>/dev/null; then echo "acked $i"; i=$((i + 1)); fi
  sleep 0.5
done
`

// recordsWritten is how many records writesRecords writes.
const recordsWritten = 60

// writesRecords: the guest writes numbered records as readsThenWrites does, recordsWritten of
// them, and then says "writer done".
var writesRecords = fmt.Sprintf(`i=1
while [ $i -le %d ]; do
  if printf 'REC-%%08d\n' $i | dd of=/dev/$d bs=512 seek=$((4096 + i)) conv=sync,fsync 2>/dev/null; then echo "acked $i"; i=$((i + 1)); fi
  sleep 0.5
done
echo "writer done"
`, recordsWritten)

// lastRecord is the last of the records 1, 2, … the backing file holds in a row.
func lastRecord(t *testing.T, backing string) int {
	t.Helper()
	n := 0
	for {
		want := fmt.Sprintf("REC-%08d\n", n+1)
		if readAt(t, backing, int64(4096+n+1)*512, len(want)) != want {
			return n
		}
		n++
	}
}

// storageNode starts, in zone pinet-1b, a storage-only node (too little memory for any instance)
// whose AoE targets serve on store0 in a namespace of its own; store1, the other end of the
// storage network, is in ns (node 2's).
func storageNode(t *testing.T, ns string) *Node {
	t.Helper()
	st := newNetNS(t, "st")
	ipCmd(t, "-n", st, "link", "add", "store0", "type", "veth", "peer", "name", "store1", "netns", ns)
	ipCmd(t, "-n", st, "link", "set", "store0", "up")
	ipCmd(t, "-n", ns, "link", "set", "store1", "up")
	return addNode(t, NodeOptions{Name: "e2e-store-1", Zone: node2Zone, MemoryMiB: 256,
		StorageNS: st, StorageInterface: "store0", StorageGiB: 4})
}

type volumeJSON struct {
	VolumeId, State string
	Size            int
	Attachments     []struct{ InstanceId, State string }
}

func waitVolume(t *testing.T, id, state string) {
	t.Helper()
	testenv.Eventually(t, 3*time.Minute, id+" "+state, func() error {
		var out struct{ Volumes []volumeJSON }
		awsJSON(t, &out, "ec2", "describe-volumes", "--volume-ids", id)
		if len(out.Volumes) != 1 || out.Volumes[0].State != state {
			return fmt.Errorf("%+v", out.Volumes)
		}
		return nil
	})
}

// The first acceptance point: a volume stored on node A (e2e-store-1) is attached with
// the AWS CLI to a running guest on node B (node 2), which sees a disk of its size and writes a
// pattern; detached and attached to a second guest, the pattern is read back, and it is in the
// backing file on node A. Then the kill -9 point: while the second guest writes, the storage
// node's agent is killed and restarted; the export comes back at the same address, the guest's
// writes go on, and every write it saw acknowledged is in the backing file. Deleting the volume
// while attached is refused (VolumeInUse); terminating the guest detaches it; deleting it then
// removes the backing file.
func TestVolumeMovesBetweenGuestsOnAnotherNode(t *testing.T) {
	ami := sampleAMI(t)
	ns2 := node2NS(t)
	store := storageNode(t, ns2)
	startNode2(t, ns2, "store1")

	var vol volumeJSON
	awsJSON(t, &vol, "ec2", "create-volume", "--size", "1", "--availability-zone", node2Zone)
	t.Cleanup(func() { _, _ = cloud.AWS("ec2", "delete-volume", "--volume-id", vol.VolumeId) })
	g1 := runInstances(t, "--image-id", ami, "--instance-type", "m1.tiny", "--placement", "AvailabilityZone="+node2Zone, "--user-data", waitVolumeDisk(vol.VolumeId)+writesPattern)[0]
	g2 := runInstances(t, "--image-id", ami, "--instance-type", "m1.tiny", "--placement", "AvailabilityZone="+node2Zone, "--user-data", waitVolumeDisk(vol.VolumeId)+readsThenWrites)[0]
	terminateAll(t, cloud.AWS, g1, g2)
	waitVolume(t, vol.VolumeId, "available")
	if got := jsonpath(t, "volume", vol.VolumeId, "{.status.aoe.node}"); got != "e2e-store-1" {
		t.Fatalf("the volume is stored on %q", got)
	}
	uid := jsonpath(t, "volume", vol.VolumeId, "{.metadata.uid}")
	backing := filepath.Join(store.Dir, "volumes", uid+".img")
	waitInstances(t, []string{g1, g2}, "running")
	for _, id := range []string{g1, g2} {
		if got := jsonpath(t, "instance", id, "{.status.hypervisor}"); got != node2Name {
			t.Fatalf("%s runs on %q", id, got)
		}
	}

	awsJSON(t, nil, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", g1, "--device", "/dev/sdf")
	waitVolume(t, vol.VolumeId, "in-use")
	text := waitConsole(t, g1, "pattern written to")
	if !regexp.MustCompile(`new disk \w+ sectors 2097152\b`).MatchString(text) {
		t.Fatalf("the guest did not see a 1 GiB disk:\n%s", text)
	}
	awsJSON(t, nil, "ec2", "detach-volume", "--volume-id", vol.VolumeId)
	waitVolume(t, vol.VolumeId, "available")

	awsJSON(t, nil, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", g2, "--device", "/dev/sdf")
	waitVolume(t, vol.VolumeId, "in-use")
	waitConsole(t, g2, "read: "+volumePattern)
	if got := readAt(t, backing, 0, len(volumePattern)+1); got != volumePattern+"\n" {
		t.Fatalf("the backing file on the storage node starts with %q", got)
	}

	// kill -9 of the storage node's agent while g2 writes.
	address := jsonpath(t, "volume", vol.VolumeId, "{.status.aoe.shelf}.{.status.aoe.slot}")
	testenv.Eventually(t, time.Minute, "g2's first writes", func() error {
		if n := lastAck(consoleOf(t, g2)); n < 3 {
			return fmt.Errorf("acked %d", n)
		}
		return nil
	})
	if err := store.Kill9(); err != nil {
		t.Fatal(err)
	}
	acked := lastAck(consoleOf(t, g2))
	time.Sleep(2 * time.Second) // the guest's writes meet no target for a while
	if err := store.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "g2's writes to go on after the storage agent's restart", func() error {
		if n := lastAck(consoleOf(t, g2)); n < acked+5 {
			return fmt.Errorf("acked %d, %d at the kill", n, acked)
		}
		return nil
	})
	if got := jsonpath(t, "volume", vol.VolumeId, "{.status.aoe.shelf}.{.status.aoe.slot}"); got != address {
		t.Errorf("the export moved from %s to %s across the restart", address, got)
	}
	final := lastAck(consoleOf(t, g2))
	t.Logf("the guest saw %d writes acknowledged before the kill, %d in all", acked, final)
	for i := 1; i <= final; i++ {
		want := fmt.Sprintf("REC-%08d\n", i)
		if got := readAt(t, backing, int64(4096+i)*512, len(want)); got != want {
			t.Errorf("acknowledged record %d is not in the backing file: %q", i, got)
		}
	}

	// Deleting it while attached is refused; terminating its instance detaches it.
	if out, err := cloud.AWS("ec2", "delete-volume", "--volume-id", vol.VolumeId); err == nil || !strings.Contains(out, "VolumeInUse") {
		t.Fatalf("delete-volume of an attached volume: %v %s", err, out)
	}
	awsJSON(t, nil, "ec2", "terminate-instances", "--instance-ids", g2)
	waitVolume(t, vol.VolumeId, "available")
	awsJSON(t, nil, "ec2", "delete-volume", "--volume-id", vol.VolumeId)
	testenv.Eventually(t, 2*time.Minute, "the backing file removed", func() error {
		if _, err := os.Stat(backing); !os.IsNotExist(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// The local cloud's volumes as `make up` leaves it, with the AWS CLI: a volume is stored on the
// cloud's own storage node (beside the compute node, in its zone) and becomes available; attached
// to a running guest on the compute node it is in-use and the guest sees a disk of its size;
// the guest's writes go on through a kill -9 of the compute node's agent (the volume's chain is
// the volumechains process's) and every acknowledged one is on the storage node; detached it is
// available again; grown with modify-volume its backing file grows and
// describe-volumes-modifications says completed; a snapshot of it shared with another project
// becomes that project's volume holding the guest's records; deleted, it is gone and so is its
// backing file.
func TestVolumeOnTheLocalCloudsStorageNode(t *testing.T) {
	ami := sampleAMI(t)
	var vol volumeJSON
	awsJSON(t, &vol, "ec2", "create-volume", "--size", "1", "--availability-zone", "pinet-1a")
	t.Cleanup(func() { _, _ = cloud.AWS("ec2", "delete-volume", "--volume-id", vol.VolumeId) })
	id := runInstances(t, "--image-id", ami, "--instance-type", "m1.tiny", "--user-data", waitVolumeDisk(vol.VolumeId)+writesRecords)[0]
	terminateAll(t, cloud.AWS, id)
	waitVolume(t, vol.VolumeId, "available")
	if got := jsonpath(t, "volume", vol.VolumeId, "{.status.aoe.node}"); got != StorageNode {
		t.Fatalf("the volume is stored on %q, not the cloud's storage node", got)
	}
	backing := filepath.Join(cloud.VolumesDir(), jsonpath(t, "volume", vol.VolumeId, "{.metadata.uid}")+".img")
	if fi, err := os.Stat(backing); err != nil || fi.Size() != 1<<30 {
		t.Fatalf("backing file: %v %v", fi, err)
	}
	waitInstances(t, []string{id}, "running")
	if got := jsonpath(t, "instance", id, "{.status.hypervisor}"); got != "e2e-node-1" {
		t.Fatalf("%s runs on %q", id, got)
	}

	awsJSON(t, nil, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", id, "--device", "/dev/sdf")
	testenv.Eventually(t, 3*time.Minute, vol.VolumeId+" attached to "+id, func() error {
		var out struct{ Volumes []volumeJSON }
		awsJSON(t, &out, "ec2", "describe-volumes", "--volume-ids", vol.VolumeId)
		v := out.Volumes[0]
		if v.State != "in-use" || len(v.Attachments) != 1 || v.Attachments[0].InstanceId != id || v.Attachments[0].State != "attached" {
			return fmt.Errorf("%+v", v)
		}
		return nil
	})
	if text := waitConsole(t, id, "new disk"); !regexp.MustCompile(`new disk \w+ sectors 2097152\b`).MatchString(text) {
		t.Fatalf("the guest did not see a 1 GiB disk:\n%s", text)
	}

	// kill -9 of the compute node's agent while the guest writes: the volume's chain is the
	// volumechains process's, so the guest's writes go on reaching the storage node while no
	// agent runs (its console, which the agent serves, cannot be read meanwhile), and after.
	testenv.Eventually(t, time.Minute, "the guest's first writes", func() error {
		if n := lastAck(consoleOf(t, id)); n < 3 {
			return fmt.Errorf("acked %d", n)
		}
		return nil
	})
	if err := cloud.Kill("nodeagent"); err != nil {
		t.Fatal(err)
	}
	atKill := lastRecord(t, backing)
	testenv.Eventually(t, 2*time.Minute, "the guest's writes to reach the storage node with no agent", func() error {
		if n := lastRecord(t, backing); n < atKill+5 {
			return fmt.Errorf("record %d in the backing file, %d at the kill", n, atKill)
		}
		return nil
	})
	if err := cloud.Up(); err != nil {
		t.Fatal(err)
	}
	text := waitConsole(t, id, "writer done")
	if n := lastAck(text); n != recordsWritten {
		t.Fatalf("the guest saw %d of %d writes acknowledged:\n%s", n, recordsWritten, text)
	}
	for i := 1; i <= recordsWritten; i++ {
		want := fmt.Sprintf("REC-%08d\n", i)
		if got := readAt(t, backing, int64(4096+i)*512, len(want)); got != want {
			t.Errorf("acknowledged record %d is not in the backing file: %q", i, got)
		}
	}
	if out, err := cloud.Kubectl("", "get", "events", "-A", "--field-selector", "reason=VolumeConnectionLost", "-o", "name"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("VolumeConnectionLost events: %v %s", err, out)
	}
	// The chain host counts its initiators' I/O on its own metrics endpoint.
	rc, err := cloud.RC()
	if err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, rc["PINET_CHAINS_METRICS_URL"], `pinet_aoe_requests_total{operation="write",result="ok",role="initiator"}`); got < recordsWritten {
		t.Fatalf("the chain host counted %v initiator writes, the guest made %d", got, recordsWritten)
	}

	awsJSON(t, nil, "ec2", "detach-volume", "--volume-id", vol.VolumeId)
	waitVolume(t, vol.VolumeId, "available")

	var mod struct {
		VolumeModification struct{ ModificationState string }
	}
	awsJSON(t, &mod, "ec2", "modify-volume", "--volume-id", vol.VolumeId, "--size", "2")
	if mod.VolumeModification.ModificationState != "modifying" {
		t.Fatalf("modify-volume answered %+v", mod)
	}
	testenv.Eventually(t, 2*time.Minute, vol.VolumeId+" grown to 2 GiB", func() error {
		var out struct {
			VolumesModifications []struct {
				ModificationState        string
				OriginalSize, TargetSize int
			}
		}
		awsJSON(t, &out, "ec2", "describe-volumes-modifications", "--volume-ids", vol.VolumeId)
		if len(out.VolumesModifications) != 1 || out.VolumesModifications[0].ModificationState != "completed" ||
			out.VolumesModifications[0].OriginalSize != 1 || out.VolumesModifications[0].TargetSize != 2 {
			return fmt.Errorf("%+v", out)
		}
		if fi, err := os.Stat(backing); err != nil || fi.Size() != 2<<30 {
			return fmt.Errorf("backing file: %v %v", fi, err)
		}
		return nil
	})

	snapshotSharedWithAnotherProject(t, vol.VolumeId)

	awsJSON(t, nil, "ec2", "delete-volume", "--volume-id", vol.VolumeId)
	testenv.Eventually(t, 2*time.Minute, vol.VolumeId+" gone", func() error {
		out, err := cloud.AWS("ec2", "describe-volumes", "--volume-ids", vol.VolumeId)
		if err == nil || !strings.Contains(out, "InvalidVolume.NotFound") {
			return fmt.Errorf("%v: %s", err, out)
		}
		if _, err := os.Stat(backing); !os.IsNotExist(err) {
			return fmt.Errorf("backing file still there: %v", err)
		}
		return nil
	})
}

// snapshotSharedWithAnotherProject snapshots the volume with the AWS CLI, shares the snapshot
// with a new project, whose own AWS CLI makes a volume of it on the storage node (read from the
// admin project's part of the snapshot bucket with the node's key) that holds the guest's
// acknowledged records; then removes both.
func snapshotSharedWithAnotherProject(t *testing.T, volID string) {
	t.Helper()
	var snap struct{ SnapshotId, State string }
	awsJSON(t, &snap, "ec2", "create-snapshot", "--volume-id", volID, "--description", "e2e records")
	t.Cleanup(func() { _, _ = cloud.AWS("ec2", "delete-snapshot", "--snapshot-id", snap.SnapshotId) })
	testenv.Eventually(t, 2*time.Minute, snap.SnapshotId+" completed", func() error {
		var out struct{ Snapshots []struct{ State string } }
		awsJSON(t, &out, "ec2", "describe-snapshots", "--snapshot-ids", snap.SnapshotId)
		if len(out.Snapshots) != 1 || out.Snapshots[0].State != "completed" {
			return fmt.Errorf("%+v", out)
		}
		return nil
	})
	rc := otherProject(t, "e2e-snapshare")
	theirs := func(args ...string) (string, error) { return cloud.AWSAs(rc, args...) }
	if out, err := theirs("ec2", "create-volume", "--snapshot-id", snap.SnapshotId, "--availability-zone", "pinet-1a"); err == nil ||
		!strings.Contains(out, "InvalidSnapshot.NotFound") {
		t.Fatalf("another project's volume of an unshared snapshot: %v %s", err, out)
	}
	awsJSON(t, nil, "ec2", "modify-snapshot-attribute", "--snapshot-id", snap.SnapshotId,
		"--attribute", "createVolumePermission", "--operation-type", "add", "--user-ids", "e2e-snapshare")
	out, err := theirs("ec2", "create-volume", "--snapshot-id", snap.SnapshotId, "--availability-zone", "pinet-1a", "--output", "json")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var made volumeJSON
	if err := json.Unmarshal([]byte(out), &made); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	defer func() {
		_, _ = theirs("ec2", "delete-volume", "--volume-id", made.VolumeId)
		testenv.Eventually(t, 2*time.Minute, made.VolumeId+" gone", func() error {
			if out, err := theirs("ec2", "describe-volumes", "--volume-ids", made.VolumeId); err == nil || !strings.Contains(out, "InvalidVolume.NotFound") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}()
	testenv.Eventually(t, 2*time.Minute, "the other project's "+made.VolumeId+" available", func() error {
		out, err := theirs("ec2", "describe-volumes", "--volume-ids", made.VolumeId, "--query", "Volumes[0].State", "--output", "text")
		if err != nil || strings.TrimSpace(out) != "available" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	uid, err := cloud.Kubectl("", "get", "volume", made.VolumeId, "-n", "e2e-snapshare", "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		t.Fatalf("%v: %s", err, uid)
	}
	backing := filepath.Join(cloud.VolumesDir(), uid+".img")
	for i := 1; i <= recordsWritten; i++ {
		want := fmt.Sprintf("REC-%08d\n", i)
		if got := readAt(t, backing, int64(4096+i)*512, len(want)); got != want {
			t.Fatalf("record %d is not in the other project's volume: %q", i, got)
		}
	}
}

// readAt reads n bytes of a file at off (fewer at its end).
func readAt(t *testing.T, path string, off int64, n int) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return string(buf[:m])
}

var ackLine = regexp.MustCompile(`(?m)^acked (\d+)\r?$`)

// lastAck is the highest "acked N" on a console.
func lastAck(text string) int {
	n := 0
	for _, m := range ackLine.FindAllStringSubmatch(text, -1) {
		if v, _ := strconv.Atoi(m[1]); v > n {
			n = v
		}
	}
	return n
}

// metricValue is the value of one sample (name and labels as Prometheus' text format writes them)
// at a metrics endpoint; the test fails if the endpoint does not answer or has no such sample.
func metricValue(t *testing.T, url, sample string) float64 {
	t.Helper()
	body := scrape(t, url)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", url, line, err)
			}
			return f
		}
	}
	t.Fatalf("%s has no sample %s:\n%s", url, sample, body)
	return 0
}
