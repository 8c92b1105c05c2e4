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

package ec2shim

import (
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// The XML shapes of instances, filled from the cloud service's.

// instanceState is EC2's InstanceState.
type instanceState struct {
	Code int32  `xml:"code"`
	Name string `xml:"name"`
}

func toInstanceState(s cloud.InstanceState) instanceState {
	return instanceState{Code: s.Code, Name: s.Name}
}

type groupIdentifier struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

func toGroupSet(groups []cloud.GroupPair) query.List[groupIdentifier] {
	l := query.NewList[groupIdentifier]()
	for _, g := range groups {
		l.Items = append(l.Items, groupIdentifier{GroupID: g.GroupID, GroupName: g.GroupName})
	}
	return l
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

func toInstanceBlockDevice(d cloud.InstanceBlockDevice) instanceBlockDevice {
	item := instanceBlockDevice{DeviceName: d.DeviceName}
	item.EBS.VolumeID, item.EBS.Status, item.EBS.DeleteOnTermination = d.VolumeID, d.Status, d.DeleteOnTermination
	if !d.AttachTime.IsZero() {
		item.EBS.AttachTime = query.NewTimestamp(d.AttachTime)
	}
	return item
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
	MetadataOptions    *metadataOptions                `xml:"metadataOptions,omitempty"`
}

func toInstanceItem(i *cloud.Instance) instanceItem {
	item := instanceItem{
		InstanceID:         i.InstanceID,
		ImageID:            i.ImageID,
		InstanceState:      toInstanceState(i.State),
		PrivateDNSName:     i.PrivateDNSName,
		DNSName:            i.DNSName,
		Reason:             i.Reason,
		KeyName:            i.KeyName,
		AmiLaunchIndex:     i.LaunchIndex,
		InstanceType:       i.InstanceType,
		LaunchTime:         query.NewTimestamp(i.LaunchTime),
		Placement:          placement(i.Placement),
		KernelID:           i.KernelID,
		RamdiskID:          i.RamdiskID,
		Monitoring:         monitoring{State: i.MonitoringState},
		PrivateIPAddress:   i.PrivateIPAddress,
		IPAddress:          i.PublicIPAddress,
		GroupSet:           toGroupSet(i.Groups),
		Architecture:       i.Architecture,
		RootDeviceType:     i.RootDeviceType,
		RootDeviceName:     i.RootDeviceName,
		BlockDeviceMapping: listOf(i.BlockDevices, toInstanceBlockDevice),
		VirtualizationType: i.VirtualizationType,
		ClientToken:        i.ClientToken,
		TagSet:             tagList(i.Tags),
		Hypervisor:         i.Hypervisor,
		MetadataOptions:    toMetadataOptions(i.MetadataOptions),
	}
	if i.StateReason != nil {
		item.StateReason = &stateReason{Code: i.StateReason.Code, Message: i.StateReason.Message}
	}
	return item
}

// reservation is EC2's Reservation.
type reservation struct {
	ReservationID string                      `xml:"reservationId"`
	OwnerID       string                      `xml:"ownerId"`
	GroupSet      query.List[groupIdentifier] `xml:"groupSet"`
	InstancesSet  query.List[instanceItem]    `xml:"instancesSet"`
}

func toReservation(r *cloud.Reservation) *reservation {
	out := &reservation{ReservationID: r.ReservationID, OwnerID: r.OwnerID, GroupSet: toGroupSet(r.Groups),
		InstancesSet: query.NewList[instanceItem]()}
	for i := range r.Instances {
		out.InstancesSet.Items = append(out.InstancesSet.Items, toInstanceItem(&r.Instances[i]))
	}
	return out
}
