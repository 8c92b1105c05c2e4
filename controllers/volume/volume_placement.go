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

package volume

import (
	"context"
	"errors"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/quota"
)

// place gives an unplaced volume a storage node and an AoE address. A volume whose snapshot does
// not resolve, or that finds no node or address, stays unplaced with the reason in scope.
func (r *Reconciler) place(ctx context.Context, sc *scope) (reconcile.Result, error) {
	v := sc.v
	if v.Status.AoE != nil {
		// Placed: keep the label in step with the placement.
		patch.SetLabel(v, cloudv1.LabelStorageNode, v.Status.AoE.Node)
		return reconcile.Result{}, r.grow(ctx, sc)
	}
	if err := r.resolveSnapshot(ctx, sc); err != nil || sc.blocked != "" {
		return reconcile.Result{}, err
	}
	if err := r.admit(ctx, sc); err != nil || sc.blocked != "" {
		return reconcile.Result{}, err
	}
	node, zone, err := r.chooseNode(ctx, v)
	if err != nil {
		return reconcile.Result{}, err
	}
	if node == "" {
		sc.blocked = cloudv1.ReasonNoStorageNode
		sc.blockedMsg = fmt.Sprintf("No Ready storage node%s has %d GiB free", inZone(v.Spec.AvailabilityZone), v.GivenSizeGiB())
		return reconcile.Result{}, nil
	}
	addr, err := r.Allocator.AllocateAoE(ctx, r.Shelves, string(v.UID))
	if errors.Is(err, ipam.ErrExhausted) {
		sc.blocked = cloudv1.ReasonAddressesExhausted
		sc.blockedMsg = fmt.Sprintf("Every AoE address of shelves %s is taken", r.Shelves)
		return reconcile.Result{RequeueAfter: retryExhausted}, nil
	}
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("claiming an AoE address for %s: %w", v.Name, err)
	}
	v.Status.AoE = &cloudv1.AoEAddress{Shelf: addr.Shelf, Slot: addr.Slot, Node: node}
	v.Status.AvailabilityZone = zone
	patch.SetLabel(v, cloudv1.LabelStorageNode, node)
	if r.Recorder != nil {
		r.Recorder.Eventf(v, nil, "Normal", "Placed", "Place", "Placed on storage node %s as AoE e%d.%d", node, addr.Shelf, addr.Slot)
	}
	return reconcile.Result{}, nil
}

// admit holds a volume made with kubectl to its project's quota before it takes room on a
// storage node every project draws on (an EC2 call admits its own). Over the quota it waits,
// unplaced, with the reason QuotaExceeded, until a volume goes or the project's quota changes.
func (r *Reconciler) admit(ctx context.Context, sc *scope) error {
	v := sc.v
	gate, ledger, err := r.quotaOf(ctx, v)
	if err != nil {
		return err
	}
	ok, refused, err := ledger.AdmitMade(ctx, gate, v, admissionTimeout)
	switch {
	case err != nil:
		return err
	case !ok && refused != nil:
		sc.blocked, sc.blockedMsg = cloudv1.ReasonQuotaExceeded, refused.Error()
	case !ok:
		// The API server shows the volume gone meanwhile: nothing to place.
		sc.blocked, sc.blockedMsg = cloudv1.ReasonPending, "Volume waits to be placed"
	case !quota.IsMarkedPending(v) && v.Status.SizeGiB == 0:
		// Admitted at this size (one an EC2 call is admitting gets its size once unmarked).
		v.Status.SizeGiB = v.Spec.SizeGiB
	}
	return nil
}

// grow gives a placed volume the size its spec grew to, once the project's quota has room for
// the GiB it adds (admitted through the ledger as an item of its own) and its storage node has
// room for them. Until then the volume keeps its size, with Resized=False and the reason.
func (r *Reconciler) grow(ctx context.Context, sc *scope) error {
	v := sc.v
	switch {
	case quota.IsMarkedPending(v):
		return nil // its EC2 call has not admitted it yet
	case v.Status.SizeGiB == 0:
		// Placed before sizes were recorded, or admitted by its EC2 call: it has its spec's size.
		v.Status.SizeGiB = v.Spec.SizeGiB
		return nil
	case quota.VolumeGrowth(v) == 0:
		return nil
	}
	// A growth is decided on the volume as the API server has it: a reconcile of a cached copy
	// older than the last write (this controller's own giving of the size, say) would record the
	// change anew over the record that ended it. The newer version's event brings it back.
	live := &cloudv1.Volume{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(v), live); err != nil {
		return client.IgnoreNotFound(err)
	}
	if live.ResourceVersion != v.ResourceVersion {
		return nil
	}
	if m := v.Status.Modification; m == nil || m.EndTime != nil || m.TargetSizeGiB != v.Spec.SizeGiB {
		// A change begins (or, asked again before the last was given, begins anew).
		v.Status.Modification = &cloudv1.VolumeModification{OriginalSizeGiB: v.Status.SizeGiB, TargetSizeGiB: v.Spec.SizeGiB, StartTime: sc.now}
	}
	gate, ledger, err := r.quotaOf(ctx, v)
	if err != nil {
		return err
	}
	if !gate.Unlimited() {
		admitted, refused, err := ledger.Admit(ctx, gate, []string{quota.GrowthName(v)}, 1, admissionTimeout)
		if err != nil {
			return err
		}
		switch {
		case refused != nil:
			r.resizeRefused(v, cloudv1.ReasonQuotaExceeded, refused.Error(), sc.now)
			return nil
		case len(admitted) == 0:
			// The API server shows no such growth: this reconcile read the volume before a
			// change (its own last write, say); the change's event brings it back.
			return nil
		}
	}
	node := v.Status.AoE.Node
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: node}}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(hv), hv); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reading storage node %s: %w", node, err)
	}
	placed, err := r.placedVolumes(ctx)
	if err != nil {
		return err
	}
	if free := freeGiB(hv, placed, v); free < int64(v.Spec.SizeGiB) {
		r.resizeRefused(v, cloudv1.ReasonNoStorageNode,
			fmt.Sprintf("Storage node %s has %d GiB free for the volume's %d GiB", node, max(free, 0), v.Spec.SizeGiB), sc.now)
		return nil
	}
	from := v.Status.SizeGiB
	v.Status.SizeGiB = v.Spec.SizeGiB
	v.Status.Modification.EndTime = &sc.now
	conditions.MarkTrue(v, cloudv1.VolumeResized, cloudv1.ReasonResized, fmt.Sprintf("Grown from %d to %d GiB", from, v.Spec.SizeGiB), sc.now)
	if r.Recorder != nil {
		r.Recorder.Eventf(v, nil, "Normal", cloudv1.ReasonResized, "Resize", "Grown from %d to %d GiB", from, v.Spec.SizeGiB)
	}
	return nil
}

// quotaOf is the volume's project's gate for volumes, and the ledger that admits under it.
func (r *Reconciler) quotaOf(ctx context.Context, v *cloudv1.Volume) (*quota.Gate, *quota.Ledger, error) {
	q, err := quota.Of(ctx, r.Client, v.Namespace)
	if err != nil {
		return nil, nil, err
	}
	return quota.Volumes(v.Namespace, q), &quota.Ledger{Reader: r.APIReader, Writer: r.Client}, nil
}

// placedVolumes lists the volumes placed on storage nodes from the API server: the cache may
// not show the last placement or growth yet.
func (r *Reconciler) placedVolumes(ctx context.Context) ([]cloudv1.Volume, error) {
	placed := &cloudv1.VolumeList{}
	if err := r.APIReader.List(ctx, placed, client.HasLabels{cloudv1.LabelStorageNode}); err != nil {
		return nil, fmt.Errorf("listing placed volumes: %w", err)
	}
	return placed.Items, nil
}

// freeGiB is the room a storage node has for v: its capacity less the sizes the other volumes
// placed on it were given (the node's status.storage.allocatedGiB by the same count, afresh: the
// agent's report lags).
func freeGiB(hv *cloudv1.Hypervisor, placed []cloudv1.Volume, v *cloudv1.Volume) int64 {
	if hv.Status.Storage == nil {
		return 0
	}
	return hv.Status.Storage.CapacityGiB - capacity.AllocatedGiB(placed, hv.Name, string(v.UID))
}

// resizeRefused says why a volume keeps its size, with a Warning event when the reason is new.
func (r *Reconciler) resizeRefused(v *cloudv1.Volume, reason, msg string, now metav1.Time) {
	before := conditions.Get(v, cloudv1.VolumeResized)
	conditions.MarkFalse(v, cloudv1.VolumeResized, reason, msg, now)
	if r.Recorder != nil && (before == nil || before.Reason != reason || before.Status != metav1.ConditionFalse) {
		r.Recorder.Eventf(v, nil, "Warning", reason, "Resize", "%s", msg)
	}
}

// waiting tells whether a volume waits for room: unplaced, or grown past the size it was given.
func waiting(v *cloudv1.Volume) bool {
	return v.DeletionTimestamp.IsZero() && (v.Status.AoE == nil || quota.VolumeGrowth(v) > 0)
}

// chooseNode picks the Ready storage node of the volume's zone (any zone if it names none) with
// the most free GiB that fit the volume; a node the volume is already labelled for (an earlier
// reconcile that could not write the status) is kept if it still fits. It returns "" if none fits.
func (r *Reconciler) chooseNode(ctx context.Context, v *cloudv1.Volume) (node, zone string, err error) {
	hvs := &cloudv1.HypervisorList{}
	if err := r.Client.List(ctx, hvs); err != nil {
		return "", "", fmt.Errorf("listing storage nodes: %w", err)
	}
	placed, err := r.placedVolumes(ctx)
	if err != nil {
		return "", "", err
	}
	type candidate struct {
		name, zone string
		free       int64
	}
	var fits []candidate
	for i := range hvs.Items {
		hv := &hvs.Items[i]
		if !storageReady(hv) || (v.Spec.AvailabilityZone != "" && hv.Spec.Zone != v.Spec.AvailabilityZone) {
			continue
		}
		free := freeGiB(hv, placed, v)
		if free < int64(v.GivenSizeGiB()) {
			continue
		}
		if hv.Name == v.Labels[cloudv1.LabelStorageNode] {
			return hv.Name, hv.Spec.Zone, nil
		}
		fits = append(fits, candidate{hv.Name, hv.Spec.Zone, free})
	}
	if len(fits) == 0 {
		return "", "", nil
	}
	sort.Slice(fits, func(i, j int) bool {
		if fits[i].free != fits[j].free {
			return fits[i].free > fits[j].free
		}
		return fits[i].name < fits[j].name
	})
	return fits[0].name, fits[0].zone, nil
}

// storageReady: the node has the storage role and is Ready.
func storageReady(hv *cloudv1.Hypervisor) bool {
	if hv.Status.Storage == nil || hv.Status.Storage.CapacityGiB <= 0 || !hv.DeletionTimestamp.IsZero() {
		return false
	}
	c := conditionOf(hv, cloudv1.ReadyCondition)
	return c != nil && c.Status == metav1.ConditionTrue
}

func inZone(zone string) string {
	if zone == "" {
		return ""
	}
	return " in zone " + zone
}

// freed enqueues the volumes waiting for room when a volume goes: its GiB are free.
func (r *Reconciler) freed(ctx context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	list := &cloudv1.VolumeList{}
	if err := r.Client.List(ctx, list); err != nil {
		return
	}
	for i := range list.Items {
		if v := &list.Items[i]; waiting(v) {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(v)})
		}
	}
}

// unplaced enqueues the volumes waiting for a storage node when a node changes, and the deleted
// volumes of the node (which may be gone for good).
func (r *Reconciler) unplaced(ctx context.Context, o client.Object) []reconcile.Request {
	hv := o.(*cloudv1.Hypervisor)
	list := &cloudv1.VolumeList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		v := &list.Items[i]
		if waiting(v) || (!v.DeletionTimestamp.IsZero() && v.Status.AoE != nil && v.Status.AoE.Node == hv.Name) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(v)})
		}
	}
	return reqs
}

// unplacedOf enqueues the volumes of the project whose quota changed that wait for room.
func (r *Reconciler) unplacedOf(ctx context.Context, o client.Object) []reconcile.Request {
	list := &cloudv1.VolumeList{}
	if err := r.Client.List(ctx, list, client.InNamespace(o.GetName())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if v := &list.Items[i]; waiting(v) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(v)})
		}
	}
	return reqs
}
