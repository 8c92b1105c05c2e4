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
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
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
// with their chains running so that QEMU finds the sockets when it starts. A volume whose chain
// cannot be made now is left out; the attach reconciler plugs it in once the guest runs. With
// idle (no QEMU process holds the domain's disks), a chain grows to its volume's given size.
func (s *instanceSync) volumeDisks(ctx context.Context, inst *cloudv1.Instance, idle bool) []domainxml.Volume {
	if s.volumes == nil {
		return nil
	}
	var out []domainxml.Volume
	for _, v := range attachedVolumes(ctx, s.client, inst) {
		at, want := v.Status.Attachment, v.Spec.AttachTo
		if at.State != cloudv1.AttachmentAttached || want == nil || want.InstanceID != at.InstanceID ||
			want.Device != at.Device || v.Status.AoE == nil {
			continue
		}
		target, err := domainxml.GuestTarget(at.Device)
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
		s.volumes.markPlugged(ctx, key, at.InstanceID, at.Device)
		out = append(out, domainxml.Volume{Socket: c.Socket, Target: target, Serial: v.Status.VolumeID})
	}
	return out
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
