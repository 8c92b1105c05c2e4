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
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/quota"
)

// Volume modifications: ModifyVolume grows a volume (the only change a PiNet volume takes), as
// kubectl does by raising spec.sizeGiB; the volume controller gives the size once the project's
// quota and the storage node have room, and records the change in status.modification, which
// DescribeVolumesModifications shows.

// VolumeModification is EC2's VolumeModification.
type VolumeModification struct {
	VolumeID string
	// State is modifying (the size not given yet; StatusMessage says why) or completed.
	State, StatusMessage                 string
	OriginalSizeGiB, TargetSizeGiB       int32
	OriginalVolumeType, TargetVolumeType string
	Progress                             int
	StartTime, EndTime                   time.Time
}

// modificationOf is the volume's latest modification, or nil when it never had one. A growth
// the controller has not recorded yet (just asked for) is shown as begun.
func modificationOf(v *cloudv1.Volume, now time.Time) *VolumeModification {
	m := v.Status.Modification
	if quota.VolumeGrowth(v) > 0 && (m == nil || m.EndTime != nil || m.TargetSizeGiB != v.Spec.SizeGiB) {
		m = &cloudv1.VolumeModification{OriginalSizeGiB: v.Status.SizeGiB, TargetSizeGiB: v.Spec.SizeGiB, StartTime: metav1.NewTime(now)}
	}
	if m == nil {
		return nil
	}
	out := &VolumeModification{VolumeID: volumeID(v), State: "modifying", OriginalSizeGiB: m.OriginalSizeGiB,
		TargetSizeGiB: m.TargetSizeGiB, OriginalVolumeType: string(v.EffectiveVolumeType()), TargetVolumeType: string(v.EffectiveVolumeType()),
		StartTime: m.StartTime.Time}
	if m.EndTime != nil {
		out.State, out.Progress, out.EndTime = "completed", 100, m.EndTime.Time
	} else if c := conditions.Get(v, cloudv1.VolumeResized); c != nil && c.Status == metav1.ConditionFalse {
		out.StatusMessage = c.Message
	}
	return out
}

// ModifyVolumeInput asks for a volume's new size (VolumeType, Iops and Throughput only as the
// volume already is: a volume keeps the type it was made with).
type ModifyVolumeInput struct {
	VolumeID           string
	SizeGiB            *int32
	VolumeType         string
	Iops, Throughput   *int32
	MultiAttachEnabled *bool
	DryRun             bool
}

// ModifyVolume grows an available or attached volume. The project's quota is checked as the
// cache sees it; the volume controller admits the added GiB through the ledger and finds room on
// the storage node, and until then the modification shows modifying with the reason. A volume
// whose last change is not completed takes no other.
func (s *Service) ModifyVolume(ctx context.Context, c Caller, in ModifyVolumeInput) (*VolumeModification, error) {
	v, err := resolveOne(ctx, s, c, volumeKind, "update", in.VolumeID, in.DryRun)
	if err != nil {
		return nil, err
	}
	switch {
	case in.VolumeType != "" && !slices.Contains(volumeTypes, in.VolumeType):
		return nil, InvalidParam("Value (%s) for parameter volumeType is invalid. Valid values are %s.", clipID(in.VolumeType), strings.Join(volumeTypes, ", "))
	case in.VolumeType != "" && in.VolumeType != string(v.EffectiveVolumeType()),
		in.Iops != nil && *in.Iops != v.EffectiveIops(), in.Throughput != nil && *in.Throughput != v.EffectiveThroughput():
		return nil, BadRequest(CodeUnsupported, "Volume %s keeps the type, iops and throughput it was made with (%s); only its size can be modified.",
			volumeID(v), typeString(v))
	case in.MultiAttachEnabled != nil && *in.MultiAttachEnabled:
		return nil, BadRequest(CodeUnsupported, "PiNet volumes attach to one instance at a time.")
	case in.SizeGiB == nil:
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter size")
	case *in.SizeGiB > maxVolumeGiB:
		return nil, InvalidParam("Volume size %d GiB is invalid; a volume holds from 1 to %d GiB.", *in.SizeGiB, maxVolumeGiB)
	}
	// The size its type takes (a standard volume holds at most 1024 GiB).
	if _, err := checkVolumeType(string(v.EffectiveVolumeType()), *in.SizeGiB, nonZero(v.Spec.Iops), nonZero(v.Spec.Throughput)); err != nil {
		return nil, err
	}
	id := volumeID(v)
	err = s.ChangeLatest(ctx, v, func() error {
		if err := s.checkModifiable(ctx, c, v, *in.SizeGiB); err != nil {
			return err
		}
		v.Spec.SizeGiB = *in.SizeGiB
		return nil
	})
	if err != nil {
		return nil, volumeKind.writeError(err, id)
	}
	s.AwaitCache(ctx, v)
	return modificationOf(v, s.cfg.Clock.Now()), nil
}

// checkModifiable refuses a change of the latest version of v to size: the volume is being made
// or deleted, its last change is not given yet, the size does not grow it, or the GiB it adds
// are past the project's quota.
func (s *Service) checkModifiable(ctx context.Context, c Caller, v *cloudv1.Volume, size int32) error {
	id := volumeID(v)
	switch st := volumeState(v); {
	case st != string(cloudv1.VolumeStateAvailable) && st != string(cloudv1.VolumeStateInUse):
		return BadRequest(CodeIncorrectResource, "Volume %s is %s; only an available or in-use volume can be modified.", id, st)
	case quota.VolumeGrowth(v) > 0:
		return BadRequest(CodeModificationState, "Volume %s is already being modified to %d GiB.", id, v.Spec.SizeGiB)
	case size < v.GivenSizeGiB():
		return InvalidParam("New size %d GiB cannot be smaller than the volume's %d GiB.", size, v.GivenSizeGiB())
	case size == v.GivenSizeGiB():
		return InvalidParam("New size %d GiB is the volume's size: nothing to modify.", size)
	}
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return err
	}
	if fit, _, err := quota.Volumes(c.Project(), q).Room(ctx, s.cfg.Client, []int64{0, int64(size - v.GivenSizeGiB())}, 1, 1); err != nil {
		return err
	} else if fit == 0 {
		return BadRequest(CodeVolumeLimit, "The volume quota of project %s has no room for %d GiB more.", c.Project(), size-v.GivenSizeGiB())
	}
	return nil
}

// DescribeVolumesModificationsInput selects modifications by volume id and filter, a page at a
// time.
type DescribeVolumesModificationsInput struct {
	VolumeIDs []string
	Filters   []query.Filter
	DryRun    bool
	Page
}

var volumeModificationListing = listing{resource: "volumes", filters: []string{
	"volume-id", "modification-state", "original-size", "target-size", "original-volume-type", "target-volume-type", "start-time",
}, minPage: 5, maxPage: 500}

// DescribeVolumesModifications shows the latest modification of the caller's project's volumes
// (of those named: a named volume never modified is not found, as on EC2).
func (s *Service) DescribeVolumesModifications(ctx context.Context, c Caller, in DescribeVolumesModificationsInput) ([]VolumeModification, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, volumeModificationListing, in.DryRun, in.Filters, in.Page, len(in.VolumeIDs))
	if err != nil {
		return nil, "", err
	}
	vols, err := named(ctx, s, c, volumeKind, in.VolumeIDs)
	if err != nil {
		return nil, "", err
	}
	now := s.cfg.Clock.Now()
	var items []VolumeModification
	for _, v := range vols {
		m := modificationOf(v, now)
		if m == nil {
			if slices.Contains(in.VolumeIDs, volumeID(v)) {
				return nil, "", BadRequest(CodeModificationNotFound, "Modification for volume '%s' does not exist.", volumeID(v))
			}
			continue
		}
		if matcher.Match(m.attributes, nil) {
			items = append(items, *m)
		}
	}
	return pageOf(s, c, fmt.Sprint("DescribeVolumesModifications", in.VolumeIDs, in.Filters), in.Page, size, items)
}

// attributes are the modification's values of a filter.
func (m VolumeModification) attributes(name string) []string {
	switch name {
	case "volume-id":
		return []string{m.VolumeID}
	case "modification-state":
		return []string{m.State}
	case "original-size":
		return []string{strconv.Itoa(int(m.OriginalSizeGiB))}
	case "target-size":
		return []string{strconv.Itoa(int(m.TargetSizeGiB))}
	case "original-volume-type":
		return []string{m.OriginalVolumeType}
	case "target-volume-type":
		return []string{m.TargetVolumeType}
	case "start-time":
		return []string{filterTime(m.StartTime)}
	}
	return nil
}

// typeString describes the volume's type with its iops and throughput, as EC2 shows them.
func typeString(v *cloudv1.Volume) string {
	out := string(v.EffectiveVolumeType())
	if n := v.EffectiveIops(); n > 0 {
		out += fmt.Sprintf(", %d iops", n)
	}
	if n := v.EffectiveThroughput(); n > 0 {
		out += fmt.Sprintf(", %d MiB/s", n)
	}
	return out
}
