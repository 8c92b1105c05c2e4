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
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/go-logr/logr"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/objtags"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/refs"
)

const (
	// maxUserData is EC2's limit on user data, decoded.
	maxUserData = 16 << 10
	// maxInstancesPerCall bounds MaxCount.
	maxInstancesPerCall = 500
	// defaultInstanceType is what a launch that names no type gets.
	defaultInstanceType = "m1.small"
	// withdrawnWait bounds how long a launch with a ClientToken waits for the instances of an
	// earlier attempt that are being withdrawn to go (their finalizers are the instance
	// controller's, which a manager that just took over leadership runs only after a while).
	// With the ledger's and the cache's waits it stays within the SDKs' read timeout of 60 s.
	withdrawnWait = 30 * time.Second
	// launchRounds bounds how often a launch starts again when instances it took over from a
	// concurrent attempt with the same ClientToken were withdrawn under it.
	launchRounds = 3
)

// EBSInput asks for a volume in a launch's block device mapping.
type EBSInput struct {
	VolumeSize          *int32
	DeleteOnTermination *bool
	SnapshotID          string
	VolumeType          string
	Encrypted           *bool
	Iops                *int32
	// Throughput is left out of the request's fingerprint when unset, so that a launch retried
	// with its ClientToken is the same request it was before the parameter was taken.
	Throughput *int32 `json:",omitempty"`
}

// BlockDeviceMappingInput maps one device of a launch: an instance store (VirtualName), a
// volume (EBS), or nothing (NoDevice set).
type BlockDeviceMappingInput struct {
	DeviceName  string
	VirtualName string
	EBS         *EBSInput
	NoDevice    *string
}

// MonitoringInput asks for detailed monitoring, which PiNet accepts and does not offer.
type MonitoringInput struct {
	Enabled bool
}

// RunInstancesInput describes a launch of MinCount to MaxCount instances. Placement's group and
// tenancy, Monitoring and EbsOptimized are accepted and change nothing,
// but a retry with a ClientToken must repeat them as every other parameter. The fields, their
// names and their order make a launch's fingerprint (runRequestHash), which instances launched
// before keep: change none of them.
type RunInstancesInput struct {
	ImageID             string
	MinCount            int32
	MaxCount            int32
	InstanceType        string
	KeyName             string
	UserData            []byte
	SecurityGroups      []string
	SecurityGroupIDs    []string
	Placement           *Placement
	KernelID            string
	RamdiskID           string
	BlockDeviceMappings []BlockDeviceMappingInput
	ClientToken         string
	TagSpecifications   []TagSpecification
	ShutdownBehavior    string
	Monitoring          *MonitoringInput
	// MetadataOptions is left out of the request's fingerprint when not given, so a retry of a
	// launch made before it existed still matches.
	MetadataOptions *MetadataOptionsInput `json:",omitempty"`
	// DisableAPITermination launches the instances with termination protection.
	DisableAPITermination bool
	// EbsOptimized is accepted and changes nothing.
	EbsOptimized bool
	DryRun       bool
	// DisableAPIStop launches the instances with stop protection. It is left out of the
	// request's fingerprint when false, so a retry of a launch made before it existed still
	// matches.
	DisableAPIStop bool `json:",omitempty"`
}

// RunInstances launches MinCount..MaxCount instances in one reservation, as many as the
// project's quota allows, after checking every reference the launch makes with the caller's
// visibility: a refused launch makes nothing. Instances are named by their ids; with a
// ClientToken the ids derive from it, so a retried call meets the instances it made before
// instead of making more.
func (s *Service) RunInstances(ctx context.Context, c Caller, in RunInstancesInput) (*Reservation, error) {
	if err := s.authorize(ctx, c, "create", "instances", in.DryRun); err != nil {
		return nil, err
	}
	hash := runRequestHash(in)
	// A retried call is answered before anything else is looked at, as EC2 does: a token already
	// used with other parameters is a mismatch even if those parameters are now invalid.
	var seed string
	if in.ClientToken != "" {
		var err error
		if seed, err = s.projectSeed(ctx, c, in.ClientToken); err != nil {
			return nil, err
		}
		if earlier, err := s.earlierLaunch(ctx, c, seed, hash); earlier != nil || err != nil {
			if err != nil {
				return nil, err
			}
			return s.launchOutput(ctx, c, earlier)
		}
	}
	spec, volumeUse, err := s.validateRun(ctx, c, &in)
	if err != nil {
		return nil, err
	}
	tags, err := SpecTags(in.TagSpecifications, "instance", "volume")
	if err != nil {
		return nil, err
	}
	volumeTags, err := SpecTags(in.TagSpecifications, "volume", "instance")
	if err != nil {
		return nil, err
	}
	maxCount, err := s.subnetRoom(ctx, c.Project(), int(in.MinCount), int(in.MaxCount))
	if err != nil {
		return nil, err
	}
	// As many as fit between MinCount and MaxCount, as the cache sees the project; the ledger
	// decides below.
	gate, use, err := s.launchQuota(ctx, c, spec)
	if err != nil {
		return nil, err
	}
	count, refused, err := ownRoom(gate, seed, maxCount).Room(ctx, s.cfg.Client, use, int(in.MinCount), maxCount)
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, instanceLimit(refused)
	}
	if count, err = s.launchVolumeRoom(ctx, c, volumeUse, int(in.MinCount), count); err != nil {
		return nil, err
	}
	l := newLaunch(c.Project(), seed, in.ClientToken, count)
	l.hash, l.spec, l.tags, l.mark = hash, spec, tags, !gate.Unlimited()
	if volumeUse[0] > 0 && len(volumeTags) > 0 {
		l.volumeTags = objtags.Encode(volumeTags)
	}
	l.deadline = s.cfg.Clock.Now().Add(withdrawnWait)
	var created []*cloudv1.Instance
	for range launchRounds {
		created, err = s.createLaunch(ctx, l)
		if err == nil {
			err = s.confirmLaunchGroups(ctx, l, created)
		}
		if err != nil {
			return nil, err
		}
		created, err = s.admitLaunch(ctx, gate, created, int(in.MinCount))
		// Instances this call took over from an attempt with the same ClientToken that was
		// withdrawn meanwhile (it failed as this one ran): launch again once they are gone.
		if !errors.Is(err, errWithdrawnMeanwhile) || l.clientToken == "" {
			break
		}
	}
	if errors.Is(err, errWithdrawnMeanwhile) {
		return nil, Unavailable("The instances of this launch were withdrawn meanwhile; try again.")
	}
	if err != nil {
		return nil, err
	}
	return s.launchOutput(ctx, c, created)
}

// launch is what one RunInstances call creates.
type launch struct {
	project, clientToken, hash, reservation string
	names                                   []string
	spec                                    *cloudv1.InstanceSpec
	tags                                    map[string]string
	// volumeTags are the tags of the volumes the instances' block device mappings ask for, as
	// the instance controller gives them (AnnotationLaunchVolumeTags); "" for none.
	volumeTags string
	// mark marks the instances pending: the call admits them under the quota.
	mark bool
	// deadline bounds how long the call waits for instances of an earlier attempt with the same
	// ClientToken that are being withdrawn to go.
	deadline time.Time
}

// newLaunch names the reservation and count instances of a launch: by new ids, or with a
// ClientToken by ids derived from seed, its projectSeed.
func newLaunch(project, seed, clientToken string, count int) *launch {
	l := &launch{project: project, clientToken: clientToken, reservation: ids.New(ids.Reservation), names: make([]string, count)}
	for i := range l.names {
		l.names[i] = ids.New(ids.Instance)
	}
	if clientToken != "" {
		l.reservation = ids.Derive(ids.Reservation, seed)
		for i := range l.names {
			l.names[i] = ids.Derive(ids.Instance, seed+"/"+strconv.Itoa(i))
		}
	}
	return l
}

func idempotentMismatch() error {
	return BadRequest(CodeIdempotentMismatch,
		"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
}

// createLaunch creates the instances of a launch named by its ids, in parallel (a bounded number
// at a time); with a ClientToken, those an earlier attempt of the same call made are taken over.
// If one cannot be created, none more are started and the ones this call made are withdrawn.
func (s *Service) createLaunch(ctx context.Context, l *launch) ([]*cloudv1.Instance, error) {
	created := make([]*cloudv1.Instance, len(l.names))
	made := make([]bool, len(l.names))
	err := inParallel(len(l.names), func(i int) error {
		var err error
		created[i], made[i], err = s.createOrTakeOver(ctx, l, i)
		return err
	})
	if err == nil {
		return created, nil
	}
	var withdraw []client.Object
	for i, inst := range created {
		if made[i] {
			withdraw = append(withdraw, inst)
		}
	}
	// The cleanup finishes even if the caller went away meanwhile.
	if delErr := s.WithdrawAll(context.WithoutCancel(ctx), withdraw); delErr != nil {
		return nil, fmt.Errorf("withdrawing the instances of a launch after %q: %w", err.Error(), delErr)
	}
	return nil, err
}

// createOrTakeOver creates the launch's i-th instance and tells whether this call made it. With
// a ClientToken, the instance an earlier attempt of the call made is taken over; one an earlier
// attempt withdrew (deleted, held by its finalizers until the instance controller has released
// what it holds) is waited for until it is gone, bounded by the launch's deadline, and made
// anew: the retry of a failed attempt launches once, never fails for what its predecessor left.
func (s *Service) createOrTakeOver(ctx context.Context, l *launch, i int) (*cloudv1.Instance, bool, error) {
	for {
		inst := l.instance(i, l.names[i])
		err := s.cfg.Client.Create(ctx, inst)
		if err == nil {
			return inst, true, nil
		}
		if !apierrors.IsAlreadyExists(err) || l.clientToken == "" {
			return nil, false, APIError(err, "launching an instance")
		}
		existing := &cloudv1.Instance{}
		err = s.cfg.APIReader.Get(ctx, client.ObjectKeyFromObject(inst), existing)
		switch {
		case apierrors.IsNotFound(err):
			continue // gone since: make it
		case err != nil:
			return nil, false, fmt.Errorf("reading the instance of an earlier call: %w", err)
		case existing.Annotations[annotationRequestHash] != l.hash:
			return nil, false, idempotentMismatch()
		case existing.DeletionTimestamp.IsZero():
			return existing, false, nil
		}
		if err := s.awaitWithdrawn(ctx, existing, l.deadline); err != nil {
			return nil, false, err
		}
	}
}

// awaitWithdrawn waits until an instance being deleted is gone (or replaced), at most until
// deadline. It reads the cache: the Create that follows asks the API server itself.
func (s *Service) awaitWithdrawn(ctx context.Context, inst *cloudv1.Instance, deadline time.Time) error {
	left := deadline.Sub(s.cfg.Clock.Now())
	if left <= 0 {
		return Unavailable("An earlier attempt of this launch with the same ClientToken is still being withdrawn; try again.")
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("Waiting for the withdrawn instance of an earlier attempt to go", "instance", inst.Name)
	cached := &cloudv1.Instance{}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, left, false, func(ctx context.Context) (bool, error) {
		err := s.cfg.Client.Get(ctx, client.ObjectKeyFromObject(inst), cached)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return err == nil && cached.UID != inst.UID, nil
	})
	if err != nil && ctx.Err() == nil {
		return Unavailable("An earlier attempt of this launch with the same ClientToken is still being withdrawn; try again.")
	}
	return err
}

// instance is the launch's i-th instance. It is created with the instance controller's
// finalizer, which that controller would otherwise add in a write of its own before it claims
// anything for the instance: one write less per launched instance. An instance withdrawn (or
// terminated) before the controller has seen it goes once the controller has released what it
// holds, as every instance does.
func (l *launch) instance(i int, name string) *cloudv1.Instance {
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{
			Name:       name,
			Namespace:  l.project,
			Finalizers: []string{cloudv1.InstanceFinalizer},
			Labels:     map[string]string{cloudv1.LabelReservationID: l.reservation},
			Annotations: map[string]string{
				annotationLaunchIndex: strconv.Itoa(i),
				annotationRequestHash: l.hash,
			},
		},
		Spec: *l.spec.DeepCopy(),
	}
	if l.volumeTags != "" {
		inst.Annotations[cloudv1.AnnotationLaunchVolumeTags] = l.volumeTags
	}
	if l.clientToken != "" {
		inst.Annotations[cloudv1.AnnotationClientToken] = l.clientToken
		if !l.mark {
			inst.Annotations[annotationLaunchCount] = strconv.Itoa(len(l.names))
		}
	}
	SetTags(inst, l.tags)
	if l.mark {
		quota.MarkPending(inst)
	}
	return inst
}

// launchOutput waits until the cache shows the launched instances and describes their
// reservation, with the groups of the launch.
func (s *Service) launchOutput(ctx context.Context, c Caller, launched []*cloudv1.Instance) (*Reservation, error) {
	objs := make([]client.Object, len(launched))
	for i, inst := range launched {
		objs[i] = inst
	}
	s.AwaitCacheAll(ctx, objs)
	shapes, err := s.instanceShapes(ctx, c)
	if err != nil {
		return nil, err
	}
	items := make([]Instance, len(launched))
	for i, inst := range launched {
		items[i] = shapes.instance(inst)
		items[i].LaunchIndex = i
	}
	res := reservations(items)
	if len(res) != 1 {
		return nil, errors.New("launched instances span several reservations")
	}
	res[0].Groups = shapes.groupsOf(launched[0])
	return &res[0], nil
}

// validateRun checks every reference a launch makes, as EC2 does before it launches anything,
// and returns the instance spec and what each instance adds to the project's volumes (their
// number and GiB: the image's volumes and the launch's own).
func (s *Service) validateRun(ctx context.Context, c Caller, in *RunInstancesInput) (*cloudv1.InstanceSpec, []int64, error) {
	if err := checkRunParameters(in); err != nil {
		return nil, nil, err
	}
	img, err := s.checkRunImages(ctx, c, in)
	if err != nil {
		return nil, nil, err
	}
	itName := in.InstanceType
	if itName == "" {
		itName = defaultInstanceType
	}
	it, err := refs.InstanceType(ctx, s.cfg.Client, itName)
	if errors.Is(err, refs.ErrNotFound) {
		return nil, nil, InvalidParam("The instance type '%s' does not exist", itName)
	}
	if err != nil {
		return nil, nil, err
	}
	groups, err := s.runReferences(ctx, c, in)
	if err != nil {
		return nil, nil, err
	}
	zone, err := s.runZone(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	behavior, err := shutdownBehavior(in.ShutdownBehavior)
	if err != nil {
		return nil, nil, err
	}
	bdms, err := s.blockDeviceMappings(ctx, c, img, in.BlockDeviceMappings, it)
	if err != nil {
		return nil, nil, err
	}
	volumeUse, err := s.imageVolumes(ctx, c, img, bdms, it)
	if err != nil {
		return nil, nil, err
	}
	var metadataOptions *cloudv1.MetadataOptions
	if in.MetadataOptions != nil {
		if err := applyMetadataOptions(&metadataOptions, in.MetadataOptions); err != nil {
			return nil, nil, err
		}
	}
	// Last, as EC2 does: whether the type fits on any hypervisor at all.
	if err := s.checkCapacity(ctx, it, zone); err != nil {
		return nil, nil, err
	}
	return &cloudv1.InstanceSpec{
		MetadataOptions:       metadataOptions,
		ImageID:               in.ImageID,
		InstanceType:          itName,
		KernelID:              in.KernelID,
		RamdiskID:             in.RamdiskID,
		KeyName:               in.KeyName,
		UserData:              in.UserData,
		SecurityGroups:        groups,
		AvailabilityZone:      zone,
		BlockDeviceMappings:   bdms,
		DesiredState:          cloudv1.DesiredRunning,
		ShutdownBehavior:      behavior,
		DisableAPITermination: in.DisableAPITermination,
		DisableAPIStop:        in.DisableAPIStop,
	}, volumeUse, nil
}

// checkRunParameters checks what a launch asks for on its own.
func checkRunParameters(in *RunInstancesInput) error {
	switch {
	case in.ImageID == "":
		return BadRequest(CodeMissingParameter, "The request must contain the parameter ImageId")
	case in.MinCount < 1:
		return InvalidParam("Value (%d) for parameter minCount is invalid. Expected a positive integer.", in.MinCount)
	case in.MaxCount < in.MinCount:
		return InvalidParam("Value (%d) for parameter maxCount is invalid. Expected at least minCount (%d).", in.MaxCount, in.MinCount)
	case in.MaxCount > maxInstancesPerCall:
		return InvalidParam("Value (%d) for parameter maxCount is invalid. At most %d instances can be launched at once.", in.MaxCount, maxInstancesPerCall)
	case len(in.UserData) > maxUserData:
		return InvalidParam("User data is limited to %d bytes", maxUserData)
	case len(in.ClientToken) > maxClientToken:
		return InvalidParam("Value for parameter clientToken is too long; the limit is %d characters", maxClientToken)
	}
	return nil
}

// checkRunImages checks that the image is a machine image the caller's project may launch, and
// its kernel and ramdisk images, when named, exist for it; it returns the image.
func (s *Service) checkRunImages(ctx context.Context, c Caller, in *RunInstancesInput) (*cloudv1.Image, error) {
	if !ids.Valid(ids.Machine, in.ImageID) {
		return nil, BadRequest(CodeAMIMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", in.ImageID)
	}
	img, err := refs.Image(ctx, s.cfg.Client, c.Project(), in.ImageID)
	if errors.Is(err, refs.ErrNotFound) {
		return nil, imageNotFound(in.ImageID)
	}
	if err != nil {
		return nil, err
	}
	if img.Spec.Type != cloudv1.ImageTypeMachine {
		return nil, BadRequest(CodeAMINotFound, "The image id '[%s]' is not a machine image", in.ImageID)
	}
	if img.Status.State == cloudv1.ImageStateFailed {
		return nil, BadRequest(CodeAMIUnavailable, "Image %s is not available: %s", in.ImageID, img.Status.StateReason)
	}
	for _, ref := range []struct{ id, prefix, what string }{
		{in.KernelID, ids.Kernel, "kernel"}, {in.RamdiskID, ids.Ramdisk, "ramdisk"},
	} {
		if ref.id == "" {
			continue
		}
		if !ids.Valid(ref.prefix, ref.id) {
			return nil, BadRequest(CodeAMIMalformed, "Invalid id: \"%s\" (expecting \"%s-...\")", ref.id, ref.prefix)
		}
		if _, err := refs.Image(ctx, s.cfg.Client, c.Project(), ref.id); err != nil {
			return nil, BadRequest(CodeAMINotFound, "The %s image id '[%s]' does not exist", ref.what, ref.id)
		}
	}
	// The image's own kernel and ramdisk, where the call names none, boot with the caller's
	// rights too: another project shared them with the image's owner, not with the caller.
	for _, ref := range []struct{ named, dflt, what string }{
		{in.KernelID, img.Spec.KernelID, "kernel"}, {in.RamdiskID, img.Spec.RamdiskID, "ramdisk"},
	} {
		if ref.named != "" || ref.dflt == "" {
			continue
		}
		if _, err := refs.ImageDefault(ctx, s.cfg.Client, img, ref.dflt, c.Project()); errors.Is(err, refs.ErrNotFound) {
			return nil, BadRequest(CodeAMINotFound, "The %s image '[%s]' of image %s does not exist", ref.what, ref.dflt, in.ImageID)
		} else if err != nil {
			return nil, err
		}
	}
	return img, nil
}

// runReferences checks the key pair and groups a launch names in the caller's project, and
// returns the groups as the spec names them.
func (s *Service) runReferences(ctx context.Context, c Caller, in *RunInstancesInput) ([]string, error) {
	if in.KeyName != "" {
		if _, err := refs.KeyPair(ctx, s.cfg.Client, c.Project(), in.KeyName); err != nil {
			return nil, BadRequest(CodeKeyPairNotFound, "The key pair '%s' does not exist", in.KeyName)
		}
	}
	var groups []string
	// A group being deleted is gone to launches (confirmLaunchGroups has the last word).
	for _, name := range in.SecurityGroups {
		if sg, err := refs.SecurityGroup(ctx, s.cfg.Client, c.Project(), name); err != nil || !sg.DeletionTimestamp.IsZero() {
			return nil, BadRequest(CodeGroupNotFound, "The security group '%s' does not exist", name)
		}
		groups = append(groups, name)
	}
	for _, id := range in.SecurityGroupIDs {
		if sg, err := refs.SecurityGroup(ctx, s.cfg.Client, c.Project(), id); err != nil || !sg.DeletionTimestamp.IsZero() || !ids.Valid(ids.SecurityGroup, id) {
			return nil, BadRequest(CodeGroupIDNotFound, "The security group ID '%s' does not exist", id)
		}
		groups = append(groups, id)
	}
	return groups, nil
}

// runZone is the zone a launch asks for ("" for any), which must exist.
func (s *Service) runZone(ctx context.Context, in *RunInstancesInput) (string, error) {
	if in.Placement == nil || in.Placement.AvailabilityZone == "" {
		return "", nil
	}
	zone := in.Placement.AvailabilityZone
	zones, err := s.Zones(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := zones[zone]; !ok {
		return "", InvalidParam("Invalid availability zone: [%s]", zone)
	}
	return zone, nil
}

func shutdownBehavior(v string) (cloudv1.ShutdownBehavior, error) {
	switch v {
	case "", "stop":
		return cloudv1.ShutdownBehaviorStop, nil
	case "terminate":
		return cloudv1.ShutdownBehaviorTerminate, nil
	}
	return "", InvalidParam("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid.", v)
}

// blockDeviceMappings checks a launch's block device mappings for instances of img of type it:
// device names of distinct disks, none the root disk, no volume at an instance-store disk of the
// type, and each volume as launchVolume checks it. A volume without a snapshot at a device img
// maps one at keeps the image's snapshot (and, unless it says, the image's size and
// deleteOnTermination), as on EC2: that is how a launch makes an image's volume larger.
func (s *Service) blockDeviceMappings(ctx context.Context, c Caller, img *cloudv1.Image, in []BlockDeviceMappingInput, it *cloudv1.InstanceType) ([]cloudv1.BlockDeviceMapping, error) {
	imaged := map[string]*cloudv1.EBSBlockDevice{}
	for i := range img.Spec.BlockDeviceMappings {
		imaged[img.Spec.BlockDeviceMappings[i].DeviceName] = &img.Spec.BlockDeviceMappings[i].EBS
	}
	var out []cloudv1.BlockDeviceMapping
	rootSlot, _ := DeviceSlot(RootDevice)
	stores := instanceStoreSlots(it)
	slots := map[string]string{}
	for _, m := range in {
		if m.DeviceName == "" {
			return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter BlockDeviceMapping.DeviceName")
		}
		slot, ok := DeviceSlot(m.DeviceName)
		if !ok {
			return nil, InvalidParam("Invalid device name %s (expecting /dev/sdX, /dev/vdX or /dev/xvdX)", clipID(m.DeviceName))
		}
		if other, seen := slots[slot]; seen {
			if other == m.DeviceName {
				return nil, InvalidParam("The device %s is mapped more than once", m.DeviceName)
			}
			return nil, InvalidParam("The devices %s and %s name the same disk", other, m.DeviceName)
		}
		slots[slot] = m.DeviceName
		if m.NoDevice != nil {
			// Kept, so that it drops the image's mapping of the device (the root disk has none).
			if slot != rootSlot {
				out = append(out, cloudv1.BlockDeviceMapping{DeviceName: m.DeviceName, NoDevice: true})
			}
			continue
		}
		if slot == rootSlot {
			return nil, InvalidParam("The root device %s is the instance's own disk; map volumes and instance stores to other devices", m.DeviceName)
		}
		bdm := cloudv1.BlockDeviceMapping{DeviceName: m.DeviceName}
		switch {
		case m.VirtualName != "" && m.EBS != nil:
			return nil, InvalidParam("The block device mapping for %s sets both VirtualName and Ebs", m.DeviceName)
		case m.VirtualName != "":
			bdm.VirtualName = ptr.To(m.VirtualName)
		case m.EBS != nil && stores[slot] != "":
			return nil, InvalidParam("The device %s is the instance store %s of instance type %s; map volumes to other devices",
				m.DeviceName, stores[slot], it.Name)
		case m.EBS != nil:
			in := *m.EBS
			if from := imaged[m.DeviceName]; from != nil && in.SnapshotID == "" {
				in.SnapshotID = from.SnapshotID
				in.DeleteOnTermination = cmp.Or(in.DeleteOnTermination, from.DeleteOnTermination)
				in.VolumeSize = cmp.Or(in.VolumeSize, nonZero(from.VolumeSize))
				if in.VolumeType == "" && in.Iops == nil && in.Throughput == nil {
					in.VolumeType, in.Iops, in.Throughput = string(from.VolumeType), nonZero(from.Iops), nonZero(from.Throughput)
				}
			}
			ebs, err := s.launchVolume(ctx, c, img, m.DeviceName, &in)
			if err != nil {
				return nil, err
			}
			bdm.EBS = ebs
		default:
			return nil, InvalidParam("The block device mapping for %s needs VirtualName or Ebs", m.DeviceName)
		}
		out = append(out, bdm)
	}
	return out, nil
}

// launchVolume checks the volume a mapping asks to be made at launch of img as CreateVolume
// checks one: a snapshot the caller may use or the image maps (refs.ImageSnapshot), completed, no
// larger than the size asked for (the snapshot's when none is).
func (s *Service) launchVolume(ctx context.Context, c Caller, img *cloudv1.Image, device string, in *EBSInput) (*cloudv1.EBSBlockDevice, error) {
	switch {
	case in.Encrypted != nil && *in.Encrypted:
		return nil, BadRequest(CodeUnsupported, "Encrypted volumes are not supported (BlockDeviceMapping %s).", device)
	case in.VolumeSize == nil && in.SnapshotID == "":
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter BlockDeviceMapping.Ebs.VolumeSize or SnapshotId for %s", device)
	case in.VolumeSize != nil && (*in.VolumeSize < 1 || *in.VolumeSize > maxVolumeGiB):
		return nil, InvalidParam("Volume size %d GiB is invalid for %s; a volume holds from 1 to %d GiB.", *in.VolumeSize, device, maxVolumeGiB)
	}
	vol := CreateVolumeInput{SizeGiB: in.VolumeSize, SnapshotID: in.SnapshotID}
	if in.SnapshotID != "" {
		snap, err := s.visibleSnapshot(ctx, c, in.SnapshotID)
		if qe := (*query.Error)(nil); errors.As(err, &qe) && qe.Code == CodeSnapshotNotFound && refs.ImageMapsSnapshot(img, in.SnapshotID) {
			if mapped, ierr := refs.ImageSnapshot(ctx, s.cfg.Client, img, c.Project(), in.SnapshotID, false); ierr == nil {
				snap, err = mapped, nil
			} else if !errors.Is(ierr, refs.ErrNotFound) {
				return nil, ierr
			}
		}
		if err != nil {
			return nil, err
		}
		if err := snapshotFits(snap, &vol); err != nil {
			return nil, err
		}
	}
	vt, err := checkVolumeType(in.VolumeType, *vol.SizeGiB, in.Iops, in.Throughput)
	if err != nil {
		return nil, err
	}
	return &cloudv1.EBSBlockDevice{VolumeSize: *vol.SizeGiB, SnapshotID: in.SnapshotID, DeleteOnTermination: in.DeleteOnTermination,
		VolumeType: vt.Type, Iops: vt.Iops, Throughput: vt.Throughput}, nil
}

// launchVolumeRoom bounds a launch to as many instances as the project's volume quota has room
// for, with the volumes their block device mappings ask for: at least minimum, or the launch is
// refused (VolumeLimitExceeded). As for instances, it is the cheap refusal: the volumes are made
// once the instances are placed, admitted by the volume controller, and wait over the quota.
func (s *Service) launchVolumeRoom(ctx context.Context, c Caller, use []int64, minimum, count int) (int, error) {
	if use[0] == 0 {
		return count, nil
	}
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return 0, err
	}
	fit, refused, err := quota.Volumes(c.Project(), q).Room(ctx, s.cfg.Client, use, minimum, count)
	switch {
	case err != nil:
		return 0, err
	case refused != nil:
		return 0, BadRequest(CodeVolumeLimit, "The volume quota of project %s allows for %d more %s (project quota %s: %d); the launch needs at least %d.",
			c.Project(), refused.Left(), refused.Limit.Unit, refused.Limit.Field, refused.Limit.Max, refused.Need)
	}
	return fit, nil
}

// imageVolumes checks the volumes of the image's block device mappings that the launch keeps
// beside its own mappings own (cloudv1.LaunchVolumes) as the launch's own are checked (the image's
// snapshots are the launch's to use whether or not they are shared with the caller), and returns
// what an instance's volumes add to the project's: their number and GiB.
func (s *Service) imageVolumes(ctx context.Context, c Caller, img *cloudv1.Image, own []cloudv1.BlockDeviceMapping, it *cloudv1.InstanceType) ([]int64, error) {
	use := []int64{0, 0}
	mine := map[string]bool{}
	for _, m := range own {
		mine[m.DeviceName] = true
	}
	stores := instanceStoreSlots(it)
	for _, m := range cloudv1.LaunchVolumes(img, &cloudv1.Instance{Spec: cloudv1.InstanceSpec{BlockDeviceMappings: own}}) {
		if !mine[m.DeviceName] {
			if slot, _ := DeviceSlot(m.DeviceName); stores[slot] != "" {
				return nil, InvalidParam("Image %s maps a volume at %s, the instance store %s of instance type %s; launch another type or map %s to no device",
					ImageID(img), m.DeviceName, stores[slot], it.Name, m.DeviceName)
			}
			ebs, err := s.launchVolume(ctx, c, img, m.DeviceName, &EBSInput{VolumeSize: nonZero(m.EBS.VolumeSize), SnapshotID: m.EBS.SnapshotID,
				VolumeType: string(m.EBS.VolumeType), Iops: nonZero(m.EBS.Iops), Throughput: nonZero(m.EBS.Throughput)})
			if qe := (*query.Error)(nil); errors.As(err, &qe) && qe.Code == CodeSnapshotNotFound {
				return nil, BadRequest(CodeSnapshotNotFound, "The snapshot '%s' that image %s maps at %s does not exist.",
					m.EBS.SnapshotID, ImageID(img), m.DeviceName)
			}
			if err != nil {
				return nil, err
			}
			m.EBS = ebs
		}
		use[0]++
		use[1] += int64(m.EBS.VolumeSize)
	}
	return use, nil
}

func nonZero(n int32) *int32 {
	if n == 0 {
		return nil
	}
	return &n
}

// checkCapacity fails with InsufficientInstanceCapacity when no ready hypervisor (in the zone, if
// one is asked for) could hold even one instance of the type. Whether there is room right now is
// the scheduler's business: a launch that fits later waits pending.
func (s *Service) checkCapacity(ctx context.Context, it *cloudv1.InstanceType, zone string) error {
	hvs := &cloudv1.HypervisorList{}
	if err := s.cfg.Client.List(ctx, hvs); err != nil {
		return fmt.Errorf("listing hypervisors: %w", err)
	}
	claim := capacity.ClaimOf(it)
	for i := range hvs.Items {
		hv := &hvs.Items[i]
		if (zone != "" && hv.Spec.Zone != zone) || !conditions.IsTrue(hv, cloudv1.ReadyCondition) || hv.Spec.Unschedulable {
			continue
		}
		if int64(hv.Status.Capacity.VCPUs)*1000 >= claim.MilliCPU && hv.Status.Capacity.MemoryMiB >= claim.MemoryMiB {
			return nil
		}
	}
	where := "any availability zone"
	if zone != "" {
		where = "availability zone " + zone
	}
	return query.Errorf(CodeInsufficientCapacity, http.StatusServiceUnavailable,
		"We currently do not have sufficient %s capacity in %s to fulfill your request.", it.Name, where)
}

// subnetRoom caps a launch at the private addresses left in the project's subnet, as the cache
// sees it: every instance not terminated holds one, or will. Fewer than minCount left is EC2's
// InsufficientFreeAddressesInSubnet, before anything is made. A project whose network is not
// allocated yet is not capped: its instances wait for it.
func (s *Service) subnetRoom(ctx context.Context, project string, minCount, maxCount int) (int, error) {
	p := &cloudv1.Project{}
	if err := s.cfg.Client.Get(ctx, client.ObjectKey{Name: project}, p); err != nil {
		return 0, fmt.Errorf("reading project %s: %w", project, err)
	}
	subnet, err := netip.ParsePrefix(p.Status.Subnet)
	if err != nil || !subnet.Addr().Is4() {
		return maxCount, nil
	}
	hosts := 1<<(32-subnet.Bits()) - 3 // network, gateway and broadcast are never handed out
	list := &cloudv1.InstanceList{}
	if err := s.cfg.Client.List(ctx, list, client.InNamespace(project)); err != nil {
		return 0, fmt.Errorf("listing the instances of %s: %w", project, err)
	}
	used := 0
	for i := range list.Items {
		if list.Items[i].Status.State != cloudv1.InstanceStateTerminated {
			used++
		}
	}
	free := max(hosts-used, 0)
	if free < minCount {
		return 0, query.Errorf(CodeInsufficientAddresses, http.StatusBadRequest,
			"There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", subnet)
	}
	return min(maxCount, free), nil
}

// runRequestHash fingerprints the parameters that define a launch (not DryRun), so a retry with
// the same ClientToken can be told from a different request reusing it. Lists that are empty
// count as not given, whichever front door sent them.
func runRequestHash(in RunInstancesInput) string {
	in.DryRun = false
	in.SecurityGroups = nilIfEmpty(in.SecurityGroups)
	in.SecurityGroupIDs = nilIfEmpty(in.SecurityGroupIDs)
	in.BlockDeviceMappings = nilIfEmpty(in.BlockDeviceMappings)
	in.TagSpecifications = nilIfEmpty(in.TagSpecifications)
	if in.TagSpecifications != nil {
		specs := make([]TagSpecification, len(in.TagSpecifications))
		for i, spec := range in.TagSpecifications {
			specs[i] = TagSpecification{ResourceType: spec.ResourceType, Tags: nilIfEmpty(spec.Tags)}
		}
		in.TagSpecifications = specs
	}
	data, _ := json.Marshal(in)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

func nilIfEmpty[T any](items []T) []T {
	if len(items) == 0 {
		return nil
	}
	return items
}
