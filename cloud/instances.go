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
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/refs"
)

// Instances: what the caller's project runs. Starting, stopping and terminating change the
// desired state in the spec (the controllers and the node agent do the rest); a reboot or a
// start after the guest powered itself off is a request annotation with the time it was made.

// maxConsole is how much console output EC2 returns.
const maxConsole = 64 << 10

// DescribeInstancesInput selects instances by id and filter, a page at a time (ids and
// MaxResults exclude each other).
type DescribeInstancesInput struct {
	InstanceIDs []string
	Filters     []query.Filter
	DryRun      bool
	Page
}

var instanceListing = listing{resource: "instances", filters: instanceFilters, minPage: 5, maxPage: 1000,
	idsWithPage: "The parameter instancesSet cannot be used with the parameter maxResults"}

// DescribeInstances shows the caller's project's instances by reservation, oldest first unless
// named, and the token of the next page (pages count instances).
func (s *Service) DescribeInstances(ctx context.Context, c Caller, in DescribeInstancesInput) ([]Reservation, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, instanceListing, in.DryRun, in.Filters, in.Page, len(in.InstanceIDs))
	if err != nil {
		return nil, "", err
	}
	shapes, err := s.instanceShapes(ctx, c)
	if err != nil {
		return nil, "", err
	}
	item := func(inst *cloudv1.Instance) (Instance, bool) {
		it := shapes.instance(inst)
		return it, matcher.Match(it.attributes, it.Tags)
	}
	scope := fmt.Sprint("DescribeInstances", in.InstanceIDs, in.Filters)
	page, next, err := describedInstancePage(ctx, s, c, in.InstanceIDs, scope, in.Page, size, item)
	if err != nil {
		return nil, "", err
	}
	return reservations(page), next, nil
}

// describedInstancePage is the page of a Describe of instances that item keeps (and makes the
// shape of): built from the index when the Describe pages through all of them, else from a
// listing of the project or of the instances named.
func describedInstancePage[T any](ctx context.Context, s *Service, c Caller, ids []string, scope string, p Page, size int,
	item func(*cloudv1.Instance) (T, bool)) ([]T, string, error) {
	if s.pagesFromIndex(size, ids) {
		return instancePage(ctx, s, c, scope, p, size, item)
	}
	insts, err := named(ctx, s, c, instanceKind, ids)
	if err != nil {
		return nil, "", err
	}
	var items []T
	for _, inst := range insts {
		if it, ok := item(inst); ok {
			items = append(items, it)
		}
	}
	return pageOf(s, c, scope, p, size, items)
}

// DescribeInstanceStatusInput selects instances as DescribeInstances does; only running ones
// unless IncludeAllInstances.
type DescribeInstanceStatusInput struct {
	InstanceIDs         []string
	Filters             []query.Filter
	IncludeAllInstances bool
	DryRun              bool
	Page
}

var instanceStatusFilters = []string{"availability-zone", "instance-state-name", "instance-state-code",
	"system-status.status", "instance-status.status"}

// DescribeInstanceStatus shows the status checks of the caller's project's instances and the
// token of the next page.
func (s *Service) DescribeInstanceStatus(ctx context.Context, c Caller, in DescribeInstanceStatusInput) ([]InstanceStatus, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, listing{resource: "instances", filters: instanceStatusFilters, minPage: 5,
		maxPage: 1000}, in.DryRun, in.Filters, in.Page, len(in.InstanceIDs))
	if err != nil {
		return nil, "", err
	}
	item := func(inst *cloudv1.Instance) (InstanceStatus, bool) {
		if !in.IncludeAllInstances && inst.Status.State != cloudv1.InstanceStateRunning {
			return InstanceStatus{}, false
		}
		it := toInstanceStatus(inst)
		return it, matcher.Match(it.attributes, TagsOf(inst))
	}
	scope := fmt.Sprint("DescribeInstanceStatus", in.InstanceIDs, in.Filters, in.IncludeAllInstances)
	return describedInstancePage(ctx, s, c, in.InstanceIDs, scope, in.Page, size, item)
}

// InstanceIDsInput names instances to act on. Force, Hibernate and SkipOSShutdown are accepted
// and change nothing: a stop always asks the guest first and is forced after a grace period.
type InstanceIDsInput struct {
	InstanceIDs                      []string
	DryRun                           bool
	Force, Hibernate, SkipOSShutdown bool
}

// InstanceStateChange is an instance's state before a request and right after it.
type InstanceStateChange struct {
	InstanceID        string
	Current, Previous InstanceState
}

// StartInstances asks stopped instances to run again.
func (s *Service) StartInstances(ctx context.Context, c Caller, in InstanceIDsInput) ([]InstanceStateChange, error) {
	return s.changeDesiredState(ctx, c, in, cloudv1.DesiredRunning)
}

// StopInstances asks instances to stop; their disks stay.
func (s *Service) StopInstances(ctx context.Context, c Caller, in InstanceIDsInput) ([]InstanceStateChange, error) {
	return s.changeDesiredState(ctx, c, in, cloudv1.DesiredStopped)
}

// TerminateInstances asks instances to go for good; they show as terminated for a while.
func (s *Service) TerminateInstances(ctx context.Context, c Caller, in InstanceIDsInput) ([]InstanceStateChange, error) {
	return s.changeDesiredState(ctx, c, in, cloudv1.DesiredTerminated)
}

// changeDesiredState asks instances to run, stop or terminate, and answers with EC2's
// transitional states. Every instance is checked before any is changed.
func (s *Service) changeDesiredState(ctx context.Context, c Caller, in InstanceIDsInput, want cloudv1.DesiredState) ([]InstanceStateChange, error) {
	verb := "update"
	if want == cloudv1.DesiredTerminated {
		verb = "delete"
	}
	insts, err := s.resolveInstances(ctx, c, verb, in)
	if err != nil {
		return nil, err
	}
	for _, inst := range insts {
		if err := checkStateChange(inst, want); err != nil {
			return nil, err
		}
	}
	// Written in parallel, a bounded number at a time: a call naming hundreds of instances must
	// answer well within a client's timeout.
	out := make([]InstanceStateChange, len(insts))
	changed := make([]client.Object, len(insts))
	err = inParallel(len(insts), func(i int) error {
		inst := insts[i]
		id, prev := InstanceID(inst), stateOf(inst.Status.State)
		out[i] = InstanceStateChange{InstanceID: id, Current: prev, Previous: prev}
		if !needsDesiredState(inst, want) {
			return nil
		}
		err := s.ChangeLatest(ctx, inst, func() error {
			if err := checkStateChange(inst, want); err != nil {
				return err
			}
			s.setDesiredState(inst, want)
			return nil
		})
		if err != nil {
			return instanceKind.writeError(err, id)
		}
		changed[i] = inst
		out[i].Current = stateOf(transitional(prev.Name, want))
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.AwaitCacheAll(ctx, changed)
	return out, nil
}

// checkStateChange refuses to start or stop an instance that is terminated or terminating.
func checkStateChange(inst *cloudv1.Instance, want cloudv1.DesiredState) error {
	if want == cloudv1.DesiredRunning && inst.ResizeWaiting() {
		// Refused by the scheduler: EC2 answers the start of a resized instance that does not fit.
		if c := conditions.Get(inst, cloudv1.InstanceResized); c != nil && c.Status == metav1.ConditionFalse {
			if c.Reason == cloudv1.ReasonQuotaExceeded {
				return BadRequest(CodeInstanceLimit, "The instance '%s' cannot start as %s: %s", InstanceID(inst), inst.Spec.InstanceType, c.Message)
			}
			return query.Errorf(CodeInsufficientCapacity, http.StatusServiceUnavailable,
				"The instance '%s' cannot start as %s: %s", InstanceID(inst), inst.Spec.InstanceType, c.Message)
		}
	}
	if inst.EffectiveDesiredState() == cloudv1.DesiredTerminated && want != cloudv1.DesiredTerminated {
		verb := map[cloudv1.DesiredState]string{cloudv1.DesiredRunning: "started", cloudv1.DesiredStopped: "stopped"}[want]
		return BadRequest(CodeIncorrectState, "The instance '%s' is not in a state from which it can be %s.", InstanceID(inst), verb)
	}
	if protectedFrom(inst, want) && inst.EffectiveDesiredState() != want {
		if want == cloudv1.DesiredTerminated {
			return BadRequest(CodeNotPermitted, "The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", InstanceID(inst))
		}
		return BadRequest(CodeNotPermitted, "The instance '%s' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.", InstanceID(inst))
	}
	return nil
}

// protectedFrom tells whether the instance's termination or stop protection covers want.
func protectedFrom(inst *cloudv1.Instance, want cloudv1.DesiredState) bool {
	switch want {
	case cloudv1.DesiredTerminated:
		return inst.Spec.DisableAPITermination
	case cloudv1.DesiredStopped:
		return inst.Spec.DisableAPIStop
	}
	return false
}

// needsDesiredState tells whether asking for want changes anything: a different desired state,
// or a start of an instance its guest stopped (whose spec still says running). A protected
// instance whose guest already took it where want leads is left as it is: the API server
// refuses to write the state its protection guards against.
func needsDesiredState(inst *cloudv1.Instance, want cloudv1.DesiredState) bool {
	if protectedFrom(inst, want) && inst.EffectiveDesiredState() == want {
		return false
	}
	return inst.Spec.DesiredState != want || restartsAfterGuestShutdown(inst, want)
}

func restartsAfterGuestShutdown(inst *cloudv1.Instance, want cloudv1.DesiredState) bool {
	return want == cloudv1.DesiredRunning && inst.Spec.DesiredState == want && inst.EffectiveDesiredState() == cloudv1.DesiredStopped
}

// setDesiredState writes want into the spec; a start after the guest powered off is a new start
// request.
func (s *Service) setDesiredState(inst *cloudv1.Instance, want cloudv1.DesiredState) {
	if restartsAfterGuestShutdown(inst, want) {
		s.requestNow(inst, cloudv1.AnnotationStartRequested)
	}
	inst.Spec.DesiredState = want
}

// requestNow stamps a request annotation with the time.
func (s *Service) requestNow(inst *cloudv1.Instance, annotation string) {
	if inst.Annotations == nil {
		inst.Annotations = map[string]string{}
	}
	inst.Annotations[annotation] = s.cfg.Clock.Now().UTC().Format(time.RFC3339Nano)
}

// transitional is the state EC2 reports right after a request.
func transitional(prev string, want cloudv1.DesiredState) cloudv1.InstanceState {
	switch want {
	case cloudv1.DesiredTerminated:
		if prev == string(cloudv1.InstanceStateTerminated) {
			return cloudv1.InstanceStateTerminated
		}
		return cloudv1.InstanceStateShuttingDown
	case cloudv1.DesiredStopped:
		if prev == string(cloudv1.InstanceStateStopped) {
			return cloudv1.InstanceStateStopped
		}
		return cloudv1.InstanceStateStopping
	default:
		if prev == string(cloudv1.InstanceStateRunning) {
			return cloudv1.InstanceStateRunning
		}
		return cloudv1.InstanceStatePending
	}
}

// RebootInstances asks the running ones among the instances to reboot; EC2 ignores the others.
func (s *Service) RebootInstances(ctx context.Context, c Caller, in InstanceIDsInput) error {
	insts, err := s.resolveInstances(ctx, c, "update", in)
	if err != nil {
		return err
	}
	changed := make([]client.Object, len(insts))
	err = inParallel(len(insts), func(i int) error {
		inst := insts[i]
		if inst.Status.State != cloudv1.InstanceStateRunning {
			return nil
		}
		if err := s.ChangeLatest(ctx, inst, func() error {
			s.requestNow(inst, cloudv1.AnnotationRebootRequested)
			return nil
		}); err != nil {
			return instanceKind.writeError(err, InstanceID(inst))
		}
		changed[i] = inst
		return nil
	})
	if err != nil {
		return err
	}
	s.AwaitCacheAll(ctx, changed)
	return nil
}

// InstanceAttributeInput names an instance and one of its attributes.
type InstanceAttributeInput struct {
	InstanceID, Attribute string
	DryRun                bool
}

// InstanceAttribute is one attribute of an instance: Groups for groupSet, Value for the others
// (user data base64-encoded, "true" or "false" for the protections).
type InstanceAttribute struct {
	InstanceID, Attribute, Value string
	Groups                       []GroupPair
	// BlockDevices are the volumes attached (blockDeviceMapping).
	BlockDevices []InstanceBlockDevice
}

// DescribeInstanceAttribute answers one attribute of an instance of the caller's project.
func (s *Service) DescribeInstanceAttribute(ctx context.Context, c Caller, in InstanceAttributeInput) (*InstanceAttribute, error) {
	inst, err := resolveOne(ctx, s, c, instanceKind, "get", in.InstanceID, in.DryRun)
	if err != nil {
		return nil, err
	}
	out := &InstanceAttribute{InstanceID: InstanceID(inst), Attribute: in.Attribute}
	switch in.Attribute {
	case "instanceType":
		out.Value = inst.Spec.InstanceType
	case "userData":
		if len(inst.Spec.UserData) > 0 {
			out.Value = base64.StdEncoding.EncodeToString(inst.Spec.UserData)
		}
	case "kernel":
		out.Value = inst.Spec.KernelID
	case "ramdisk":
		out.Value = inst.Spec.RamdiskID
	case "instanceInitiatedShutdownBehavior":
		out.Value = string(inst.Spec.ShutdownBehavior)
	case "disableApiTermination":
		out.Value = strconv.FormatBool(inst.Spec.DisableAPITermination)
	case "disableApiStop":
		out.Value = strconv.FormatBool(inst.Spec.DisableAPIStop)
	case "rootDeviceName":
		out.Value = RootDevice
	case "blockDeviceMapping":
		out.BlockDevices = blockDevicesOf(inst)
	case "productCodes", "sriovNetSupport":
		// None: PiNet has no marketplace codes and gives guests virtio NICs, not SR-IOV.
	case "ebsOptimized", "enaSupport":
		out.Value = "false"
	case "groupSet":
		shapes, err := s.instanceShapes(ctx, c)
		if err != nil {
			return nil, err
		}
		out.Groups = shapes.groupsOf(inst)
	default:
		return nil, InvalidParam("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

// ModifyInstanceAttributeInput changes one attribute of an instance, in EC2's older form
// (Attribute names it, Value gives the value, user data base64-encoded) or its newer one (one of
// InstanceType, UserData, ShutdownBehavior, DisableAPITermination and DisableAPIStop is set).
type ModifyInstanceAttributeInput struct {
	InstanceID                     string
	Attribute                      string
	Value                          *string
	InstanceType, ShutdownBehavior *string
	// UserData, when set, is the new user data (decoded; empty clears it).
	UserData *[]byte
	// DisableAPITermination and DisableAPIStop turn the instance's termination and stop
	// protection on or off.
	DisableAPITermination, DisableAPIStop *bool
	// Groups, when given, are the ids of the project's security groups the instance is to be in
	// instead of its present ones.
	Groups []string
	// BlockDevices, when given, say whether the volumes attached at their devices go with the
	// instance when it terminates.
	BlockDevices []InstanceBlockDeviceInput
	DryRun       bool
}

// InstanceBlockDeviceInput is EC2's InstanceBlockDeviceMappingSpecification: of an attached
// volume, only DeleteOnTermination may change.
type InstanceBlockDeviceInput struct {
	DeviceName, VolumeID string
	DeleteOnTermination  *bool
	// NoDevice and VirtualName say the request had them, which are refused.
	NoDevice, VirtualName bool
}

// ModifyInstanceAttribute changes an instance's type or user data while it is stopped, what
// the guest powering itself off does, or its termination and stop protection.
func (s *Service) ModifyInstanceAttribute(ctx context.Context, c Caller, in ModifyInstanceAttributeInput) error {
	inst, err := resolveOne(ctx, s, c, instanceKind, "update", in.InstanceID, in.DryRun)
	if err != nil {
		return err
	}
	if err := newStyleAttribute(&in); err != nil {
		return err
	}
	switch given(in.InstanceType != nil, in.UserData != nil, in.ShutdownBehavior != nil,
		in.DisableAPITermination != nil, in.DisableAPIStop != nil, len(in.Groups) > 0, len(in.BlockDevices) > 0) {
	case 0:
		return BadRequest(CodeMissingParameter, "The request must contain an attribute to modify")
	case 1:
	default:
		// One at a time, as in EC2: a call that set several would otherwise change only one.
		return BadRequest(CodeParamCombination, "Only one attribute can be modified at a time")
	}
	if len(in.BlockDevices) > 0 {
		return s.modifyDeleteOnTermination(ctx, c, inst, in.BlockDevices, in.DryRun)
	}
	if len(in.Groups) > 0 {
		if in.Groups, err = s.instanceGroups(ctx, c, in.Groups); err != nil {
			return err
		}
	}
	id := InstanceID(inst)
	var previousType string
	var previousGroups []string
	err = s.ChangeLatest(ctx, inst, func() error {
		previousType, previousGroups = inst.Spec.InstanceType, inst.Spec.SecurityGroups
		return s.modifyInstance(ctx, c, inst, &in)
	})
	if err != nil {
		return instanceKind.writeError(err, id)
	}
	if len(in.Groups) > 0 {
		if err := s.confirmGroups(ctx, inst.Namespace, in.Groups); err != nil {
			// A group began to go while the instance joined it: the instance keeps its groups.
			undo := s.ChangeLatest(context.WithoutCancel(ctx), inst, func() error {
				if slices.Equal(inst.Spec.SecurityGroups, in.Groups) {
					inst.Spec.SecurityGroups = previousGroups
				}
				return nil
			})
			if undo != nil {
				return fmt.Errorf("restoring the groups of %s after %q: %w", id, err.Error(), undo)
			}
			return err
		}
	}
	if in.InstanceType != nil {
		if err := s.admitResize(ctx, c, inst, previousType); err != nil {
			return err
		}
	}
	s.AwaitCache(ctx, inst)
	return nil
}

// modifyDeleteOnTermination sets whether the volumes attached to the instance at the devices go
// with it when it terminates (EC2's DeleteOnTermination of an instance's block device mapping).
// The volume records it (LabelLaunchInstance naming the instance, AnnotationDeleteOnTermination:
// Volume.DeletesWith), as a volume made at launch does, and the instance controller deletes it
// at termination. Every device is checked before any volume changes.
func (s *Service) modifyDeleteOnTermination(ctx context.Context, c Caller, inst *cloudv1.Instance, devices []InstanceBlockDeviceInput, dryRun bool) error {
	if err := s.authorize(ctx, c, "update", "volumes", dryRun); err != nil {
		return err
	}
	live, err := s.liveInstanceIDs(ctx, inst.Namespace)
	if err != nil {
		return err
	}
	vols, err := inProject(ctx, s, c, volumeKind)
	if err != nil {
		return err
	}
	id := InstanceID(inst)
	changes := make(map[*cloudv1.Volume]bool, len(devices))
	for _, d := range devices {
		switch {
		case d.NoDevice || d.VirtualName:
			return BadRequest(CodeUnsupported, "Only the DeleteOnTermination of a volume attached to the instance can be modified (%s).", clipID(d.DeviceName))
		case d.DeviceName == "":
			return BadRequest(CodeMissingParameter, "The request must contain the parameter BlockDeviceMapping.DeviceName")
		case d.DeleteOnTermination == nil:
			return BadRequest(CodeMissingParameter, "The request must contain the parameter BlockDeviceMapping.Ebs.DeleteOnTermination for %s", clipID(d.DeviceName))
		}
		var found *cloudv1.Volume
		for _, v := range vols {
			if a := attachmentOf(v, live); a != nil && a.InstanceID == id && a.Device == d.DeviceName {
				found = v
			}
		}
		switch {
		case found == nil:
			return InvalidParam("No volume is attached to instance %s at %s.", id, clipID(d.DeviceName))
		case d.VolumeID != "" && d.VolumeID != volumeID(found):
			return InvalidParam("Volume %s is not the volume attached to instance %s at %s.", clipID(d.VolumeID), id, d.DeviceName)
		}
		changes[found] = *d.DeleteOnTermination
	}
	for v, deletes := range changes {
		err := s.change(ctx, v, func() error {
			if v.Labels == nil {
				v.Labels = map[string]string{}
			}
			if v.Annotations == nil {
				v.Annotations = map[string]string{}
			}
			v.Labels[cloudv1.LabelLaunchInstance] = id
			v.Annotations[cloudv1.AnnotationDeleteOnTermination] = strconv.FormatBool(deletes)
			return nil
		})
		if err != nil {
			return volumeKind.writeError(err, volumeID(v))
		}
	}
	return nil
}

// instanceGroups checks the security group ids a modification names, with the caller's
// visibility (each must be one of the project's groups), and returns them once each, in order.
func (s *Service) instanceGroups(ctx context.Context, c Caller, groupIDs []string) ([]string, error) {
	groups, err := s.projectGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	x := newGroupIndex(c.Project(), groups)
	var out []string
	for _, id := range groupIDs {
		if id == "" {
			return nil, InvalidParam("Value () for parameter groupId is invalid. The value cannot be empty")
		}
		if slices.Contains(out, id) {
			continue
		}
		sg, err := x.find("", id)
		if err != nil {
			return nil, err
		}
		// A group being deleted is gone to new members (confirmGroups has the last word).
		if !sg.DeletionTimestamp.IsZero() || s.deletingGroup(sg) {
			return nil, groupNotFound(id)
		}
		out = append(out, groupID(sg))
	}
	if len(out) > cloudv1.MaxInstanceSecurityGroups {
		return nil, InvalidParam("An instance can be in at most %d security groups", cloudv1.MaxInstanceSecurityGroups)
	}
	return out, nil
}

// given counts the parameters set.
func given(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}

// newStyleAttribute turns the older form of a modification into the newer one.
func newStyleAttribute(in *ModifyInstanceAttributeInput) error {
	if in.Attribute == "" {
		return nil
	}
	if in.Value == nil {
		return BadRequest(CodeMissingParameter, "The request must contain the parameter Value")
	}
	switch in.Attribute {
	case "instanceType":
		in.InstanceType = in.Value
	case "userData":
		data, err := base64.StdEncoding.DecodeString(*in.Value)
		if err != nil {
			return InvalidParam("Invalid BASE64 encoding of user data")
		}
		in.UserData = &data
	case "instanceInitiatedShutdownBehavior":
		in.ShutdownBehavior = in.Value
	case "disableApiTermination", "disableApiStop":
		v, err := strconv.ParseBool(*in.Value)
		if err != nil {
			return InvalidParam("Value (%s) for parameter value is invalid. Expected 'true' or 'false'.", *in.Value)
		}
		if in.Attribute == "disableApiTermination" {
			in.DisableAPITermination = &v
		} else {
			in.DisableAPIStop = &v
		}
	default:
		return InvalidParam("Value (%s) for parameter attribute is invalid. Unknown or read-only attribute.", in.Attribute)
	}
	return nil
}

// modifyInstance applies one modification to the newest version of inst.
func (s *Service) modifyInstance(ctx context.Context, c Caller, inst *cloudv1.Instance, in *ModifyInstanceAttributeInput) error {
	notStopped := BadRequest(CodeIncorrectState, "The instance '%s' is not in the 'stopped' state.", InstanceID(inst))
	stopped := inst.Status.State == cloudv1.InstanceStateStopped
	switch {
	case in.InstanceType != nil:
		if !stopped {
			return notStopped
		}
		it, err := refs.InstanceType(ctx, s.cfg.Client, *in.InstanceType)
		if err != nil {
			return InvalidParam("The instance type '%s' does not exist", *in.InstanceType)
		}
		if err := s.checkResize(ctx, c, inst, it); err != nil {
			return err
		}
		inst.Spec.InstanceType = *in.InstanceType
	case in.UserData != nil:
		if !stopped {
			return notStopped
		}
		if len(*in.UserData) > maxUserData {
			return InvalidParam("User data is limited to %d bytes", maxUserData)
		}
		inst.Spec.UserData = *in.UserData
	case len(in.Groups) > 0:
		if inst.EffectiveDesiredState() == cloudv1.DesiredTerminated {
			return BadRequest(CodeIncorrectState, "The instance '%s' is terminated or terminating; its security groups cannot change.", InstanceID(inst))
		}
		inst.Spec.SecurityGroups = in.Groups
	case in.DisableAPITermination != nil || in.DisableAPIStop != nil:
		if inst.EffectiveDesiredState() == cloudv1.DesiredTerminated {
			return BadRequest(CodeIncorrectState, "The instance '%s' is terminated or terminating; its protection cannot change.", InstanceID(inst))
		}
		if in.DisableAPITermination != nil {
			inst.Spec.DisableAPITermination = *in.DisableAPITermination
		} else {
			inst.Spec.DisableAPIStop = *in.DisableAPIStop
		}
	default:
		b := cloudv1.ShutdownBehavior(*in.ShutdownBehavior)
		if b != cloudv1.ShutdownBehaviorStop && b != cloudv1.ShutdownBehaviorTerminate {
			return InvalidParam("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid.", b)
		}
		inst.Spec.ShutdownBehavior = b
	}
	return nil
}

// ConsoleReader fetches the latest console output of an instance from its node.
type ConsoleReader interface {
	Console(ctx context.Context, inst *cloudv1.Instance) (output []byte, at time.Time, err error)
}

// GetConsoleOutputInput names the instance whose console to read. Latest changes nothing: the
// output is always the latest.
type GetConsoleOutputInput struct {
	InstanceID     string
	Latest, DryRun bool
}

// ConsoleOutput is the tail of an instance's console and when it was read.
type ConsoleOutput struct {
	InstanceID string
	Timestamp  time.Time
	Output     []byte
}

// GetConsoleOutput reads the last 64 KiB of an instance's console from its node; an instance
// not placed on a node yet has none.
func (s *Service) GetConsoleOutput(ctx context.Context, c Caller, in GetConsoleOutputInput) (*ConsoleOutput, error) {
	if err := s.authorize(ctx, c, "get", "instances/console", in.DryRun); err != nil {
		return nil, err
	}
	inst, err := findOne(ctx, s, c, instanceKind, in.InstanceID)
	if err != nil {
		return nil, err
	}
	out := &ConsoleOutput{InstanceID: in.InstanceID, Timestamp: s.cfg.Clock.Now()}
	if s.cfg.Console == nil || inst.Status.Hypervisor == "" {
		return out, nil
	}
	data, at, err := s.cfg.Console.Console(ctx, inst)
	if err != nil {
		return nil, Unavailable("The console of %s cannot be read right now; try again", in.InstanceID)
	}
	if len(data) > maxConsole {
		data = data[len(data)-maxConsole:]
	}
	out.Output = data
	if !at.IsZero() {
		out.Timestamp = at
	}
	return out, nil
}
