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

package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/nodeagent/chainhost"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// retryUnreachable is how soon an attachment whose target did not answer is tried again.
const retryUnreachable = 10 * time.Second

// volumeAttach plugs the Volumes labelled with this node (cloud.pinet.io/attach-node) into their
// instances' running domains, and unplugs them. It writes only the volume's status.attachment
// and condition Attached; the volume controller owns the label and the storage agent the export.
type volumeAttach struct {
	client   client.Client
	virt     virt
	cfg      Config
	clock    clock.PassiveClock
	recorder events.EventRecorder
	chains   *volumeChains
}

// attachScope is one reconcile's view of a volume.
type attachScope struct {
	key types.NamespacedName
	vol *cloudv1.Volume
	now metav1.Time
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes/status,verbs=get;update;patch

// Reconcile brings one volume's attachment on this node in line with its spec.
func (a *volumeAttach) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	vol := &cloudv1.Volume{}
	err := a.client.Get(ctx, req.NamespacedName, vol)
	if client.IgnoreNotFound(err) != nil {
		return reconcile.Result{}, err
	}
	if err != nil || vol.Labels[cloudv1.LabelAttachNode] != a.cfg.NodeName {
		// Gone, or no longer this node's to attach: unplug what the agent still holds. The
		// status is no longer this node's to write.
		return reconcile.Result{}, a.release(ctx, req.NamespacedName)
	}
	helper, err := patch.NewHelper(vol, a.client)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, vol); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()
	sc := &attachScope{key: req.NamespacedName, vol: vol, now: metav1.NewTime(a.clock.Now())}
	want, cur := vol.Spec.AttachTo, vol.Status.Attachment
	if want == nil || (cur != nil && cur.State != cloudv1.AttachmentDetached && cur.InstanceID != "" &&
		(cur.InstanceID != want.InstanceID || cur.Device != want.Device)) {
		return a.detach(ctx, sc)
	}
	if inst := a.liveInstance(ctx, vol.Namespace, want.InstanceID); inst == nil {
		// Terminated or gone: its domain is gone with it, so is the attachment.
		if cur != nil && cur.State != cloudv1.AttachmentDetached && cur.InstanceID != "" {
			return a.detach(ctx, sc)
		}
		// Nothing is attached, and nothing will be: the attachment stays as it is (none, or
		// detached), so the volume controller can let the volume go.
		a.chains.stop(ctx, sc.key)
		conditions.MarkFalse(vol, cloudv1.VolumeAttached, cloudv1.ReasonInstanceNotRunning,
			fmt.Sprintf("Instance %s is not running on node %s", want.InstanceID, a.cfg.NodeName), sc.now)
		return reconcile.Result{}, nil
	}
	return a.attach(ctx, sc)
}

// liveInstance is the instance of this node with that EC2 id in the volume's project, unless it
// is terminating. The volume controller resolved the id in the project before it labelled the
// volume with this node, but the agent checks again: a volume is plugged only into its own
// project's guests, whatever its labels say.
func (a *volumeAttach) liveInstance(ctx context.Context, project, id string) *cloudv1.Instance {
	list := &cloudv1.InstanceList{}
	if err := a.client.List(ctx, list, client.InNamespace(project), client.MatchingFields{index.InstanceID: id}); err != nil {
		return nil
	}
	for i := range list.Items {
		inst := &list.Items[i]
		if inst.Status.Hypervisor == a.cfg.NodeName && inst.DeletionTimestamp.IsZero() &&
			inst.EffectiveDesiredState() != cloudv1.DesiredTerminated {
			return inst
		}
	}
	return nil
}

// attach plugs the volume in: it checks the device name is free, connects to the AoE target and
// serves it on the volume's NBD socket, then hot-plugs the disk. A volume already in the domain
// (after the agent restarted, or a stopped instance's) gets its chain back and stays.
func (a *volumeAttach) attach(ctx context.Context, sc *attachScope) (reconcile.Result, error) {
	vol, want := sc.vol, sc.vol.Spec.AttachTo
	target, err := domainxml.GuestTarget(want.Device)
	if err != nil {
		return reconcile.Result{}, a.fail(sc, cloudv1.ReasonDeviceInUse, err.Error())
	}
	if vol.Status.VolumeID == "" || vol.Status.AoE == nil || !conditions.IsTrue(vol, cloudv1.VolumeExported) {
		return reconcile.Result{}, a.fail(sc, cloudv1.ReasonNotExported, "The storage node does not export the volume yet")
	}
	d, err := a.virt.Lookup(want.InstanceID)
	if errors.Is(err, libvirt.ErrNotFound) {
		// The chain stays: the instance is live on this node and its domain about to be
		// defined, perhaps (a launch volume) holding the chain's socket already.
		return reconcile.Result{}, a.fail(sc, cloudv1.ReasonInstanceNotRunning, fmt.Sprintf("Instance %s has no domain yet", want.InstanceID))
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	sock := a.chains.socketPath(vol.Status.VolumeID)
	inDomain, found, err := domainxml.DiskOf(d.XML, target)
	if err != nil {
		return reconcile.Result{}, err
	}
	plugged := found && inDomain == sock
	switch {
	case found && !plugged:
		a.chains.stop(ctx, sc.key)
		return reconcile.Result{}, a.fail(sc, cloudv1.ReasonDeviceInUse,
			fmt.Sprintf("Instance %s already has a device %s (guest %s)", want.InstanceID, want.Device, target))
	case !plugged && d.State != "running" && d.State != "blocked":
		a.chains.stop(ctx, sc.key)
		return reconcile.Result{}, a.fail(sc, cloudv1.ReasonInstanceNotRunning,
			fmt.Sprintf("Instance %s is %s; volumes are attached to running instances", want.InstanceID, d.State))
	}
	addr := aoeAddress{shelf: uint16(vol.Status.AoE.Shelf), slot: uint8(vol.Status.AoE.Slot)}
	chain, made, err := a.chains.ensure(ctx, sc.key, vol.Status.VolumeID, addr)
	if err != nil {
		if errors.Is(err, chainhost.ErrTargetUnreachable) {
			a.event(vol, "Warning", "FailedAttach", "Attach", "Reaching the volume's AoE target %s failed: %v", addr, err)
			return reconcile.Result{RequeueAfter: retryUnreachable}, a.fail(sc, cloudv1.ReasonTargetUnreachable,
				fmt.Sprintf("AoE target %s does not answer on the storage network", addr))
		}
		if errors.Is(err, chainhost.ErrSettingsDiffer) || errors.Is(err, chainhost.ErrProtocol) {
			// The node's operator starts the chain host again with the agent's settings.
			log.FromContext(ctx).Error(err, "Asking the volume chain host for a chain")
			why := "was started with other settings than its node agent"
			if errors.Is(err, chainhost.ErrProtocol) {
				why = "speaks another protocol version than its node agent"
			}
			return reconcile.Result{RequeueAfter: retryUnreachable}, a.fail(sc, cloudv1.ReasonVolumeChainsUnavailable,
				fmt.Sprintf("Node %s's volume chain host %s (see the node agent's log)", a.cfg.NodeName, why))
		}
		if errors.Is(err, chainhost.ErrNoHost) || errors.Is(err, context.DeadlineExceeded) {
			// Not a reason to back off for minutes: the chain host is restarting, or will be started.
			log.FromContext(ctx).Error(err, "Asking the volume chain host for a chain")
			return reconcile.Result{RequeueAfter: retryUnreachable}, a.fail(sc, cloudv1.ReasonVolumeChainsUnavailable,
				fmt.Sprintf("Node %s's volume chain host does not answer", a.cfg.NodeName))
		}
		_ = a.fail(sc, cloudv1.ReasonInternalError, "Serving the volume failed; see the node agent's log")
		return reconcile.Result{}, err
	}
	if !plugged {
		if err := a.plug(ctx, sc, target, sock); err != nil {
			return reconcile.Result{}, err
		}
	}
	if plugged && made && qemuHolds(d.State) && !strings.HasPrefix(a.virt.URI(), "test:") {
		// The guest's QEMU was connected to a chain that ended with the process that held it (the
		// agent's own, or the chain host's); with no NBD reconnection (libvirt 9.0) it fails every
		// request on that connection, so the chain made again does not reach it.
		a.event(vol, "Warning", "VolumeConnectionLost", "Attach",
			"Instance %s lost its connection to the volume when the node's volume chains restarted: attach the volume again, or stop and start the instance", want.InstanceID)
	}
	a.chains.markPlugged(ctx, sc.key, want.InstanceID, want.Device)
	a.setAttached(sc)
	if plugged {
		return a.resize(ctx, sc, d, chain.Size)
	}
	return reconcile.Result{}, nil
}

// retryGrow is how soon an attached volume whose growth the storage node does not serve yet is
// looked at again.
const retryGrow = 2 * time.Second

// resize brings the chain of an attached volume to the size the volume was given (ModifyVolume)
// while no guest reads it: QEMU learns an NBD disk's size when it connects, and cannot grow it
// in a running guest whose connection cannot be replaced under it without failing its I/O
// (libvirt here sets no NBD reconnection). So a volume grown while its instance runs keeps its
// size in the guest, which an event says, until the instance is stopped (the chain then grows,
// and the next start sees the size) or the volume is attached again. served is the size the
// chain serves now.
func (a *volumeAttach) resize(ctx context.Context, sc *attachScope, d libvirt.Domain, served int64) (reconcile.Result, error) {
	vol := sc.vol
	want := int64(vol.GivenSizeGiB()) << 30
	if served >= want {
		return reconcile.Result{}, nil
	}
	if qemuHolds(d.State) {
		if a.chains.announce(ctx, sc.key, want) {
			a.event(vol, "Normal", "ResizePending", "Resize",
				"Instance %s sees the volume's %d GiB once it is stopped and started, or the volume is attached again", d.Name, vol.GivenSizeGiB())
		}
		return reconcile.Result{}, nil
	}
	err := a.chains.grow(ctx, sc.key, want)
	if errors.Is(err, chainhost.ErrNotGrownYet) || errors.Is(err, chainhost.ErrTargetUnreachable) {
		log.FromContext(ctx).V(1).Info("Waiting for the storage node to serve the grown volume", "reason", err.Error())
		return reconcile.Result{RequeueAfter: retryGrow}, nil
	}
	return reconcile.Result{}, err
}

// plug hot-plugs the volume's disk into the domain; on failure its chain is stopped.
func (a *volumeAttach) plug(ctx context.Context, sc *attachScope, target, sock string) error {
	vol, want := sc.vol, sc.vol.Spec.AttachTo
	x, err := domainxml.MarshalVolume(domainxml.Volume{Socket: sock, Target: target, Serial: vol.Status.VolumeID,
		IOTune: volumeIOTune(vol)})
	if err != nil {
		a.chains.stop(ctx, sc.key)
		return err
	}
	log.FromContext(ctx).Info("Attaching volume", "volume", vol.Status.VolumeID, "instance", want.InstanceID, "device", want.Device, "target", target)
	if err := a.virt.AttachDevice(want.InstanceID, x); err != nil {
		a.chains.stop(ctx, sc.key)
		a.event(vol, "Warning", "FailedAttach", "Attach", "Plugging into %s failed: %v", want.InstanceID, err)
		return errors.Join(err, a.fail(sc, cloudv1.ReasonAttachFailed, "Plugging the disk into the domain failed; see the volume's events"))
	}
	a.event(vol, "Normal", "Attached", "Attach", "Attached to %s as %s (guest %s)", want.InstanceID, want.Device, target)
	return nil
}

// setAttached reports the attachment, keeping the first attach time.
func (a *volumeAttach) setAttached(sc *attachScope) {
	vol, want := sc.vol, sc.vol.Spec.AttachTo
	at := &cloudv1.VolumeAttachment{InstanceID: want.InstanceID, Device: want.Device, State: cloudv1.AttachmentAttached, AttachTime: &sc.now}
	if cur := vol.Status.Attachment; cur != nil && cur.State == cloudv1.AttachmentAttached &&
		cur.InstanceID == want.InstanceID && cur.Device == want.Device && cur.AttachTime != nil {
		at.AttachTime = cur.AttachTime
	}
	vol.Status.Attachment = at
	conditions.MarkTrue(vol, cloudv1.VolumeAttached, cloudv1.ReasonVolumeAttached,
		fmt.Sprintf("Attached to %s as %s", want.InstanceID, want.Device), sc.now)
}

// fail reports an attachment that could not be made: attaching, with the reason.
func (a *volumeAttach) fail(sc *attachScope, reason, msg string) error {
	want := sc.vol.Spec.AttachTo
	sc.vol.Status.Attachment = &cloudv1.VolumeAttachment{InstanceID: want.InstanceID, Device: want.Device, State: cloudv1.AttachmentAttaching}
	conditions.MarkFalse(sc.vol, cloudv1.VolumeAttached, reason, msg, sc.now)
	return nil
}

// detach unplugs the attached volume, waits (bounded) for the guest to release it, and then
// ends its chain. The attachment is then detached, and cleared once nothing asks for it.
func (a *volumeAttach) detach(ctx context.Context, sc *attachScope) (reconcile.Result, error) {
	vol, cur := sc.vol, sc.vol.Status.Attachment
	if cur == nil || cur.State == cloudv1.AttachmentDetached || cur.InstanceID == "" {
		a.chains.stop(ctx, sc.key)
		if vol.Spec.AttachTo == nil {
			vol.Status.Attachment = nil
		}
		if c := conditions.Get(vol, cloudv1.VolumeAttached); c == nil || c.Reason != cloudv1.ReasonVolumeDetached {
			conditions.MarkFalse(vol, cloudv1.VolumeAttached, cloudv1.ReasonVolumeDetached, "The volume is not attached", sc.now)
		}
		return reconcile.Result{}, nil
	}
	released, err := a.unplug(ctx, cur.InstanceID, cur.Device, a.chains.socketPath(vol.Status.VolumeID))
	if err != nil {
		return reconcile.Result{}, err
	}
	if !released {
		cur.State = cloudv1.AttachmentDetaching
		conditions.MarkTrue(vol, cloudv1.VolumeAttached, cloudv1.ReasonDetachPending,
			fmt.Sprintf("Instance %s has not released %s yet", cur.InstanceID, cur.Device), sc.now)
		return reconcile.Result{RequeueAfter: a.cfg.DetachTimeout}, nil
	}
	a.chains.stop(ctx, sc.key)
	vol.Status.Attachment = &cloudv1.VolumeAttachment{InstanceID: cur.InstanceID, Device: cur.Device, State: cloudv1.AttachmentDetached}
	conditions.MarkFalse(vol, cloudv1.VolumeAttached, cloudv1.ReasonVolumeDetached,
		fmt.Sprintf("Detached from %s", cur.InstanceID), sc.now)
	a.event(vol, "Normal", "Detached", "Detach", "Detached from %s (%s)", cur.InstanceID, cur.Device)
	// Next: attach it where it was moved, or clear the attachment (this agent's own status write
	// does not bring the volume back).
	return reconcile.Result{RequeueAfter: time.Second}, nil
}

// unplug asks the domain to release the volume's disk and waits up to DetachTimeout for it to
// go. A domain without the disk (or without a domain) has released it.
func (a *volumeAttach) unplug(ctx context.Context, instanceID, device, sock string) (bool, error) {
	target, err := domainxml.GuestTarget(device)
	if err != nil {
		return true, nil //nolint:nilerr // never plugged under a name that does not map
	}
	has := func() (bool, error) {
		d, err := a.virt.Lookup(instanceID)
		if errors.Is(err, libvirt.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		s, found, err := domainxml.DiskOf(d.XML, target)
		return found && s == sock, err
	}
	if ok, err := has(); err != nil || !ok {
		return err == nil, err
	}
	x, err := domainxml.MarshalVolume(domainxml.Volume{Socket: sock, Target: target})
	if err != nil {
		return false, err
	}
	log.FromContext(ctx).Info("Detaching volume", "instance", instanceID, "device", device, "target", target)
	if err := a.virt.DetachDevice(instanceID, x); err != nil && !errors.Is(err, libvirt.ErrNotFound) {
		return false, fmt.Errorf("detaching %s from %s: %w", device, instanceID, err)
	}
	deadline := a.clock.Now().Add(a.cfg.DetachTimeout)
	for {
		ok, err := has()
		if err != nil || !ok {
			return err == nil, err
		}
		if a.clock.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// release unplugs and ends the chain of a volume that left this node's care (deleted, or its
// label removed) without reporting: its status is no longer this node's to write.
func (a *volumeAttach) release(ctx context.Context, key types.NamespacedName) error {
	c, err := a.chains.get(ctx, key)
	if errors.Is(err, chainhost.ErrNoHost) {
		return nil // no chain host, no chains: a new one starts with none
	}
	if err != nil || c == nil {
		return err
	}
	if c.InstanceID != "" {
		if _, err := a.unplug(ctx, c.InstanceID, c.Device, c.Socket); err != nil {
			return err
		}
	}
	a.chains.stop(ctx, key)
	return nil
}

func (a *volumeAttach) event(vol *cloudv1.Volume, typ, reason, action, note string, args ...any) {
	if a.recorder != nil {
		a.recorder.Eventf(vol, nil, typ, reason, action, note, args...)
	}
}

// exportChanged passes updates of what the storage side reports: the id, the AoE address and
// the Exported condition, and of the size the volume was given.
func exportChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*cloudv1.Volume)
		n, ok2 := e.ObjectNew.(*cloudv1.Volume)
		if !ok1 || !ok2 {
			return true
		}
		return o.Status.VolumeID != n.Status.VolumeID || !equality.Semantic.DeepEqual(o.Status.AoE, n.Status.AoE) ||
			conditions.IsTrue(o, cloudv1.VolumeExported) != conditions.IsTrue(n, cloudv1.VolumeExported) ||
			o.GivenSizeGiB() != n.GivenSizeGiB()
	}}
}

// setupWithManager watches this node's Volumes and, for the volumes that name them, its
// Instances (their domains' state comes with them).
func (a *volumeAttach) setupWithManager(mgr ctrl.Manager) error {
	byInstance := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		id := o.(*cloudv1.Instance).Status.InstanceID
		if id == "" {
			return nil
		}
		list := &cloudv1.VolumeList{}
		if err := a.client.List(ctx, list); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for i := range list.Items {
			v := &list.Items[i]
			if (v.Spec.AttachTo != nil && v.Spec.AttachTo.InstanceID == id) ||
				(v.Status.Attachment != nil && v.Status.Attachment.InstanceID == id) {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(v)})
			}
		}
		return reqs
	})
	// Chains a chain host kept through the agent's restart whose volumes are no longer this
	// node's (detached, moved or deleted meanwhile) are released: the reconciler finds them gone.
	adopted := make(chan event.TypedGenericEvent[*cloudv1.Volume])
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		keys, err := a.chains.keys(ctx)
		if err != nil {
			if !errors.Is(err, chainhost.ErrNoHost) {
				log.FromContext(ctx).Error(err, "Listing the volumes' chains")
			}
			return nil
		}
		for _, k := range keys {
			v := &cloudv1.Volume{}
			v.Name, v.Namespace = k.Name, k.Namespace
			select {
			case adopted <- event.TypedGenericEvent[*cloudv1.Volume]{Object: v}:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	})); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodeagent-volume-attach").
		WatchesRawSource(source.Channel(adopted, &handler.TypedEnqueueRequestForObject[*cloudv1.Volume]{})).
		// Its own writes (attachment, Attached) do not bring a volume back; what others change does.
		For(&cloudv1.Volume{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, exportChanged()))).
		Watches(&cloudv1.Instance{}, byInstance).
		// One at a time: two volumes asking for one device name never race.
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(a)
}
