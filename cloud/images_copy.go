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
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/refs"
)

// CopyImageInput copies an image the caller's project may launch into an image of its own.
type CopyImageInput struct {
	SourceImageID, SourceRegion, Name, Description string
	// ClientToken makes the call idempotent: a retry answers the image the first call made.
	ClientToken string
	// CopyImageTags copies the source's tags, when the source is the project's own (EC2 does
	// not copy other accounts' tags).
	CopyImageTags bool
	// Encrypted, KmsKeyID, DestinationOutpostArn and the destination zone are EC2's; PiNet
	// refuses them.
	Encrypted                                                  bool
	KmsKeyID, DestinationOutpostArn                            string
	DestinationAvailabilityZone, DestinationAvailabilityZoneID string
	SnapshotCopyCompletionDurationMinutes                      *int64
	TagSpecifications                                          []TagSpecification
	DryRun                                                     bool
}

// CopyImage makes an image of the caller's project that is a copy of one it may launch (its own,
// public, or shared with it), and returns its id at once, pending: the image controller copies
// the stored image within the store, and the snapshots the source maps are copied into the
// project (copyImageSnapshots). The copy is the project's: it stays when the source is
// deregistered or no longer shared, and boots as the source does (its kernel, ramdisk,
// architecture, root device, meta-data disk and volumes).
func (s *Service) CopyImage(ctx context.Context, c Caller, in CopyImageInput) (string, error) {
	tags, err := s.startCreate(ctx, c, "images", in.DryRun, func() error { return s.validateCopyImage(&in) },
		in.TagSpecifications, "image")
	if err != nil {
		return "", err
	}
	if !validImageID(in.SourceImageID) {
		return "", malformedImageID(in.SourceImageID)
	}
	// A retry answers the first call's image even if the source has gone or been unshared since.
	name, hash := "", requestHash(in)
	if in.ClientToken != "" {
		seed, err := s.projectSeed(ctx, c, in.ClientToken)
		if err != nil {
			return "", err
		}
		name = ids.Derive(ids.Prefix(in.SourceImageID), seed)
		if earlier, err := s.earlierImage(ctx, c, name, hash); earlier != "" || err != nil {
			return earlier, err
		}
	}
	src, err := s.visibleImage(ctx, c, in.SourceImageID)
	if err != nil {
		return "", err
	}
	if src.Status.State == cloudv1.ImageStateFailed {
		return "", BadRequest(CodeAMIUnavailable, "The image id '[%s]' is no longer available: it failed", in.SourceImageID)
	}
	if err := s.imageNameFree(ctx, c, in.Name); err != nil {
		return "", err
	}
	kernel, ramdisk := s.defaultImageIDs(ctx, src)
	spec := &cloudv1.ImageSpec{
		SourceImageID: ImageID(src), Type: src.EffectiveType(), Name: in.Name, Description: in.Description,
		KernelID: kernel, RamdiskID: ramdisk, Architecture: src.Spec.Architecture,
		RootDeviceName: src.Spec.RootDeviceName, ConfigDrive: src.Spec.ConfigDrive,
	}
	// A kernel or ramdisk the project cannot see would leave the copy waiting for it.
	if err := s.checkDefaultImages(ctx, c, spec); err != nil {
		return "", err
	}
	if in.CopyImageTags && src.Namespace == c.Project() {
		own := TagsOf(src)
		for k, v := range tags {
			own[k] = v
		}
		tags = own
	}
	made, err := s.copyImageSnapshots(ctx, c, src, spec)
	if err != nil {
		return "", s.withdrawAfter(ctx, made, err)
	}
	id, err := s.createImage(ctx, c, name, spec, tags, map[string]string{annotationRequestHash: hash})
	if err != nil {
		err = s.withdrawAfter(ctx, made, err)
	}
	if apierrors.IsAlreadyExists(err) && name != "" {
		// A retry racing the first call: the image is the first call's.
		return s.earlierImage(ctx, c, name, hash)
	}
	return id, err
}

// copyImageSnapshots copies each snapshot the source image maps into the caller's project, as
// EC2's CopyImage does, and maps the copies in spec at the source's devices (size, type and
// deleteOnTermination kept). The copies are made through the image (spec.sourceImageId): the
// caller may launch it, so it may have its snapshots whether or not they are shared with it.
// They count under the snapshot quota; the image is pending until they are completed. It
// returns what it made, for the caller to withdraw if the image is refused.
func (s *Service) copyImageSnapshots(ctx context.Context, c Caller, src *cloudv1.Image, spec *cloudv1.ImageSpec) ([]client.Object, error) {
	var made []client.Object
	for _, m := range src.Spec.BlockDeviceMappings {
		from, err := refs.ImageSnapshot(ctx, s.cfg.Client, src, c.Project(), m.EBS.SnapshotID, false)
		if errors.Is(err, refs.ErrNotFound) {
			return made, BadRequest(CodeSnapshotNotFound, "The snapshot '%s' that image %s maps at %s does not exist.", m.EBS.SnapshotID, ImageID(src), m.DeviceName)
		}
		if err != nil {
			return made, err
		}
		snap, err := s.makeSnapshot(ctx, c, cloudv1.SnapshotSpec{SourceSnapshotID: m.EBS.SnapshotID, SourceImageID: ImageID(src),
			Description: fmt.Sprintf("Copied for CopyImage(%s) from %s", ImageID(src), m.EBS.SnapshotID)}, nil, from.Status.VolumeSizeGiB)
		if err != nil {
			return made, err
		}
		made = append(made, &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: snap.SnapshotID, Namespace: c.Project()}})
		ebs := *m.EBS.DeepCopy()
		ebs.SnapshotID = snap.SnapshotID
		spec.BlockDeviceMappings = append(spec.BlockDeviceMappings, cloudv1.ImageBlockDeviceMapping{DeviceName: m.DeviceName, EBS: ebs})
	}
	return made, nil
}

// validateCopyImage checks what needs no lookups.
func (s *Service) validateCopyImage(in *CopyImageInput) error {
	switch {
	case in.SourceImageID == "":
		return BadRequest(CodeMissingParameter, "The request must contain the parameter SourceImageId")
	case in.SourceRegion == "":
		return BadRequest(CodeMissingParameter, "The request must contain the parameter SourceRegion")
	case in.SourceRegion != s.cfg.Region:
		return InvalidParam("Value (%s) for parameter SourceRegion is invalid: the cloud's region is %s", clipID(in.SourceRegion), s.cfg.Region)
	case len(in.ClientToken) > maxClientToken:
		return InvalidParam("Value for parameter ClientToken is too long; the limit is %d characters", maxClientToken)
	case in.Encrypted || in.KmsKeyID != "":
		return BadRequest(CodeUnsupported, "Encrypted image copies are not supported")
	case in.DestinationOutpostArn != "" || in.DestinationAvailabilityZone != "" || in.DestinationAvailabilityZoneID != "":
		return BadRequest(CodeUnsupported, "Image copies to an Outpost or a Local Zone are not supported")
	case in.SnapshotCopyCompletionDurationMinutes != nil:
		return BadRequest(CodeUnsupported, "Time-based image copies are not supported")
	}
	return validateNewImageName(in.Name, in.Description)
}

// earlierImage returns the id of the image an earlier call with the same ClientToken made (named
// name), "" if there is none; a different request reusing the token is
// IdempotentParameterMismatch.
func (s *Service) earlierImage(ctx context.Context, c Caller, name, hash string) (string, error) {
	img := &cloudv1.Image{}
	if err := s.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Project(), Name: name}, img); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading the image of an earlier call: %w", err)
	}
	if img.Annotations[annotationRequestHash] != hash {
		return "", BadRequest(CodeIdempotentMismatch,
			"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
	}
	s.AwaitCache(ctx, img)
	return ImageID(img), nil
}
