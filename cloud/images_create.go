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

package cloud

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// CreateImageInput makes a machine image of an instance of the caller's project.
type CreateImageInput struct {
	InstanceID, Name, Description string
	// NoReboot copies a running instance's disk without shutting its guest down (it is paused
	// for the copy instead).
	NoReboot bool
	// BlockDeviceMappings are accepted as RegisterImage's are: instance-store ones, not
	// recorded (an instance's disks come from its instance type); NoDevice leaves the volume
	// attached at the device out of the image.
	BlockDeviceMappings []ImageBlockDevice
	TagSpecifications   []TagSpecification
	DryRun              bool
}

// CreateImage makes an image of the root disk of an instance of the caller's project that is
// running or stopped, and returns its id at once, pending: the instance's node copies the disk
// (shutting a running guest down and starting it again, unless NoReboot), then the image
// controller checks and stores it. The image boots as its instance did: the instance's kernel
// and ramdisk, or its image's, are its defaults. Each volume attached to the instance (but those
// a NoDevice mapping names) is snapshotted, and the image maps the snapshot at the volume's
// device, so its instances get copies of the volumes; the image is available once the
// snapshots are completed too.
func (s *Service) CreateImage(ctx context.Context, c Caller, in CreateImageInput) (string, error) {
	if err := s.authorize(ctx, c, "create", "images", in.DryRun); err != nil {
		return "", err
	}
	if err := validateCreateImage(&in); err != nil {
		return "", err
	}
	tags, err := SpecTags(in.TagSpecifications, "image", "snapshot")
	if err != nil {
		return "", err
	}
	inst, err := resolveOne(ctx, s, c, instanceKind, "get", in.InstanceID, false)
	if err != nil {
		return "", err
	}
	if st := inst.Status.State; inst.Terminating() || inst.Status.InstanceID == "" ||
		(st != cloudv1.InstanceStateRunning && st != cloudv1.InstanceStateStopped) {
		return "", BadRequest(CodeIncorrectState, "The instance '%s' is not in a state from which it can be imaged (it is %s); it must be running or stopped", in.InstanceID, stateOf(inst.Status.State).Name)
	}
	if err := s.imageNameFree(ctx, c, in.Name); err != nil {
		return "", err
	}
	spec, err := s.capturedSpec(ctx, c, inst, &in)
	if err != nil {
		return "", err
	}
	vols, err := s.imagedVolumes(ctx, c, inst, in.BlockDeviceMappings)
	if err != nil {
		return "", err
	}
	snapTags, err := SpecTags(in.TagSpecifications, "snapshot", "image")
	if err != nil {
		return "", err
	}
	// The snapshots first, for the image's spec names them; withdrawn if the image is refused.
	var made []client.Object
	for _, v := range vols {
		snap, err := s.makeSnapshot(ctx, c, cloudv1.SnapshotSpec{VolumeID: volumeID(v),
			Description: fmt.Sprintf("Created by CreateImage(%s) for image %s", inst.Status.InstanceID, in.Name)}, snapTags, v.Spec.SizeGiB)
		if err == nil {
			made = append(made, &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: snap.SnapshotID, Namespace: c.Project()}})
			at := attachmentOf(v, nil)
			spec.BlockDeviceMappings = append(spec.BlockDeviceMappings, cloudv1.ImageBlockDeviceMapping{DeviceName: at.Device,
				EBS: cloudv1.EBSBlockDevice{SnapshotID: snap.SnapshotID, VolumeSize: v.Spec.SizeGiB,
					DeleteOnTermination: ptr.To(v.DeletesWith(inst.Status.InstanceID)),
					VolumeType:          v.Spec.VolumeType, Iops: v.Spec.Iops, Throughput: v.Spec.Throughput}})
			continue
		}
		return "", s.withdrawAfter(ctx, made, err)
	}
	id, err := s.createImage(ctx, c, "", spec, tags, nil)
	if err != nil {
		return "", s.withdrawAfter(ctx, made, err)
	}
	return id, nil
}

// withdrawAfter withdraws what a call made before it failed with err, and returns err.
func (s *Service) withdrawAfter(ctx context.Context, made []client.Object, err error) error {
	// The cleanup finishes even if the caller went away meanwhile.
	if delErr := s.WithdrawAll(context.WithoutCancel(ctx), made); delErr != nil {
		return fmt.Errorf("withdrawing what the call made after %q: %w", err.Error(), delErr)
	}
	return err
}

// imagedVolumes are the volumes attached (or attaching) to the instance that an image of it
// records, in device order: all but those a NoDevice mapping names. Each must have storage to be
// snapshotted.
func (s *Service) imagedVolumes(ctx context.Context, c Caller, inst *cloudv1.Instance, mappings []ImageBlockDevice) ([]*cloudv1.Volume, error) {
	left := map[string]bool{}
	for _, m := range mappings {
		if m.NoDevice {
			left[m.DeviceName] = true
		}
	}
	all, err := inProject(ctx, s, c, volumeKind)
	if err != nil {
		return nil, err
	}
	var out []*cloudv1.Volume
	for _, v := range all {
		at := attachmentOf(v, nil)
		if at == nil || at.InstanceID != inst.Status.InstanceID || at.State == string(cloudv1.AttachmentDetaching) || left[at.Device] {
			continue
		}
		switch v.Status.State {
		case cloudv1.VolumeStateAvailable, cloudv1.VolumeStateInUse:
		default:
			return nil, BadRequest(CodeIncorrectResource, "Volume '%s', attached to %s at %s, is in the '%s' state; it cannot be snapshotted for the image.",
				volumeID(v), inst.Status.InstanceID, at.Device, volumeState(v))
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *cloudv1.Volume) int {
		return strings.Compare(attachmentOf(a, nil).Device, attachmentOf(b, nil).Device)
	})
	return out, nil
}

// validateCreateImage checks what needs no lookups.
func validateCreateImage(in *CreateImageInput) error {
	if err := refuseEBS(in.BlockDeviceMappings, "an image of an instance maps the volumes attached to it, and only those"); err != nil {
		return err
	}
	if in.InstanceID == "" {
		return BadRequest(CodeMissingParameter, "The request must contain the parameter InstanceId")
	}
	return validateNewImageName(in.Name, in.Description)
}

// validateNewImageName checks the name and description of an image made or copied.
func validateNewImageName(name, description string) error {
	switch {
	case name == "":
		return BadRequest(CodeMissingParameter, "The request must contain the parameter Name")
	case !imageNamePattern.MatchString(name):
		return malformedImageName()
	case len(description) > maxImageDescription:
		return InvalidParam("The description is longer than %d characters", maxImageDescription)
	}
	return nil
}

// capturedSpec is the spec of an image of inst: its root disk booted as the instance boots,
// with the instance's kernel and ramdisk (or its image's defaults), architecture, root device
// and meta-data disk.
func (s *Service) capturedSpec(ctx context.Context, c Caller, inst *cloudv1.Instance, in *CreateImageInput) (*cloudv1.ImageSpec, error) {
	spec := &cloudv1.ImageSpec{
		InstanceID: inst.Status.InstanceID, NoReboot: in.NoReboot, Type: cloudv1.ImageTypeMachine,
		Name: in.Name, Description: in.Description,
		KernelID: s.imageRefID(ctx, inst.Namespace, inst.Spec.KernelID), RamdiskID: s.imageRefID(ctx, inst.Namespace, inst.Spec.RamdiskID),
		ConfigDrive: inst.Spec.ConfigDrive,
	}
	// The instance's image, if the project can still see it, gives what the instance does not
	// say itself.
	if src, err := s.visibleImage(ctx, c, s.imageRefID(ctx, inst.Namespace, inst.Spec.ImageID)); err == nil {
		kernel, ramdisk := s.defaultImageIDs(ctx, src)
		if spec.KernelID == "" {
			spec.KernelID = kernel
		}
		if spec.RamdiskID == "" {
			spec.RamdiskID = ramdisk
		}
		spec.Architecture, spec.RootDeviceName = src.Spec.Architecture, src.Spec.RootDeviceName
		if spec.ConfigDrive == nil {
			spec.ConfigDrive = src.Spec.ConfigDrive
		}
	}
	// A kernel or ramdisk the project can no longer see would leave the image waiting for it.
	if err := s.checkDefaultImages(ctx, c, spec); err != nil {
		return nil, err
	}
	return spec, nil
}
