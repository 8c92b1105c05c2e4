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
	"slices"
	"sort"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/conditions"
)

// Zones returns the availability zones of the registered hypervisors, and whether each has a
// ready one that takes instances.
func (s *Service) Zones(ctx context.Context) (map[string]bool, error) {
	hvs := &cloudv1.HypervisorList{}
	if err := s.cfg.Client.List(ctx, hvs); err != nil {
		return nil, fmt.Errorf("listing hypervisors: %w", err)
	}
	zones := map[string]bool{}
	for i := range hvs.Items {
		hv := &hvs.Items[i]
		zones[hv.Spec.Zone] = zones[hv.Spec.Zone] || (conditions.IsTrue(hv, cloudv1.ReadyCondition) && !hv.Spec.Unschedulable)
	}
	return zones, nil
}

// dryRunOnly answers a DryRun of the operations anyone may call: whether the caller could list
// instances in its project, as the test of its credentials.
func (s *Service) dryRunOnly(ctx context.Context, c Caller, dryRun bool) error {
	if !dryRun {
		return nil
	}
	return s.authorize(ctx, c, "list", "instances", true)
}

// Region is the cloud's one region.
type Region struct {
	Name, Endpoint, OptInStatus string
}

// DescribeRegionsInput selects regions by name and filter.
type DescribeRegionsInput struct {
	Names   []string
	Filters []query.Filter
	DryRun  bool
}

// DescribeRegions shows the cloud's region; naming another is an error.
func (s *Service) DescribeRegions(ctx context.Context, c Caller, in DescribeRegionsInput) ([]Region, error) {
	if err := s.dryRunOnly(ctx, c, in.DryRun); err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, []string{"region-name", "endpoint", "opt-in-status"})
	if err != nil {
		return nil, err
	}
	for _, name := range in.Names {
		if name != s.cfg.Region {
			return nil, InvalidParam("Invalid region: %s", name)
		}
	}
	r := Region{Name: s.cfg.Region, Endpoint: s.cfg.Endpoint, OptInStatus: "opt-in-not-required"}
	attrs := func(name string) []string {
		return map[string][]string{"region-name": {r.Name}, "endpoint": {r.Endpoint}, "opt-in-status": {r.OptInStatus}}[name]
	}
	if !matcher.Match(attrs, nil) {
		return nil, nil
	}
	return []Region{r}, nil
}

// Zone is an availability zone: the zone of some hypervisor.
type Zone struct {
	Name, State, Region, ID, Type, OptInStatus, GroupName, NetworkBorderGroup string
}

// DescribeZonesInput selects zones by name, id and filter.
type DescribeZonesInput struct {
	Names, IDs []string
	Filters    []query.Filter
	DryRun     bool
}

// DescribeAvailabilityZones shows the zones of the registered hypervisors, sorted by name; a zone
// with no ready hypervisor that takes instances is unavailable.
func (s *Service) DescribeAvailabilityZones(ctx context.Context, c Caller, in DescribeZonesInput) ([]Zone, error) {
	if err := s.dryRunOnly(ctx, c, in.DryRun); err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, []string{"zone-name", "zone-id", "state", "region-name", "zone-type"})
	if err != nil {
		return nil, err
	}
	zones, err := s.Zones(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	wanted, err := s.wantedZones(zones, names, in.Names, in.IDs)
	if err != nil {
		return nil, err
	}
	var out []Zone
	for i, z := range names {
		if len(wanted) > 0 && !wanted[z] {
			continue
		}
		state := "unavailable"
		if zones[z] {
			state = "available"
		}
		zone := Zone{Name: z, State: state, Region: s.cfg.Region, ID: zoneID(s.cfg.Region, i), Type: "availability-zone",
			OptInStatus: "opt-in-not-required", GroupName: s.cfg.Region, NetworkBorderGroup: s.cfg.Region}
		attrs := func(name string) []string {
			return map[string][]string{"zone-name": {zone.Name}, "zone-id": {zone.ID}, "state": {zone.State},
				"region-name": {zone.Region}, "zone-type": {zone.Type}}[name]
		}
		if matcher.Match(attrs, nil) {
			out = append(out, zone)
		}
	}
	return out, nil
}

// wantedZones resolves the zones named by name or id; each must exist.
func (s *Service) wantedZones(zones map[string]bool, names, byName, byID []string) (map[string]bool, error) {
	wanted := map[string]bool{}
	for _, z := range byName {
		if _, ok := zones[z]; !ok {
			return nil, InvalidParam("The zone '%s' does not exist.", z)
		}
		wanted[z] = true
	}
	for _, id := range byID {
		found := false
		for i, z := range names {
			if zoneID(s.cfg.Region, i) == id {
				wanted[z], found = true, true
			}
		}
		if !found {
			return nil, InvalidParam("The zone ID '%s' does not exist.", id)
		}
	}
	return wanted, nil
}

func zoneID(region string, i int) string { return region + "-az" + strconv.Itoa(i+1) }

// AccountAttribute is one of EC2's account attributes, from the caller's project's quota.
type AccountAttribute struct {
	Name   string
	Values []string
}

// DescribeAccountAttributesInput selects attributes by name (all when none is named).
type DescribeAccountAttributesInput struct {
	Names  []string
	DryRun bool
}

// DescribeAccountAttributes shows the caller's project's limits as EC2's account attributes.
func (s *Service) DescribeAccountAttributes(ctx context.Context, c Caller, in DescribeAccountAttributesInput) ([]AccountAttribute, error) {
	if err := s.dryRunOnly(ctx, c, in.DryRun); err != nil {
		return nil, err
	}
	p := &cloudv1.Project{}
	if err := s.cfg.Client.Get(ctx, client.ObjectKey{Name: c.Project()}, p); err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	limit := func(v *int32) string {
		if v == nil || *v == 0 {
			return "unlimited"
		}
		return strconv.Itoa(int(*v))
	}
	all := []AccountAttribute{
		{"supported-platforms", []string{"EC2"}},
		{"default-vpc", []string{"none"}},
		{"max-instances", []string{limit(p.Spec.Quota.Instances)}},
		{"max-elastic-ips", []string{limit(p.Spec.Quota.Addresses)}},
		{"vpc-max-elastic-ips", []string{limit(p.Spec.Quota.Addresses)}},
		{"vpc-max-security-groups-per-interface", []string{"16"}},
	}
	var out []AccountAttribute
	for _, a := range all {
		if len(in.Names) == 0 || slices.Contains(in.Names, a.Name) {
			out = append(out, a)
		}
	}
	for _, name := range in.Names {
		if !slices.ContainsFunc(all, func(a AccountAttribute) bool { return a.Name == name }) {
			return nil, InvalidParam("Value (%s) for parameter attributeName is invalid.", name)
		}
	}
	return out, nil
}
