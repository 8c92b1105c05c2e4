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

package nodeuse

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capture"
	"pinet.io/pinet/internal/s3client"
)

// TestStoreGrants: a node's user reaches the stored objects of the images labelled for its node
// and the snapshot objects of its own storage's snapshots (and, to read, of the snapshots its
// volumes are made from, another project's only while it is shared with the volume's project, or
// for a volume made at launch, while an image of that project the volume's project may launch
// maps it);
// nothing of another node's, another project's, or another bucket; and a label the cache has not
// seen yet is read live.
func TestStoreGrants(t *testing.T) {
	img := func(name, node, key string) *cloudv1.Image {
		i := &cloudv1.Image{ObjectMeta: meta("p", name),
			Status: cloudv1.ImageStatus{Stored: &cloudv1.StoredImage{Bucket: s3client.ImageStoreBucket, Key: key}}}
		i.Labels = map[string]string{cloudv1.NodeUseLabel(node): cloudv1.NodeUseLabelValue}
		return i
	}
	snap := func(ns, name, node, id string) *cloudv1.Snapshot {
		s := &cloudv1.Snapshot{ObjectMeta: meta(ns, name), Status: cloudv1.SnapshotStatus{SnapshotID: id}}
		s.Labels = map[string]string{cloudv1.LabelStorageNode: node}
		return s
	}
	volume := func(ns, name, node, snapshot, owner string) *cloudv1.Volume {
		v := &cloudv1.Volume{ObjectMeta: meta(ns, name), Spec: cloudv1.VolumeSpec{SnapshotID: snapshot},
			Status: cloudv1.VolumeStatus{SnapshotOwner: owner}}
		v.Labels = map[string]string{cloudv1.LabelStorageNode: node}
		return v
	}
	// Project p shares snap-4 with r, and snap-5 with everyone; snap-6 with no one.
	shared := snap("p", "s4", "node-2", "snap-4")
	shared.Spec.CreateVolumePermission.Projects = []string{"r"}
	public := snap("p", "s5", "node-2", "snap-5")
	public.Spec.CreateVolumePermission.Public = true
	// Being deleted, but still filling r's volume: readable until its controller lets it go.
	deleting := snap("p", "s7", "node-2", "snap-7")
	deleting.Spec.CreateVolumePermission.Projects = []string{"r"}
	deleting.DeletionTimestamp, deleting.Finalizers = &metav1.Time{Time: time.Now()}, []string{"test"}
	objs := []client.Object{img("mine", "node-1", "objects/mine"), img("theirs", "node-2", "objects/theirs"),
		snap("p", "s1", "node-1", "snap-1"), snap("p", "s2", "node-2", "snap-2"), snap("q", "s3", "node-2", "snap-3"),
		shared, public, snap("p", "s6", "node-2", "snap-6"), deleting, volume("r", "vol-deleting", "node-3", "snap-7", "p"),
		volume("p", "vol-made", "node-1", "snap-2", ""),
		// Volumes of r on node-3 made of p's snapshots; the node writes their status, so the
		// owner each names is not what grants the read.
		volume("r", "vol-shared", "node-3", "snap-4", "p"), volume("r", "vol-public", "node-3", "snap-5", "p"),
		volume("r", "vol-private", "node-3", "snap-6", "p"), volume("q", "vol-not-shared", "node-4", "snap-4", "p")}
	// Project p's image, launchable by r, maps p's snap-8, shared with no one: read for r's volumes
	// made at launch (labelled), not for r's other volumes nor for q's, which may not launch it.
	launchedBy := func(v *cloudv1.Volume) *cloudv1.Volume {
		v.Labels[cloudv1.LabelLaunchInstance] = "i-0123456789abcdef0"
		return v
	}
	mapping := &cloudv1.Image{ObjectMeta: meta("p", "with-volume"), Spec: cloudv1.ImageSpec{
		LaunchPermission:    cloudv1.LaunchPermission{Projects: []string{"r"}},
		BlockDeviceMappings: []cloudv1.ImageBlockDeviceMapping{{DeviceName: "/dev/sdf", EBS: cloudv1.EBSBlockDevice{SnapshotID: "snap-8"}}}}}
	objs = append(objs, mapping, snap("p", "s8", "node-2", "snap-8"),
		launchedBy(volume("r", "vol-launched", "node-5", "snap-8", "p")), volume("r", "vol-plain", "node-6", "snap-8", "p"),
		launchedBy(volume("q", "vol-not-launchable", "node-7", "snap-8", "p")), launchedBy(volume("r", "vol-unmapped", "node-8", "snap-6", "p")))
	cache := fakeClient(t, objs...)
	live := fakeClient(t, append(objs, img("new", "node-1", "objects/new"))...)
	g := &StoreGrants{Cache: cache, Live: live}
	ctx := context.Background()

	if !g.Covers(s3client.NodeUser("node-1")) || g.Covers("alice") || g.Covers(s3client.NodeUserPrefix) {
		t.Fatal("Covers must name exactly the nodes' users")
	}
	for _, c := range []struct {
		user, bucket, key string
		put, want         bool
	}{
		{"node-1", s3client.ImageStoreBucket, "objects/mine", false, true},
		{"node-1", s3client.ImageStoreBucket, "objects/mine", true, false},
		{"node-1", s3client.ImageStoreBucket, "objects/theirs", false, false},
		{"node-2", s3client.ImageStoreBucket, "objects/theirs", false, true},
		{"node-1", s3client.ImageStoreBucket, "objects/new", false, true}, // labelled, not in the cache yet
		{"node-2", s3client.ImageStoreBucket, "objects/new", false, false},
		{"node-1", "other-bucket", "objects/mine", false, false},
		{"node-1", s3client.SnapshotBucket, "p/snap-1/manifest.json", false, true},
		{"node-1", s3client.SnapshotBucket, "p/snap-1/chunk-000000000000", true, true},
		{"node-1", s3client.SnapshotBucket, "p/snap-1/", true, false},
		{"node-1", s3client.SnapshotBucket, "p/snap-1", false, false},
		{"node-1", s3client.SnapshotBucket, "q/snap-1/manifest.json", false, false},
		// Restored from by a volume of node-1: read, never written.
		{"node-1", s3client.SnapshotBucket, "p/snap-2/manifest.json", false, true},
		{"node-1", s3client.SnapshotBucket, "p/snap-2/manifest.json", true, false},
		{"node-2", s3client.SnapshotBucket, "p/snap-2/manifest.json", true, true},
		{"node-1", s3client.SnapshotBucket, "q/snap-3/manifest.json", false, false},
		{"node-2", s3client.SnapshotBucket, "p/snap-3/manifest.json", false, false},
		// Another project's snapshot: read while it is shared with the volume's project.
		{"node-3", s3client.SnapshotBucket, "p/snap-4/manifest.json", false, true},
		{"node-3", s3client.SnapshotBucket, "p/snap-4/chunk-000000000000", true, false},
		{"node-3", s3client.SnapshotBucket, "p/snap-5/chunk-000000000000", false, true},
		{"node-3", s3client.SnapshotBucket, "p/snap-6/manifest.json", false, false},
		{"node-3", s3client.SnapshotBucket, "p/snap-7/chunk-000000000001", false, true},
		{"node-3", s3client.SnapshotBucket, "q/snap-4/manifest.json", false, false},
		{"node-4", s3client.SnapshotBucket, "p/snap-4/manifest.json", false, false},
		{"node-1", s3client.SnapshotBucket, "p/snap-4/manifest.json", false, false},
		// Mapped by an image the volume's project may launch: read for a volume made at launch.
		{"node-5", s3client.SnapshotBucket, "p/snap-8/manifest.json", false, true},
		{"node-5", s3client.SnapshotBucket, "p/snap-8/chunk-000000000000", true, false},
		{"node-6", s3client.SnapshotBucket, "p/snap-8/manifest.json", false, false},
		{"node-7", s3client.SnapshotBucket, "p/snap-8/manifest.json", false, false},
		{"node-8", s3client.SnapshotBucket, "p/snap-6/manifest.json", false, false},
	} {
		got, err := g.Allowed(ctx, s3client.NodeUser(c.user), c.bucket, c.key, c.put)
		if err != nil || got != c.want {
			t.Errorf("%s %s/%s put=%v = %v, %v; want %v", c.user, c.bucket, c.key, c.put, got, err, c.want)
		}
	}
	if ok, err := g.Allowed(ctx, "alice", s3client.ImageStoreBucket, "objects/mine", false); ok || err != nil {
		t.Errorf("a user who is no node's: %v, %v", ok, err)
	}
}

// countingReader counts the lists made through it.
type countingReader struct {
	client.Reader
	lists int
}

func (r *countingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	r.lists++
	return r.Reader.List(ctx, list, opts...)
}

// TestStoreGrantsBoundLiveReads: a node that keeps asking for what it may not read makes at
// most its burst of live reads; after that the cache's answer stands (a grant only the API
// server knows of yet waits for the cache), while what the cache grants is still granted, and
// another node's bound is its own.
func TestStoreGrantsBoundLiveReads(t *testing.T) {
	img := func(name, node, key string) *cloudv1.Image {
		i := &cloudv1.Image{ObjectMeta: meta("p", name),
			Status: cloudv1.ImageStatus{Stored: &cloudv1.StoredImage{Bucket: s3client.ImageStoreBucket, Key: key}}}
		i.Labels = map[string]string{cloudv1.NodeUseLabel(node): cloudv1.NodeUseLabelValue}
		return i
	}
	cached := img("mine", "node-1", "objects/mine")
	live := &countingReader{Reader: fakeClient(t, cached, img("new", "node-1", "objects/new"), img("new2", "node-2", "objects/new2"))}
	g := &StoreGrants{Cache: fakeClient(t, cached), Live: live, LiveReadsPerSecond: 0.001, LiveReadBurst: 3}
	ctx := context.Background()
	ask := func(node, key string) bool {
		t.Helper()
		ok, err := g.Allowed(ctx, s3client.NodeUser(node), s3client.ImageStoreBucket, key, false)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for range 100 {
		if ask("node-1", "objects/theirs") {
			t.Fatal("granted an object no image of the node stores")
		}
	}
	if live.lists != 3 {
		t.Fatalf("100 refused requests made %d live reads, want the burst of 3", live.lists)
	}
	if ask("node-1", "objects/new") {
		t.Fatal("granted what only a live read beyond the bound could")
	}
	if !ask("node-1", "objects/mine") {
		t.Fatal("the bound refused what the cache grants")
	}
	if !ask("node-2", "objects/new2") || live.lists != 4 {
		t.Fatalf("another node's live read: %d reads", live.lists)
	}
}

// TestStoreGrantsOfImageCopies: a node reads and writes the parts and result of the copy it
// makes for a pending image made of its instance (status.capture, and the label it watches),
// nothing else under that prefix, nothing of another node's copy, and nothing once the image is
// stored, failed or deleted — whatever labels the image's project puts on it.
func TestStoreGrantsOfImageCopies(t *testing.T) {
	copying := func(name, node, labelNode string, state cloudv1.ImageState) *cloudv1.Image {
		i := &cloudv1.Image{ObjectMeta: meta("p", name), Status: cloudv1.ImageStatus{State: state}}
		if node != "" {
			i.Status.Capture = &cloudv1.ImageCapture{Node: node, InstanceUID: "uid", Bucket: s3client.ImageStoreBucket,
				Prefix: capture.Prefix("ami-"+name, "u-"+types.UID(name))}
		}
		i.Labels = map[string]string{cloudv1.LabelCaptureNode: labelNode}
		return i
	}
	deleting := copying("deleting", "node-1", "node-1", cloudv1.ImageStatePending)
	deleting.DeletionTimestamp, deleting.Finalizers = &metav1.Time{Time: time.Now()}, []string{"test"}
	objs := []client.Object{
		copying("mine", "node-1", "node-1", cloudv1.ImageStatePending),
		copying("theirs", "node-2", "node-2", cloudv1.ImageStatePending),
		// Labelled for node-1 by its project, given to node-2 by the controller.
		copying("relabelled", "node-2", "node-1", cloudv1.ImageStatePending),
		// Labelled by its project, given to no node.
		copying("unasked", "", "node-1", cloudv1.ImageStatePending),
		copying("stored", "node-1", "node-1", cloudv1.ImageStateAvailable),
		copying("failed", "node-1", "node-1", cloudv1.ImageStateFailed),
		deleting,
	}
	g := &StoreGrants{Cache: fakeClient(t, objs...), Live: fakeClient(t, objs...)}
	ctx := context.Background()
	key := func(name, object string) string { return capture.Prefix("ami-"+name, "u-"+types.UID(name)) + object }
	for _, c := range []struct {
		node, bucket, key string
		put, want         bool
	}{
		{"node-1", s3client.ImageStoreBucket, key("mine", "part-000000"), true, true},
		{"node-1", s3client.ImageStoreBucket, key("mine", "part-000123"), false, true},
		{"node-1", s3client.ImageStoreBucket, key("mine", "result"), true, true},
		{"node-1", s3client.ImageStoreBucket, key("mine", "part-1"), true, false},
		{"node-1", s3client.ImageStoreBucket, key("mine", "other"), true, false},
		{"node-1", s3client.ImageStoreBucket, key("mine", ""), true, false},
		{"node-1", s3client.SnapshotBucket, key("mine", "result"), true, false},
		{"node-1", s3client.ImageStoreBucket, "ami-mine.u-mine", true, false},
		{"node-2", s3client.ImageStoreBucket, key("mine", "result"), true, false},
		{"node-1", s3client.ImageStoreBucket, key("theirs", "result"), false, false},
		{"node-2", s3client.ImageStoreBucket, key("theirs", "part-000000"), true, true},
		{"node-1", s3client.ImageStoreBucket, key("relabelled", "result"), true, false},
		{"node-1", s3client.ImageStoreBucket, key("unasked", "result"), true, false},
		{"node-1", s3client.ImageStoreBucket, key("stored", "part-000000"), true, false},
		{"node-1", s3client.ImageStoreBucket, key("failed", "result"), false, false},
		{"node-1", s3client.ImageStoreBucket, key("deleting", "result"), true, false},
	} {
		got, err := g.Allowed(ctx, s3client.NodeUser(c.node), c.bucket, c.key, c.put)
		if err != nil || got != c.want {
			t.Errorf("%s %s/%s put=%v = %v, %v; want %v", c.node, c.bucket, c.key, c.put, got, err, c.want)
		}
	}
}
