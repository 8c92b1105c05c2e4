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

package instance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/objtags"
	"pinet.io/pinet/internal/refs"
)

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=volumes,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=snapshots,verbs=get;list;watch

// launchVolumeName is the name of the volume made for the instance's mapping of device: derived
// from the instance's UID, so that a reconcile repeated after a failed status write finds the
// volume it made instead of making another.
func launchVolumeName(inst *cloudv1.Instance, device string) string {
	return ids.Derive(ids.Volume, "launch/"+string(inst.UID)+"/"+device)
}

// reconcileLaunchVolumes makes the volumes the instance gets at launch — its image's EBS block
// device mappings and its own (cloudv1.LaunchVolumes) — once it is placed (so in its zone), each
// attached to it at the mapping's device; they are Volumes of the instance's project like any
// other, admitted under its volume quota and placed, exported and attached by the volume
// controller and the agents as a kubectl-made one would be. The snapshot a mapping names is
// resolved there, with the project's rights and, for a snapshot the instance's image maps, the
// image's (refs.VolumeSnapshot). Whether the instance gets volumes is decided once,
// when its references are resolved (the image read then): LaunchVolumes False
// (WaitingForScheduling) until they are made, then True (Created); an instance without any
// costs nothing more, and a launch volume deleted later is not made again.
func (r *Reconciler) reconcileLaunchVolumes(ctx context.Context, s *scope) error {
	inst := s.instance
	cond := findCondition(inst, cloudv1.InstanceLaunchVolumes)
	if cond == nil {
		if s.image == nil || s.refErr != nil || len(cloudv1.LaunchVolumes(s.image, inst)) == 0 {
			return nil
		}
		conditions.MarkFalse(inst, cloudv1.InstanceLaunchVolumes, cloudv1.ReasonWaitingForScheduling,
			"The instance's volumes are made once it is placed", s.now)
		cond = findCondition(inst, cloudv1.InstanceLaunchVolumes)
	}
	if cond.Status != metav1.ConditionFalse || cond.Reason != cloudv1.ReasonWaitingForScheduling ||
		inst.Status.InstanceID == "" || inst.Status.Hypervisor == "" || inst.Status.AvailabilityZone == "" ||
		inst.EffectiveDesiredState() == cloudv1.DesiredTerminated {
		return nil
	}
	// The image as the project sees it now; one deregistered since leaves the instance's own.
	img, err := refs.Image(ctx, r.Client, inst.Namespace, inst.Spec.ImageID)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return err
	}
	mappings := cloudv1.LaunchVolumes(img, inst)
	made := make([]string, 0, len(mappings))
	for _, m := range mappings {
		name, err := r.launchVolume(ctx, inst, img, m)
		if err != nil {
			return err
		}
		if name == "" {
			made = append(made, "none (refused) at "+m.DeviceName)
			continue
		}
		made = append(made, name+" at "+m.DeviceName)
	}
	msg := "Created volume(s) " + strings.Join(made, ", ")
	if len(made) == 0 {
		msg = "The image's volumes are gone with it"
	}
	conditions.MarkTrue(inst, cloudv1.InstanceLaunchVolumes, cloudv1.ReasonVolumesCreated, msg, s.now)
	if r.Recorder != nil && len(made) > 0 {
		r.Recorder.Eventf(inst, nil, "Normal", "VolumesCreated", "CreateVolumes", "%s", msg)
	}
	log.FromContext(ctx).Info("Created the instance's launch volumes", "volumes", made)
	return nil
}

// launchVolume makes (or finds, made by an earlier reconcile) the volume of one mapping and
// returns its name, or "" for one the Volume's admission rules refuse.
func (r *Reconciler) launchVolume(ctx context.Context, inst *cloudv1.Instance, img *cloudv1.Image, m cloudv1.BlockDeviceMapping) (string, error) {
	size, err := r.launchVolumeSize(ctx, inst, img, m.EBS)
	if err != nil {
		return "", err
	}
	v := &cloudv1.Volume{
		ObjectMeta: metav1.ObjectMeta{
			Name: launchVolumeName(inst, m.DeviceName), Namespace: inst.Namespace,
			Labels:      map[string]string{cloudv1.LabelLaunchInstance: inst.Status.InstanceID},
			Annotations: map[string]string{cloudv1.AnnotationDeleteOnTermination: strconv.FormatBool(m.EBS.DeletesOnTermination())},
		},
		Spec: cloudv1.VolumeSpec{
			SizeGiB: size, AvailabilityZone: inst.Status.AvailabilityZone, SnapshotID: m.EBS.SnapshotID,
			AttachTo:   &cloudv1.VolumeAttachTarget{InstanceID: inst.Status.InstanceID, Device: m.DeviceName},
			VolumeType: m.EBS.VolumeType, Iops: m.EBS.Iops, Throughput: m.EBS.Throughput,
		},
	}
	if raw := inst.Annotations[cloudv1.AnnotationLaunchVolumeTags]; raw != "" {
		objtags.Set(v, objtags.Parse(raw))
	}
	err = r.Client.Create(ctx, v)
	if apierrors.IsAlreadyExists(err) {
		existing := &cloudv1.Volume{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(v), existing); err != nil {
			return "", fmt.Errorf("reading launch volume %s: %w", v.Name, err)
		}
		if existing.Labels[cloudv1.LabelLaunchInstance] != inst.Status.InstanceID {
			return "", fmt.Errorf("volume %s/%s, the name of the launch volume of %s, is another volume", v.Namespace, v.Name, m.DeviceName)
		}
		return v.Name, nil
	}
	if apierrors.IsInvalid(err) {
		// A kubectl mapping the Volume's rules refuse (an iops or size its type does not take):
		// it is never made, which the instance's event says, rather than tried again.
		if r.Recorder != nil {
			r.Recorder.Eventf(inst, nil, "Warning", "InvalidVolume", "CreateVolume", "The volume of %s is refused: %v", m.DeviceName, err)
		}
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("creating the volume of %s: %w", m.DeviceName, err)
	}
	return v.Name, nil
}

// launchVolumeSize is the mapping's volumeSize, or without one the size of the snapshot's volume
// if the project may use the snapshot (its own, shared with it, or mapped by the image it
// launches: refs.LaunchSnapshot). One it may not is left to the volume controller to refuse
// (SnapshotNotFound), with the same words whether it exists or not: the volume is made at the
// smallest size, to fail there.
func (r *Reconciler) launchVolumeSize(ctx context.Context, inst *cloudv1.Instance, img *cloudv1.Image, ebs *cloudv1.EBSBlockDevice) (int32, error) {
	if ebs.VolumeSize > 0 {
		return ebs.VolumeSize, nil
	}
	snap, err := refs.LaunchSnapshot(ctx, r.Client, img, inst.Namespace, ebs.SnapshotID, false)
	switch {
	case errors.Is(err, refs.ErrNotFound):
		return 1, nil
	case err != nil:
		return 0, err
	}
	return max(snap.Status.VolumeSizeGiB, 1), nil
}

// deleteLaunchVolumes deletes, once the instance is terminated or deleted, the volumes that go
// with it (Volume.DeletesWith: made for it at launch with deleteOnTermination, or given it by
// ModifyInstanceAttribute) and are still attached to it; each goes once the node has detached it
// (the volume controller's finalizer). The volumes asked to be attached to it are read from
// the cache's index, not the project's others.
func (r *Reconciler) deleteLaunchVolumes(ctx context.Context, inst *cloudv1.Instance) error {
	id := inst.Status.InstanceID
	if id == "" {
		return nil
	}
	list := &cloudv1.VolumeList{}
	if err := r.Client.List(ctx, list, client.InNamespace(inst.Namespace), client.MatchingFields{index.VolumeAttachTo: id}); err != nil {
		return fmt.Errorf("listing the volumes attached to %s: %w", id, err)
	}
	for i := range list.Items {
		v := &list.Items[i]
		if !v.DeletesWith(id) || v.Spec.AttachTo == nil || v.Spec.AttachTo.InstanceID != id || !v.DeletionTimestamp.IsZero() {
			continue
		}
		if err := r.Client.Delete(ctx, v, client.Preconditions{UID: &v.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting launch volume %s: %w", v.Name, err)
		}
		if r.Recorder != nil {
			r.Recorder.Eventf(inst, nil, "Normal", "DeletingVolume", "DeleteVolume",
				"Deleting volume %s, attached at %s with deleteOnTermination", v.Name, v.Spec.AttachTo.Device)
		}
	}
	return nil
}
