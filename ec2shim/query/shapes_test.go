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

package query_test

import (
	"testing"

	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/ec2shim/query/querytest"
)

// The shapes below mirror the service model the way the lead's handlers will; TestShapesMatchModel
// holds them to it.

type runInstancesInput struct {
	ImageID                           string               `ec2:"ImageId,required"`
	MinCount                          int32                `ec2:"MinCount,required"`
	MaxCount                          int32                `ec2:"MaxCount,required"`
	KeyName                           *string              `ec2:"KeyName"`
	UserData                          []byte               `ec2:"UserData"`
	SecurityGroups                    []string             `ec2:"SecurityGroup,list"`
	SecurityGroupIDs                  []string             `ec2:"SecurityGroupId,list"`
	Placement                         *placement           `ec2:"Placement"`
	BlockDeviceMappings               []blockDeviceMapping `ec2:"BlockDeviceMapping,list,max=32"`
	TagSpecifications                 []tagSpecification   `ec2:"TagSpecification,list"`
	ClientToken                       string               `ec2:"ClientToken"`
	InstanceType                      string               `ec2:"InstanceType"`
	KernelID                          string               `ec2:"KernelId"`
	RamdiskID                         string               `ec2:"RamdiskId"`
	SubnetID                          string               `ec2:"SubnetId"`
	PrivateIPAddress                  string               `ec2:"PrivateIpAddress"`
	Monitoring                        *monitoringEnabled   `ec2:"Monitoring"`
	DisableAPITermination             *bool                `ec2:"DisableApiTermination"`
	InstanceInitiatedShutdownBehavior string               `ec2:"InstanceInitiatedShutdownBehavior"`
	DryRun                            bool                 `ec2:"DryRun"`
}

type placement struct {
	AvailabilityZone string `ec2:"AvailabilityZone"`
	GroupName        string `ec2:"GroupName"`
	Tenancy          string `ec2:"Tenancy"`
}

type blockDeviceMapping struct {
	DeviceName  string          `ec2:"DeviceName"`
	VirtualName string          `ec2:"VirtualName"`
	NoDevice    *string         `ec2:"NoDevice"`
	Ebs         *ebsBlockDevice `ec2:"Ebs"`
}

type ebsBlockDevice struct {
	VolumeSize          *int32 `ec2:"VolumeSize"`
	DeleteOnTermination *bool  `ec2:"DeleteOnTermination"`
	VolumeType          string `ec2:"VolumeType"`
	SnapshotID          string `ec2:"SnapshotId"`
	Iops                *int32 `ec2:"Iops"`
}

type tagSpecification struct {
	ResourceType string `ec2:"ResourceType"`
	Tags         []tag  `ec2:"Tag,list"`
}

type tag struct {
	Key   string `ec2:"Key" xml:"key"`
	Value string `ec2:"Value" xml:"value"`
}

type monitoringEnabled struct {
	Enabled bool `ec2:"Enabled,required"`
}

type describeInstancesInput struct {
	InstanceIDs []string       `ec2:"InstanceId,list"`
	Filters     []query.Filter `ec2:"Filter,list"`
	DryRun      bool           `ec2:"DryRun"`
	query.Paging
}

type terminateInstancesInput struct {
	InstanceIDs []string `ec2:"InstanceId,list,required"`
	DryRun      bool     `ec2:"DryRun"`
}

// Output shapes.

type reservation struct {
	ReservationID string                      `xml:"reservationId"`
	OwnerID       string                      `xml:"ownerId"`
	Groups        query.List[groupIdentifier] `xml:"groupSet"`
	Instances     query.List[instance]        `xml:"instancesSet"`
	RequesterID   string                      `xml:"requesterId,omitempty"`
}

type groupIdentifier struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type instance struct {
	InstanceID          string                                 `xml:"instanceId"`
	ImageID             string                                 `xml:"imageId"`
	State               instanceState                          `xml:"instanceState"`
	PrivateDNSName      string                                 `xml:"privateDnsName"`
	DNSName             string                                 `xml:"dnsName"`
	Reason              string                                 `xml:"reason"`
	KeyName             string                                 `xml:"keyName,omitempty"`
	AmiLaunchIndex      int32                                  `xml:"amiLaunchIndex"`
	InstanceType        string                                 `xml:"instanceType"`
	LaunchTime          query.Timestamp                        `xml:"launchTime"`
	Placement           placementResponse                      `xml:"placement"`
	KernelID            string                                 `xml:"kernelId,omitempty"`
	RamdiskID           string                                 `xml:"ramdiskId,omitempty"`
	Monitoring          monitoring                             `xml:"monitoring"`
	PrivateIPAddress    string                                 `xml:"privateIpAddress,omitempty"`
	IPAddress           string                                 `xml:"ipAddress,omitempty"`
	StateReason         *stateReason                           `xml:"stateReason,omitempty"`
	Architecture        string                                 `xml:"architecture"`
	RootDeviceType      string                                 `xml:"rootDeviceType"`
	RootDeviceName      string                                 `xml:"rootDeviceName"`
	BlockDeviceMappings query.List[instanceBlockDeviceMapping] `xml:"blockDeviceMapping"`
	VirtualizationType  string                                 `xml:"virtualizationType"`
	ClientToken         string                                 `xml:"clientToken,omitempty"`
	Tags                *query.List[tag]                       `xml:"tagSet,omitempty"`
	SecurityGroups      query.List[groupIdentifier]            `xml:"groupSet"`
	Hypervisor          string                                 `xml:"hypervisor"`
	EbsOptimized        bool                                   `xml:"ebsOptimized"`
	SourceDestCheck     *bool                                  `xml:"sourceDestCheck,omitempty"`
}

type instanceState struct {
	Code int32  `xml:"code"`
	Name string `xml:"name"`
}

type placementResponse struct {
	AvailabilityZone string `xml:"availabilityZone"`
	GroupName        string `xml:"groupName"`
	Tenancy          string `xml:"tenancy"`
}

type monitoring struct {
	State string `xml:"state"`
}

type stateReason struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type instanceBlockDeviceMapping struct {
	DeviceName string              `xml:"deviceName"`
	Ebs        ebsInstanceBlockDev `xml:"ebs"`
}

type ebsInstanceBlockDev struct {
	VolumeID            string          `xml:"volumeId"`
	Status              string          `xml:"status"`
	AttachTime          query.Timestamp `xml:"attachTime"`
	DeleteOnTermination bool            `xml:"deleteOnTermination"`
}

type describeInstancesOutput struct {
	Reservations query.List[reservation] `xml:"reservationSet"`
	NextToken    string                  `xml:"nextToken,omitempty"`
}

type instanceStateChange struct {
	InstanceID    string        `xml:"instanceId"`
	CurrentState  instanceState `xml:"currentState"`
	PreviousState instanceState `xml:"previousState"`
}

type terminateInstancesOutput struct {
	Instances query.List[instanceStateChange] `xml:"instancesSet"`
}

func TestShapesMatchModel(t *testing.T) {
	m := querytest.LoadModel(t)
	m.CheckInput(t, "RunInstances", &runInstancesInput{})
	m.CheckInput(t, "DescribeInstances", &describeInstancesInput{})
	m.CheckInput(t, "TerminateInstances", &terminateInstancesInput{})
	m.CheckOutput(t, "RunInstances", &reservation{})
	m.CheckOutput(t, "DescribeInstances", &describeInstancesOutput{})
	m.CheckOutput(t, "TerminateInstances", &terminateInstancesOutput{})
}
