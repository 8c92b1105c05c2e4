/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/quota"
)

// Volumes are Volume objects. No storage exists behind them yet: a volume shows the state its
// status records, "creating" while it records none, and an attachment is the request in
// spec.attachTo until the node agent reports one in status.

const (
	// maxVolumeGiB matches the Volume CRD's bound (and EC2's for most volume types).
	maxVolumeGiB = 16384
	// rootDevice is the device name instances report for their root disk.
	rootDevice = "/dev/sda1"
)

// volumeTypes EC2 knows; PiNet accepts them all and makes every volume the same kind.
var volumeTypes = []string{"standard", "gp2", "gp3", "io1", "io2", "sc1", "st1"}

// deviceName is what AttachVolume accepts, the Volume CRD's pattern.
var deviceName = regexp.MustCompile(`^/dev/(sd|vd|xvd)([a-z]{1,2})[0-9]*$`)

func (s *Server) volumeRoutes() map[string]action {
	return map[string]action{
		"CreateVolume":    s.createVolume,
		"DeleteVolume":    s.deleteVolume,
		"DescribeVolumes": s.describeVolumes,
		"AttachVolume":    s.attachVolume,
		"DetachVolume":    s.detachVolume,
	}
}

// volumeAttachmentItem is EC2's VolumeAttachment.
type volumeAttachmentItem struct {
	VolumeID            string          `xml:"volumeId"`
	InstanceID          string          `xml:"instanceId"`
	Device              string          `xml:"device"`
	State               string          `xml:"status"`
	AttachTime          query.Timestamp `xml:"attachTime"`
	DeleteOnTermination bool            `xml:"deleteOnTermination"`
}

// volumeItem is EC2's Volume.
type volumeItem struct {
	VolumeID           string                           `xml:"volumeId"`
	Size               int32                            `xml:"size"`
	SnapshotID         string                           `xml:"snapshotId"`
	AvailabilityZone   string                           `xml:"availabilityZone"`
	State              string                           `xml:"status"`
	CreateTime         query.Timestamp                  `xml:"createTime"`
	Attachments        query.List[volumeAttachmentItem] `xml:"attachmentSet"`
	VolumeType         string                           `xml:"volumeType"`
	Encrypted          bool                             `xml:"encrypted"`
	MultiAttachEnabled bool                             `xml:"multiAttachEnabled"`
	TagSet             *query.List[tagItem]             `xml:"tagSet,omitempty"`
}

// volumeID is the volume's EC2 id: the one in status, else its name when that is one (the API
// names volumes by their ids).
func volumeID(v *cloudv1.Volume) string {
	if v.Status.VolumeID != "" {
		return v.Status.VolumeID
	}
	if ids.Valid(ids.Volume, v.Name) {
		return v.Name
	}
	return ""
}

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

// attachmentOf is the volume's attachment as EC2 shows it: the one the node reports, shown as
// detaching once the request is withdrawn; else the request, as attaching.
func attachmentOf(v *cloudv1.Volume) *volumeAttachmentItem {
	if st := v.Status.Attachment; st != nil && st.State != "" && st.State != cloudv1.AttachmentDetached {
		item := &volumeAttachmentItem{VolumeID: volumeID(v), InstanceID: st.InstanceID, Device: st.Device, State: string(st.State)}
		if st.AttachTime != nil {
			item.AttachTime = query.NewTimestamp(st.AttachTime.Time)
		}
		if v.Spec.AttachTo == nil && st.State == cloudv1.AttachmentAttached {
			item.State = string(cloudv1.AttachmentDetaching)
		}
		return item
	}
	if at := v.Spec.AttachTo; at != nil {
		return &volumeAttachmentItem{VolumeID: volumeID(v), InstanceID: at.InstanceID, Device: at.Device,
			State: string(cloudv1.AttachmentAttaching)}
	}
	return nil
}

func toVolumeItem(v *cloudv1.Volume) volumeItem {
	item := volumeItem{
		VolumeID:         volumeID(v),
		Size:             v.Spec.SizeGiB,
		AvailabilityZone: volumeZone(v),
		State:            volumeState(v),
		CreateTime:       query.NewTimestamp(v.CreationTimestamp.Time),
		Attachments:      query.NewList[volumeAttachmentItem](),
		VolumeType:       "standard",
		TagSet:           tagList(tagsOf(v)),
	}
	if a := attachmentOf(v); a != nil {
		item.Attachments.Items = append(item.Attachments.Items, *a)
	}
	return item
}

// projectVolumes lists the project's volumes that have an EC2 id, oldest first.
func (c *call) projectVolumes(ctx context.Context) ([]*cloudv1.Volume, error) {
	list := &cloudv1.VolumeList{}
	if err := c.srv.cfg.Client.List(ctx, list, client.InNamespace(c.project)); err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	out := make([]*cloudv1.Volume, 0, len(list.Items))
	for i := range list.Items {
		if volumeID(&list.Items[i]) != "" && list.Items[i].DeletionTimestamp.IsZero() {
			out = append(out, &list.Items[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return volumeID(out[i]) < volumeID(out[j])
	})
	return out, nil
}

// findVolumes returns the project's volumes with the ids, in order.
func (c *call) findVolumes(ctx context.Context, wanted []string) ([]*cloudv1.Volume, error) {
	all, err := c.projectVolumes(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*cloudv1.Volume{}
	for _, v := range all {
		byID[volumeID(v)] = v
	}
	out := make([]*cloudv1.Volume, 0, len(wanted))
	for _, id := range wanted {
		if !ids.Valid(ids.Volume, id) {
			return nil, badRequest(codeVolumeMalformed, "Invalid id: \"%s\" (expecting \"vol-...\")", clipID(id))
		}
		v, ok := byID[id]
		if !ok {
			return nil, badRequest(codeVolumeNotFound, "The volume '%s' does not exist.", id)
		}
		out = append(out, v)
	}
	return out, nil
}

type createVolumeInput struct {
	Size               *int32             `ec2:"Size"`
	SnapshotID         string             `ec2:"SnapshotId"`
	AvailabilityZone   string             `ec2:"AvailabilityZone"`
	AvailabilityZoneID string             `ec2:"AvailabilityZoneId"`
	VolumeType         string             `ec2:"VolumeType"`
	Encrypted          bool               `ec2:"Encrypted"`
	ClientToken        string             `ec2:"ClientToken"`
	TagSpecifications  []tagSpecification `ec2:"TagSpecification,list"`
	DryRun             bool               `ec2:"DryRun"`
}

// createVolume makes a Volume named by its id; with a ClientToken the id derives from it, so a
// retried call meets the volume it made before.
func (s *Server) createVolume(ctx context.Context, c *call) (any, error) {
	var in createVolumeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "create", "volumes", in.DryRun); err != nil {
		return nil, err
	}
	zone, err := s.validateVolume(ctx, &in)
	if err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "volume")
	if err != nil {
		return nil, err
	}
	hash := hashParams(in)
	name := ids.New(ids.Volume)
	if in.ClientToken != "" {
		name = ids.Derive(ids.Volume, c.project+"/"+in.ClientToken)
		if earlier, err := s.earlierVolume(ctx, c.project, name, hash); earlier != nil || err != nil {
			return s.earlierVolumeItem(ctx, earlier, err)
		}
	}
	q, err := c.projectQuota(ctx)
	if err != nil {
		return nil, err
	}
	gate := quota.Volumes(c.project, q)
	overQuota := badRequest(codeVolumeLimit, "The volume quota of project %s is used up.", c.project)
	if fit, _, err := gate.Room(ctx, s.cfg.Client, []int64{1, int64(*in.Size)}, 1, 1); err != nil || fit == 0 {
		return nil, cmp.Or(err, error(overQuota))
	}
	v := &cloudv1.Volume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.project,
			Annotations: map[string]string{annotationRequestHash: hash}},
		Spec: cloudv1.VolumeSpec{SizeGiB: *in.Size, AvailabilityZone: zone},
	}
	if in.ClientToken != "" {
		v.Annotations[cloudv1.AnnotationClientToken] = in.ClientToken
	}
	setTags(v, tags)
	if !gate.Unlimited() {
		quota.MarkPending(v)
	}
	err = s.cfg.Client.Create(ctx, v)
	if apierrors.IsAlreadyExists(err) && in.ClientToken != "" {
		earlier, err := s.earlierVolume(ctx, c.project, name, hash)
		return s.earlierVolumeItem(ctx, earlier, err)
	}
	if err != nil {
		return nil, apiError(err, "creating a volume")
	}
	if admitted, err := s.admitOne(ctx, gate, v); err != nil || !admitted {
		if delErr := s.withdraw(ctx, v); delErr != nil {
			return nil, fmt.Errorf("withdrawing volume %s over the quota: %w", v.Name, delErr)
		}
		return nil, cmp.Or(err, error(overQuota))
	}
	s.awaitCache(ctx, v)
	item := toVolumeItem(v)
	return &item, nil
}

// earlierVolumeItem answers a retried CreateVolume with the volume the first call made.
func (s *Server) earlierVolumeItem(ctx context.Context, v *cloudv1.Volume, err error) (any, error) {
	switch {
	case err != nil:
		return nil, err
	case v == nil:
		return nil, unavailable("The volume of an earlier call with this ClientToken went away meanwhile; try again.")
	}
	s.awaitCache(ctx, v)
	item := toVolumeItem(v)
	return &item, nil
}

// earlierVolume returns the volume an earlier call with the same ClientToken made, nil if there
// is none; a different request reusing the token is IdempotentParameterMismatch.
func (s *Server) earlierVolume(ctx context.Context, project, name, hash string) (*cloudv1.Volume, error) {
	v := &cloudv1.Volume{}
	if err := s.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: project, Name: name}, v); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the volume of an earlier call: %w", err)
	}
	if v.Annotations[annotationRequestHash] != hash {
		return nil, badRequest(codeIdempotentMismatch,
			"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
	}
	return v, nil
}

// validateVolume checks a CreateVolume request and returns the zone it names.
func (s *Server) validateVolume(ctx context.Context, in *createVolumeInput) (string, error) {
	switch {
	case in.SnapshotID != "":
		return "", badRequest(codeSnapshotNotFound, "The snapshot '%s' does not exist (PiNet has no snapshots).", clipID(in.SnapshotID))
	case in.Size == nil:
		return "", badRequest(codeMissingParameter, "The request must contain the parameter size or snapshotId")
	case *in.Size < 1 || *in.Size > maxVolumeGiB:
		return "", invalidParam("Volume size %d GiB is invalid; a volume holds from 1 to %d GiB.", *in.Size, maxVolumeGiB)
	case in.Encrypted:
		return "", badRequest(codeUnsupported, "Encrypted volumes are not supported.")
	case in.VolumeType != "" && !contains(volumeTypes, in.VolumeType):
		return "", invalidParam("Value (%s) for parameter volumeType is invalid. Valid values are %s.", in.VolumeType, strings.Join(volumeTypes, ", "))
	case len(in.ClientToken) > maxClientToken:
		return "", invalidParam("Value for parameter clientToken is too long; the limit is %d characters", maxClientToken)
	case in.AvailabilityZone != "" && in.AvailabilityZoneID != "":
		return "", badRequest(codeParamCombination, "The parameters AvailabilityZone and AvailabilityZoneId cannot be used together.")
	case in.AvailabilityZone == "" && in.AvailabilityZoneID == "":
		return "", badRequest(codeMissingParameter, "The request must contain the parameter AvailabilityZone")
	}
	zones, err := s.zones(ctx)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	for i, z := range names {
		if z == in.AvailabilityZone || cloud.ZoneID(s.cfg.Region, i) == in.AvailabilityZoneID {
			return z, nil
		}
	}
	if in.AvailabilityZoneID != "" {
		return "", badRequest(codeZoneNotFound, "The zone ID '%s' does not exist.", clipID(in.AvailabilityZoneID))
	}
	return "", badRequest(codeZoneNotFound, "The zone '%s' does not exist.", clipID(in.AvailabilityZone))
}

// hashParams fingerprints a request's parameters (its input shape, DryRun cleared by the caller),
// so a retry with the same ClientToken can be told from a different request reusing it.
func hashParams(in any) string {
	data, _ := json.Marshal(in)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

type volumeIDInput struct {
	VolumeID string `ec2:"VolumeId,required"`
	DryRun   bool   `ec2:"DryRun"`
}

func (s *Server) deleteVolume(ctx context.Context, c *call) (any, error) {
	var in volumeIDInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "delete", "volumes", in.DryRun); err != nil {
		return nil, err
	}
	vols, err := c.findVolumes(ctx, []string{in.VolumeID})
	if err != nil {
		return nil, err
	}
	v := vols[0].DeepCopy()
	err = s.deleteLatest(ctx, v, func() error {
		if a := attachmentOf(v); a != nil {
			return badRequest(codeVolumeInUse, "Volume %s is currently attached to %s", in.VolumeID, a.InstanceID)
		}
		return nil
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil, badRequest(codeVolumeNotFound, "The volume '%s' does not exist.", in.VolumeID)
	case err != nil:
		return nil, apiError(err, "volume "+in.VolumeID)
	}
	s.awaitDeleted(ctx, v)
	return &returnOutput{Return: true}, nil
}

type describeVolumesInput struct {
	VolumeIDs []string       `ec2:"VolumeId,list"`
	Filters   []query.Filter `ec2:"Filter,list"`
	DryRun    bool           `ec2:"DryRun"`
	query.Paging
}

type describeVolumesOutput struct {
	Volumes   query.List[volumeItem] `xml:"volumeSet"`
	NextToken string                 `xml:"nextToken,omitempty"`
}

var volumeFilters = []string{
	"volume-id", "status", "size", "availability-zone", "create-time", "volume-type", "encrypted",
	"snapshot-id", "multi-attach-enabled", "attachment.instance-id", "attachment.device",
	"attachment.status", "attachment.attach-time", "attachment.delete-on-termination",
}

func volumeAttrs(item *volumeItem) query.Attributes {
	return func(name string) []string {
		if strings.HasPrefix(name, "attachment.") {
			var out []string
			for _, a := range item.Attachments.Items {
				switch name {
				case "attachment.instance-id":
					out = append(out, a.InstanceID)
				case "attachment.device":
					out = append(out, a.Device)
				case "attachment.status":
					out = append(out, a.State)
				case "attachment.attach-time":
					out = append(out, formatTime(a.AttachTime))
				case "attachment.delete-on-termination":
					out = append(out, strconv.FormatBool(a.DeleteOnTermination))
				}
			}
			return out
		}
		switch name {
		case "volume-id":
			return []string{item.VolumeID}
		case "status":
			return []string{item.State}
		case "size":
			return []string{strconv.Itoa(int(item.Size))}
		case "availability-zone":
			return []string{item.AvailabilityZone}
		case "create-time":
			return []string{formatTime(item.CreateTime)}
		case "volume-type":
			return []string{item.VolumeType}
		case "encrypted":
			return []string{strconv.FormatBool(item.Encrypted)}
		case "snapshot-id":
			return []string{item.SnapshotID}
		case "multi-attach-enabled":
			return []string{strconv.FormatBool(item.MultiAttachEnabled)}
		}
		return nil
	}
}

// formatTime prints a time as responses do, for filters to match.
func formatTime(t query.Timestamp) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(query.TimestampLayout)
}

func (s *Server) describeVolumes(ctx context.Context, c *call) (any, error) {
	var in describeVolumesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "list", "volumes", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.VolumeIDs) > 0 && in.MaxResults != nil {
		return nil, invalidParam("The parameter volumeSet cannot be used with the parameter maxResults")
	}
	size, err := query.PageSize(in.MaxResults, 5, 500, 0)
	if err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, volumeFilters)
	if err != nil {
		return nil, err
	}
	var vols []*cloudv1.Volume
	if len(in.VolumeIDs) > 0 {
		vols, err = c.findVolumes(ctx, in.VolumeIDs)
	} else {
		vols, err = c.projectVolumes(ctx)
	}
	if err != nil {
		return nil, err
	}
	var items []volumeItem
	for _, v := range vols {
		item := toVolumeItem(v)
		if matcher.Match(volumeAttrs(&item), tagsOf(v)) {
			items = append(items, item)
		}
	}
	page, next, err := onePage(c, items, size, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &describeVolumesOutput{Volumes: query.NewList(page...), NextToken: next}, nil
}

type attachVolumeInput struct {
	VolumeID   string `ec2:"VolumeId,required"`
	InstanceID string `ec2:"InstanceId,required"`
	Device     string `ec2:"Device,required"`
	DryRun     bool   `ec2:"DryRun"`
}

// attachVolume asks for the volume to be attached: it sets spec.attachTo, and the node agent of
// the instance attaches it.
func (s *Server) attachVolume(ctx context.Context, c *call) (any, error) {
	var in attachVolumeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "update", "volumes", in.DryRun); err != nil {
		return nil, err
	}
	vols, err := c.findVolumes(ctx, []string{in.VolumeID})
	if err != nil {
		return nil, err
	}
	insts, err := c.findInstances(ctx, []string{in.InstanceID})
	if err != nil {
		return nil, err
	}
	inst := insts[0]
	if err := s.checkAttachable(ctx, c, vols[0], inst, in.Device); err != nil {
		return nil, err
	}
	v := vols[0].DeepCopy()
	err = s.changeLatest(ctx, v, func() error {
		if err := checkVolumeFree(v); err != nil {
			return err
		}
		v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: in.InstanceID, Device: in.Device}
		return nil
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil, badRequest(codeVolumeNotFound, "The volume '%s' does not exist.", in.VolumeID)
	case err != nil:
		return nil, apiError(err, "volume "+in.VolumeID)
	}
	s.awaitCache(ctx, v)
	return &volumeAttachmentItem{VolumeID: in.VolumeID, InstanceID: in.InstanceID, Device: in.Device,
		State: string(cloudv1.AttachmentAttaching), AttachTime: query.NewTimestamp(c.now())}, nil
}

// checkVolumeFree refuses a volume that is attached, or in a state nothing can attach.
func checkVolumeFree(v *cloudv1.Volume) error {
	if a := attachmentOf(v); a != nil {
		return badRequest(codeVolumeInUse, "%s is already attached to an instance", volumeID(v))
	}
	switch v.Status.State {
	case cloudv1.VolumeStateError, cloudv1.VolumeStateDeleting, cloudv1.VolumeStateDeleted:
		return badRequest(codeIncorrectResource, "Volume '%s' is in the '%s' state.", volumeID(v), v.Status.State)
	}
	return nil
}

// checkAttachable checks what EC2 checks before an attachment: a live instance in the volume's
// zone, a free volume, and a valid device name nothing else on the instance uses.
func (s *Server) checkAttachable(ctx context.Context, c *call, v *cloudv1.Volume, inst *cloudv1.Instance, device string) error {
	id := instanceID(inst)
	switch inst.Status.State {
	case cloudv1.InstanceStateShuttingDown, cloudv1.InstanceStateTerminated:
		return badRequest(codeIncorrectState, "Instance '%s' is not 'running'.", id)
	}
	if inst.EffectiveDesiredState() == cloudv1.DesiredTerminated || !inst.DeletionTimestamp.IsZero() {
		return badRequest(codeIncorrectState, "Instance '%s' is not 'running'.", id)
	}
	zone := inst.Status.AvailabilityZone
	if zone == "" {
		zone = inst.Spec.AvailabilityZone
	}
	if zone == "" {
		return badRequest(codeIncorrectState, "Instance '%s' has not been placed in an availability zone yet; try again when it runs.", id)
	}
	if zone != volumeZone(v) {
		return badRequest(codeVolumeZoneMismatch, "The volume '%s' is not in the same availability zone as instance '%s'", volumeID(v), id)
	}
	if err := checkVolumeFree(v); err != nil {
		return err
	}
	slot, ok := deviceSlot(device)
	if !ok {
		return invalidParam("Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", clipID(device), clipID(device))
	}
	used := map[string]bool{}
	rootSlot, _ := deviceSlot(rootDevice)
	used[rootSlot] = true
	for _, m := range inst.Spec.BlockDeviceMappings {
		if d, ok := deviceSlot(m.DeviceName); ok {
			used[d] = true
		}
	}
	vols, err := c.projectVolumes(ctx)
	if err != nil {
		return err
	}
	for _, other := range vols {
		if a := attachmentOf(other); a != nil && a.InstanceID == id {
			if d, ok := deviceSlot(a.Device); ok {
				used[d] = true
			}
		}
	}
	if used[slot] {
		return invalidParam("Invalid value '%s' for unixDevice. Attachment point %s is already in use", device, device)
	}
	return nil
}

// deviceSlot is the disk a device name stands for: /dev/sdf, /dev/xvdf and /dev/sdf1 are all
// disk f, as EC2 treats them.
func deviceSlot(device string) (string, bool) {
	if len(device) > 32 {
		return "", false
	}
	m := deviceName.FindStringSubmatch(device)
	if m == nil {
		return "", false
	}
	return m[2], true
}

type detachVolumeInput struct {
	VolumeID   string `ec2:"VolumeId,required"`
	InstanceID string `ec2:"InstanceId"`
	Device     string `ec2:"Device"`
	Force      bool   `ec2:"Force"`
	DryRun     bool   `ec2:"DryRun"`
}

// detachVolume withdraws spec.attachTo; the node agent detaches the volume. Force changes
// nothing: the agent always detaches as soon as it can.
func (s *Server) detachVolume(ctx context.Context, c *call) (any, error) {
	var in detachVolumeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "update", "volumes", in.DryRun); err != nil {
		return nil, err
	}
	vols, err := c.findVolumes(ctx, []string{in.VolumeID})
	if err != nil {
		return nil, err
	}
	v := vols[0].DeepCopy()
	var detached cloudv1.VolumeAttachTarget
	err = s.changeLatest(ctx, v, func() error {
		at := v.Spec.AttachTo
		switch {
		case at == nil && attachmentOf(v) != nil:
			return badRequest(codeIncorrectResource, "Volume '%s' is already being detached.", in.VolumeID)
		case at == nil:
			return badRequest(codeIncorrectResource, "Volume '%s' is in the 'available' state.", in.VolumeID)
		case in.InstanceID != "" && in.InstanceID != at.InstanceID:
			return badRequest(codeAttachmentNotFound, "The volume '%s' is not attached to instance '%s'.", in.VolumeID, clipID(in.InstanceID))
		case in.Device != "" && in.Device != at.Device:
			return badRequest(codeAttachmentNotFound, "The volume '%s' is not attached as %s.", in.VolumeID, clipID(in.Device))
		}
		detached = *at
		v.Spec.AttachTo = nil
		return nil
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil, badRequest(codeVolumeNotFound, "The volume '%s' does not exist.", in.VolumeID)
	case err != nil:
		return nil, apiError(err, "volume "+in.VolumeID)
	}
	s.awaitCache(ctx, v)
	out := &volumeAttachmentItem{VolumeID: in.VolumeID, InstanceID: detached.InstanceID, Device: detached.Device,
		State: string(cloudv1.AttachmentDetaching)}
	if st := v.Status.Attachment; st != nil && st.AttachTime != nil && st.InstanceID == detached.InstanceID {
		out.AttachTime = query.NewTimestamp(st.AttachTime.Time)
	}
	return out, nil
}
