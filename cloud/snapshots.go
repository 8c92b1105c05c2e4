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
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/refs"
)

// Snapshots are Snapshot objects of the caller's project: the snapshot controller hands the
// copy to the storage node of the volume, which stores it as chunks in the object store. A
// project sees its own snapshots and those others shared with it (refs.SnapshotRestorableBy),
// and may make volumes of them; only the owner changes, shares or deletes a snapshot.

const (
	// CodeSnapshotMalformed is EC2's code for an id that is no snapshot id.
	CodeSnapshotMalformed = "InvalidSnapshotID.Malformed"
	// maxSnapshotDescription is the Snapshot CRD's bound (EC2's is the same).
	maxSnapshotDescription = 255
)

// copiedVolumeID is the volume id EC2 shows for a snapshot copied from another, which is of no
// volume of the project.
const copiedVolumeID = "vol-ffffffff"

// Snapshot is EC2's Snapshot.
type Snapshot struct {
	SnapshotID, VolumeID, State, Progress string
	Description, OwnerID, StateMessage    string
	VolumeSizeGiB                         int32
	StartTime                             time.Time
	Encrypted                             bool
	Tags                                  map[string]string
}

func snapshotID(s *cloudv1.Snapshot) string { return idOr(s.Status.SnapshotID, s.Name, ids.Snapshot) }

func toSnapshot(s *cloudv1.Snapshot) Snapshot {
	out := Snapshot{
		SnapshotID: snapshotID(s), VolumeID: cmp.Or(s.Spec.VolumeID, copiedVolumeID), State: string(s.Status.State),
		Progress: fmt.Sprintf("%d%%", s.Status.Progress), Description: s.Spec.Description, OwnerID: s.Namespace,
		VolumeSizeGiB: s.Status.VolumeSizeGiB, StartTime: s.CreationTimestamp.Time, Tags: TagsOf(s),
	}
	if out.State == "" {
		out.State = string(cloudv1.SnapshotPending)
	}
	if s.Status.StartTime != nil {
		out.StartTime = s.Status.StartTime.Time
	}
	if out.State == string(cloudv1.SnapshotError) {
		for _, c := range s.Status.Conditions {
			if c.Type == cloudv1.ReadyCondition {
				out.StateMessage = c.Message
			}
		}
	}
	return out
}

// snapshotKind: the project's snapshots that have an id and are not being deleted, oldest first;
// another project's ids are not found.
var snapshotKind = kind[*cloudv1.Snapshot]{resource: "snapshots", what: "snapshot", list: &cloudv1.SnapshotList{},
	id: snapshotID, prefix: ids.Snapshot, notFound: snapshotNotFound, malformed: func(id string) error {
		return BadRequest(CodeSnapshotMalformed, "Invalid id: \"%s\" (expecting \"snap-...\")", clipID(id))
	}}

func snapshotNotFound(id string) error {
	return BadRequest(CodeSnapshotNotFound, "The snapshot '%s' does not exist.", clipID(id))
}

// CreateSnapshotInput asks for a snapshot of a volume.
type CreateSnapshotInput struct {
	VolumeID, Description string
	TagSpecifications     []TagSpecification
	DryRun                bool
}

// CreateSnapshot makes a Snapshot of one of the project's volumes that has storage (available or
// in use); it is pending until the storage node has copied the volume.
func (s *Service) CreateSnapshot(ctx context.Context, c Caller, in CreateSnapshotInput) (*Snapshot, error) {
	tags, err := s.startCreate(ctx, c, "snapshots", in.DryRun, func() error {
		if len(in.Description) > maxSnapshotDescription {
			return InvalidParam("Value for parameter description is too long; the limit is %d characters", maxSnapshotDescription)
		}
		return nil
	}, in.TagSpecifications, "snapshot")
	if err != nil {
		return nil, err
	}
	v, err := findOne(ctx, s, c, volumeKind, in.VolumeID)
	if err != nil {
		return nil, err
	}
	switch v.Status.State {
	case cloudv1.VolumeStateAvailable, cloudv1.VolumeStateInUse:
	default:
		return nil, BadRequest(CodeIncorrectResource, "Volume '%s' is in the '%s' state.", in.VolumeID, volumeState(v))
	}
	return s.makeSnapshot(ctx, c, cloudv1.SnapshotSpec{VolumeID: in.VolumeID, Description: in.Description}, tags, v.Spec.SizeGiB)
}

// makeSnapshot makes a Snapshot of spec in the caller's project, held to its snapshot quota,
// and returns it as EC2 shows it (of a volume of sizeGiB).
func (s *Service) makeSnapshot(ctx context.Context, c Caller, spec cloudv1.SnapshotSpec, tags map[string]string, sizeGiB int32) (*Snapshot, error) {
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return nil, err
	}
	gate := quota.Snapshots(c.Project(), q)
	overQuota := BadRequest(CodeSnapshotLimit, "The snapshot quota of project %s is used up.", c.Project())
	if fit, _, err := gate.Room(ctx, s.cfg.Client, []int64{1}, 1, 1); err != nil || fit == 0 {
		return nil, cmp.Or(err, error(overQuota))
	}
	snap := &cloudv1.Snapshot{
		ObjectMeta: metav1.ObjectMeta{Name: ids.New(ids.Snapshot), Namespace: c.Project()},
		Spec:       spec,
	}
	SetTags(snap, tags)
	if !gate.Unlimited() {
		quota.MarkPending(snap)
	}
	if err := s.cfg.Client.Create(ctx, snap); err != nil {
		return nil, APIError(err, "creating a snapshot")
	}
	if err := s.admitOrWithdraw(ctx, gate, snap, overQuota); err != nil {
		return nil, err
	}
	s.AwaitCache(ctx, snap)
	out := toSnapshot(snap)
	out.VolumeSizeGiB = sizeGiB
	if out.StartTime.IsZero() {
		out.StartTime = s.cfg.Clock.Now()
	}
	return &out, nil
}

// SnapshotIDInput names one snapshot.
type SnapshotIDInput struct {
	SnapshotID string
	DryRun     bool
}

// DeleteSnapshot deletes a snapshot of the project; the controller removes its objects.
func (s *Service) DeleteSnapshot(ctx context.Context, c Caller, in SnapshotIDInput) error {
	return deleteOne(ctx, s, c, snapshotKind, in.SnapshotID, in.DryRun, func(snap *cloudv1.Snapshot) error {
		// An image of the project that maps it would launch instances with a volume of nothing.
		images, err := refs.ImagesMapping(ctx, s.cfg.Client, snap.Namespace, snapshotID(snap))
		if err != nil {
			return err
		}
		if len(images) > 0 {
			return BadRequest(CodeSnapshotInUse, "The snapshot %s is currently in use by %s", snapshotID(snap), ImageID(images[0]))
		}
		return nil
	})
}

// DescribeSnapshotsInput selects snapshots by id, owner and filter, a page at a time.
type DescribeSnapshotsInput struct {
	SnapshotIDs, OwnerIDs, RestorableByUserIDs []string
	Filters                                    []query.Filter
	DryRun                                     bool
	Page
}

var snapshotListing = listing{resource: "snapshots", filters: snapshotFilters, minPage: 5, maxPage: 1000,
	idsWithPage: "The parameter snapshotSet cannot be used with the parameter maxResults"}

var snapshotFilters = []string{
	"snapshot-id", "volume-id", "status", "progress", "description", "owner-id", "start-time",
	"volume-size", "encrypted",
}

// DescribeSnapshots shows the snapshots the caller's project may see (its own, others' shared
// with it or public), selected by id, by owner (self or project ids) and by who may make volumes
// of them (all, self or project ids), oldest first unless named, and the token of the next page.
func (s *Service) DescribeSnapshots(ctx context.Context, c Caller, in DescribeSnapshotsInput) ([]Snapshot, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, snapshotListing, in.DryRun, in.Filters, in.Page, len(in.SnapshotIDs))
	if err != nil {
		return nil, "", err
	}
	inScope, err := sharedScope(c.Project(), in.OwnerIDs, in.RestorableByUserIDs, func(snap *cloudv1.Snapshot) sharing {
		perm := snap.Spec.CreateVolumePermission
		return sharing{owner: snap.Namespace, public: perm.Public, projects: perm.Projects}
	})
	if err != nil {
		return nil, "", err
	}
	snaps, err := s.visibleSnapshots(ctx, c)
	if err != nil {
		return nil, "", err
	}
	if len(in.SnapshotIDs) > 0 {
		if snaps, err = pickByID(snaps, in.SnapshotIDs, snapshotIDFor(c.Project()), snapshotKind.prefix, snapshotKind.malformed, snapshotKind.notFound); err != nil {
			return nil, "", err
		}
	}
	snaps = slices.DeleteFunc(snaps, func(snap *cloudv1.Snapshot) bool { return !inScope(snap) })
	items := shapes(snaps, snapshotFor(c.Project()), func(item *Snapshot) bool { return matcher.Match(item.attributes, item.Tags) })
	scope := fmt.Sprintf("DescribeSnapshots\x00%q\x00%q\x00%q\x00%v", in.SnapshotIDs, in.OwnerIDs, in.RestorableByUserIDs, in.Filters)
	return pageOf(s, c, scope, in.Page, size, items)
}

// visibleSnapshots are the live snapshots the caller's project may see, oldest first.
func (s *Service) visibleSnapshots(ctx context.Context, c Caller) ([]*cloudv1.Snapshot, error) {
	var all []*cloudv1.Snapshot
	seen := map[types.UID]bool{}
	for _, scope := range sharedScopes(c.Project(), index.SnapshotSharedWith) {
		list := &cloudv1.SnapshotList{}
		if err := s.cfg.Client.List(ctx, list, scope); err != nil {
			return nil, fmt.Errorf("listing snapshots: %w", err)
		}
		all = appendUnseen(all, seen, pointers(list.Items))
	}
	return liveByAge(all, snapshotIDFor(c.Project()), func(snap *cloudv1.Snapshot) bool {
		return refs.SnapshotRestorableBy(snap, c.Project())
	}), nil
}

// snapshotIDFor reads snapshots' ids as project may rely on them: its own by snapshotID, another
// project's only by the id the snapshot controller claimed (an object's name is not claimed:
// another project could name a public Snapshot after an id it does not hold).
func snapshotIDFor(project string) func(*cloudv1.Snapshot) string {
	return func(snap *cloudv1.Snapshot) string {
		if snap.Namespace == project {
			return snapshotID(snap)
		}
		return snap.Status.SnapshotID
	}
}

// snapshotFor shapes snapshots as project sees them: another project's without its tags and
// its failure's words, which are the owner's.
func snapshotFor(project string) func(*cloudv1.Snapshot) Snapshot {
	return func(snap *cloudv1.Snapshot) Snapshot {
		out := toSnapshot(snap)
		if snap.Namespace != project {
			out.Tags, out.StateMessage = nil, ""
		}
		return out
	}
}

// visibleSnapshot finds a snapshot the caller's project may see by id.
func (s *Service) visibleSnapshot(ctx context.Context, c Caller, id string) (*cloudv1.Snapshot, error) {
	all, err := s.visibleSnapshots(ctx, c)
	if err != nil {
		return nil, err
	}
	found, err := pickByID(all, []string{id}, snapshotIDFor(c.Project()), snapshotKind.prefix, snapshotKind.malformed, snapshotKind.notFound)
	if err != nil {
		return nil, err
	}
	return found[0], nil
}

// attributes are the snapshot's values of a filter.
func (snap Snapshot) attributes(name string) []string {
	switch name {
	case "snapshot-id":
		return []string{snap.SnapshotID}
	case "volume-id":
		return []string{snap.VolumeID}
	case "status":
		return []string{snap.State}
	case "progress":
		return []string{snap.Progress}
	case "description":
		return []string{snap.Description}
	case "owner-id":
		return []string{snap.OwnerID}
	case "start-time":
		return []string{filterTime(snap.StartTime)}
	case "volume-size":
		return []string{strconv.Itoa(int(snap.VolumeSizeGiB))}
	case "encrypted":
		return []string{strconv.FormatBool(snap.Encrypted)}
	}
	return nil
}

// volumeSnapshot checks the snapshot a CreateVolume starts from: a completed snapshot the
// caller's project may make volumes of (its own, or shared with it); the size defaults to the
// snapshot's volume size and may not be smaller.
func (s *Service) volumeSnapshot(ctx context.Context, c Caller, in *CreateVolumeInput) error {
	snap, err := s.visibleSnapshot(ctx, c, in.SnapshotID)
	if err != nil {
		return err
	}
	return snapshotFits(snap, in)
}

// snapshotFits checks that a volume can be made of snap: completed, and no larger than the size
// asked for, which defaults to the snapshot's volume size.
func snapshotFits(snap *cloudv1.Snapshot, in *CreateVolumeInput) error {
	if snap.Status.State != cloudv1.SnapshotCompleted {
		return BadRequest(CodeIncorrectResource, "Snapshot '%s' is in the '%s' state.", in.SnapshotID, toSnapshot(snap).State)
	}
	if in.SizeGiB == nil {
		size := snap.Status.VolumeSizeGiB
		in.SizeGiB = &size
	}
	if *in.SizeGiB < snap.Status.VolumeSizeGiB {
		return InvalidParam("Volume of %d GiB is smaller than snapshot '%s', which needs %d GiB.", *in.SizeGiB, in.SnapshotID, snap.Status.VolumeSizeGiB)
	}
	return nil
}
