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
	"fmt"
	"sort"
	"strconv"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
)

// InstanceType is a size of instance as EC2 describes it.
type InstanceType struct {
	Name      string
	VCPUs     int32
	MemoryMiB int64
	// EphemeralGiB is the instance-store disk, 0 for none.
	EphemeralGiB int64
	// FreeTierEligible marks the tiny class.
	FreeTierEligible bool
}

// DescribeInstanceTypesInput selects instance types by name and filter, a page at a time.
type DescribeInstanceTypesInput struct {
	Names   []string
	Filters []query.Filter
	DryRun  bool
	Page
}

var instanceTypeFilters = []string{"instance-type", "vcpu-info.default-vcpus", "memory-info.size-in-mib",
	"instance-storage-supported", "instance-storage-info.total-size-in-gb", "current-generation"}

// DescribeInstanceTypes shows the cloud's instance types, sorted by name unless named, and the
// token of the next page.
func (s *Service) DescribeInstanceTypes(ctx context.Context, c Caller, in DescribeInstanceTypesInput) ([]InstanceType, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, listing{resource: "instances", filters: instanceTypeFilters,
		minPage: 5, maxPage: 100}, in.DryRun, in.Filters, in.Page, 0)
	if err != nil {
		return nil, "", err
	}
	list := &cloudv1.InstanceTypeList{}
	if err := s.cfg.Client.List(ctx, list); err != nil {
		return nil, "", fmt.Errorf("listing instance types: %w", err)
	}
	byName := map[string]*cloudv1.InstanceType{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	names := in.Names
	if len(names) == 0 {
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var items []InstanceType
	for _, n := range names {
		it, ok := byName[n]
		if !ok {
			return nil, "", InvalidParam("The following supplied instance types do not exist: [%s]", n)
		}
		t := toInstanceType(it)
		if matcher.Match(t.attributes, nil) {
			items = append(items, t)
		}
	}
	return pageOf(s, c, fmt.Sprint("DescribeInstanceTypes", in.Names, in.Filters), in.Page, size, items)
}

func toInstanceType(it *cloudv1.InstanceType) InstanceType {
	return InstanceType{Name: it.Name, VCPUs: it.Spec.VCPUs, MemoryMiB: int64(it.Spec.MemoryMiB),
		EphemeralGiB: int64(it.Spec.EphemeralDiskGiB), FreeTierEligible: it.Spec.Class == cloudv1.InstanceClassTiny}
}

// attributes are the values filters match.
func (t InstanceType) attributes(name string) []string {
	switch name {
	case "instance-type":
		return []string{t.Name}
	case "vcpu-info.default-vcpus":
		return []string{strconv.Itoa(int(t.VCPUs))}
	case "memory-info.size-in-mib":
		return []string{strconv.FormatInt(t.MemoryMiB, 10)}
	case "instance-storage-supported":
		return []string{strconv.FormatBool(t.EphemeralGiB > 0)}
	case "instance-storage-info.total-size-in-gb":
		if t.EphemeralGiB > 0 {
			return []string{strconv.FormatInt(t.EphemeralGiB, 10)}
		}
	case "current-generation":
		return []string{"true"}
	}
	return nil
}
