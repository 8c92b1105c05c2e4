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
	"sort"
	"strconv"
	"strings"
	"time"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Instances as EC2 shows them. An Instance object is one EC2 instance; the instances of one
// RunInstances share a reservation (label cloud.pinet.io/reservation-id until the controller
// records it) and know their place in it (annotation cloud.pinet.io/launch-index).

// annotationLaunchIndex records an instance's index within its reservation.
const annotationLaunchIndex = "cloud.pinet.io/launch-index"

// annotationLaunchCount is the number of instances a launch under no instance quota makes, on
// each of them: a retry with its ClientToken that finds fewer (the first call is still creating
// them, or died part way) completes the launch instead of answering a part of it.
const annotationLaunchCount = "cloud.pinet.io/launch-count"

// InstanceState is EC2's InstanceState: the state's name and its code.
type InstanceState struct {
	Code int32
	Name string
}

// stateOf is an EC2 state as EC2 reports it; an instance whose controller has not caught up is
// pending.
func stateOf(s cloudv1.InstanceState) InstanceState {
	if s == "" {
		s = cloudv1.InstanceStatePending
	}
	return InstanceState{Code: s.Code(), Name: string(s)}
}

// Placement is where an instance runs (and, in a launch, where it should).
type Placement struct {
	AvailabilityZone, GroupName, Tenancy string
}

// StateReason says why an instance stopped or went away.
type StateReason struct {
	Code, Message string
}

// Instance is EC2's Instance. PiNet instances are instance-store hvm x86_64 guests, with no
// block device mappings of their own to show and monitoring disabled.
type Instance struct {
	InstanceID, ImageID string
	State               InstanceState
	// Reason is the controller's word on the state.
	Reason                            string
	PrivateDNSName, DNSName           string
	KeyName, InstanceType             string
	LaunchIndex                       int
	LaunchTime                        time.Time
	Placement                         Placement
	KernelID, RamdiskID               string
	MonitoringState                   string
	PrivateIPAddress, PublicIPAddress string
	Groups                            []GroupPair
	StateReason                       *StateReason
	Architecture, RootDeviceType      string
	RootDeviceName                    string
	VirtualizationType, Hypervisor    string
	ClientToken                       string
	Tags                              map[string]string
	// BlockDevices are the volumes attached to the instance, as its node's agent reports them.
	BlockDevices []InstanceBlockDevice
	// ReservationID and OwnerID are those of the instance's reservation.
	ReservationID, OwnerID string
	MetadataOptions        *MetadataOptions
}

// InstanceBlockDevice is EC2's InstanceBlockDeviceMapping of an EBS volume: the device the volume
// is attached as, and the attachment.
type InstanceBlockDevice struct {
	DeviceName, VolumeID string
	// Status is the attachment's state: attaching, attached, detaching or detached.
	Status string
	// AttachTime is zero while the volume is not attached yet.
	AttachTime          time.Time
	DeleteOnTermination bool
}

// blockDevicesOf renders the block devices the agent wrote in the instance's status.
func blockDevicesOf(inst *cloudv1.Instance) []InstanceBlockDevice {
	var out []InstanceBlockDevice
	for _, bd := range inst.Status.BlockDevices {
		d := InstanceBlockDevice{DeviceName: bd.DeviceName, VolumeID: bd.VolumeID, Status: string(bd.Status),
			DeleteOnTermination: bd.DeleteOnTermination}
		if d.Status == "" {
			d.Status = string(cloudv1.AttachmentAttaching)
		}
		if bd.AttachTime != nil {
			d.AttachTime = bd.AttachTime.Time
		}
		out = append(out, d)
	}
	return out
}

// Reservation is EC2's Reservation: the instances one RunInstances launched, in launch order.
type Reservation struct {
	ReservationID, OwnerID string
	// Groups are the groups of the launch (RunInstances answers them; Describe leaves them out).
	Groups    []GroupPair
	Instances []Instance
}

// reservationID is the instance's reservation: the controller's, else the label the launch set.
func reservationID(inst *cloudv1.Instance) string {
	if inst.Status.ReservationID != "" {
		return inst.Status.ReservationID
	}
	return inst.Labels[cloudv1.LabelReservationID]
}

// launchIndex is the instance's index in its reservation, 0 when it has none.
func launchIndex(inst *cloudv1.Instance) int {
	n := 0
	for _, c := range inst.Annotations[annotationLaunchIndex] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// instanceShapes converts instances of the caller's project into EC2's terms, reading the
// project's groups once and resolving each image an instance names by object name once.
type instanceShapes struct {
	ctx     context.Context
	s       *Service
	project string
	groups  *groupIndex
	images  map[string]string
}

func (s *Service) instanceShapes(ctx context.Context, c Caller) (*instanceShapes, error) {
	groups, err := s.projectGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	return &instanceShapes{ctx: ctx, s: s, project: c.Project(), groups: newGroupIndex(c.Project(), groups),
		images: map[string]string{}}, nil
}

// imageID is the EC2 id of the image an instance names (kubectl users may name it by object).
func (sh *instanceShapes) imageID(ref string) string {
	id, ok := sh.images[ref]
	if !ok {
		id = sh.s.imageRefID(sh.ctx, sh.project, ref)
		sh.images[ref] = id
	}
	return id
}

// groupsOf are the groups an instance is in: those it names, or its project's default group.
func (sh *instanceShapes) groupsOf(inst *cloudv1.Instance) []GroupPair {
	names := inst.Spec.SecurityGroups
	if len(names) == 0 {
		names = []string{cloudv1.DefaultSecurityGroupName}
	}
	out := make([]GroupPair, 0, len(names))
	for _, ref := range names {
		out = append(out, sh.groups.pair(ref))
	}
	return out
}

var (
	userShutdown  = &StateReason{Code: "Client.UserInitiatedShutdown", Message: "Client.UserInitiatedShutdown: User initiated shutdown"}
	guestShutdown = &StateReason{Code: "Client.InstanceInitiatedShutdown", Message: "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}
)

// instance renders an instance as EC2 describes it.
func (sh *instanceShapes) instance(inst *cloudv1.Instance) Instance {
	st := inst.Status
	out := Instance{
		InstanceID:         InstanceID(inst),
		ImageID:            sh.imageID(inst.Spec.ImageID),
		State:              stateOf(st.State),
		Reason:             st.StateReason,
		KeyName:            inst.Spec.KeyName,
		InstanceType:       inst.Spec.InstanceType,
		LaunchIndex:        launchIndex(inst),
		LaunchTime:         inst.CreationTimestamp.Time,
		Placement:          Placement{AvailabilityZone: st.AvailabilityZone, Tenancy: "default"},
		KernelID:           inst.Spec.KernelID,
		RamdiskID:          inst.Spec.RamdiskID,
		MonitoringState:    "disabled",
		MetadataOptions:    metadataOptionsOf(inst, "applied"),
		PrivateIPAddress:   st.PrivateIPAddress,
		PublicIPAddress:    st.PublicIPAddress,
		Groups:             sh.groupsOf(inst),
		Architecture:       "x86_64",
		RootDeviceType:     "instance-store",
		RootDeviceName:     RootDevice,
		VirtualizationType: "hvm",
		Hypervisor:         "xen",
		ClientToken:        inst.Annotations[cloudv1.AnnotationClientToken],
		Tags:               TagsOf(inst),
		BlockDevices:       blockDevicesOf(inst),
		ReservationID:      reservationID(inst),
		OwnerID:            sh.project,
	}
	if out.Placement.AvailabilityZone == "" {
		out.Placement.AvailabilityZone = inst.Spec.AvailabilityZone
	}
	out.PrivateDNSName = st.PrivateDNSName
	if st.LaunchTime != nil {
		out.LaunchTime = st.LaunchTime.Time
	}
	switch st.State {
	case cloudv1.InstanceStateTerminated, cloudv1.InstanceStateShuttingDown:
		out.StateReason = userShutdown
		if gs := st.GuestShutdown; gs != nil && gs.State == cloudv1.InstanceStateTerminated {
			out.StateReason = guestShutdown
		}
	case cloudv1.InstanceStateStopped, cloudv1.InstanceStateStopping:
		out.StateReason = userShutdown
		if st.StateReason == cloudv1.ReasonShutdownByGuest {
			out.StateReason = guestShutdown
		}
	}
	return out
}

// reservations groups instances by reservation, in the order of each reservation's first
// instance, each in launch order.
func reservations(items []Instance) []Reservation {
	var out []Reservation
	index := map[string]int{}
	for _, item := range items {
		at, ok := index[item.ReservationID]
		if !ok {
			at = len(out)
			index[item.ReservationID] = at
			out = append(out, Reservation{ReservationID: item.ReservationID, OwnerID: item.OwnerID})
		}
		out[at].Instances = append(out[at].Instances, item)
	}
	for _, r := range out {
		sort.SliceStable(r.Instances, func(a, b int) bool { return r.Instances[a].LaunchIndex < r.Instances[b].LaunchIndex })
	}
	return out
}

var instanceFilters = []string{
	"instance-id", "instance-state-name", "instance-state-code", "image-id", "private-ip-address",
	"ip-address", "key-name", "instance-type", "availability-zone", "reservation-id", "owner-id",
	"launch-index", "group-id", "group-name", "instance.group-id", "instance.group-name", "kernel-id",
	"ramdisk-id", "client-token", "dns-name", "private-dns-name", "architecture", "hypervisor",
	"root-device-type", "virtualization-type", "placement.availability-zone", "launch-time",
	"state-reason-code", "state-reason-message", "reason", "tenancy", "placement.tenancy",
	"monitoring-state", "root-device-name", "block-device-mapping.device-name",
	"block-device-mapping.volume-id", "block-device-mapping.status", "block-device-mapping.attach-time",
	"block-device-mapping.delete-on-termination", "metadata-options.http-tokens",
	"metadata-options.http-endpoint", "metadata-options.http-put-response-hop-limit",
}

// attributes are the instance's values of a filter.
func (i Instance) attributes(name string) []string {
	switch name {
	case "group-id", "instance.group-id", "group-name", "instance.group-name":
		var out []string
		for _, g := range i.Groups {
			if strings.HasSuffix(name, "group-id") {
				out = append(out, g.GroupID)
			} else {
				out = append(out, g.GroupName)
			}
		}
		return out
	}
	if field, ok := strings.CutPrefix(name, "block-device-mapping."); ok {
		var out []string
		for _, d := range i.BlockDevices {
			switch field {
			case "device-name":
				out = append(out, d.DeviceName)
			case "volume-id":
				out = append(out, d.VolumeID)
			case "status":
				out = append(out, d.Status)
			case "attach-time":
				out = append(out, filterTime(d.AttachTime))
			case "delete-on-termination":
				out = append(out, strconv.FormatBool(d.DeleteOnTermination))
			}
		}
		return out
	}
	if field, ok := strings.CutPrefix(name, "metadata-options."); ok {
		m := i.MetadataOptions
		if m == nil {
			return nil
		}
		switch field {
		case "http-tokens":
			return []string{m.HTTPTokens}
		case "http-endpoint":
			return []string{m.HTTPEndpoint}
		case "http-put-response-hop-limit":
			return []string{strconv.Itoa(int(m.HTTPPutResponseHopLimit))}
		}
		return nil
	}
	if strings.HasPrefix(name, "state-reason-") {
		if i.StateReason == nil {
			return nil
		}
		if name == "state-reason-code" {
			return []string{i.StateReason.Code}
		}
		return []string{i.StateReason.Message}
	}
	v, ok := map[string]string{
		"instance-id": i.InstanceID, "instance-state-name": i.State.Name,
		"instance-state-code": strconv.Itoa(int(i.State.Code)), "image-id": i.ImageID,
		"private-ip-address": i.PrivateIPAddress, "ip-address": i.PublicIPAddress, "key-name": i.KeyName,
		"instance-type": i.InstanceType, "availability-zone": i.Placement.AvailabilityZone,
		"placement.availability-zone": i.Placement.AvailabilityZone, "reservation-id": i.ReservationID,
		"owner-id": i.OwnerID, "launch-index": strconv.Itoa(i.LaunchIndex), "kernel-id": i.KernelID,
		"ramdisk-id": i.RamdiskID, "client-token": i.ClientToken, "dns-name": i.DNSName,
		"private-dns-name": i.PrivateDNSName, "architecture": i.Architecture, "hypervisor": i.Hypervisor,
		"root-device-type": i.RootDeviceType, "virtualization-type": i.VirtualizationType,
		"launch-time": filterTime(i.LaunchTime), "reason": i.Reason, "tenancy": i.Placement.Tenancy,
		"placement.tenancy": i.Placement.Tenancy, "monitoring-state": i.MonitoringState,
		"root-device-name": i.RootDeviceName,
	}[name]
	if !ok {
		return nil
	}
	return []string{v}
}

// StatusDetail is one check of an instance's status.
type StatusDetail struct {
	Name, Status string
}

// StatusSummary is EC2's InstanceStatusSummary.
type StatusSummary struct {
	Status  string
	Details []StatusDetail
}

// InstanceStatus is EC2's InstanceStatus: the node's view (system status: the domain exists)
// and the guest's (instance status: it runs).
type InstanceStatus struct {
	InstanceID, AvailabilityZone string
	State                        InstanceState
	System, Instance             StatusSummary
}

func toInstanceStatus(inst *cloudv1.Instance) InstanceStatus {
	summary := func(ok, running bool) StatusSummary {
		status, reach := "initializing", "initializing"
		switch {
		case ok:
			status, reach = "ok", "passed"
		case !running:
			status = "not-applicable"
		}
		return StatusSummary{Status: status, Details: []StatusDetail{{Name: "reachability", Status: reach}}}
	}
	running := inst.Status.State == cloudv1.InstanceStateRunning
	domainOK := running && inst.Status.Domain != nil
	guestOK := domainOK && inst.Status.Domain.State == "running"
	return InstanceStatus{
		InstanceID:       InstanceID(inst),
		AvailabilityZone: inst.Status.AvailabilityZone,
		State:            stateOf(inst.Status.State),
		System:           summary(domainOK, running),
		Instance:         summary(guestOK, running),
	}
}

// attributes are the status's values of a filter.
func (st InstanceStatus) attributes(name string) []string {
	v, ok := map[string]string{
		"availability-zone": st.AvailabilityZone, "instance-state-name": st.State.Name,
		"instance-state-code": strconv.Itoa(int(st.State.Code)), "system-status.status": st.System.Status,
		"instance-status.status": st.Instance.Status,
	}[name]
	if !ok {
		return nil
	}
	return []string{v}
}
