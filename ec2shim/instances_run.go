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
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

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
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/refs"
)

const (
	// maxUserData is EC2's limit on user data, decoded.
	maxUserData = 16 << 10
	// maxInstancesPerCall bounds MaxCount.
	maxInstancesPerCall = 500
	// annotationRequestHash records the parameters an instance was launched with, so a retry with
	// the same ClientToken can be told from a different request reusing it.
	annotationRequestHash = "cloud.pinet.io/request-hash"
	// maxClientToken is EC2's limit.
	maxClientToken = 64
)

type ebsInput struct {
	VolumeSize          *int32 `ec2:"VolumeSize"`
	DeleteOnTermination *bool  `ec2:"DeleteOnTermination"`
	SnapshotID          string `ec2:"SnapshotId"`
	VolumeType          string `ec2:"VolumeType"`
	Encrypted           *bool  `ec2:"Encrypted"`
	Iops                *int32 `ec2:"Iops"`
}

type blockDeviceMappingInput struct {
	DeviceName  string    `ec2:"DeviceName"`
	VirtualName string    `ec2:"VirtualName"`
	EBS         *ebsInput `ec2:"Ebs"`
	NoDevice    *string   `ec2:"NoDevice"`
}

type runInstancesInput struct {
	ImageID             string                    `ec2:"ImageId"`
	MinCount            int32                     `ec2:"MinCount,required"`
	MaxCount            int32                     `ec2:"MaxCount,required"`
	InstanceType        string                    `ec2:"InstanceType"`
	KeyName             string                    `ec2:"KeyName"`
	UserData            []byte                    `ec2:"UserData"`
	SecurityGroups      []string                  `ec2:"SecurityGroup,list"`
	SecurityGroupIDs    []string                  `ec2:"SecurityGroupId,list"`
	Placement           *placement                `ec2:"Placement"`
	KernelID            string                    `ec2:"KernelId"`
	RamdiskID           string                    `ec2:"RamdiskId"`
	BlockDeviceMappings []blockDeviceMappingInput `ec2:"BlockDeviceMapping,list"`
	ClientToken         string                    `ec2:"ClientToken"`
	TagSpecifications   []tagSpecification        `ec2:"TagSpecification,list"`
	ShutdownBehavior    string                    `ec2:"InstanceInitiatedShutdownBehavior"`
	Monitoring          *struct {
		Enabled bool `ec2:"Enabled"`
	} `ec2:"Monitoring"`
	DisableAPITermination bool `ec2:"DisableApiTermination"`
	EbsOptimized          bool `ec2:"EbsOptimized"`
	DryRun                bool `ec2:"DryRun"`
}

// runInstances launches MinCount..MaxCount instances in one reservation. Instances are named by
// their ids; with a ClientToken the ids derive from it, so a retried call meets the instances it
// made before instead of making more.
func (s *Server) runInstances(ctx context.Context, c *call) (any, error) {
	var in runInstancesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "create", "instances", in.DryRun); err != nil {
		return nil, err
	}
	hash := requestHash(&in)
	// A retried call is answered before anything else is looked at, as EC2 does: a token already
	// used with other parameters is a mismatch even if those parameters are now invalid.
	if in.ClientToken != "" {
		first := &cloudv1.Instance{}
		name := ids.Derive(ids.Instance, c.project+"/"+in.ClientToken+"/0")
		err := s.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: c.project, Name: name}, first)
		switch {
		case err == nil && first.Annotations[annotationRequestHash] != hash:
			return nil, badRequest(codeIdempotentMismatch,
				"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
		case err == nil && !quota.IsMarkedPending(first):
			// The earlier call finished: answer with what it launched.
			earlier, err := s.earlierLaunch(ctx, c.project, ids.Derive(ids.Reservation, c.project+"/"+in.ClientToken))
			if err != nil {
				return nil, unavailable("The instances of an earlier call with this ClientToken went away meanwhile; try again.")
			}
			return s.launchOutput(ctx, c.project, earlier)
		case err != nil && !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading the instance of an earlier call: %w", err)
		}
	}
	spec, count, err := s.validateRun(ctx, c, &in)
	if err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "instance", "volume")
	if err != nil {
		return nil, err
	}
	// As many as fit between MinCount and MaxCount, as the cache sees the project; the ledger
	// decides below.
	gate, use, err := s.launchQuota(ctx, c, spec)
	if err != nil {
		return nil, err
	}
	count, refused, err := gate.Room(ctx, s.cfg.Client, use, int(in.MinCount), count)
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, instanceLimit(refused)
	}

	l := &launch{project: c.project, clientToken: in.ClientToken, hash: hash, spec: spec, tags: tags,
		reservation: ids.New(ids.Reservation), names: make([]string, count), mark: !gate.Unlimited()}
	for i := range l.names {
		l.names[i] = ids.New(ids.Instance)
	}
	if in.ClientToken != "" {
		seed := c.project + "/" + in.ClientToken
		l.reservation = ids.Derive(ids.Reservation, seed)
		for i := range l.names {
			l.names[i] = ids.Derive(ids.Instance, seed+"/"+strconv.Itoa(i))
		}
	}
	created, err := s.createLaunch(ctx, l)
	if err != nil {
		return nil, err
	}
	created, err = s.admitLaunch(ctx, gate, created, int(in.MinCount))
	if err != nil {
		return nil, err
	}
	return s.launchOutput(ctx, c.project, created)
}

// launch is what one RunInstances call creates.
type launch struct {
	project, clientToken, hash, reservation string
	names                                   []string
	spec                                    *cloudv1.InstanceSpec
	tags                                    map[string]string
	// mark marks the instances pending: the call admits them under the quota.
	mark bool
}

// createLaunch creates the instances of a launch named by its ids; with a ClientToken, those an
// earlier attempt of the same call made are taken over. If one cannot be created, the ones this
// call made are withdrawn.
func (s *Server) createLaunch(ctx context.Context, l *launch) ([]*cloudv1.Instance, error) {
	created := make([]*cloudv1.Instance, 0, len(l.names))
	var made []*cloudv1.Instance
	fail := func(err error) ([]*cloudv1.Instance, error) {
		for _, inst := range made {
			if delErr := s.withdraw(ctx, inst); delErr != nil {
				return nil, fmt.Errorf("withdrawing instance %s after %q: %w", inst.Name, err.Error(), delErr)
			}
		}
		return nil, err
	}
	for i, name := range l.names {
		inst := &cloudv1.Instance{
			ObjectMeta: metav1.ObjectMeta{
				Name:      name,
				Namespace: l.project,
				Labels:    map[string]string{cloudv1.LabelReservationID: l.reservation},
				Annotations: map[string]string{
					launchIndexAnnotation: strconv.Itoa(i),
					annotationRequestHash: l.hash,
				},
			},
			Spec: *l.spec.DeepCopy(),
		}
		if l.clientToken != "" {
			inst.Annotations[cloudv1.AnnotationClientToken] = l.clientToken
		}
		setTags(inst, l.tags)
		if l.mark {
			quota.MarkPending(inst)
		}
		err := s.cfg.Client.Create(ctx, inst)
		if apierrors.IsAlreadyExists(err) && l.clientToken != "" {
			existing := &cloudv1.Instance{}
			if err := s.cfg.APIReader.Get(ctx, client.ObjectKeyFromObject(inst), existing); err != nil {
				return fail(fmt.Errorf("reading the instance of an earlier call: %w", err))
			}
			if existing.Annotations[annotationRequestHash] != l.hash {
				return fail(badRequest(codeIdempotentMismatch,
					"Arguments on this idempotent request are inconsistent with arguments used in previous request(s)."))
			}
			created = append(created, existing)
			continue
		}
		if err != nil {
			return fail(apiError(err, "launching an instance"))
		}
		created, made = append(created, inst), append(made, inst)
	}
	return created, nil
}

// launchOutput waits until the cache shows the launched instances and describes their
// reservation.
func (s *Server) launchOutput(ctx context.Context, project string, launched []*cloudv1.Instance) (any, error) {
	names := make([]string, len(launched))
	for i, inst := range launched {
		names[i] = inst.Name
	}
	if err := s.waitForCache(ctx, project, names); err != nil {
		return nil, err
	}
	groups := &groupResolver{ctx: ctx, r: s.cfg.Client, project: project}
	images := &imageIDs{ctx: ctx, r: s.cfg.Client, project: project}
	items := make([]instanceItem, len(launched))
	for i, inst := range launched {
		items[i] = toInstanceItem(inst, images.of(inst.Spec.ImageID), groups)
		items[i].AmiLaunchIndex = i
	}
	res := reservations(project, launched, items, groups)
	if len(res) != 1 {
		return nil, errors.New("launched instances span several reservations")
	}
	res[0].GroupSet = groups.groups(launched[0])
	return &res[0], nil
}

// validateRun checks every reference a launch makes, as EC2 does before it launches anything, and
// returns the instance spec and how many instances to make.
func (s *Server) validateRun(ctx context.Context, c *call, in *runInstancesInput) (*cloudv1.InstanceSpec, int, error) {
	r := s.cfg.Client
	switch {
	case in.ImageID == "":
		return nil, 0, badRequest(codeMissingParameter, "The request must contain the parameter ImageId")
	case in.MinCount < 1:
		return nil, 0, invalidParam("Value (%d) for parameter minCount is invalid. Expected a positive integer.", in.MinCount)
	case in.MaxCount < in.MinCount:
		return nil, 0, invalidParam("Value (%d) for parameter maxCount is invalid. Expected at least minCount (%d).", in.MaxCount, in.MinCount)
	case in.MaxCount > maxInstancesPerCall:
		return nil, 0, invalidParam("Value (%d) for parameter maxCount is invalid. At most %d instances can be launched at once.", in.MaxCount, maxInstancesPerCall)
	case len(in.UserData) > maxUserData:
		return nil, 0, invalidParam("User data is limited to %d bytes", maxUserData)
	case len(in.ClientToken) > maxClientToken:
		return nil, 0, invalidParam("Value for parameter clientToken is too long; the limit is %d characters", maxClientToken)
	}
	if !ids.Valid(ids.Machine, in.ImageID) {
		return nil, 0, badRequest(codeAMIMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", in.ImageID)
	}
	img, err := refs.Image(ctx, r, c.project, in.ImageID)
	if errors.Is(err, refs.ErrNotFound) {
		return nil, 0, badRequest(codeAMINotFound, "The image id '[%s]' does not exist", in.ImageID)
	}
	if err != nil {
		return nil, 0, err
	}
	if img.Spec.Type != cloudv1.ImageTypeMachine {
		return nil, 0, badRequest(codeAMINotFound, "The image id '[%s]' is not a machine image", in.ImageID)
	}
	if img.Status.State == cloudv1.ImageStateFailed {
		return nil, 0, badRequest(codeAMIUnavailable, "Image %s is not available: %s", in.ImageID, img.Status.StateReason)
	}
	for _, ref := range []struct{ id, prefix, what string }{
		{in.KernelID, ids.Kernel, "kernel"}, {in.RamdiskID, ids.Ramdisk, "ramdisk"},
	} {
		if ref.id == "" {
			continue
		}
		if !ids.Valid(ref.prefix, ref.id) {
			return nil, 0, badRequest(codeAMIMalformed, "Invalid id: \"%s\" (expecting \"%s-...\")", ref.id, ref.prefix)
		}
		if _, err := refs.Image(ctx, r, c.project, ref.id); err != nil {
			return nil, 0, badRequest(codeAMINotFound, "The %s image id '[%s]' does not exist", ref.what, ref.id)
		}
	}

	itName := in.InstanceType
	if itName == "" {
		itName = "m1.small"
	}
	it, err := refs.InstanceType(ctx, r, itName)
	if errors.Is(err, refs.ErrNotFound) {
		return nil, 0, invalidParam("The instance type '%s' does not exist", itName)
	}
	if err != nil {
		return nil, 0, err
	}
	if in.KeyName != "" {
		if _, err := refs.KeyPair(ctx, r, c.project, in.KeyName); err != nil {
			return nil, 0, badRequest(codeKeyPairNotFound, "The key pair '%s' does not exist", in.KeyName)
		}
	}
	var groups []string
	for _, name := range in.SecurityGroups {
		if _, err := refs.SecurityGroup(ctx, r, c.project, name); err != nil {
			return nil, 0, badRequest(codeGroupNotFound, "The security group '%s' does not exist", name)
		}
		groups = append(groups, name)
	}
	for _, id := range in.SecurityGroupIDs {
		if _, err := refs.SecurityGroup(ctx, r, c.project, id); err != nil || !ids.Valid(ids.SecurityGroup, id) {
			return nil, 0, badRequest(codeGroupIDNotFound, "The security group ID '%s' does not exist", id)
		}
		groups = append(groups, id)
	}
	zone := ""
	if in.Placement != nil && in.Placement.AvailabilityZone != "" {
		zone = in.Placement.AvailabilityZone
		zones, err := s.zones(ctx)
		if err != nil {
			return nil, 0, err
		}
		if _, ok := zones[zone]; !ok {
			return nil, 0, badRequest(codeInvalidParameter, "Invalid availability zone: [%s]", zone)
		}
	}
	behavior := cloudv1.ShutdownBehaviorStop
	switch in.ShutdownBehavior {
	case "", "stop":
	case "terminate":
		behavior = cloudv1.ShutdownBehaviorTerminate
	default:
		return nil, 0, invalidParam("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid.", in.ShutdownBehavior)
	}
	bdms, err := blockDeviceMappings(in.BlockDeviceMappings)
	if err != nil {
		return nil, 0, err
	}
	// Last, as EC2 does: whether the type fits on any hypervisor at all.
	if err := s.checkCapacity(ctx, it, zone); err != nil {
		return nil, 0, err
	}

	spec := &cloudv1.InstanceSpec{
		ImageID:             in.ImageID,
		InstanceType:        itName,
		KernelID:            in.KernelID,
		RamdiskID:           in.RamdiskID,
		KeyName:             in.KeyName,
		UserData:            in.UserData,
		SecurityGroups:      groups,
		AvailabilityZone:    zone,
		BlockDeviceMappings: bdms,
		DesiredState:        cloudv1.DesiredRunning,
		ShutdownBehavior:    behavior,
	}
	return spec, int(in.MaxCount), nil
}

func blockDeviceMappings(in []blockDeviceMappingInput) ([]cloudv1.BlockDeviceMapping, error) {
	var out []cloudv1.BlockDeviceMapping
	seen := map[string]bool{}
	for _, m := range in {
		if m.DeviceName == "" {
			return nil, badRequest(codeMissingParameter, "The request must contain the parameter BlockDeviceMapping.DeviceName")
		}
		if seen[m.DeviceName] {
			return nil, invalidParam("The device %s is mapped more than once", m.DeviceName)
		}
		seen[m.DeviceName] = true
		if m.NoDevice != nil {
			continue
		}
		bdm := cloudv1.BlockDeviceMapping{DeviceName: m.DeviceName}
		switch {
		case m.VirtualName != "" && m.EBS != nil:
			return nil, invalidParam("The block device mapping for %s sets both VirtualName and Ebs", m.DeviceName)
		case m.VirtualName != "":
			bdm.VirtualName = ptr.To(m.VirtualName)
		case m.EBS != nil:
			if m.EBS.SnapshotID != "" {
				return nil, invalidParam("Snapshots are not supported (BlockDeviceMapping %s)", m.DeviceName)
			}
			if m.EBS.VolumeSize == nil || *m.EBS.VolumeSize < 1 {
				return nil, badRequest(codeMissingParameter, "The request must contain the parameter BlockDeviceMapping.Ebs.VolumeSize for %s", m.DeviceName)
			}
			bdm.EBS = &cloudv1.EBSBlockDevice{VolumeSize: *m.EBS.VolumeSize, DeleteOnTermination: m.EBS.DeleteOnTermination}
		default:
			return nil, invalidParam("The block device mapping for %s needs VirtualName or Ebs", m.DeviceName)
		}
		out = append(out, bdm)
	}
	return out, nil
}

// checkCapacity fails with InsufficientInstanceCapacity when no ready hypervisor (in the zone, if
// one is asked for) could hold even one instance of the type. Whether there is room right now is
// the scheduler's business: a launch that fits later waits pending.
func (s *Server) checkCapacity(ctx context.Context, it *cloudv1.InstanceType, zone string) error {
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
	return query.Errorf(codeInsufficientCapacity, http.StatusServiceUnavailable,
		"We currently do not have sufficient %s capacity in %s to fulfill your request.", it.Name, where)
}

// requestHash fingerprints the parameters that define a launch (not DryRun).
func requestHash(in *runInstancesInput) string {
	norm := *in
	norm.DryRun = false
	data, _ := json.Marshal(norm)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// waitForCache waits until the informer cache shows the named instances, so that a Describe right
// after a launch sees them.
func (s *Server) waitForCache(ctx context.Context, namespace string, names []string) error {
	return wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, s.cfg.WaitForCache, true, func(ctx context.Context) (bool, error) {
		for _, name := range names {
			if err := s.cfg.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &cloudv1.Instance{}); err != nil {
				return false, client.IgnoreNotFound(err)
			}
		}
		return true, nil
	})
}
