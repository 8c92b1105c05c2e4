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

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

type regionItem struct {
	RegionName     string `xml:"regionName"`
	RegionEndpoint string `xml:"regionEndpoint"`
	OptInStatus    string `xml:"optInStatus"`
}

type describeRegionsInput struct {
	RegionNames []string `ec2:"RegionName,list"`
	AllRegions  bool     `ec2:"AllRegions"`
	describeInput
}

type describeRegionsOutput struct {
	RegionInfo query.List[regionItem] `xml:"regionInfo"`
}

func toDescribeRegionsOutput(regions []cloud.Region) *describeRegionsOutput {
	return &describeRegionsOutput{RegionInfo: listOf(regions, func(r cloud.Region) regionItem {
		return regionItem{RegionName: r.Name, RegionEndpoint: r.Endpoint, OptInStatus: r.OptInStatus}
	})}
}

func (s *Server) describeRegions(ctx context.Context, who cloud.Caller, in *describeRegionsInput) (any, error) {
	return encoded(toDescribeRegionsOutput)(s.svc.DescribeRegions(ctx, who, cloud.DescribeRegionsInput{
		Names: in.RegionNames, Filters: in.Filters, DryRun: in.DryRun}))
}

type zoneItem struct {
	ZoneName           string `xml:"zoneName"`
	ZoneState          string `xml:"zoneState"`
	RegionName         string `xml:"regionName"`
	ZoneID             string `xml:"zoneId"`
	ZoneType           string `xml:"zoneType"`
	OptInStatus        string `xml:"optInStatus"`
	GroupName          string `xml:"groupName"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
}

type describeZonesInput struct {
	ZoneNames []string `ec2:"ZoneName,list"`
	ZoneIDs   []string `ec2:"ZoneId,list"`
	AllZones  bool     `ec2:"AllAvailabilityZones"`
	describeInput
}

type describeZonesOutput struct {
	AvailabilityZoneInfo query.List[zoneItem] `xml:"availabilityZoneInfo"`
}

func toZoneItem(z cloud.Zone) zoneItem {
	return zoneItem{ZoneName: z.Name, ZoneState: z.State, RegionName: z.Region, ZoneID: z.ID, ZoneType: z.Type,
		OptInStatus: z.OptInStatus, GroupName: z.GroupName, NetworkBorderGroup: z.NetworkBorderGroup}
}

func toDescribeZonesOutput(zones []cloud.Zone) *describeZonesOutput {
	return &describeZonesOutput{AvailabilityZoneInfo: listOf(zones, toZoneItem)}
}

func (s *Server) describeAvailabilityZones(ctx context.Context, who cloud.Caller, in *describeZonesInput) (any, error) {
	return encoded(toDescribeZonesOutput)(s.svc.DescribeAvailabilityZones(ctx, who, cloud.DescribeZonesInput{
		Names: in.ZoneNames, IDs: in.ZoneIDs, Filters: in.Filters, DryRun: in.DryRun}))
}

type accountAttributeValue struct {
	AttributeValue string `xml:"attributeValue"`
}

type accountAttribute struct {
	AttributeName   string                            `xml:"attributeName"`
	AttributeValues query.List[accountAttributeValue] `xml:"attributeValueSet"`
}

type describeAccountAttributesInput struct {
	AttributeNames []string `ec2:"AttributeName,list"`
	DryRun         bool     `ec2:"DryRun"`
}

type describeAccountAttributesOutput struct {
	AccountAttributeSet query.List[accountAttribute] `xml:"accountAttributeSet"`
}

func toAccountAttribute(a cloud.AccountAttribute) accountAttribute {
	return accountAttribute{AttributeName: a.Name, AttributeValues: listOf(a.Values, func(v string) accountAttributeValue {
		return accountAttributeValue{AttributeValue: v}
	})}
}

func toDescribeAccountAttributesOutput(attrs []cloud.AccountAttribute) *describeAccountAttributesOutput {
	return &describeAccountAttributesOutput{AccountAttributeSet: listOf(attrs, toAccountAttribute)}
}

func (s *Server) describeAccountAttributes(ctx context.Context, who cloud.Caller, in *describeAccountAttributesInput) (any, error) {
	return encoded(toDescribeAccountAttributesOutput)(s.svc.DescribeAccountAttributes(ctx, who,
		cloud.DescribeAccountAttributesInput{Names: in.AttributeNames, DryRun: in.DryRun}))
}

// Instance types: the sizes the cloud offers.

type vcpuInfo struct {
	DefaultVCpus          int32 `xml:"defaultVCpus"`
	DefaultCores          int32 `xml:"defaultCores"`
	DefaultThreadsPerCore int32 `xml:"defaultThreadsPerCore"`
}

type memoryInfo struct {
	SizeInMiB int64 `xml:"sizeInMiB"`
}

type diskInfo struct {
	SizeInGB int64  `xml:"sizeInGB"`
	Count    int32  `xml:"count"`
	Type     string `xml:"type"`
}

type instanceStorageInfo struct {
	TotalSizeInGB int64                `xml:"totalSizeInGB"`
	Disks         query.List[diskInfo] `xml:"disks"`
}

type processorInfo struct {
	SupportedArchitectures query.List[string] `xml:"supportedArchitectures"`
}

type instanceTypeItem struct {
	InstanceType             string               `xml:"instanceType"`
	CurrentGeneration        bool                 `xml:"currentGeneration"`
	SupportedRootDeviceTypes query.List[string]   `xml:"supportedRootDeviceTypes"`
	SupportedVirtualization  query.List[string]   `xml:"supportedVirtualizationTypes"`
	BareMetal                bool                 `xml:"bareMetal"`
	Hypervisor               string               `xml:"hypervisor"`
	ProcessorInfo            processorInfo        `xml:"processorInfo"`
	VCpuInfo                 vcpuInfo             `xml:"vCpuInfo"`
	MemoryInfo               memoryInfo           `xml:"memoryInfo"`
	InstanceStorageSupported bool                 `xml:"instanceStorageSupported"`
	InstanceStorageInfo      *instanceStorageInfo `xml:"instanceStorageInfo,omitempty"`
	FreeTierEligible         bool                 `xml:"freeTierEligible"`
}

type describeInstanceTypesInput struct {
	InstanceTypes []string `ec2:"InstanceType,list"`
	pagedDescribeInput
}

type describeInstanceTypesOutput struct {
	InstanceTypeSet query.List[instanceTypeItem] `xml:"instanceTypeSet"`
	NextToken       string                       `xml:"nextToken,omitempty"`
}

func toDescribeInstanceTypesOutput(types []cloud.InstanceType, next string) *describeInstanceTypesOutput {
	return &describeInstanceTypesOutput{InstanceTypeSet: listOf(types, typeItem), NextToken: next}
}

func (s *Server) describeInstanceTypes(ctx context.Context, who cloud.Caller, in *describeInstanceTypesInput) (any, error) {
	return encodedPage(toDescribeInstanceTypesOutput)(s.svc.DescribeInstanceTypes(ctx, who,
		cloud.DescribeInstanceTypesInput{Names: in.InstanceTypes, Filters: in.Filters, DryRun: in.DryRun, Page: page(in.Paging)}))
}

func typeItem(t cloud.InstanceType) instanceTypeItem {
	item := instanceTypeItem{
		InstanceType:             t.Name,
		CurrentGeneration:        true,
		SupportedRootDeviceTypes: query.NewList("instance-store"),
		SupportedVirtualization:  query.NewList("hvm"),
		Hypervisor:               "xen",
		ProcessorInfo:            processorInfo{SupportedArchitectures: query.NewList("x86_64")},
		VCpuInfo:                 vcpuInfo{DefaultVCpus: t.VCPUs, DefaultCores: t.VCPUs, DefaultThreadsPerCore: 1},
		MemoryInfo:               memoryInfo{SizeInMiB: t.MemoryMiB},
		InstanceStorageSupported: t.EphemeralGiB > 0,
		FreeTierEligible:         t.FreeTierEligible,
	}
	if t.EphemeralGiB > 0 {
		item.InstanceStorageInfo = &instanceStorageInfo{
			TotalSizeInGB: t.EphemeralGiB,
			Disks:         query.NewList(diskInfo{SizeInGB: t.EphemeralGiB, Count: 1, Type: "hdd"}),
		}
	}
	return item
}
