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
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
)

func clientKey(name string) client.ObjectKey { return client.ObjectKey{Name: name} }

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

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

var instanceTypeFilters = []string{"instance-type", "vcpu-info.default-vcpus", "memory-info.size-in-mib",
	"instance-storage-supported", "instance-storage-info.total-size-in-gb", "current-generation"}

func (s *Server) describeInstanceTypes(ctx context.Context, c *call) (any, error) {
	var in describeInstanceTypesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "list", "instances", in.DryRun); err != nil {
		return nil, err
	}
	size, err := query.PageSize(in.MaxResults, 5, 100, 0)
	if err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, instanceTypeFilters)
	if err != nil {
		return nil, err
	}
	list := &cloudv1.InstanceTypeList{}
	if err := s.cfg.Client.List(ctx, list); err != nil {
		return nil, err
	}
	byName := map[string]*cloudv1.InstanceType{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	names := in.InstanceTypes
	if len(names) == 0 {
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var items []instanceTypeItem
	for _, n := range names {
		it, ok := byName[n]
		if !ok {
			return nil, invalidParam("The following supplied instance types do not exist: [%s]", n)
		}
		item := typeItem(it)
		attrs := func(name string) []string {
			switch name {
			case "instance-type":
				return []string{item.InstanceType}
			case "vcpu-info.default-vcpus":
				return []string{strconv.Itoa(int(item.VCpuInfo.DefaultVCpus))}
			case "memory-info.size-in-mib":
				return []string{strconv.FormatInt(item.MemoryInfo.SizeInMiB, 10)}
			case "instance-storage-supported":
				return []string{strconv.FormatBool(item.InstanceStorageSupported)}
			case "instance-storage-info.total-size-in-gb":
				if item.InstanceStorageInfo != nil {
					return []string{strconv.FormatInt(item.InstanceStorageInfo.TotalSizeInGB, 10)}
				}
			case "current-generation":
				return []string{"true"}
			}
			return nil
		}
		if matcher.Match(attrs, nil) {
			items = append(items, item)
		}
	}
	cur, err := s.cfg.Tokens.Decode(c.pageScope(), in.NextToken)
	if err != nil {
		return nil, err
	}
	page, next, more := query.Page(items, cur.Offset, size)
	out := &describeInstanceTypesOutput{InstanceTypeSet: query.NewList(page...)}
	if more {
		out.NextToken = s.cfg.Tokens.Encode(c.pageScope(), query.Cursor{Offset: next})
	}
	return out, nil
}

func typeItem(it *cloudv1.InstanceType) instanceTypeItem {
	item := instanceTypeItem{
		InstanceType:             it.Name,
		CurrentGeneration:        true,
		SupportedRootDeviceTypes: query.NewList("instance-store"),
		SupportedVirtualization:  query.NewList("hvm"),
		Hypervisor:               "xen",
		ProcessorInfo:            processorInfo{SupportedArchitectures: query.NewList("x86_64")},
		VCpuInfo:                 vcpuInfo{DefaultVCpus: it.Spec.VCPUs, DefaultCores: it.Spec.VCPUs, DefaultThreadsPerCore: 1},
		MemoryInfo:               memoryInfo{SizeInMiB: int64(it.Spec.MemoryMiB)},
		InstanceStorageSupported: it.Spec.EphemeralDiskGiB > 0,
		FreeTierEligible:         it.Spec.Class == cloudv1.InstanceClassTiny,
	}
	if it.Spec.EphemeralDiskGiB > 0 {
		item.InstanceStorageInfo = &instanceStorageInfo{
			TotalSizeInGB: int64(it.Spec.EphemeralDiskGiB),
			Disks:         query.NewList(diskInfo{SizeInGB: int64(it.Spec.EphemeralDiskGiB), Count: 1, Type: "hdd"}),
		}
	}
	return item
}
