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
	"slices"

	"k8s.io/apimachinery/pkg/util/validation"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Sharing a snapshot: its owner lets other projects (or every project) make volumes of it. The
// volume controller reads the permission for the volume's project, and the object store for
// each read of the storage node that fills the volume; neither trusts who made the volume.

// SnapshotAttribute is one attribute of a snapshot: CreateVolumePermissions for
// createVolumePermission; productCodes is always an empty list.
type SnapshotAttribute struct {
	SnapshotID, Attribute   string
	CreateVolumePermissions []CreateVolumePermission
}

// SnapshotAttributeInput names a snapshot and one of its attributes.
type SnapshotAttributeInput struct {
	SnapshotID, Attribute string
	DryRun                bool
}

func notAuthorizedForSnapshot(id string) error {
	return BadRequest(CodeAuthFailure, "Not authorized for snapshot:%s", clipID(id))
}

// ownSnapshot finds a snapshot of the caller's project by id for a change or a look at whom it
// is shared with: another project's snapshot the caller can see is AuthFailure, as in EC2; one
// it cannot see is not found.
func (s *Service) ownSnapshot(ctx context.Context, c Caller, verb, id string, dryRun bool) (*cloudv1.Snapshot, error) {
	if err := s.authorize(ctx, c, verb, "snapshots", dryRun); err != nil {
		return nil, err
	}
	// The project's own snapshots first: only a miss needs every project's, to tell a
	// snapshot shared with it (AuthFailure) from none (NotFound).
	snap, err := findOne(ctx, s, c, snapshotKind, id)
	if err == nil {
		return snap, nil
	}
	if _, verr := s.visibleSnapshot(ctx, c, id); verr == nil {
		return nil, notAuthorizedForSnapshot(id)
	}
	return nil, err
}

// checkSnapshotAttribute accepts the attributes a snapshot has.
func checkSnapshotAttribute(attr string) error {
	switch attr {
	case "createVolumePermission", "productCodes":
		return nil
	case "":
		return BadRequest(CodeMissingParameter, "The request must contain the parameter Attribute")
	}
	return InvalidParam("Value (%s) for parameter attribute is invalid. Valid values: createVolumePermission, productCodes.", clipID(attr))
}

// DescribeSnapshotAttribute shows whom an own snapshot is shared with (createVolumePermission),
// or its product codes (none).
func (s *Service) DescribeSnapshotAttribute(ctx context.Context, c Caller, in SnapshotAttributeInput) (*SnapshotAttribute, error) {
	if err := checkSnapshotAttribute(in.Attribute); err != nil {
		return nil, err
	}
	snap, err := s.ownSnapshot(ctx, c, "get", in.SnapshotID, in.DryRun)
	if err != nil {
		return nil, err
	}
	out := &SnapshotAttribute{SnapshotID: in.SnapshotID, Attribute: in.Attribute}
	if in.Attribute == "createVolumePermission" {
		perm := snap.Spec.CreateVolumePermission
		out.CreateVolumePermissions = permissionEntries(perm.Public, perm.Projects)
	}
	return out, nil
}

// ModifySnapshotAttributeInput changes whom a snapshot is shared with: CreateVolumePermission,
// or the older form (Attribute createVolumePermission, OperationType add or remove, GroupNames
// and UserIDs).
type ModifySnapshotAttributeInput struct {
	SnapshotID, Attribute, OperationType string
	GroupNames, UserIDs                  []string
	CreateVolumePermission               *CreateVolumePermissionChanges
	DryRun                               bool
}

// ModifySnapshotAttribute shares an own snapshot, or stops sharing it. Volumes already made of
// it by others are theirs and stay.
func (s *Service) ModifySnapshotAttribute(ctx context.Context, c Caller, in ModifySnapshotAttributeInput) error {
	changes, err := snapshotModification(&in)
	if err != nil {
		return err
	}
	snap, err := s.ownSnapshot(ctx, c, "update", in.SnapshotID, in.DryRun)
	if err != nil {
		return err
	}
	return s.changeSnapshotPermission(ctx, snap, func(perm *cloudv1.CreateVolumePermission) {
		applySharing(&perm.Public, &perm.Projects, changes, snap.Namespace)
	})
}

// snapshotModification checks either form of the request and returns its changes.
func snapshotModification(in *ModifySnapshotAttributeInput) (*CreateVolumePermissionChanges, error) {
	oldForm := in.OperationType != "" || len(in.GroupNames) > 0 || len(in.UserIDs) > 0
	switch in.Attribute {
	case "", "createVolumePermission":
	case "productCodes":
		return nil, BadRequest(CodeUnsupported, "Product codes are not supported")
	default:
		return nil, InvalidParam("Value (%s) for parameter attribute is invalid. Valid values: createVolumePermission.", clipID(in.Attribute))
	}
	var changes *CreateVolumePermissionChanges
	switch {
	case in.CreateVolumePermission != nil && oldForm:
		return nil, BadRequest(CodeParamCombination, "CreateVolumePermission cannot be used with OperationType, UserId or UserGroup")
	case in.CreateVolumePermission != nil:
		changes = in.CreateVolumePermission
	case oldForm:
		var err error
		if changes, err = oldFormChanges(in.OperationType, in.GroupNames, in.UserIDs); err != nil {
			return nil, err
		}
	default:
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter CreateVolumePermission")
	}
	if len(changes.Add)+len(changes.Remove) == 0 {
		return nil, BadRequest(CodeMissingParameter, "The request must name a group or a user id to add or remove")
	}
	for _, p := range slices.Concat(changes.Add, changes.Remove) {
		if err := checkCreateVolumePermission(p); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

// checkCreateVolumePermission accepts the group "all" or a user id that is a well-formed
// project name, one per entry.
func checkCreateVolumePermission(p CreateVolumePermission) error {
	switch {
	case p.Group == "" && p.UserID == "":
		return BadRequest(CodeMissingParameter, "A create volume permission needs a Group or a UserId")
	case p.Group != "" && p.UserID != "":
		return BadRequest(CodeParamCombination, "A create volume permission names a Group or a UserId, not both")
	case p.Group != "" && p.Group != "all":
		return InvalidParam("Value (%s) for parameter Group is invalid. Valid values: all.", clipID(p.Group))
	case p.UserID != "" && len(validation.IsDNS1123Label(p.UserID)) > 0:
		return BadRequest(CodeUserIDMalformed, "Invalid user id: \"%s\"", clipID(p.UserID))
	}
	return nil
}

// ResetSnapshotAttribute makes an own snapshot private again.
func (s *Service) ResetSnapshotAttribute(ctx context.Context, c Caller, in SnapshotAttributeInput) error {
	if in.Attribute != "createVolumePermission" {
		if err := checkSnapshotAttribute(in.Attribute); err != nil {
			return err
		}
		return InvalidParam("Value (%s) for parameter attribute is invalid. Only createVolumePermission can be reset.", in.Attribute)
	}
	snap, err := s.ownSnapshot(ctx, c, "update", in.SnapshotID, in.DryRun)
	if err != nil {
		return err
	}
	return s.changeSnapshotPermission(ctx, snap, func(perm *cloudv1.CreateVolumePermission) {
		*perm = cloudv1.CreateVolumePermission{}
	})
}

// changeSnapshotPermission applies change to the newest version of the snapshot's permission
// (so that two owners' concurrent changes both land) and waits for the cache to show it.
func (s *Service) changeSnapshotPermission(ctx context.Context, snap *cloudv1.Snapshot, change func(*cloudv1.CreateVolumePermission)) error {
	id := snapshotID(snap)
	err := s.change(ctx, snap, func() error {
		if !snap.DeletionTimestamp.IsZero() {
			return snapshotNotFound(id)
		}
		change(&snap.Spec.CreateVolumePermission)
		return nil
	})
	return snapshotKind.writeError(err, id)
}
