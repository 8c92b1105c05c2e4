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

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

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
	InstanceTypes []string       `ec2:"InstanceType,list"`
	Filters       []query.Filter `ec2:"Filter,list"`
	DryRun        bool           `ec2:"DryRun"`
	query.Paging
}

type describeInstanceTypesOutput struct {
	InstanceTypeSet query.List[instanceTypeItem] `xml:"instanceTypeSet"`
	NextToken       string                       `xml:"nextToken,omitempty"`
}

func (s *Server) describeInstanceTypes(ctx context.Context, c *call) (any, error) {
	var in describeInstanceTypesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	types, next, err := s.svc.DescribeInstanceTypes(ctx, c.caller(), cloud.DescribeInstanceTypesInput{Names: in.InstanceTypes,
		Filters: in.Filters, DryRun: in.DryRun, Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken}})
	if err != nil {
		return nil, err
	}
	out := &describeInstanceTypesOutput{InstanceTypeSet: query.NewList[instanceTypeItem](), NextToken: next}
	for _, t := range types {
		out.InstanceTypeSet.Items = append(out.InstanceTypeSet.Items, typeItem(t))
	}
	return out, nil
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
