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
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

func mergePatch(s string) client.Patch {
	return client.RawPatch("application/merge-patch+json", []byte(s))
}

// TestNodeAgentVolumeAndSnapshotRestriction checks, with real requests as vn-1's agent, that it
// writes the status of the volumes stored or attached on its node and of the snapshots it copies,
// and nothing else of volumes and snapshots: not another node's, not their spec or labels.
func TestNodeAgentVolumeAndSnapshotRestriction(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	c.AddProjectWithQuota(t, "vn", testcloud.NoQuota())
	node1 := clientAs(t, testenv.NodeUser("vn-1"), testenv.NodeAgentsGroup)

	inst := boundInstance(t, "vn", "vm-on-1", "vn-1")
	testenv.Eventually(t, shortWait, "an instance id", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil || inst.Status.InstanceID == "" {
			return fmt.Errorf("no id yet (%v)", err)
		}
		return nil
	})
	volume := func(name string, labels map[string]string, attachTo string) *cloudv1.Volume {
		v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "vn", Labels: labels},
			Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "vn-nowhere"}}
		if attachTo != "" {
			v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: attachTo, Device: "/dev/vdb"}
		}
		mustDo(t, "creating "+name, env.Client.Create(ctx, v))
		return v
	}
	stored := volume("stored-on-1", map[string]string{cloudv1.LabelStorageNode: "vn-1"}, "")
	attached := volume("attached-on-1", nil, inst.Status.InstanceID)
	other := volume("stored-on-2", map[string]string{cloudv1.LabelStorageNode: "vn-2"}, "")
	testenv.Eventually(t, shortWait, "the attach-node label", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(attached), attached); err != nil {
			return err
		}
		if attached.Labels[cloudv1.LabelAttachNode] != "vn-1" {
			return fmt.Errorf("labels %v", attached.Labels)
		}
		return nil
	})

	exported := `{"status":{"conditions":[{"type":"Exported","status":"True","reason":"Exported","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}`
	mustDo(t, "vn-1 reporting its stored volume", node1.Status().Patch(ctx, stored, mergePatch(exported)))
	mustDo(t, "vn-1 reporting its attached volume", node1.Status().Patch(ctx, attached,
		mergePatch(`{"status":{"attachment":{"instanceId":"`+inst.Status.InstanceID+`","device":"/dev/vdb","state":"attaching"}}}`)))
	wantRefused(t, "vn-1 reporting vn-2's volume", node1.Status().Patch(ctx, other, mergePatch(exported)),
		"may write only the status of Volumes stored or attached on it")
	wantRefused(t, "vn-1 relabelling its volume", node1.Patch(ctx, stored,
		mergePatch(`{"metadata":{"labels":{"cloud.pinet.io/storage-node":"vn-2"}}}`)), "cannot patch")
	wantRefused(t, "vn-1 changing its volume's spec", node1.Patch(ctx, stored, mergePatch(`{"spec":{"sizeGiB":5}}`)), "cannot patch")
	wantRefused(t, "vn-1 creating a volume", node1.Create(ctx, &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "made-by-node", Namespace: "vn"},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1}}), "cannot create")
	wantRefused(t, "vn-1 deleting its volume", node1.Delete(ctx, stored), "cannot delete")

	// Snapshots: only the status of those its node copies, and it cannot hand one to another node.
	snapshotOn := func(name, node string) *cloudv1.Snapshot {
		s := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "vn"}, Spec: cloudv1.SnapshotSpec{VolumeID: "vol-0123456789abcdef0"}}
		mustDo(t, "creating "+name, env.Client.Create(ctx, s))
		mustDo(t, "handing "+name+" to "+node, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
				return err
			}
			s.Status.State, s.Status.Node = cloudv1.SnapshotPending, node
			return env.Client.Status().Update(ctx, s)
		}))
		return s
	}
	mine, theirs := snapshotOn("copied-by-1", "vn-1"), snapshotOn("copied-by-2", "vn-2")
	mustDo(t, "vn-1 reporting progress", node1.Status().Patch(ctx, mine, mergePatch(`{"status":{"progress":40}}`)))
	wantRefused(t, "vn-1 reporting vn-2's snapshot", node1.Status().Patch(ctx, theirs, mergePatch(`{"status":{"progress":40}}`)),
		"may write only the status of Snapshots it copies")
	wantRefused(t, "vn-1 handing its snapshot to vn-2", node1.Status().Patch(ctx, mine, mergePatch(`{"status":{"node":"vn-2"}}`)),
		"may write only the status of Snapshots it copies")
	wantRefused(t, "vn-1 changing a snapshot's spec", node1.Patch(ctx, mine, mergePatch(`{"spec":{"description":"x"}}`)), "cannot patch")

	// Its credentials: its node's object store key, and still no other.
	nodeStore(t, c, "vn-1")
	nodeStore(t, c, "vn-2")
	for name, allowed := range map[string]bool{"pinet-user-pinet-node-vn-1": true, "pinet-user-pinet-node-vn-2": false, "pinet-user-pinet-system": false} {
		err := node1.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: name}, &corev1.Secret{})
		if allowed && apierrors.IsForbidden(err) || !allowed && !apierrors.IsForbidden(err) {
			t.Fatalf("vn-1 reading %s: %v", name, err)
		}
	}
}
