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

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// CreateImageInput makes a machine image of an instance of the caller's project.
type CreateImageInput struct {
	InstanceID, Name, Description string
	// NoReboot copies a running instance's disk without shutting its guest down (it is paused
	// for the copy instead).
	NoReboot bool
	// BlockDeviceMappings are accepted as RegisterImage's are: instance-store ones, not
	// recorded; an instance's disks come from its instance type.
	BlockDeviceMappings []ImageBlockDevice
	TagSpecifications   []TagSpecification
	DryRun              bool
}

// CreateImage makes an image of the root disk of an instance of the caller's project that is
// running or stopped, and returns its id at once, pending: the instance's node copies the disk
// (shutting a running guest down and starting it again, unless NoReboot), then the image
// controller checks and stores it. The image boots as its instance did: the instance's kernel
// and ramdisk, or its image's, are its defaults.
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
	return s.createImage(ctx, c, "", spec, tags, nil)
}

// validateCreateImage checks what needs no lookups.
func validateCreateImage(in *CreateImageInput) error {
	if err := refuseEBS(in.BlockDeviceMappings, "PiNet's images are of the instance's root disk only"); err != nil {
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
