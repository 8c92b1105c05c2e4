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

package cloud_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/testenv"
)

func TestRegionsZonesAndAccountAttributes(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	regions, err := s.DescribeRegions(ctx, alice, cloud.DescribeRegionsInput{})
	if err != nil || len(regions) != 1 || regions[0].Name != "svc-region" || regions[0].Endpoint != "http://ec2.svc.test" {
		t.Fatalf("regions %+v %v", regions, err)
	}
	_, err = s.DescribeRegions(ctx, alice, cloud.DescribeRegionsInput{Names: []string{"us-east-1"}})
	expectCode(t, err, cloud.CodeInvalidParameter)
	if none, err := s.DescribeRegions(ctx, alice, cloud.DescribeRegionsInput{
		Filters: []query.Filter{{Name: "region-name", Values: []string{"elsewhere"}}}}); err != nil || len(none) != 0 {
		t.Fatalf("filtered regions %+v %v", none, err)
	}
	_, err = s.DescribeRegions(ctx, alice, cloud.DescribeRegionsInput{DryRun: true})
	expectCode(t, err, cloud.CodeDryRun)
	_, err = s.DescribeRegions(ctx, stranger, cloud.DescribeRegionsInput{DryRun: true})
	expectCode(t, err, cloud.CodeUnauthorized)

	// A hypervisor with no agent behind it makes its zone known but unavailable.
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "svc-hv"}, Spec: cloudv1.HypervisorSpec{Zone: "svc-zone"}}
	if err := env.Client.Create(ctx, hv); err != nil {
		t.Fatal(err)
	}
	var zone cloud.Zone
	testenv.Eventually(t, 30*time.Second, "the zone to show", func() error {
		zones, err := s.DescribeAvailabilityZones(ctx, bob, cloud.DescribeZonesInput{Names: []string{"svc-zone"}})
		if err != nil {
			return err
		}
		if len(zones) != 1 {
			return fmt.Errorf("%d zones", len(zones))
		}
		zone = zones[0]
		return nil
	})
	if zone.State != "unavailable" || zone.Region != "svc-region" || zone.ID == "" {
		t.Fatalf("zone %+v", zone)
	}
	byID, err := s.DescribeAvailabilityZones(ctx, bob, cloud.DescribeZonesInput{IDs: []string{zone.ID}})
	if err != nil || len(byID) != 1 || byID[0].Name != "svc-zone" {
		t.Fatalf("by id %+v %v", byID, err)
	}
	_, err = s.DescribeAvailabilityZones(ctx, bob, cloud.DescribeZonesInput{Names: []string{"no-such-zone"}})
	expectCode(t, err, cloud.CodeInvalidParameter)
	_, err = s.DescribeAvailabilityZones(ctx, bob, cloud.DescribeZonesInput{IDs: []string{"svc-region-az99"}})
	expectCode(t, err, cloud.CodeInvalidParameter)

	attrs, err := s.DescribeAccountAttributes(ctx, alice, cloud.DescribeAccountAttributesInput{Names: []string{"max-instances", "max-elastic-ips"}})
	if err != nil || len(attrs) != 2 || attrs[0].Values[0] != "10" || attrs[1].Values[0] != "5" {
		t.Fatalf("account attributes (the project's default quota) %+v %v", attrs, err)
	}
	_, err = s.DescribeAccountAttributes(ctx, alice, cloud.DescribeAccountAttributesInput{Names: []string{"max-snowflakes"}})
	expectCode(t, err, cloud.CodeInvalidParameter)
}

func TestInstanceTypesPageByPage(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	for i := 1; i <= 6; i++ {
		it := &cloudv1.InstanceType{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc.size%d", i)},
			Spec: cloudv1.InstanceTypeSpec{VCPUs: int32(i), MemoryMiB: 256}}
		if err := env.Client.Create(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	var all []cloud.InstanceType
	testenv.Eventually(t, 30*time.Second, "the new types to show", func() error {
		got, _, err := s.DescribeInstanceTypes(ctx, alice, cloud.DescribeInstanceTypesInput{})
		if err != nil {
			return err
		}
		if all = got; len(got) < 11 { // the five m1 types and six more
			return fmt.Errorf("%d types", len(got))
		}
		return nil
	})
	in := cloud.DescribeInstanceTypesInput{Page: cloud.Page{MaxResults: ptr.To[int32](5)}}
	var paged []cloud.InstanceType
	for page := 0; ; page++ {
		items, next, err := s.DescribeInstanceTypes(ctx, alice, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 5 || page > 10 {
			t.Fatalf("page %d has %d items", page, len(items))
		}
		paged = append(paged, items...)
		if next == "" {
			break
		}
		// Another caller cannot use the token.
		_, _, err = s.DescribeInstanceTypes(ctx, bob, cloud.DescribeInstanceTypesInput{Page: cloud.Page{MaxResults: ptr.To[int32](5), NextToken: next}})
		expectCode(t, err, query.CodeInvalidParameterValue)
		in.NextToken = next
	}
	if len(paged) != len(all) {
		t.Fatalf("paging gave %d types, one call %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].Name != all[i].Name {
			t.Fatalf("type %d: %s paged, %s at once", i, paged[i].Name, all[i].Name)
		}
	}
	two, _, err := s.DescribeInstanceTypes(ctx, alice, cloud.DescribeInstanceTypesInput{
		Filters: []query.Filter{{Name: "vcpu-info.default-vcpus", Values: []string{"2"}}, {Name: "memory-info.size-in-mib", Values: []string{"256"}}}})
	if err != nil || len(two) != 1 || two[0].Name != "svc.size2" {
		t.Fatalf("filtered %+v %v", two, err)
	}
	_, _, err = s.DescribeInstanceTypes(ctx, alice, cloud.DescribeInstanceTypesInput{Names: []string{"svc.nosuch"}})
	expectCode(t, err, cloud.CodeInvalidParameter)
	_, _, err = s.DescribeInstanceTypes(ctx, alice, cloud.DescribeInstanceTypesInput{Page: cloud.Page{MaxResults: ptr.To[int32](1000)}})
	expectCode(t, err, cloud.CodeInvalidParameter)
	_, _, err = s.DescribeInstanceTypes(ctx, stranger, cloud.DescribeInstanceTypesInput{})
	expectCode(t, err, cloud.CodeUnauthorized)
}
