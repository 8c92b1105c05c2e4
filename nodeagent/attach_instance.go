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
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/nodeagent/domainxml"
)

// What the instance side of the agent knows of attached volumes: the disks a (re)definition of
// the domain keeps, and the block device mappings of the instance's status.

// attachedVolumes lists the volumes of this node attached to the instance (from the agent's
// cache, which holds only the volumes labelled with this node): those of its own project alone.
func attachedVolumes(ctx context.Context, c client.Reader, inst *cloudv1.Instance) []cloudv1.Volume {
	list := &cloudv1.VolumeList{}
	instanceID := inst.Status.InstanceID
	if instanceID == "" || c.List(ctx, list, client.InNamespace(inst.Namespace)) != nil {
		return nil
	}
	var out []cloudv1.Volume
	for _, v := range list.Items {
		if at := v.Status.Attachment; at != nil && at.InstanceID == instanceID && at.State != "" &&
			at.State != cloudv1.AttachmentDetached {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b cloudv1.Volume) int {
		return strings.Compare(a.Status.Attachment.Device, b.Status.Attachment.Device)
	})
	return out
}

// volumeDisks are the disks of the volumes attached to the instance, for its domain definition,
// with their chains running so that QEMU finds the sockets when it starts: those attached, and
// those asked to be (spec.attachTo) that the storage node exports and nothing else holds — a new
// instance's launch volumes, so its guest boots with them; the attach reconciler then finds them
// plugged and reports them attached. A volume whose chain cannot be made now is left out; the
// attach reconciler plugs it in once the guest runs. With idle (no QEMU process holds the
// domain's disks), a chain grows to its volume's given size.
func (s *instanceSync) volumeDisks(ctx context.Context, inst *cloudv1.Instance, idle bool) []domainxml.Volume {
	if s.volumes == nil {
		return nil
	}
	var out []domainxml.Volume
	for _, v := range definitionVolumes(ctx, s.client, inst) {
		want := v.Spec.AttachTo
		target, err := domainxml.GuestTarget(want.Device)
		if err != nil {
			continue
		}
		key := client.ObjectKeyFromObject(&v)
		addr := aoeAddress{shelf: uint16(v.Status.AoE.Shelf), slot: uint8(v.Status.AoE.Slot)}
		c, _, err := s.volumes.ensure(ctx, key, v.Status.VolumeID, addr)
		if err != nil {
			log.FromContext(ctx).Info("Defining the domain without an attached volume for now", "volume", v.Status.VolumeID, "reason", err.Error())
			continue
		}
		// No guest reads the chain: it may take the size the volume was given since
		// (ModifyVolume while the instance ran), which the next start then sees.
		// The socket stays where it was when the chain grows.
		if idle {
			if err := s.volumes.grow(ctx, key, int64(v.GivenSizeGiB())<<30); err != nil {
				log.FromContext(ctx).Info("Defining the domain with the volume's earlier size", "volume", v.Status.VolumeID, "reason", err.Error())
			}
		}
		s.volumes.markPlugged(ctx, key, want.InstanceID, want.Device)
		out = append(out, domainxml.Volume{Socket: c.Socket, Target: target, Serial: v.Status.VolumeID,
			IOTune: volumeIOTune(&v)})
	}
	return out
}

// definitionVolumes are the volumes of this node (the agent's cache) a definition of the
// instance's domain holds, in device order: attached to it where they are asked to be, or asked
// to be, exported, and attached nowhere else.
func definitionVolumes(ctx context.Context, c client.Reader, inst *cloudv1.Instance) []cloudv1.Volume {
	list := &cloudv1.VolumeList{}
	if inst.Status.InstanceID == "" || c.List(ctx, list, client.InNamespace(inst.Namespace)) != nil {
		return nil
	}
	var out []cloudv1.Volume
	for _, v := range list.Items {
		want, at := v.Spec.AttachTo, v.Status.Attachment
		if want == nil || want.InstanceID != inst.Status.InstanceID || v.Status.AoE == nil || !v.DeletionTimestamp.IsZero() {
			continue
		}
		if at != nil && at.State != "" && at.State != cloudv1.AttachmentDetached && (at.InstanceID != want.InstanceID || at.Device != want.Device) {
			continue // held elsewhere, or moving: the attach reconciler detaches it first
		}
		switch {
		case at != nil && at.State == cloudv1.AttachmentAttached:
		case at != nil && at.State == cloudv1.AttachmentDetaching:
			continue
		case !conditions.IsTrue(&v, cloudv1.VolumeExported):
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b cloudv1.Volume) int { return strings.Compare(a.Spec.AttachTo.Device, b.Spec.AttachTo.Device) })
	return out
}

// launchVolumeWait bounds how long a new instance's first start waits, after it was placed, for
// the volumes made for it at launch to be exported: one that takes longer (its storage node
// down, its project over the volume quota) is plugged into the running guest once it can be.
const launchVolumeWait = 30 * time.Second

// awaitLaunchVolumes tells how long a new instance's domain waits before it is defined, for the
// volumes made for it at launch (condition LaunchVolumes) to be exported, so that its guest boots
// with them as EC2's does; 0 when it need not wait. The volumes' changes bring the instance back
// sooner (instancesOfVolume).
func (s *instanceSync) awaitLaunchVolumes(ctx context.Context, sc *syncScope) (time.Duration, error) {
	inst := sc.inst
	made, placed := conditions.Get(inst, cloudv1.InstanceLaunchVolumes), conditions.Get(inst, cloudv1.InstanceScheduled)
	if s.volumes == nil || made == nil || placed == nil {
		return 0, nil
	}
	left := placed.LastTransitionTime.Add(launchVolumeWait).Sub(sc.now.Time)
	if left <= 0 {
		return 0, nil
	}
	wait := min(left, time.Second)
	if made.Status != metav1.ConditionTrue {
		return wait, nil
	}
	img, err := refs.Image(ctx, s.client, inst.Namespace, inst.Spec.ImageID)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return 0, err
	}
	pending := map[string]bool{}
	for _, m := range cloudv1.LaunchVolumes(img, inst) {
		pending[m.DeviceName] = true
	}
	list := &cloudv1.VolumeList{}
	if err := s.client.List(ctx, list, client.InNamespace(inst.Namespace),
		client.MatchingLabels{cloudv1.LabelLaunchInstance: inst.Status.InstanceID}); err != nil {
		return 0, fmt.Errorf("listing the launch volumes of %s: %w", inst.Status.InstanceID, err)
	}
	for _, v := range list.Items {
		// Exported, or never to be: nothing to wait for.
		if at := v.Spec.AttachTo; at != nil && (conditions.IsTrue(&v, cloudv1.VolumeExported) || v.Status.State == cloudv1.VolumeStateError) {
			delete(pending, at.Device)
		}
	}
	if len(pending) == 0 {
		return 0, nil
	}
	return wait, nil
}

// blockDevices are the instance's block device mappings: its attached volumes.
func (s *instanceSync) blockDevices(ctx context.Context, inst *cloudv1.Instance) []cloudv1.InstanceBlockDevice {
	var out []cloudv1.InstanceBlockDevice
	for _, v := range attachedVolumes(ctx, s.client, inst) {
		at := v.Status.Attachment
		bd := cloudv1.InstanceBlockDevice{DeviceName: at.Device, VolumeID: v.Status.VolumeID, Status: at.State, AttachTime: at.AttachTime,
			DeleteOnTermination: v.DeletesWith(inst.Status.InstanceID)}
		if bd.VolumeID != "" && !slices.ContainsFunc(out, func(o cloudv1.InstanceBlockDevice) bool { return o.DeviceName == bd.DeviceName }) {
			out = append(out, bd)
		}
	}
	return out
}

// instancesOfVolume maps a volume to the instances it is attached to, so that their block device
// mappings follow it.
func (s *instanceSync) instancesOfVolume() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		v := o.(*cloudv1.Volume)
		var ids []string
		if at := v.Status.Attachment; at != nil && at.InstanceID != "" {
			ids = append(ids, at.InstanceID)
		}
		if at := v.Spec.AttachTo; at != nil {
			ids = append(ids, at.InstanceID)
		}
		var reqs []reconcile.Request
		for _, id := range ids {
			list := &cloudv1.InstanceList{}
			if err := s.client.List(ctx, list, client.MatchingFields{index.InstanceID: id}); err != nil {
				continue
			}
			for i := range list.Items {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return reqs
	})
}
