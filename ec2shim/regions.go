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
	"fmt"
	"sort"
	"strconv"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/conditions"
)

// zones returns the availability zones of the registered hypervisors, and whether each has a
// ready one.
func (s *Server) zones(ctx context.Context) (map[string]bool, error) {
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

type regionItem struct {
	RegionName     string `xml:"regionName"`
	RegionEndpoint string `xml:"regionEndpoint"`
	OptInStatus    string `xml:"optInStatus"`
}

type describeRegionsInput struct {
	RegionNames []string       `ec2:"RegionName,list"`
	Filters     []query.Filter `ec2:"Filter,list"`
	AllRegions  bool           `ec2:"AllRegions"`
	DryRun      bool           `ec2:"DryRun"`
}

type describeRegionsOutput struct {
	RegionInfo query.List[regionItem] `xml:"regionInfo"`
}

func (s *Server) describeRegions(ctx context.Context, c *call) (any, error) {
	var in describeRegionsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, c.authorize(ctx, "list", "instances", true)
	}
	matcher, err := query.NewMatcher(in.Filters, []string{"region-name", "endpoint", "opt-in-status"})
	if err != nil {
		return nil, err
	}
	region := regionItem{RegionName: s.cfg.Region, RegionEndpoint: s.cfg.Endpoint, OptInStatus: "opt-in-not-required"}
	for _, name := range in.RegionNames {
		if name != s.cfg.Region {
			return nil, invalidParam("Invalid region: %s", name)
		}
	}
	out := &describeRegionsOutput{RegionInfo: query.NewList[regionItem]()}
	attrs := func(name string) []string {
		return map[string][]string{"region-name": {region.RegionName}, "endpoint": {region.RegionEndpoint},
			"opt-in-status": {region.OptInStatus}}[name]
	}
	if matcher.Match(attrs, nil) {
		out.RegionInfo.Items = append(out.RegionInfo.Items, region)
	}
	return out, nil
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
	ZoneNames []string       `ec2:"ZoneName,list"`
	ZoneIDs   []string       `ec2:"ZoneId,list"`
	Filters   []query.Filter `ec2:"Filter,list"`
	AllZones  bool           `ec2:"AllAvailabilityZones"`
	DryRun    bool           `ec2:"DryRun"`
}

type describeZonesOutput struct {
	AvailabilityZoneInfo query.List[zoneItem] `xml:"availabilityZoneInfo"`
}

func (s *Server) describeAvailabilityZones(ctx context.Context, c *call) (any, error) {
	var in describeZonesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, c.authorize(ctx, "list", "instances", true)
	}
	matcher, err := query.NewMatcher(in.Filters, []string{"zone-name", "zone-id", "state", "region-name", "zone-type"})
	if err != nil {
		return nil, err
	}
	zones, err := s.zones(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	wanted := map[string]bool{}
	for _, z := range in.ZoneNames {
		if _, ok := zones[z]; !ok {
			return nil, invalidParam("The zone '%s' does not exist.", z)
		}
		wanted[z] = true
	}
	for _, id := range in.ZoneIDs {
		found := false
		for i, z := range names {
			if zoneID(s.cfg.Region, i) == id {
				wanted[z], found = true, true
			}
		}
		if !found {
			return nil, invalidParam("The zone ID '%s' does not exist.", id)
		}
	}
	out := &describeZonesOutput{AvailabilityZoneInfo: query.NewList[zoneItem]()}
	for i, z := range names {
		if len(wanted) > 0 && !wanted[z] {
			continue
		}
		state := "unavailable"
		if zones[z] {
			state = "available"
		}
		item := zoneItem{ZoneName: z, ZoneState: state, RegionName: s.cfg.Region, ZoneID: zoneID(s.cfg.Region, i),
			ZoneType: "availability-zone", OptInStatus: "opt-in-not-required", GroupName: s.cfg.Region, NetworkBorderGroup: s.cfg.Region}
		attrs := func(name string) []string {
			return map[string][]string{"zone-name": {item.ZoneName}, "zone-id": {item.ZoneID}, "state": {item.ZoneState},
				"region-name": {item.RegionName}, "zone-type": {item.ZoneType}}[name]
		}
		if matcher.Match(attrs, nil) {
			out.AvailabilityZoneInfo.Items = append(out.AvailabilityZoneInfo.Items, item)
		}
	}
	return out, nil
}

func zoneID(region string, i int) string { return region + "-az" + strconv.Itoa(i+1) }

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

func (s *Server) describeAccountAttributes(ctx context.Context, c *call) (any, error) {
	var in describeAccountAttributesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, c.authorize(ctx, "list", "instances", true)
	}
	p := &cloudv1.Project{}
	if err := s.cfg.Client.Get(ctx, clientKey(c.project), p); err != nil && !isNotFound(err) {
		return nil, err
	}
	limit := func(v *int32) string {
		if v == nil || *v == 0 {
			return "unlimited"
		}
		return strconv.Itoa(int(*v))
	}
	all := []accountAttribute{
		attr("supported-platforms", "EC2"),
		attr("default-vpc", "none"),
		attr("max-instances", limit(p.Spec.Quota.Instances)),
		attr("max-elastic-ips", limit(p.Spec.Quota.Addresses)),
		attr("vpc-max-elastic-ips", limit(p.Spec.Quota.Addresses)),
		attr("vpc-max-security-groups-per-interface", "16"),
	}
	out := &describeAccountAttributesOutput{AccountAttributeSet: query.NewList[accountAttribute]()}
	for _, a := range all {
		if len(in.AttributeNames) == 0 || contains(in.AttributeNames, a.AttributeName) {
			out.AccountAttributeSet.Items = append(out.AccountAttributeSet.Items, a)
		}
	}
	for _, name := range in.AttributeNames {
		found := false
		for _, a := range all {
			found = found || a.AttributeName == name
		}
		if !found {
			return nil, invalidParam("Value (%s) for parameter attributeName is invalid.", name)
		}
	}
	return out, nil
}

func attr(name, value string) accountAttribute {
	return accountAttribute{AttributeName: name, AttributeValues: query.NewList(accountAttributeValue{AttributeValue: value})}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
