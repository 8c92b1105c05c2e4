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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/refs"
)

// Volumes are Volume objects, placed and exported by storage nodes: a volume shows the state its
// status records, "creating" while it records none, and an attachment is the request in
// spec.attachTo until the node agent reports one in status.

const (
	// maxVolumeGiB matches the Volume CRD's bound (and EC2's for most volume types).
	maxVolumeGiB = 16384
	// RootDevice is the device name instances report for their root disk.
	RootDevice = "/dev/sda1"
	// annotationRequestHash records the parameters an object was created with, so a retry with
	// the same ClientToken can be told from a different request reusing it.
	annotationRequestHash = "cloud.pinet.io/request-hash"
	// maxClientToken is EC2's limit.
	maxClientToken = 64
)

// DeviceName is what AttachVolume accepts, the Volume CRD's pattern.
var DeviceName = regexp.MustCompile(`^/dev/(sd|vd|xvd)([a-z]{1,2})[0-9]*$`)

// VolumeAttachment is EC2's VolumeAttachment.
type VolumeAttachment struct {
	VolumeID, InstanceID, Device, State string
	// AttachTime is zero while unknown.
	AttachTime          time.Time
	DeleteOnTermination bool
}

// Volume is EC2's Volume.
type Volume struct {
	VolumeID                                        string
	SizeGiB                                         int32
	SnapshotID, AvailabilityZone, State, VolumeType string
	// Iops and Throughput (MiB/s) are 0 where EC2 shows none.
	Iops, Throughput              int32
	CreateTime                    time.Time
	Attachments                   []VolumeAttachment
	Encrypted, MultiAttachEnabled bool
	Tags                          map[string]string
}

// volumeID is the volume's EC2 id: the one in status, else its name when that is one (the API
// names volumes by their ids).
func volumeID(v *cloudv1.Volume) string { return idOr(v.Status.VolumeID, v.Name, ids.Volume) }

func volumeZone(v *cloudv1.Volume) string {
	if v.Spec.AvailabilityZone != "" {
		return v.Spec.AvailabilityZone
	}
	return v.Status.AvailabilityZone
}

func volumeState(v *cloudv1.Volume) string {
	if v.Status.State == "" {
		return string(cloudv1.VolumeStateCreating)
	}
	return string(v.Status.State)
}

// liveInstances are the ids of a project's instances a volume can be attached to; nil stands for
// all of them.
type liveInstances map[string]bool

// liveInstanceIDs lists the instances of the project (namespace) that are neither terminated nor
// being deleted, the volume controller's rule for where a volume is attached: a request naming
// any other is no attachment (terminating an instance detaches its volumes).
func (s *Service) liveInstanceIDs(ctx context.Context, project string) (liveInstances, error) {
	list := &cloudv1.InstanceList{}
	if err := s.cfg.Client.List(ctx, list, client.InNamespace(project)); err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	live := liveInstances{}
	for i := range list.Items {
		inst := &list.Items[i]
		if inst.DeletionTimestamp.IsZero() && inst.EffectiveDesiredState() != cloudv1.DesiredTerminated {
			live[InstanceID(inst)] = true
		}
	}
	return live, nil
}

// attachmentOf is the volume's attachment as EC2 shows it: the one the node reports, shown as
// detaching once the request is withdrawn; else the request, as attaching, while the instance it
// names is live.
func attachmentOf(v *cloudv1.Volume, live liveInstances) *VolumeAttachment {
	if st := v.Status.Attachment; st != nil && st.State != "" && st.State != cloudv1.AttachmentDetached {
		a := &VolumeAttachment{VolumeID: volumeID(v), InstanceID: st.InstanceID, Device: st.Device, State: string(st.State)}
		if st.AttachTime != nil {
			a.AttachTime = st.AttachTime.Time
		}
		if v.Spec.AttachTo == nil && st.State == cloudv1.AttachmentAttached {
			a.State = string(cloudv1.AttachmentDetaching)
		}
		return a
	}
	if at := v.Spec.AttachTo; at != nil && (live == nil || live[at.InstanceID]) {
		return &VolumeAttachment{VolumeID: volumeID(v), InstanceID: at.InstanceID, Device: at.Device,
			State: string(cloudv1.AttachmentAttaching)}
	}
	return nil
}

func toVolume(v *cloudv1.Volume, live liveInstances) Volume {
	out := Volume{
		VolumeID:         volumeID(v),
		SizeGiB:          v.Spec.SizeGiB,
		AvailabilityZone: volumeZone(v),
		State:            volumeState(v),
		CreateTime:       v.CreationTimestamp.Time,
		SnapshotID:       v.Spec.SnapshotID,
		VolumeType:       string(v.EffectiveVolumeType()),
		Iops:             v.EffectiveIops(),
		Throughput:       v.EffectiveThroughput(),
		Tags:             TagsOf(v),
	}
	if a := attachmentOf(v, live); a != nil {
		// A volume made at launch goes with the instance its mapping made it for, if the mapping
		// said so; any other attachment is the volume's own.
		a.DeleteOnTermination = v.DeletesWith(a.InstanceID)
		out.Attachments = append(out.Attachments, *a)
	}
	return out
}

// volumeKind: the caller's project's volumes that have an EC2 id and are not being deleted,
// oldest first.
var volumeKind = kind[*cloudv1.Volume]{resource: "volumes", what: "volume", list: &cloudv1.VolumeList{},
	id: volumeID, prefix: ids.Volume, notFound: volumeNotFound, malformed: func(id string) error {
		return BadRequest(CodeVolumeMalformed, "Invalid id: \"%s\" (expecting \"vol-...\")", clipID(id))
	}}

func volumeNotFound(id string) error {
	return BadRequest(CodeVolumeNotFound, "The volume '%s' does not exist.", id)
}

// CreateVolumeInput describes a volume to make. SizeGiB is required (nil is a missing parameter).
type CreateVolumeInput struct {
	SizeGiB                              *int32
	SnapshotID                           string
	AvailabilityZone, AvailabilityZoneID string
	VolumeType                           string
	// Iops and Throughput are left out of the request's fingerprint when unset: a ClientToken
	// retry of a call made before they were taken is the same request.
	Iops              *int32 `json:",omitempty"`
	Throughput        *int32 `json:",omitempty"`
	Encrypted         bool
	ClientToken       string
	TagSpecifications []TagSpecification
	DryRun            bool
}

// CreateVolume makes a Volume named by its id, admitted under the project's volume quota; with a
// ClientToken the id derives from it, so a retried call meets the volume it made before.
func (s *Service) CreateVolume(ctx context.Context, c Caller, in CreateVolumeInput) (*Volume, error) {
	var zone string
	var vt volumeTypeSpec
	tags, err := s.startCreate(ctx, c, "volumes", in.DryRun, func() (err error) {
		zone, vt, err = s.validateVolume(ctx, c, &in)
		return err
	}, in.TagSpecifications, "volume")
	if err != nil {
		return nil, err
	}
	hash := requestHash(in)
	name := ids.New(ids.Volume)
	if in.ClientToken != "" {
		seed, err := s.projectSeed(ctx, c, in.ClientToken)
		if err != nil {
			return nil, err
		}
		name = ids.Derive(ids.Volume, seed)
		if earlier, err := s.earlierVolume(ctx, c, name, hash); earlier != nil || err != nil {
			return s.answerEarlierVolume(ctx, earlier, err)
		}
	}
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return nil, err
	}
	gate := quota.Volumes(c.Project(), q)
	overQuota := BadRequest(CodeVolumeLimit, "The volume quota of project %s is used up.", c.Project())
	if fit, _, err := gate.Room(ctx, s.cfg.Client, []int64{1, int64(*in.SizeGiB)}, 1, 1); err != nil || fit == 0 {
		return nil, cmp.Or(err, error(overQuota))
	}
	v := &cloudv1.Volume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Project(),
			Annotations: map[string]string{annotationRequestHash: hash}},
		Spec: cloudv1.VolumeSpec{SizeGiB: *in.SizeGiB, AvailabilityZone: zone, SnapshotID: in.SnapshotID,
			VolumeType: vt.Type, Iops: vt.Iops, Throughput: vt.Throughput},
	}
	if in.ClientToken != "" {
		v.Annotations[cloudv1.AnnotationClientToken] = in.ClientToken
	}
	SetTags(v, tags)
	if !gate.Unlimited() {
		quota.MarkPending(v)
	}
	err = s.cfg.Client.Create(ctx, v)
	if apierrors.IsAlreadyExists(err) && in.ClientToken != "" {
		earlier, err := s.earlierVolume(ctx, c, name, hash)
		return s.answerEarlierVolume(ctx, earlier, err)
	}
	if err != nil {
		return nil, APIError(err, "creating a volume")
	}
	if err := s.admitOrWithdraw(ctx, gate, v, overQuota); err != nil {
		return nil, err
	}
	s.AwaitCache(ctx, v)
	out := toVolume(v, nil)
	return &out, nil
}

// answerEarlierVolume answers a retried CreateVolume with the volume the first call made.
func (s *Service) answerEarlierVolume(ctx context.Context, v *cloudv1.Volume, err error) (*Volume, error) {
	switch {
	case err != nil:
		return nil, err
	case v == nil:
		return nil, Unavailable("The volume of an earlier call with this ClientToken went away meanwhile; try again.")
	}
	s.AwaitCache(ctx, v)
	out := toVolume(v, nil)
	return &out, nil
}

// earlierVolume returns the volume an earlier call with the same ClientToken made, nil if there
// is none; a different request reusing the token is IdempotentParameterMismatch.
func (s *Service) earlierVolume(ctx context.Context, c Caller, name, hash string) (*cloudv1.Volume, error) {
	v := &cloudv1.Volume{}
	if err := s.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Project(), Name: name}, v); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the volume of an earlier call: %w", err)
	}
	if v.Annotations[annotationRequestHash] != hash {
		return nil, BadRequest(CodeIdempotentMismatch,
			"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
	}
	return v, nil
}

// requestHash fingerprints a request that carries a ClientToken (DryRun is always false by the
// time it is taken), so a retry with the same token can be told from a different request
// reusing it.
func requestHash(in any) string {
	data, _ := json.Marshal(in)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// validateVolume checks a CreateVolume request and returns the zone it names and the volume's
// type.
func (s *Service) validateVolume(ctx context.Context, c Caller, in *CreateVolumeInput) (string, volumeTypeSpec, error) {
	zone, err := s.volumeZoneOf(ctx, c, in)
	if err != nil {
		return "", volumeTypeSpec{}, err
	}
	vt, err := checkVolumeType(in.VolumeType, *in.SizeGiB, in.Iops, in.Throughput)
	return zone, vt, err
}

// volumeZoneOf checks a CreateVolume request's snapshot, size and zone, and returns the zone.
func (s *Service) volumeZoneOf(ctx context.Context, c Caller, in *CreateVolumeInput) (string, error) {
	if in.SnapshotID != "" {
		if err := s.volumeSnapshot(ctx, c, in); err != nil {
			return "", err
		}
	}
	switch {
	case in.SizeGiB == nil:
		return "", BadRequest(CodeMissingParameter, "The request must contain the parameter size or snapshotId")
	case *in.SizeGiB < 1 || *in.SizeGiB > maxVolumeGiB:
		return "", InvalidParam("Volume size %d GiB is invalid; a volume holds from 1 to %d GiB.", *in.SizeGiB, maxVolumeGiB)
	case in.Encrypted:
		return "", BadRequest(CodeUnsupported, "Encrypted volumes are not supported.")
	case len(in.ClientToken) > maxClientToken:
		return "", InvalidParam("Value for parameter clientToken is too long; the limit is %d characters", maxClientToken)
	case in.AvailabilityZone != "" && in.AvailabilityZoneID != "":
		return "", BadRequest(CodeParamCombination, "The parameters AvailabilityZone and AvailabilityZoneId cannot be used together.")
	case in.AvailabilityZone == "" && in.AvailabilityZoneID == "":
		return "", BadRequest(CodeMissingParameter, "The request must contain the parameter AvailabilityZone")
	}
	zones, err := s.Zones(ctx)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	for i, z := range names {
		if z == in.AvailabilityZone || zoneID(s.cfg.Region, i) == in.AvailabilityZoneID {
			return z, nil
		}
	}
	if in.AvailabilityZoneID != "" {
		return "", BadRequest(CodeZoneNotFound, "The zone ID '%s' does not exist.", clipID(in.AvailabilityZoneID))
	}
	return "", BadRequest(CodeZoneNotFound, "The zone '%s' does not exist.", clipID(in.AvailabilityZone))
}

// VolumeIDInput names one volume.
type VolumeIDInput struct {
	VolumeID string
	DryRun   bool
}

// DeleteVolume deletes a volume that nothing has attached.
func (s *Service) DeleteVolume(ctx context.Context, c Caller, in VolumeIDInput) error {
	return deleteOne(ctx, s, c, volumeKind, in.VolumeID, in.DryRun, func(v *cloudv1.Volume) error {
		live, err := s.liveInstanceIDs(ctx, v.Namespace)
		if err != nil {
			return err
		}
		if a := attachmentOf(v, live); a != nil {
			return BadRequest(CodeVolumeInUse, "Volume %s is currently attached to %s", in.VolumeID, a.InstanceID)
		}
		return nil
	})
}

// DescribeVolumesInput selects volumes by id and filter, a page at a time (ids and MaxResults
// exclude each other).
type DescribeVolumesInput struct {
	VolumeIDs []string
	Filters   []query.Filter
	DryRun    bool
	Page
}

var volumeListing = listing{resource: "volumes", filters: volumeFilters, minPage: 5, maxPage: 500, capPage: true,
	idsWithPage: "The parameter volumeSet cannot be used with the parameter maxResults"}

var volumeFilters = []string{
	"volume-id", "status", "size", "availability-zone", "create-time", "volume-type", "encrypted",
	"snapshot-id", "multi-attach-enabled", "attachment.instance-id", "attachment.device",
	"attachment.status", "attachment.attach-time", "attachment.delete-on-termination",
}

// DescribeVolumes shows the caller's project's volumes, oldest first unless named, and the
// token of the next page.
func (s *Service) DescribeVolumes(ctx context.Context, c Caller, in DescribeVolumesInput) ([]Volume, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, volumeListing, in.DryRun, in.Filters, in.Page, len(in.VolumeIDs))
	if err != nil {
		return nil, "", err
	}
	vols, err := named(ctx, s, c, volumeKind, in.VolumeIDs)
	if err != nil {
		return nil, "", err
	}
	live, err := s.liveInstanceIDs(ctx, c.Project())
	if err != nil {
		return nil, "", err
	}
	items := shapes(vols, func(v *cloudv1.Volume) Volume { return toVolume(v, live) },
		func(item *Volume) bool { return matcher.Match(item.attributes, item.Tags) })
	return pageOf(s, c, fmt.Sprint("DescribeVolumes", in.VolumeIDs, in.Filters), in.Page, size, items)
}

// attributes are the volume's values of a filter.
func (v Volume) attributes(name string) []string {
	if strings.HasPrefix(name, "attachment.") {
		var out []string
		for _, a := range v.Attachments {
			switch name {
			case "attachment.instance-id":
				out = append(out, a.InstanceID)
			case "attachment.device":
				out = append(out, a.Device)
			case "attachment.status":
				out = append(out, a.State)
			case "attachment.attach-time":
				out = append(out, filterTime(a.AttachTime))
			case "attachment.delete-on-termination":
				out = append(out, strconv.FormatBool(a.DeleteOnTermination))
			}
		}
		return out
	}
	switch name {
	case "volume-id":
		return []string{v.VolumeID}
	case "status":
		return []string{v.State}
	case "size":
		return []string{strconv.Itoa(int(v.SizeGiB))}
	case "availability-zone":
		return []string{v.AvailabilityZone}
	case "create-time":
		return []string{filterTime(v.CreateTime)}
	case "volume-type":
		return []string{v.VolumeType}
	case "encrypted":
		return []string{strconv.FormatBool(v.Encrypted)}
	case "snapshot-id":
		return []string{v.SnapshotID}
	case "multi-attach-enabled":
		return []string{strconv.FormatBool(v.MultiAttachEnabled)}
	}
	return nil
}

// filterTime prints a time as responses do, for filters to match.
func filterTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(query.TimestampLayout)
}

// AttachVolumeInput asks for a volume to be attached to an instance as a device.
type AttachVolumeInput struct {
	VolumeID, InstanceID, Device string
	DryRun                       bool
}

// AttachVolume asks for the volume to be attached: it sets spec.attachTo, and the node agent of
// the instance attaches it. Volume and instance must both be the caller's project's.
func (s *Service) AttachVolume(ctx context.Context, c Caller, in AttachVolumeInput) (*VolumeAttachment, error) {
	v, err := resolveOne(ctx, s, c, volumeKind, "update", in.VolumeID, in.DryRun)
	if err != nil {
		return nil, err
	}
	inst, err := findOne(ctx, s, c, instanceKind, in.InstanceID)
	if err != nil {
		return nil, err
	}
	live, err := s.liveInstanceIDs(ctx, v.Namespace)
	if err != nil {
		return nil, err
	}
	if err := s.checkAttachable(ctx, c, v, inst, in.Device, live); err != nil {
		return nil, err
	}
	err = s.change(ctx, v, func() error {
		if err := checkVolumeFree(v, live); err != nil {
			return err
		}
		v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: in.InstanceID, Device: in.Device}
		return nil
	})
	if err != nil {
		return nil, volumeKind.writeError(err, in.VolumeID)
	}
	return &VolumeAttachment{VolumeID: in.VolumeID, InstanceID: in.InstanceID, Device: in.Device,
		State: string(cloudv1.AttachmentAttaching), AttachTime: s.cfg.Clock.Now()}, nil
}

// checkVolumeFree refuses a volume that is attached, or in a state nothing can attach.
func checkVolumeFree(v *cloudv1.Volume, live liveInstances) error {
	if a := attachmentOf(v, live); a != nil {
		return BadRequest(CodeVolumeInUse, "%s is already attached to an instance", volumeID(v))
	}
	switch v.Status.State {
	case cloudv1.VolumeStateError, cloudv1.VolumeStateDeleting, cloudv1.VolumeStateDeleted:
		return BadRequest(CodeIncorrectResource, "Volume '%s' is in the '%s' state.", volumeID(v), v.Status.State)
	}
	return nil
}

// checkAttachable checks what EC2 checks before an attachment: a live instance in the volume's
// zone, a free volume, and a valid device name nothing else on the instance uses.
func (s *Service) checkAttachable(ctx context.Context, c Caller, v *cloudv1.Volume, inst *cloudv1.Instance, device string, live liveInstances) error {
	id := InstanceID(inst)
	switch inst.Status.State {
	case cloudv1.InstanceStateShuttingDown, cloudv1.InstanceStateTerminated:
		return BadRequest(CodeIncorrectState, "Instance '%s' is not 'running'.", id)
	}
	if inst.EffectiveDesiredState() == cloudv1.DesiredTerminated || !inst.DeletionTimestamp.IsZero() {
		return BadRequest(CodeIncorrectState, "Instance '%s' is not 'running'.", id)
	}
	zone := cmp.Or(inst.Status.AvailabilityZone, inst.Spec.AvailabilityZone)
	if zone == "" {
		return BadRequest(CodeIncorrectState, "Instance '%s' has not been placed in an availability zone yet; try again when it runs.", id)
	}
	if zone != volumeZone(v) {
		return BadRequest(CodeVolumeZoneMismatch, "The volume '%s' is not in the same availability zone as instance '%s'", volumeID(v), id)
	}
	if err := checkVolumeFree(v, live); err != nil {
		return err
	}
	slot, ok := DeviceSlot(device)
	if !ok {
		return InvalidParam("Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", clipID(device), clipID(device))
	}
	used, err := s.usedDeviceSlots(ctx, c, inst, live)
	if err != nil {
		return err
	}
	if used[slot] {
		return InvalidParam("Invalid value '%s' for unixDevice. Attachment point %s is already in use", device, device)
	}
	return nil
}

// usedDeviceSlots are the disks of an instance: its root disk, its instance-store disks, its
// block device mappings and the volumes attached (or attaching) to it.
func (s *Service) usedDeviceSlots(ctx context.Context, c Caller, inst *cloudv1.Instance, live liveInstances) (map[string]bool, error) {
	used := map[string]bool{}
	rootSlot, _ := DeviceSlot(RootDevice)
	used[rootSlot] = true
	it, err := refs.InstanceType(ctx, s.cfg.Client, inst.GivenInstanceType())
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return nil, err
	}
	if it != nil {
		for slot := range instanceStoreSlots(it) {
			used[slot] = true
		}
	}
	for _, m := range inst.Spec.BlockDeviceMappings {
		if d, ok := DeviceSlot(m.DeviceName); ok {
			used[d] = true
		}
	}
	vols, err := inProject(ctx, s, c, volumeKind)
	if err != nil {
		return nil, err
	}
	for _, other := range vols {
		if a := attachmentOf(other, live); a != nil && a.InstanceID == InstanceID(inst) {
			if d, ok := DeviceSlot(a.Device); ok {
				used[d] = true
			}
		}
	}
	return used, nil
}

// instanceStoreSlots maps the disk slots the instance-store disks of an instance of the type take
// (b, c: its node defines them after the root disk) to their names.
func instanceStoreSlots(it *cloudv1.InstanceType) map[string]string {
	out := map[string]string{}
	for i, name := range it.InstanceStoreDisks() {
		out[string(rune('b'+i))] = name
	}
	return out
}

// DeviceSlot is the disk a device name stands for: /dev/sdf, /dev/xvdf and /dev/sdf1 are all
// disk f, as EC2 treats them.
func DeviceSlot(device string) (string, bool) {
	if len(device) > 32 {
		return "", false
	}
	m := DeviceName.FindStringSubmatch(device)
	if m == nil {
		return "", false
	}
	return m[2], true
}

// DetachVolumeInput asks for a volume's attachment to be withdrawn; InstanceID and Device, when
// given, must match it.
type DetachVolumeInput struct {
	VolumeID, InstanceID, Device string
	Force, DryRun                bool
}

// DetachVolume withdraws spec.attachTo; the node agent detaches the volume. Force changes
// nothing: the agent always detaches as soon as it can.
func (s *Service) DetachVolume(ctx context.Context, c Caller, in DetachVolumeInput) (*VolumeAttachment, error) {
	v, err := resolveOne(ctx, s, c, volumeKind, "update", in.VolumeID, in.DryRun)
	if err != nil {
		return nil, err
	}
	var detached cloudv1.VolumeAttachTarget
	err = s.change(ctx, v, func() error {
		at := v.Spec.AttachTo
		switch {
		case at == nil && attachmentOf(v, nil) != nil:
			return BadRequest(CodeIncorrectResource, "Volume '%s' is already being detached.", in.VolumeID)
		case at == nil:
			return BadRequest(CodeIncorrectResource, "Volume '%s' is in the 'available' state.", in.VolumeID)
		case in.InstanceID != "" && in.InstanceID != at.InstanceID:
			return BadRequest(CodeAttachmentNotFound, "The volume '%s' is not attached to instance '%s'.", in.VolumeID, clipID(in.InstanceID))
		case in.Device != "" && in.Device != at.Device:
			return BadRequest(CodeAttachmentNotFound, "The volume '%s' is not attached as %s.", in.VolumeID, clipID(in.Device))
		}
		detached = *at
		v.Spec.AttachTo = nil
		return nil
	})
	if err != nil {
		return nil, volumeKind.writeError(err, in.VolumeID)
	}
	out := &VolumeAttachment{VolumeID: in.VolumeID, InstanceID: detached.InstanceID, Device: detached.Device,
		State: string(cloudv1.AttachmentDetaching)}
	if st := v.Status.Attachment; st != nil && st.AttachTime != nil && st.InstanceID == detached.InstanceID {
		out.AttachTime = st.AttachTime.Time
	}
	return out, nil
}
