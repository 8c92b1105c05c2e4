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
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/refs"
)

// instanceState is EC2's InstanceState.
type instanceState struct {
	Code int32  `xml:"code"`
	Name string `xml:"name"`
}

func stateOf(s cloudv1.InstanceState) instanceState {
	if s == "" {
		s = cloudv1.InstanceStatePending
	}
	return instanceState{Code: s.Code(), Name: string(s)}
}

type groupIdentifier struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type placement struct {
	AvailabilityZone string `xml:"availabilityZone" ec2:"AvailabilityZone"`
	GroupName        string `xml:"groupName,omitempty" ec2:"GroupName"`
	Tenancy          string `xml:"tenancy,omitempty" ec2:"Tenancy"`
}

type stateReason struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type monitoring struct {
	State string `xml:"state"`
}

type instanceBlockDevice struct {
	DeviceName string `xml:"deviceName"`
	EBS        struct {
		VolumeID            string          `xml:"volumeId"`
		Status              string          `xml:"status"`
		AttachTime          query.Timestamp `xml:"attachTime"`
		DeleteOnTermination bool            `xml:"deleteOnTermination"`
	} `xml:"ebs"`
}

// instanceItem is EC2's Instance.
type instanceItem struct {
	InstanceID         string                          `xml:"instanceId"`
	ImageID            string                          `xml:"imageId"`
	InstanceState      instanceState                   `xml:"instanceState"`
	PrivateDNSName     string                          `xml:"privateDnsName"`
	DNSName            string                          `xml:"dnsName"`
	Reason             string                          `xml:"reason"`
	KeyName            string                          `xml:"keyName,omitempty"`
	AmiLaunchIndex     int                             `xml:"amiLaunchIndex"`
	InstanceType       string                          `xml:"instanceType"`
	LaunchTime         query.Timestamp                 `xml:"launchTime"`
	Placement          placement                       `xml:"placement"`
	KernelID           string                          `xml:"kernelId,omitempty"`
	RamdiskID          string                          `xml:"ramdiskId,omitempty"`
	Monitoring         monitoring                      `xml:"monitoring"`
	PrivateIPAddress   string                          `xml:"privateIpAddress,omitempty"`
	IPAddress          string                          `xml:"ipAddress,omitempty"`
	GroupSet           query.List[groupIdentifier]     `xml:"groupSet"`
	StateReason        *stateReason                    `xml:"stateReason,omitempty"`
	Architecture       string                          `xml:"architecture"`
	RootDeviceType     string                          `xml:"rootDeviceType"`
	RootDeviceName     string                          `xml:"rootDeviceName"`
	BlockDeviceMapping query.List[instanceBlockDevice] `xml:"blockDeviceMapping"`
	VirtualizationType string                          `xml:"virtualizationType"`
	ClientToken        string                          `xml:"clientToken,omitempty"`
	TagSet             *query.List[tagItem]            `xml:"tagSet,omitempty"`
	Hypervisor         string                          `xml:"hypervisor"`
}

// reservation is EC2's Reservation.
type reservation struct {
	ReservationID string                      `xml:"reservationId"`
	OwnerID       string                      `xml:"ownerId"`
	GroupSet      query.List[groupIdentifier] `xml:"groupSet"`
	InstancesSet  query.List[instanceItem]    `xml:"instancesSet"`
}

// instanceID is the instance's EC2 id: the one the controller assigned, or the object's name
// when the EC2 API made it and the controller has not caught up.
func instanceID(inst *cloudv1.Instance) string {
	if inst.Status.InstanceID != "" {
		return inst.Status.InstanceID
	}
	if ids.Valid(ids.Instance, inst.Name) {
		return inst.Name
	}
	return ""
}

// reservationID is the instance's reservation, likewise.
func reservationID(inst *cloudv1.Instance) string {
	if inst.Status.ReservationID != "" {
		return inst.Status.ReservationID
	}
	return inst.Labels[cloudv1.LabelReservationID]
}

// launchIndexAnnotation records an instance's index within its reservation.
const launchIndexAnnotation = "cloud.pinet.io/launch-index"

// groupResolver finds security groups for responses, memoised per call.
type groupResolver struct {
	ctx     context.Context
	r       client.Reader
	project string
	cache   map[string]groupIdentifier
}

func (g *groupResolver) resolve(ref string) groupIdentifier {
	if gi, ok := g.cache[ref]; ok {
		return gi
	}
	gi := groupIdentifier{GroupName: ref}
	if ids.Valid(ids.SecurityGroup, ref) {
		gi = groupIdentifier{GroupID: ref}
	}
	if sg, err := refs.SecurityGroup(g.ctx, g.r, g.project, ref); err == nil {
		gi = groupIdentifier{GroupID: sg.Status.GroupID, GroupName: sg.EffectiveGroupName()}
	}
	if g.cache == nil {
		g.cache = map[string]groupIdentifier{}
	}
	g.cache[ref] = gi
	return gi
}

func (g *groupResolver) groups(inst *cloudv1.Instance) query.List[groupIdentifier] {
	refsList := inst.Spec.SecurityGroups
	if len(refsList) == 0 {
		refsList = []string{cloudv1.DefaultSecurityGroupName}
	}
	l := query.NewList[groupIdentifier]()
	for _, ref := range refsList {
		l.Items = append(l.Items, g.resolve(ref))
	}
	return l
}

// toInstanceItem renders an instance as EC2 describes it.
func toInstanceItem(inst *cloudv1.Instance, imageID string, groups *groupResolver) instanceItem {
	st := inst.Status
	item := instanceItem{
		InstanceID:         instanceID(inst),
		ImageID:            imageID,
		InstanceState:      stateOf(st.State),
		Reason:             st.StateReason,
		KeyName:            inst.Spec.KeyName,
		InstanceType:       inst.Spec.InstanceType,
		Placement:          placement{AvailabilityZone: st.AvailabilityZone, Tenancy: "default"},
		KernelID:           inst.Spec.KernelID,
		RamdiskID:          inst.Spec.RamdiskID,
		Monitoring:         monitoring{State: "disabled"},
		PrivateIPAddress:   st.PrivateIPAddress,
		IPAddress:          st.PublicIPAddress,
		GroupSet:           groups.groups(inst),
		Architecture:       "x86_64",
		RootDeviceType:     "instance-store",
		RootDeviceName:     "/dev/sda1",
		BlockDeviceMapping: query.NewList[instanceBlockDevice](),
		VirtualizationType: "hvm",
		ClientToken:        inst.Annotations[cloudv1.AnnotationClientToken],
		TagSet:             tagList(tagsOf(inst)),
		Hypervisor:         "xen",
	}
	if item.Placement.AvailabilityZone == "" {
		item.Placement.AvailabilityZone = inst.Spec.AvailabilityZone
	}
	if st.PrivateIPAddress != "" {
		item.PrivateDNSName = "ip-" + strings.ReplaceAll(st.PrivateIPAddress, ".", "-") + ".pinet.internal"
	}
	if st.LaunchTime != nil {
		item.LaunchTime = query.NewTimestamp(st.LaunchTime.Time)
	} else {
		item.LaunchTime = query.NewTimestamp(inst.CreationTimestamp.Time)
	}
	if idx, ok := inst.Annotations[launchIndexAnnotation]; ok {
		for _, c := range idx {
			if c < '0' || c > '9' {
				break
			}
			item.AmiLaunchIndex = item.AmiLaunchIndex*10 + int(c-'0')
		}
	}
	switch st.State {
	case cloudv1.InstanceStateTerminated, cloudv1.InstanceStateShuttingDown:
		item.StateReason = &stateReason{Code: "Client.UserInitiatedShutdown", Message: "Client.UserInitiatedShutdown: User initiated shutdown"}
	case cloudv1.InstanceStateStopped, cloudv1.InstanceStateStopping:
		item.StateReason = &stateReason{Code: "Client.UserInitiatedShutdown", Message: "Client.UserInitiatedShutdown: User initiated shutdown"}
		if st.StateReason == cloudv1.ReasonShutdownByGuest {
			item.StateReason = &stateReason{Code: "Client.InstanceInitiatedShutdown", Message: "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}
		}
	}
	return item
}

// reservations groups instance items by reservation, in the order of their first instance.
func reservations(project string, insts []*cloudv1.Instance, items []instanceItem, groups *groupResolver) []reservation {
	var out []reservation
	index := map[string]int{}
	for i, inst := range insts {
		rid := reservationID(inst)
		at, ok := index[rid]
		if !ok {
			at = len(out)
			index[rid] = at
			out = append(out, reservation{ReservationID: rid, OwnerID: project,
				GroupSet: query.NewList[groupIdentifier](), InstancesSet: query.NewList[instanceItem]()})
		}
		out[at].InstancesSet.Items = append(out[at].InstancesSet.Items, items[i])
	}
	for i := range out {
		sort.SliceStable(out[i].InstancesSet.Items, func(a, b int) bool {
			return out[i].InstancesSet.Items[a].AmiLaunchIndex < out[i].InstancesSet.Items[b].AmiLaunchIndex
		})
	}
	return out
}
