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

// CopySnapshotInput asks for a copy of a snapshot in the caller's project. The cloud has one
// region and stores nothing encrypted with a key of the caller's, so the regions must be its
// own and the encryption, outpost and time-based parameters are refused.
type CopySnapshotInput struct {
	SourceSnapshotID, SourceRegion, DestinationRegion, Description string
	Encrypted                                                      bool
	KmsKeyID, DestinationOutpostArn, DestinationAvailabilityZone   string
	CompletionDurationMinutes                                      *int32
	TagSpecifications                                              []TagSpecification
	DryRun                                                         bool
}

// CopySnapshot makes the caller's project its own copy of a completed snapshot it may use (its
// own, or one another project shares with it): pending while the manager copies the objects,
// then completed; the copy outlives the source and is shared with no one.
func (s *Service) CopySnapshot(ctx context.Context, c Caller, in CopySnapshotInput) (*Snapshot, error) {
	tags, err := s.startCreate(ctx, c, "snapshots", in.DryRun, func() error {
		switch {
		case in.SourceRegion != s.cfg.Region:
			return InvalidParam("Value (%s) for parameter SourceRegion is invalid: the cloud's region is %s", clipID(in.SourceRegion), s.cfg.Region)
		case in.DestinationRegion != "" && in.DestinationRegion != s.cfg.Region:
			return InvalidParam("Value (%s) for parameter DestinationRegion is invalid: the cloud's region is %s", clipID(in.DestinationRegion), s.cfg.Region)
		case in.Encrypted || in.KmsKeyID != "":
			return BadRequest(CodeUnsupported, "Encrypted snapshot copies are not supported")
		case in.DestinationOutpostArn != "" || in.DestinationAvailabilityZone != "":
			return BadRequest(CodeUnsupported, "Snapshot copies to an Outpost or a Local Zone are not supported")
		case in.CompletionDurationMinutes != nil:
			return BadRequest(CodeUnsupported, "Time-based snapshot copies are not supported")
		case len(in.Description) > maxSnapshotDescription:
			return InvalidParam("Value for parameter description is too long; the limit is %d characters", maxSnapshotDescription)
		}
		return nil
	}, in.TagSpecifications, "snapshot")
	if err != nil {
		return nil, err
	}
	src, err := s.visibleSnapshot(ctx, c, in.SourceSnapshotID)
	if err != nil {
		return nil, err
	}
	if src.Status.State != cloudv1.SnapshotCompleted {
		return nil, BadRequest(CodeIncorrectResource, "Snapshot '%s' is in the '%s' state.", in.SourceSnapshotID, toSnapshot(src).State)
	}
	return s.makeSnapshot(ctx, c, cloudv1.SnapshotSpec{SourceSnapshotID: src.Status.SnapshotID, Description: in.Description},
		tags, src.Status.VolumeSizeGiB)
}
