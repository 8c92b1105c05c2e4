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
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/refs"
)

var instanceFilters = []string{
	"instance-id", "instance-state-name", "instance-state-code", "image-id", "private-ip-address",
	"ip-address", "key-name", "instance-type", "availability-zone", "reservation-id", "owner-id",
	"launch-index", "group-id", "group-name", "instance.group-id", "instance.group-name", "kernel-id",
	"ramdisk-id", "client-token", "dns-name", "private-dns-name", "architecture", "hypervisor",
	"root-device-type", "virtualization-type", "placement.availability-zone",
}

func instanceAttrs(item *instanceItem, reservationID, owner string) query.Attributes {
	return func(name string) []string {
		switch name {
		case "instance-id":
			return []string{item.InstanceID}
		case "instance-state-name":
			return []string{item.InstanceState.Name}
		case "instance-state-code":
			return []string{strconv.Itoa(int(item.InstanceState.Code))}
		case "image-id":
			return []string{item.ImageID}
		case "private-ip-address":
			return []string{item.PrivateIPAddress}
		case "ip-address":
			return []string{item.IPAddress}
		case "key-name":
			return []string{item.KeyName}
		case "instance-type":
			return []string{item.InstanceType}
		case "availability-zone", "placement.availability-zone":
			return []string{item.Placement.AvailabilityZone}
		case "reservation-id":
			return []string{reservationID}
		case "owner-id":
			return []string{owner}
		case "launch-index":
			return []string{strconv.Itoa(item.AmiLaunchIndex)}
		case "group-id", "instance.group-id":
			var out []string
			for _, g := range item.GroupSet.Items {
				out = append(out, g.GroupID)
			}
			return out
		case "group-name", "instance.group-name":
			var out []string
			for _, g := range item.GroupSet.Items {
				out = append(out, g.GroupName)
			}
			return out
		case "kernel-id":
			return []string{item.KernelID}
		case "ramdisk-id":
			return []string{item.RamdiskID}
		case "client-token":
			return []string{item.ClientToken}
		case "dns-name":
			return []string{item.DNSName}
		case "private-dns-name":
			return []string{item.PrivateDNSName}
		case "architecture":
			return []string{item.Architecture}
		case "hypervisor":
			return []string{item.Hypervisor}
		case "root-device-type":
			return []string{item.RootDeviceType}
		case "virtualization-type":
			return []string{item.VirtualizationType}
		}
		return nil
	}
}

// projectInstances lists the project's instances that have an EC2 id, oldest first.
func (c *call) projectInstances(ctx context.Context) ([]*cloudv1.Instance, error) {
	list := &cloudv1.InstanceList{}
	if err := c.srv.cfg.Client.List(ctx, list, client.InNamespace(c.project)); err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	out := make([]*cloudv1.Instance, 0, len(list.Items))
	for i := range list.Items {
		if instanceID(&list.Items[i]) != "" {
			out = append(out, &list.Items[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return instanceID(out[i]) < instanceID(out[j])
	})
	return out, nil
}

// describedInstances is what a Describe call names: the instances with the ids, or with none
// given, all of the project's.
func (c *call) describedInstances(ctx context.Context, ids []string) ([]*cloudv1.Instance, error) {
	if len(ids) > 0 {
		return c.findInstances(ctx, ids)
	}
	return c.projectInstances(ctx)
}

// findInstances returns the project's instances with the ids, in order; any id that is malformed
// or not the project's is an error naming it, as in EC2.
func (c *call) findInstances(ctx context.Context, wanted []string) ([]*cloudv1.Instance, error) {
	all, err := c.projectInstances(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*cloudv1.Instance{}
	for _, inst := range all {
		byID[instanceID(inst)] = inst
	}
	out := make([]*cloudv1.Instance, 0, len(wanted))
	for _, id := range wanted {
		if !ids.Valid(ids.Instance, id) {
			return nil, badRequest(codeInstanceMalformed, "Invalid id: \"%s\"", id)
		}
		inst, ok := byID[id]
		if !ok {
			return nil, badRequest(codeInstanceNotFound, "The instance ID '%s' does not exist", id)
		}
		out = append(out, inst)
	}
	return out, nil
}

// imageIDs resolves what instances name their image by (an id, or an Image's name) to ami- ids.
type imageIDs struct {
	ctx     context.Context
	r       client.Reader
	project string
	cache   map[string]string
}

func (m *imageIDs) of(ref string) string {
	if ids.Prefix(ref) != "" {
		return ref
	}
	if id, ok := m.cache[ref]; ok {
		return id
	}
	id := ref
	if img, err := refs.Image(m.ctx, m.r, m.project, ref); err == nil && img.Status.ImageID != "" {
		id = img.Status.ImageID
	}
	if m.cache == nil {
		m.cache = map[string]string{}
	}
	m.cache[ref] = id
	return id
}

type describeInstancesInput struct {
	InstanceIDs []string       `ec2:"InstanceId,list"`
	Filters     []query.Filter `ec2:"Filter,list"`
	DryRun      bool           `ec2:"DryRun"`
	query.Paging
}

type describeInstancesOutput struct {
	ReservationSet query.List[reservation] `xml:"reservationSet"`
	NextToken      string                  `xml:"nextToken,omitempty"`
}

func (s *Server) describeInstances(ctx context.Context, c *call) (any, error) {
	var in describeInstancesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "list", "instances", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.InstanceIDs) > 0 && in.MaxResults != nil {
		return nil, invalidParam("The parameter instancesSet cannot be used with the parameter maxResults")
	}
	size, err := query.PageSize(in.MaxResults, 5, 1000, 0)
	if err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, instanceFilters)
	if err != nil {
		return nil, err
	}
	insts, err := c.describedInstances(ctx, in.InstanceIDs)
	if err != nil {
		return nil, err
	}
	groups := &groupResolver{ctx: ctx, r: s.cfg.Client, project: c.project}
	images := &imageIDs{ctx: ctx, r: s.cfg.Client, project: c.project}
	var kept []*cloudv1.Instance
	var items []instanceItem
	for _, inst := range insts {
		item := toInstanceItem(inst, images.of(inst.Spec.ImageID), groups)
		if !matcher.Match(instanceAttrs(&item, reservationID(inst), c.project), tagsOf(inst)) {
			continue
		}
		kept = append(kept, inst)
		items = append(items, item)
	}
	cur, err := s.cfg.Tokens.Decode(c.pageScope(), in.NextToken)
	if err != nil {
		return nil, err
	}
	pageInsts, next, more := query.Page(kept, cur.Offset, size)
	pageItems := items[min(cur.Offset, len(items)):]
	pageItems = pageItems[:len(pageInsts)]
	out := &describeInstancesOutput{ReservationSet: query.NewList(reservations(c.project, pageInsts, pageItems, groups)...)}
	if more {
		out.NextToken = s.cfg.Tokens.Encode(c.pageScope(), query.Cursor{Offset: next})
	}
	return out, nil
}

// pageScope binds a NextToken to the query and the caller.
func (c *call) pageScope() string {
	return c.req.PageScope() + "\x00" + c.principal.User + "\x00" + c.project
}

type instanceIDsInput struct {
	InstanceIDs    []string `ec2:"InstanceId,list,required"`
	DryRun         bool     `ec2:"DryRun"`
	Force          bool     `ec2:"Force"`
	Hibernate      bool     `ec2:"Hibernate"`
	SkipOSShutdown bool     `ec2:"SkipOsShutdown"`
}

type instanceStateChange struct {
	InstanceID    string        `xml:"instanceId"`
	CurrentState  instanceState `xml:"currentState"`
	PreviousState instanceState `xml:"previousState"`
}

type stateChangeOutput struct {
	InstancesSet query.List[instanceStateChange] `xml:"instancesSet"`
}

// changeDesiredState asks instances to run, stop or terminate, and answers with EC2's
// transitional states.
func (s *Server) changeDesiredState(ctx context.Context, c *call, want cloudv1.DesiredState) (any, error) {
	var in instanceIDsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	verb := "update"
	if want == cloudv1.DesiredTerminated {
		verb = "delete"
	}
	if err := c.authorize(ctx, verb, "instances", in.DryRun); err != nil {
		return nil, err
	}
	insts, err := c.findInstances(ctx, in.InstanceIDs)
	if err != nil {
		return nil, err
	}
	for _, inst := range insts {
		if inst.EffectiveDesiredState() == cloudv1.DesiredTerminated && want != cloudv1.DesiredTerminated {
			return nil, badRequest(codeIncorrectState, "The instance '%s' is not in a state from which it can be %s.",
				instanceID(inst), map[cloudv1.DesiredState]string{cloudv1.DesiredRunning: "started", cloudv1.DesiredStopped: "stopped"}[want])
		}
	}
	out := &stateChangeOutput{InstancesSet: query.NewList[instanceStateChange]()}
	for _, inst := range insts {
		prev := stateOf(inst.Status.State)
		cur := prev
		// An instance its guest stopped still has a spec that says running: a start request
		// starts it again.
		restart := want == cloudv1.DesiredRunning && inst.Spec.DesiredState == want && inst.EffectiveDesiredState() == cloudv1.DesiredStopped
		if inst.Spec.DesiredState != want || restart {
			h, err := patch.NewHelper(inst, s.cfg.Client)
			if err != nil {
				return nil, err
			}
			inst.Spec.DesiredState = want
			if restart {
				if inst.Annotations == nil {
					inst.Annotations = map[string]string{}
				}
				inst.Annotations[cloudv1.AnnotationStartRequested] = c.now().UTC().Format(time.RFC3339Nano)
			}
			if err := h.Patch(ctx, inst); err != nil {
				return nil, apiError(err, "instance "+instanceID(inst))
			}
			cur = stateOf(transitional(prev.Name, want))
		}
		out.InstancesSet.Items = append(out.InstancesSet.Items, instanceStateChange{
			InstanceID: instanceID(inst), CurrentState: cur, PreviousState: prev,
		})
	}
	return out, nil
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

func (s *Server) terminateInstances(ctx context.Context, c *call) (any, error) {
	return s.changeDesiredState(ctx, c, cloudv1.DesiredTerminated)
}

func (s *Server) stopInstances(ctx context.Context, c *call) (any, error) {
	return s.changeDesiredState(ctx, c, cloudv1.DesiredStopped)
}

func (s *Server) startInstances(ctx context.Context, c *call) (any, error) {
	return s.changeDesiredState(ctx, c, cloudv1.DesiredRunning)
}

type returnOutput struct {
	Return bool `xml:"return"`
}

func (s *Server) rebootInstances(ctx context.Context, c *call) (any, error) {
	var in instanceIDsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "update", "instances", in.DryRun); err != nil {
		return nil, err
	}
	insts, err := c.findInstances(ctx, in.InstanceIDs)
	if err != nil {
		return nil, err
	}
	for _, inst := range insts {
		if inst.Status.State != cloudv1.InstanceStateRunning {
			continue // EC2 ignores reboots of instances that are not running
		}
		h, err := patch.NewHelper(inst, s.cfg.Client)
		if err != nil {
			return nil, err
		}
		if inst.Annotations == nil {
			inst.Annotations = map[string]string{}
		}
		inst.Annotations[cloudv1.AnnotationRebootRequested] = c.now().UTC().Format(time.RFC3339Nano)
		if err := h.Patch(ctx, inst); err != nil {
			return nil, apiError(err, "instance "+instanceID(inst))
		}
	}
	return &returnOutput{Return: true}, nil
}

type statusSummary struct {
	Status  string                   `xml:"status"`
	Details query.List[statusDetail] `xml:"details"`
}

type statusDetail struct {
	Name   string `xml:"name"`
	Status string `xml:"status"`
}

type instanceStatusItem struct {
	InstanceID       string        `xml:"instanceId"`
	AvailabilityZone string        `xml:"availabilityZone"`
	InstanceState    instanceState `xml:"instanceState"`
	SystemStatus     statusSummary `xml:"systemStatus"`
	InstanceStatus   statusSummary `xml:"instanceStatus"`
}

type describeInstanceStatusInput struct {
	InstanceIDs         []string       `ec2:"InstanceId,list"`
	Filters             []query.Filter `ec2:"Filter,list"`
	IncludeAllInstances bool           `ec2:"IncludeAllInstances"`
	DryRun              bool           `ec2:"DryRun"`
	query.Paging
}

type describeInstanceStatusOutput struct {
	InstanceStatusSet query.List[instanceStatusItem] `xml:"instanceStatusSet"`
	NextToken         string                         `xml:"nextToken,omitempty"`
}

var instanceStatusFilters = []string{"availability-zone", "instance-state-name", "instance-state-code",
	"system-status.status", "instance-status.status"}

func (s *Server) describeInstanceStatus(ctx context.Context, c *call) (any, error) {
	var in describeInstanceStatusInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "list", "instances", in.DryRun); err != nil {
		return nil, err
	}
	size, err := query.PageSize(in.MaxResults, 5, 1000, 0)
	if err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, instanceStatusFilters)
	if err != nil {
		return nil, err
	}
	insts, err := c.describedInstances(ctx, in.InstanceIDs)
	if err != nil {
		return nil, err
	}
	var items []instanceStatusItem
	for _, inst := range insts {
		if !in.IncludeAllInstances && inst.Status.State != cloudv1.InstanceStateRunning {
			continue
		}
		item := statusItem(inst)
		attrs := func(name string) []string {
			switch name {
			case "availability-zone":
				return []string{item.AvailabilityZone}
			case "instance-state-name":
				return []string{item.InstanceState.Name}
			case "instance-state-code":
				return []string{strconv.Itoa(int(item.InstanceState.Code))}
			case "system-status.status":
				return []string{item.SystemStatus.Status}
			case "instance-status.status":
				return []string{item.InstanceStatus.Status}
			}
			return nil
		}
		if matcher.Match(attrs, tagsOf(inst)) {
			items = append(items, item)
		}
	}
	cur, err := s.cfg.Tokens.Decode(c.pageScope(), in.NextToken)
	if err != nil {
		return nil, err
	}
	page, next, more := query.Page(items, cur.Offset, size)
	out := &describeInstanceStatusOutput{InstanceStatusSet: query.NewList(page...)}
	if more {
		out.NextToken = s.cfg.Tokens.Encode(c.pageScope(), query.Cursor{Offset: next})
	}
	return out, nil
}

// statusItem reports the node's view (system status: the domain exists) and the guest's
// (instance status: it runs).
func statusItem(inst *cloudv1.Instance) instanceStatusItem {
	summary := func(ok bool, running bool) statusSummary {
		status := "initializing"
		switch {
		case ok:
			status = "ok"
		case !running:
			status = "not-applicable"
		}
		reach := "passed"
		if !ok {
			reach = "initializing"
		}
		return statusSummary{Status: status, Details: query.NewList(statusDetail{Name: "reachability", Status: reach})}
	}
	running := inst.Status.State == cloudv1.InstanceStateRunning
	domainOK := running && inst.Status.Domain != nil
	guestOK := running && inst.Status.Domain != nil && inst.Status.Domain.State == "running"
	return instanceStatusItem{
		InstanceID:       instanceID(inst),
		AvailabilityZone: inst.Status.AvailabilityZone,
		InstanceState:    stateOf(inst.Status.State),
		SystemStatus:     summary(domainOK, running),
		InstanceStatus:   summary(guestOK, running),
	}
}

type instanceAttributeInput struct {
	InstanceID string `ec2:"InstanceId,required"`
	Attribute  string `ec2:"Attribute,required"`
	DryRun     bool   `ec2:"DryRun"`
}

type instanceAttributeOutput struct {
	InstanceID                        string                       `xml:"instanceId"`
	InstanceType                      *query.AttributeValue        `xml:"instanceType,omitempty"`
	UserData                          *query.AttributeValue        `xml:"userData,omitempty"`
	Kernel                            *query.AttributeValue        `xml:"kernel,omitempty"`
	Ramdisk                           *query.AttributeValue        `xml:"ramdisk,omitempty"`
	InstanceInitiatedShutdownBehavior *query.AttributeValue        `xml:"instanceInitiatedShutdownBehavior,omitempty"`
	RootDeviceName                    *query.AttributeValue        `xml:"rootDeviceName,omitempty"`
	GroupSet                          *query.List[groupIdentifier] `xml:"groupSet,omitempty"`
}

func (s *Server) describeInstanceAttribute(ctx context.Context, c *call) (any, error) {
	var in instanceAttributeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "get", "instances", in.DryRun); err != nil {
		return nil, err
	}
	insts, err := c.findInstances(ctx, []string{in.InstanceID})
	if err != nil {
		return nil, err
	}
	inst := insts[0]
	out := &instanceAttributeOutput{InstanceID: instanceID(inst)}
	val := func(v string) *query.AttributeValue { return &query.AttributeValue{Value: v} }
	switch in.Attribute {
	case "instanceType":
		out.InstanceType = val(inst.Spec.InstanceType)
	case "userData":
		out.UserData = &query.AttributeValue{}
		if len(inst.Spec.UserData) > 0 {
			out.UserData.Value = base64.StdEncoding.EncodeToString(inst.Spec.UserData)
		}
	case "kernel":
		out.Kernel = val(inst.Spec.KernelID)
	case "ramdisk":
		out.Ramdisk = val(inst.Spec.RamdiskID)
	case "instanceInitiatedShutdownBehavior":
		out.InstanceInitiatedShutdownBehavior = val(string(inst.Spec.ShutdownBehavior))
	case "rootDeviceName":
		out.RootDeviceName = val("/dev/sda1")
	case "groupSet":
		groups := (&groupResolver{ctx: ctx, r: s.cfg.Client, project: c.project}).groups(inst)
		out.GroupSet = &groups
	default:
		return nil, invalidParam("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

type modifyInstanceAttributeInput struct {
	InstanceID   string                `ec2:"InstanceId,required"`
	Attribute    string                `ec2:"Attribute"`
	Value        *string               `ec2:"Value"`
	InstanceType *query.AttributeValue `ec2:"InstanceType"`
	UserData     *struct {
		Value []byte `ec2:"Value"`
	} `ec2:"UserData"`
	ShutdownBehavior *query.AttributeValue `ec2:"InstanceInitiatedShutdownBehavior"`
	DryRun           bool                  `ec2:"DryRun"`
}

func (s *Server) modifyInstanceAttribute(ctx context.Context, c *call) (any, error) {
	var in modifyInstanceAttributeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "update", "instances", in.DryRun); err != nil {
		return nil, err
	}
	insts, err := c.findInstances(ctx, []string{in.InstanceID})
	if err != nil {
		return nil, err
	}
	inst := insts[0]
	// The old style names the attribute and gives Value; the new one sets a member.
	if in.Attribute != "" {
		if in.Value == nil {
			return nil, badRequest(codeMissingParameter, "The request must contain the parameter Value")
		}
		switch in.Attribute {
		case "instanceType":
			in.InstanceType = &query.AttributeValue{Value: *in.Value}
		case "userData":
			data, err := base64.StdEncoding.DecodeString(*in.Value)
			if err != nil {
				return nil, invalidParam("Invalid BASE64 encoding of user data")
			}
			in.UserData = &struct {
				Value []byte `ec2:"Value"`
			}{Value: data}
		case "instanceInitiatedShutdownBehavior":
			in.ShutdownBehavior = &query.AttributeValue{Value: *in.Value}
		default:
			return nil, invalidParam("Value (%s) for parameter attribute is invalid. Unknown or read-only attribute.", in.Attribute)
		}
	}
	h, err := patch.NewHelper(inst, s.cfg.Client)
	if err != nil {
		return nil, err
	}
	stopped := inst.Status.State == cloudv1.InstanceStateStopped
	switch {
	case in.InstanceType != nil:
		if !stopped {
			return nil, badRequest(codeIncorrectState, "The instance '%s' is not in the 'stopped' state.", instanceID(inst))
		}
		it, err := refs.InstanceType(ctx, s.cfg.Client, in.InstanceType.Value)
		if err != nil {
			return nil, invalidParam("The instance type '%s' does not exist", in.InstanceType.Value)
		}
		if err := s.checkResize(ctx, c, inst, it); err != nil {
			return nil, err
		}
		inst.Spec.InstanceType = in.InstanceType.Value
	case in.UserData != nil:
		if !stopped {
			return nil, badRequest(codeIncorrectState, "The instance '%s' is not in the 'stopped' state.", instanceID(inst))
		}
		if len(in.UserData.Value) > maxUserData {
			return nil, invalidParam("User data is limited to %d bytes", maxUserData)
		}
		inst.Spec.UserData = in.UserData.Value
	case in.ShutdownBehavior != nil:
		b := cloudv1.ShutdownBehavior(in.ShutdownBehavior.Value)
		if b != cloudv1.ShutdownBehaviorStop && b != cloudv1.ShutdownBehaviorTerminate {
			return nil, invalidParam("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid.", b)
		}
		inst.Spec.ShutdownBehavior = b
	default:
		return nil, badRequest(codeMissingParameter, "The request must contain an attribute to modify")
	}
	if err := h.Patch(ctx, inst); err != nil {
		return nil, apiError(err, "instance "+instanceID(inst))
	}
	return &returnOutput{Return: true}, nil
}

// ConsoleReader fetches the latest console output of an instance from its node.
type ConsoleReader interface {
	Console(ctx context.Context, inst *cloudv1.Instance) (output []byte, at time.Time, err error)
}

type getConsoleOutputInput struct {
	InstanceID string `ec2:"InstanceId,required"`
	Latest     bool   `ec2:"Latest"`
	DryRun     bool   `ec2:"DryRun"`
}

type getConsoleOutputOutput struct {
	InstanceID string          `xml:"instanceId"`
	Timestamp  query.Timestamp `xml:"timestamp"`
	Output     string          `xml:"output"`
}

// maxConsole is how much console output EC2 returns.
const maxConsole = 64 << 10

func (s *Server) getConsoleOutput(ctx context.Context, c *call) (any, error) {
	var in getConsoleOutputInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "get", "instances/console", in.DryRun); err != nil {
		return nil, err
	}
	insts, err := c.findInstances(ctx, []string{in.InstanceID})
	if err != nil {
		return nil, err
	}
	out := &getConsoleOutputOutput{InstanceID: in.InstanceID, Timestamp: query.NewTimestamp(c.now())}
	inst := insts[0]
	if s.cfg.Console == nil || inst.Status.Hypervisor == "" {
		return out, nil
	}
	data, at, err := s.cfg.Console.Console(ctx, inst)
	if err != nil {
		return nil, query.Errorf("Unavailable", http.StatusServiceUnavailable, "The console of %s cannot be read right now; try again", in.InstanceID)
	}
	if len(data) > maxConsole {
		data = data[len(data)-maxConsole:]
	}
	out.Output = base64.StdEncoding.EncodeToString(data)
	if !at.IsZero() {
		out.Timestamp = query.NewTimestamp(at)
	}
	return out, nil
}
