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
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/time/rate"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capture"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/internal/s3client"
)

// StoreGrants decides, for the object store, what each node's user (s3client.NodeUser) may
// reach: the stored objects of the images labelled for its node (what its instances boot from),
// the copy it makes of an instance's root disk for an image made of the instance (read and
// written, under the image's capture prefix, while the image is pending),
// and in the snapshot bucket ("<project>/<snapshot id>/…") the objects of the snapshots its
// storage copies (read and written) and of those its volumes are restored from (read), another
// project's only while it is shared with the volume's project (or, for a volume made at launch,
// mapped by an image the volume's project may launch).
//
// It reads the manager's cache and, when the cache says no, the API server: the label a binding
// needs is given just before the binding, and the agent may ask before this cache has seen it.
// The live reads are bounded per node: beyond LiveReadsPerSecond (and a burst of LiveReadBurst)
// the cache's no is the answer, so a node that keeps asking for what it may not read costs the
// API server no more than that, and one that asks for what the cache has not seen yet is
// answered once its retry finds it there.
type StoreGrants struct {
	Cache client.Reader
	Live  client.Reader
	// LiveReadsPerSecond and LiveReadBurst bound each node's live reads; zero takes
	// DefaultLiveReadsPerSecond and DefaultLiveReadBurst.
	LiveReadsPerSecond float64
	LiveReadBurst      int

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// The default bound of a node's live reads: a launch burst of a node's instances asks for a
// few images each, and a node that keeps asking otherwise is held to one read a second.
const (
	DefaultLiveReadsPerSecond = 1
	DefaultLiveReadBurst      = 20
)

// Covers reports whether user is a node's user.
func (g *StoreGrants) Covers(user string) bool {
	_, ok := s3client.NodeOfUser(user)
	return ok
}

// Allowed reports whether user's node may read (or, with put, write) key of bucket.
func (g *StoreGrants) Allowed(ctx context.Context, user, bucket, key string, put bool) (bool, error) {
	node, ok := s3client.NodeOfUser(user)
	if !ok {
		return false, nil
	}
	if ok, err := g.allowed(ctx, g.Cache, node, bucket, key, put); err != nil || ok {
		return ok, err
	}
	if !g.liveLimiter(node).Allow() {
		return false, nil
	}
	return g.allowed(ctx, g.Live, node, bucket, key, put)
}

// liveLimiter is node's bound on live reads.
func (g *StoreGrants) liveLimiter(node string) *rate.Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	if l, ok := g.limiters[node]; ok {
		return l
	}
	perSecond, burst := g.LiveReadsPerSecond, g.LiveReadBurst
	if perSecond == 0 {
		perSecond = DefaultLiveReadsPerSecond
	}
	if burst == 0 {
		burst = DefaultLiveReadBurst
	}
	if g.limiters == nil {
		g.limiters = map[string]*rate.Limiter{}
	}
	l := rate.NewLimiter(rate.Limit(perSecond), burst)
	g.limiters[node] = l
	return l
}

func (g *StoreGrants) allowed(ctx context.Context, r client.Reader, node, bucket, key string, put bool) (bool, error) {
	switch bucket {
	case s3client.ImageStoreBucket:
		if ok, err := g.copiesImage(ctx, r, node, bucket, key); err != nil || ok {
			return ok, err
		}
		if put {
			return false, nil
		}
		return g.storesImage(ctx, r, node, bucket, key)
	case s3client.SnapshotBucket:
		return g.holdsSnapshot(ctx, r, node, key, put)
	}
	return false, nil
}

// storesImage reports whether an image labelled for node is stored at bucket/key.
func (g *StoreGrants) storesImage(ctx context.Context, r client.Reader, node, bucket, key string) (bool, error) {
	list := &cloudv1.ImageList{}
	if err := r.List(ctx, list, client.MatchingLabels{cloudv1.NodeUseLabel(node): cloudv1.NodeUseLabelValue}); err != nil {
		return false, fmt.Errorf("listing node %s's images: %w", node, err)
	}
	for i := range list.Items {
		if st := list.Items[i].Status.Stored; st != nil && st.Bucket == bucket && st.Key == key {
			return true, nil
		}
	}
	return false, nil
}

// copiesImage reports whether key is a part or the result of the copy node makes of an
// instance's root disk for a pending image (status.capture, given to the node by the image
// controller along with the capture-node label): read and written, until the image is stored or
// failed.
func (g *StoreGrants) copiesImage(ctx context.Context, r client.Reader, node, bucket, key string) (bool, error) {
	if !strings.HasPrefix(key, "captures/") {
		return false, nil
	}
	list := &cloudv1.ImageList{}
	if err := r.List(ctx, list, client.MatchingLabels{cloudv1.LabelCaptureNode: node}); err != nil {
		return false, fmt.Errorf("listing the images node %s copies: %w", node, err)
	}
	for i := range list.Items {
		img := &list.Items[i]
		cp := img.Status.Capture
		if cp == nil || cp.Node != node || cp.Bucket != bucket || img.Status.State != cloudv1.ImageStatePending ||
			!img.DeletionTimestamp.IsZero() {
			continue
		}
		if capture.Names(cp.Prefix, key) {
			return true, nil
		}
	}
	return false, nil
}

// holdsSnapshot reports whether key, "<project>/<snapshot id>/<object>", is an object of a
// snapshot of project that node copies (its storage-node label), or, for a read, of one a volume
// node stores is restored from and that the volume's project may make volumes of (its own, shared
// with it, or, for a volume made at launch, mapped by an image of project it may launch). The
// permission is read here, for each volume, rather than trusted from the volume's status, which
// its storage node writes.
func (g *StoreGrants) holdsSnapshot(ctx context.Context, r client.Reader, node, key string, put bool) (bool, error) {
	project, rest, _ := strings.Cut(key, "/")
	id, object, _ := strings.Cut(rest, "/")
	if project == "" || id == "" || object == "" {
		return false, nil
	}
	mine := client.MatchingLabels{cloudv1.LabelStorageNode: node}
	snaps := &cloudv1.SnapshotList{}
	if err := r.List(ctx, snaps, client.InNamespace(project), mine); err != nil {
		return false, fmt.Errorf("listing node %s's snapshots in %s: %w", node, project, err)
	}
	for i := range snaps.Items {
		if snaps.Items[i].Status.SnapshotID == id {
			return true, nil
		}
	}
	if put {
		return false, nil
	}
	vols := &cloudv1.VolumeList{}
	if err := r.List(ctx, vols, mine); err != nil {
		return false, fmt.Errorf("listing node %s's volumes: %w", node, err)
	}
	var others []*cloudv1.Volume
	for i := range vols.Items {
		v := &vols.Items[i]
		switch {
		case v.Spec.SnapshotID != id:
		case v.Namespace == project:
			return true, nil
		default:
			others = append(others, v)
		}
	}
	if len(others) == 0 {
		return false, nil
	}
	return g.usableByAny(ctx, r, project, id, others)
}

// usableByAny reports whether project's snapshot id is one any of the volumes of other projects
// may be made of: shared with its project, or, for a volume made at launch, mapped by an image of
// project that its project may launch. The volume controller decided with the volume's own
// instance's image (refs.VolumeSnapshot); here any such image will do, which reaches no more than
// the volume's project could by launching it.
func (g *StoreGrants) usableByAny(ctx context.Context, r client.Reader, project, id string, vols []*cloudv1.Volume) (bool, error) {
	snaps := &cloudv1.SnapshotList{}
	if err := r.List(ctx, snaps, client.InNamespace(project)); err != nil {
		return false, fmt.Errorf("listing the snapshots of %s: %w", project, err)
	}
	// A snapshot being deleted counts too: it still serves the volumes being filled from it,
	// which its controller waits for before removing the objects.
	i := slices.IndexFunc(snaps.Items, func(s cloudv1.Snapshot) bool { return s.Status.SnapshotID == id })
	if i < 0 {
		return false, nil
	}
	launched := false
	for _, v := range vols {
		if refs.SnapshotRestorableBy(&snaps.Items[i], v.Namespace) {
			return true, nil
		}
		launched = launched || v.Labels[cloudv1.LabelLaunchInstance] != ""
	}
	if !launched {
		return false, nil
	}
	imgs := &cloudv1.ImageList{}
	if err := r.List(ctx, imgs, client.InNamespace(project)); err != nil {
		return false, fmt.Errorf("listing the images of %s: %w", project, err)
	}
	for j := range imgs.Items {
		img := &imgs.Items[j]
		if !refs.ImageMapsSnapshot(img, id) {
			continue
		}
		for _, v := range vols {
			if v.Labels[cloudv1.LabelLaunchInstance] != "" && refs.ImageVisibleTo(img, v.Namespace) {
				return true, nil
			}
		}
	}
	return false, nil
}
