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
	"slices"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

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
	regions, err := s.svc.DescribeRegions(ctx, c.caller(), cloud.DescribeRegionsInput{Names: in.RegionNames, Filters: in.Filters, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	out := &describeRegionsOutput{RegionInfo: query.NewList[regionItem]()}
	for _, r := range regions {
		out.RegionInfo.Items = append(out.RegionInfo.Items, regionItem{RegionName: r.Name, RegionEndpoint: r.Endpoint, OptInStatus: r.OptInStatus})
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
	zones, err := s.svc.DescribeAvailabilityZones(ctx, c.caller(), cloud.DescribeZonesInput{Names: in.ZoneNames, IDs: in.ZoneIDs,
		Filters: in.Filters, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	out := &describeZonesOutput{AvailabilityZoneInfo: query.NewList[zoneItem]()}
	for _, z := range zones {
		out.AvailabilityZoneInfo.Items = append(out.AvailabilityZoneInfo.Items, zoneItem{ZoneName: z.Name, ZoneState: z.State,
			RegionName: z.Region, ZoneID: z.ID, ZoneType: z.Type, OptInStatus: z.OptInStatus, GroupName: z.GroupName,
			NetworkBorderGroup: z.NetworkBorderGroup})
	}
	return out, nil
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

func (s *Server) describeAccountAttributes(ctx context.Context, c *call) (any, error) {
	var in describeAccountAttributesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	attrs, err := s.svc.DescribeAccountAttributes(ctx, c.caller(), cloud.DescribeAccountAttributesInput{Names: in.AttributeNames, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	out := &describeAccountAttributesOutput{AccountAttributeSet: query.NewList[accountAttribute]()}
	for _, a := range attrs {
		item := accountAttribute{AttributeName: a.Name, AttributeValues: query.NewList[accountAttributeValue]()}
		for _, v := range a.Values {
			item.AttributeValues.Items = append(item.AttributeValues.Items, accountAttributeValue{AttributeValue: v})
		}
		out.AccountAttributeSet.Items = append(out.AccountAttributeSet.Items, item)
	}
	return out, nil
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
