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
	"context"
	"encoding/base64"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// Instances: the wire side of the cloud service's instance operations (RunInstances is in
// instances_run.go).

// ConsoleReader fetches the latest console output of an instance from its node.
type ConsoleReader = cloud.ConsoleReader

type returnOutput struct {
	Return bool `xml:"return"`
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

func (s *Server) describeInstances(ctx context.Context, who cloud.Caller, in *describeInstancesInput) (any, error) {
	res, next, err := s.svc.DescribeInstances(ctx, who, cloud.DescribeInstancesInput{InstanceIDs: in.InstanceIDs,
		Filters: in.Filters, DryRun: in.DryRun, Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken}})
	if err != nil {
		return nil, err
	}
	return &describeInstancesOutput{NextToken: next,
		ReservationSet: listOf(res, func(r cloud.Reservation) reservation { return *toReservation(&r) })}, nil
}

type instanceIDsInput struct {
	InstanceIDs    []string `ec2:"InstanceId,list,required"`
	DryRun         bool     `ec2:"DryRun"`
	Force          bool     `ec2:"Force"`
	Hibernate      bool     `ec2:"Hibernate"`
	SkipOSShutdown bool     `ec2:"SkipOsShutdown"`
}

func (in *instanceIDsInput) toService() cloud.InstanceIDsInput {
	return cloud.InstanceIDsInput{InstanceIDs: in.InstanceIDs, DryRun: in.DryRun, Force: in.Force,
		Hibernate: in.Hibernate, SkipOSShutdown: in.SkipOSShutdown}
}

type instanceStateChange struct {
	InstanceID    string        `xml:"instanceId"`
	CurrentState  instanceState `xml:"currentState"`
	PreviousState instanceState `xml:"previousState"`
}

type stateChangeOutput struct {
	InstancesSet query.List[instanceStateChange] `xml:"instancesSet"`
}

// changeState serves StartInstances, StopInstances and TerminateInstances: op is the service's.
func changeState(op func(context.Context, cloud.Caller, cloud.InstanceIDsInput) ([]cloud.InstanceStateChange, error)) action {
	return handle(func(ctx context.Context, who cloud.Caller, in *instanceIDsInput) (any, error) {
		return encoded(toStateChanges)(op(ctx, who, in.toService()))
	})
}

func toStateChanges(changes []cloud.InstanceStateChange) *stateChangeOutput {
	return &stateChangeOutput{InstancesSet: listOf(changes, func(ch cloud.InstanceStateChange) instanceStateChange {
		return instanceStateChange{InstanceID: ch.InstanceID, CurrentState: toInstanceState(ch.Current), PreviousState: toInstanceState(ch.Previous)}
	})}
}

func (s *Server) rebootInstances(ctx context.Context, who cloud.Caller, in *instanceIDsInput) (any, error) {
	return done(s.svc.RebootInstances(ctx, who, in.toService()))
}

type statusSummary struct {
	Status  string                   `xml:"status"`
	Details query.List[statusDetail] `xml:"details"`
}

type statusDetail struct {
	Name   string `xml:"name"`
	Status string `xml:"status"`
}

func toStatusSummary(s cloud.StatusSummary) statusSummary {
	return statusSummary{Status: s.Status, Details: listOf(s.Details, func(d cloud.StatusDetail) statusDetail { return statusDetail(d) })}
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

func (s *Server) describeInstanceStatus(ctx context.Context, who cloud.Caller, in *describeInstanceStatusInput) (any, error) {
	statuses, next, err := s.svc.DescribeInstanceStatus(ctx, who, cloud.DescribeInstanceStatusInput{
		InstanceIDs: in.InstanceIDs, Filters: in.Filters, IncludeAllInstances: in.IncludeAllInstances, DryRun: in.DryRun,
		Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken}})
	if err != nil {
		return nil, err
	}
	return &describeInstanceStatusOutput{NextToken: next, InstanceStatusSet: listOf(statuses, func(st cloud.InstanceStatus) instanceStatusItem {
		return instanceStatusItem{InstanceID: st.InstanceID, AvailabilityZone: st.AvailabilityZone, InstanceState: toInstanceState(st.State),
			SystemStatus: toStatusSummary(st.System), InstanceStatus: toStatusSummary(st.Instance)}
	})}, nil
}

type instanceAttributeInput struct {
	InstanceID string `ec2:"InstanceId,required"`
	Attribute  string `ec2:"Attribute,required"`
	DryRun     bool   `ec2:"DryRun"`
}

type instanceAttributeOutput struct {
	InstanceID                        string                           `xml:"instanceId"`
	InstanceType                      *query.AttributeValue            `xml:"instanceType,omitempty"`
	UserData                          *query.AttributeValue            `xml:"userData,omitempty"`
	Kernel                            *query.AttributeValue            `xml:"kernel,omitempty"`
	Ramdisk                           *query.AttributeValue            `xml:"ramdisk,omitempty"`
	InstanceInitiatedShutdownBehavior *query.AttributeValue            `xml:"instanceInitiatedShutdownBehavior,omitempty"`
	DisableAPITermination             *query.AttributeBoolean          `xml:"disableApiTermination,omitempty"`
	DisableAPIStop                    *query.AttributeBoolean          `xml:"disableApiStop,omitempty"`
	RootDeviceName                    *query.AttributeValue            `xml:"rootDeviceName,omitempty"`
	BlockDeviceMapping                *query.List[instanceBlockDevice] `xml:"blockDeviceMapping,omitempty"`
	ProductCodes                      *query.List[productCodeItem]     `xml:"productCodes,omitempty"`
	EbsOptimized                      *query.AttributeBoolean          `xml:"ebsOptimized,omitempty"`
	EnaSupport                        *query.AttributeBoolean          `xml:"enaSupport,omitempty"`
	SriovNetSupport                   *query.AttributeValue            `xml:"sriovNetSupport,omitempty"`
	GroupSet                          *query.List[groupIdentifier]     `xml:"groupSet,omitempty"`
}

func (s *Server) describeInstanceAttribute(ctx context.Context, who cloud.Caller, in *instanceAttributeInput) (any, error) {
	return encoded(toInstanceAttributeOutput)(s.svc.DescribeInstanceAttribute(ctx, who,
		cloud.InstanceAttributeInput{InstanceID: in.InstanceID, Attribute: in.Attribute, DryRun: in.DryRun}))
}

// toInstanceAttributeOutput puts the one attribute asked for in its element.
func toInstanceAttributeOutput(attr *cloud.InstanceAttribute) *instanceAttributeOutput {
	out := &instanceAttributeOutput{InstanceID: attr.InstanceID}
	if attr.Attribute == "groupSet" {
		groups := toGroupSet(attr.Groups)
		out.GroupSet = &groups
		return out
	}
	v := &query.AttributeValue{Value: attr.Value}
	switch attr.Attribute {
	case "instanceType":
		out.InstanceType = v
	case "userData":
		out.UserData = v
	case "kernel":
		out.Kernel = v
	case "ramdisk":
		out.Ramdisk = v
	case "instanceInitiatedShutdownBehavior":
		out.InstanceInitiatedShutdownBehavior = v
	case "disableApiTermination":
		out.DisableAPITermination = &query.AttributeBoolean{Value: attr.Value == "true"}
	case "disableApiStop":
		out.DisableAPIStop = &query.AttributeBoolean{Value: attr.Value == "true"}
	case "rootDeviceName":
		out.RootDeviceName = v
	case "blockDeviceMapping":
		devices := listOf(attr.BlockDevices, toInstanceBlockDevice)
		out.BlockDeviceMapping = &devices
	case "productCodes":
		out.ProductCodes = &query.List[productCodeItem]{}
	case "ebsOptimized":
		out.EbsOptimized = &query.AttributeBoolean{Value: attr.Value == "true"}
	case "enaSupport":
		out.EnaSupport = &query.AttributeBoolean{Value: attr.Value == "true"}
	case "sriovNetSupport":
		out.SriovNetSupport = v
	}
	return out
}

type modifyInstanceAttributeInput struct {
	InstanceID   string                `ec2:"InstanceId,required"`
	Attribute    string                `ec2:"Attribute"`
	Value        *string               `ec2:"Value"`
	InstanceType *query.AttributeValue `ec2:"InstanceType"`
	UserData     *struct {
		Value []byte `ec2:"Value"`
	} `ec2:"UserData"`
	ShutdownBehavior      *query.AttributeValue     `ec2:"InstanceInitiatedShutdownBehavior"`
	DisableAPITermination *attributeBoolean         `ec2:"DisableApiTermination"`
	DisableAPIStop        *attributeBoolean         `ec2:"DisableApiStop"`
	Groups                []string                  `ec2:"GroupId,list"`
	BlockDeviceMappings   []instanceBlockDeviceSpec `ec2:"BlockDeviceMapping,list,max=32"`
	DryRun                bool                      `ec2:"DryRun"`
}

// instanceBlockDeviceSpec is EC2's InstanceBlockDeviceMappingSpecification.
type instanceBlockDeviceSpec struct {
	DeviceName string `ec2:"DeviceName"`
	EBS        *struct {
		DeleteOnTermination *bool  `ec2:"DeleteOnTermination"`
		VolumeID            string `ec2:"VolumeId"`
	} `ec2:"Ebs"`
	NoDevice    *string `ec2:"NoDevice"`
	VirtualName string  `ec2:"VirtualName"`
}

// attributeBoolean is a boolean given as Name.Value (EC2's AttributeBooleanValue).
type attributeBoolean struct {
	Value *bool `ec2:"Value"`
}

// value is the boolean given, nil if the parameter or its Value was not.
func (b *attributeBoolean) value() *bool {
	if b == nil {
		return nil
	}
	return b.Value
}

func (s *Server) modifyInstanceAttribute(ctx context.Context, who cloud.Caller, in *modifyInstanceAttributeInput) (any, error) {
	mod := cloud.ModifyInstanceAttributeInput{InstanceID: in.InstanceID, Attribute: in.Attribute, Value: in.Value,
		InstanceType: attributeValue(in.InstanceType), ShutdownBehavior: attributeValue(in.ShutdownBehavior),
		DisableAPITermination: in.DisableAPITermination.value(), DisableAPIStop: in.DisableAPIStop.value(),
		Groups: in.Groups, DryRun: in.DryRun}
	if in.UserData != nil {
		mod.UserData = &in.UserData.Value
	}
	for _, m := range in.BlockDeviceMappings {
		d := cloud.InstanceBlockDeviceInput{DeviceName: m.DeviceName, NoDevice: m.NoDevice != nil, VirtualName: m.VirtualName != ""}
		if m.EBS != nil {
			d.DeleteOnTermination, d.VolumeID = m.EBS.DeleteOnTermination, m.EBS.VolumeID
		}
		mod.BlockDevices = append(mod.BlockDevices, d)
	}
	return done(s.svc.ModifyInstanceAttribute(ctx, who, mod))
}

// attributeValue is the value of an attribute given as Name.Value, nil if not given.
func attributeValue(v *query.AttributeValue) *string {
	if v == nil {
		return nil
	}
	return &v.Value
}

// metadataOptionsInput is EC2's InstanceMetadataOptionsRequest, as RunInstances takes it under
// MetadataOptions and ModifyInstanceMetadataOptions at the top.
type metadataOptionsInput struct {
	HTTPTokens              string `ec2:"HttpTokens"`
	HTTPEndpoint            string `ec2:"HttpEndpoint"`
	HTTPPutResponseHopLimit *int32 `ec2:"HttpPutResponseHopLimit"`
	HTTPProtocolIPv6        string `ec2:"HttpProtocolIpv6"`
	InstanceMetadataTags    string `ec2:"InstanceMetadataTags"`
}

// metadataOptions is EC2's InstanceMetadataOptionsResponse.
type metadataOptions struct {
	State                   string `xml:"state"`
	HTTPTokens              string `xml:"httpTokens"`
	HTTPPutResponseHopLimit int32  `xml:"httpPutResponseHopLimit"`
	HTTPEndpoint            string `xml:"httpEndpoint"`
	HTTPProtocolIPv6        string `xml:"httpProtocolIpv6"`
	InstanceMetadataTags    string `xml:"instanceMetadataTags"`
}

func toMetadataOptions(o *cloud.MetadataOptions) *metadataOptions {
	if o == nil {
		return nil
	}
	return &metadataOptions{State: o.State, HTTPTokens: o.HTTPTokens, HTTPPutResponseHopLimit: o.HTTPPutResponseHopLimit,
		HTTPEndpoint: o.HTTPEndpoint, HTTPProtocolIPv6: o.HTTPProtocolIPv6, InstanceMetadataTags: o.InstanceMetadataTags}
}

type modifyInstanceMetadataOptionsInput struct {
	InstanceID string `ec2:"InstanceId,required"`
	metadataOptionsInput
	DryRun bool `ec2:"DryRun"`
}

type modifyInstanceMetadataOptionsOutput struct {
	InstanceID      string           `xml:"instanceId"`
	MetadataOptions *metadataOptions `xml:"instanceMetadataOptions"`
}

func (s *Server) modifyInstanceMetadataOptions(ctx context.Context, who cloud.Caller, in *modifyInstanceMetadataOptionsInput) (any, error) {
	id, opts, err := s.svc.ModifyInstanceMetadataOptions(ctx, who, cloud.ModifyInstanceMetadataOptionsInput{
		InstanceID: in.InstanceID, MetadataOptionsInput: cloud.MetadataOptionsInput(in.metadataOptionsInput), DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &modifyInstanceMetadataOptionsOutput{InstanceID: id, MetadataOptions: toMetadataOptions(opts)}, nil
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

func (s *Server) getConsoleOutput(ctx context.Context, who cloud.Caller, in *getConsoleOutputInput) (any, error) {
	console, err := s.svc.GetConsoleOutput(ctx, who, cloud.GetConsoleOutputInput{InstanceID: in.InstanceID,
		Latest: in.Latest, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &getConsoleOutputOutput{InstanceID: console.InstanceID, Timestamp: query.NewTimestamp(console.Timestamp),
		Output: base64.StdEncoding.EncodeToString(console.Output)}, nil
}
