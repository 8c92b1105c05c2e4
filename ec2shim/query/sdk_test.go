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
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

func newSDKClient(t *testing.T) (*ec2Server, *ec2.Client) {
	s, srv := newEC2Server(t)
	client := ec2.New(ec2.Options{
		Region:       "pinet",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDPINETTEST", "secret", ""),
		HTTPClient:   srv.Client(),
		// The SDK's standard retries stay on: over loopback its transport sometimes closes the
		// connection under a fast answer ("use of closed network connection", aws-sdk-go-v2
		// #2737), which it treats as retryable. Client errors (4xx) are never retried.
		Retryer: retry.AddWithMaxBackoffDelay(retry.NewStandard(), time.Millisecond),
	})
	return s, client
}

// sdkRunInstancesInput asks for exactly what runInstancesQuery encodes.
func sdkRunInstancesInput() *ec2.RunInstancesInput {
	return &ec2.RunInstancesInput{
		ImageId:          aws.String("ami-0123456789abcdef0"),
		MinCount:         aws.Int32(1),
		MaxCount:         aws.Int32(3),
		KeyName:          aws.String("admin-key"),
		UserData:         aws.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))),
		SecurityGroups:   []string{"default", "web"},
		SecurityGroupIds: []string{"sg-0aaaaaaaaaaaaaaa1"},
		Placement:        &types.Placement{AvailabilityZone: aws.String("pinet-a")},
		BlockDeviceMappings: []types.BlockDeviceMapping{
			{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{
				VolumeSize: aws.Int32(20), DeleteOnTermination: aws.Bool(true)}},
			{DeviceName: aws.String("/dev/sdb"), VirtualName: aws.String("ephemeral0")},
		},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{
				{Key: aws.String("Name"), Value: aws.String("web 1")},
				{Key: aws.String("env"), Value: aws.String("prod")},
			}},
			{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{
				{Key: aws.String("backup"), Value: aws.String("")},
			}},
		},
		ClientToken:           aws.String("token-1"),
		InstanceType:          types.InstanceType("m1.small"),
		KernelId:              aws.String("aki-00000001"),
		RamdiskId:             aws.String("ari-00000001"),
		Monitoring:            &types.RunInstancesMonitoringEnabled{Enabled: aws.Bool(false)},
		DisableApiTermination: aws.Bool(true),
		DryRun:                aws.Bool(false),
	}
}

func TestSDKRunInstances(t *testing.T) {
	s, client := newSDKClient(t)
	out, err := client.RunInstances(context.Background(), sdkRunInstancesInput())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.lastRunInstances(), wantRunInstances(); got == nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("the server decoded\n%+v\nwant\n%+v", got, want)
	}

	if aws.ToString(out.ReservationId) != "r-0000000000000000a" || aws.ToString(out.OwnerId) != testOwner {
		t.Errorf("reservation %q owner %q", aws.ToString(out.ReservationId), aws.ToString(out.OwnerId))
	}
	if len(out.Groups) != 2 || aws.ToString(out.Groups[1].GroupName) != "web" {
		t.Errorf("groups %+v", out.Groups)
	}
	if len(out.Instances) != 1 {
		t.Fatalf("%d instances", len(out.Instances))
	}
	inst := out.Instances[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"instance id", aws.ToString(inst.InstanceId), "i-000000000000000a0"},
		{"image id", aws.ToString(inst.ImageId), "ami-0123456789abcdef0"},
		{"state code", aws.ToInt32(inst.State.Code), int32(0)},
		{"state name", inst.State.Name, types.InstanceStateNamePending},
		{"state reason", aws.ToString(inst.StateReason.Code), "pending"},
		{"launch time", aws.ToTime(inst.LaunchTime), testLaunchTime},
		{"launch index", aws.ToInt32(inst.AmiLaunchIndex), int32(0)},
		{"type", inst.InstanceType, types.InstanceType("m1.small")},
		{"key", aws.ToString(inst.KeyName), "admin-key"},
		{"zone", aws.ToString(inst.Placement.AvailabilityZone), "pinet-a"},
		{"kernel", aws.ToString(inst.KernelId), "aki-00000001"},
		{"ramdisk", aws.ToString(inst.RamdiskId), "ari-00000001"},
		{"client token", aws.ToString(inst.ClientToken), "token-1"},
		{"monitoring", inst.Monitoring.State, types.MonitoringStateDisabled},
		{"architecture", inst.Architecture, types.ArchitectureValuesX8664},
		{"ebs optimized", aws.ToBool(inst.EbsOptimized), false},
		{"source/dest check absent", inst.SourceDestCheck, (*bool)(nil)},
		{"tags", inst.Tags, []types.Tag{
			{Key: aws.String("Name"), Value: aws.String("web 1")},
			{Key: aws.String("env"), Value: aws.String("prod")},
		}},
		{"devices", len(inst.BlockDeviceMappings), 1},
		{"device name", aws.ToString(inst.BlockDeviceMappings[0].DeviceName), "/dev/sda1"},
		{"volume", aws.ToString(inst.BlockDeviceMappings[0].Ebs.VolumeId), "vol-00000000000000001"},
		{"volume status", inst.BlockDeviceMappings[0].Ebs.Status, types.AttachmentStatusAttaching},
		{"attach time", aws.ToTime(inst.BlockDeviceMappings[0].Ebs.AttachTime), testLaunchTime},
		{"delete on termination", aws.ToBool(inst.BlockDeviceMappings[0].Ebs.DeleteOnTermination), true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func TestSDKDescribeInstancesPages(t *testing.T) {
	_, client := newSDKClient(t)
	pages := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{
		Filters: []types.Filter{
			{Name: aws.String("instance-state-name"), Values: []string{"running"}},
			{Name: aws.String("tag:Name"), Values: []string{"web-*"}},
		},
		MaxResults: aws.Int32(5),
	})
	var ids []string
	var sizes []int
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Reservations))
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				ids = append(ids, aws.ToString(inst.InstanceId))
			}
		}
	}
	wantIDs := []string{"i-00000000000000001", "i-00000000000000003", "i-00000000000000005",
		"i-00000000000000007", "i-00000000000000009", "i-0000000000000000b"}
	if !reflect.DeepEqual(ids, wantIDs) || !reflect.DeepEqual(sizes, []int{5, 1}) {
		t.Fatalf("got ids %q in pages %v, want %q in pages [5 1]", ids, sizes, wantIDs)
	}
}

func TestSDKDescribeInstancesFields(t *testing.T) {
	_, client := newSDKClient(t)
	out, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{
		InstanceIds: []string{"i-00000000000000003"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.NextToken != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("got %+v", out)
	}
	r := out.Reservations[0]
	inst := r.Instances[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"reservation", aws.ToString(r.ReservationId), "r-00000000000000003"},
		{"owner", aws.ToString(r.OwnerId), testOwner},
		{"instance", aws.ToString(inst.InstanceId), "i-00000000000000003"},
		{"state code", aws.ToInt32(inst.State.Code), int32(16)},
		{"state name", inst.State.Name, types.InstanceStateNameRunning},
		{"launch time", aws.ToTime(inst.LaunchTime), testLaunchTime.Add(3 * time.Minute)},
		{"private ip", aws.ToString(inst.PrivateIpAddress), "10.0.0.3"},
		{"source/dest check", aws.ToBool(inst.SourceDestCheck), true},
		{"group", aws.ToString(inst.SecurityGroups[0].GroupId), "sg-1"},
		{"tags", inst.Tags, []types.Tag{
			{Key: aws.String("Name"), Value: aws.String("web-3")},
			{Key: aws.String("env"), Value: aws.String("prod")},
		}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func TestSDKErrors(t *testing.T) {
	_, client := newSDKClient(t)
	ctx := context.Background()
	noImage := sdkRunInstancesInput()
	noImage.ImageId = nil
	tests := []struct {
		name          string
		call          func() error
		code, message string
	}{
		{"missing parameter", func() error {
			_, err := client.RunInstances(ctx, noImage)
			return err
		}, "MissingParameter", "The request must contain the parameter ImageId"},
		{"handler error", func() error {
			_, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"i-1"}})
			return err
		}, "InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist"},
		{"unknown filter", func() error {
			_, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
				Filters: []types.Filter{{Name: aws.String("foo"), Values: []string{"x"}}}})
			return err
		}, "InvalidParameterValue", "The filter 'foo' is invalid"},
		{"page size", func() error {
			_, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(3)})
			return err
		}, "InvalidParameterValue", "Value (3) for parameter MaxResults is invalid. Expecting a value from 5 to 1000."},
		{"forged token", func() error {
			_, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
				MaxResults: aws.Int32(5), NextToken: aws.String("AQUA" + "AAAAAAAAAAAAAAAAAAAAAA")})
			return err
		}, "InvalidParameterValue", "Invalid value for NextToken"},
		{"unsupported action", func() error {
			_, err := client.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{"i-1"}})
			return err
		}, "InvalidAction", "The action StartInstances is not valid for this web service."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %v (%T), want a smithy.APIError", err, err)
			}
			if apiErr.ErrorCode() != tt.code || apiErr.ErrorMessage() != tt.message {
				t.Fatalf("got %s: %q, want %s: %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), tt.code, tt.message)
			}
			var respErr *awshttp.ResponseError
			if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != 400 || respErr.ServiceRequestID() == "" {
				t.Fatalf("got response error %+v, want HTTP 400 with the request id", respErr)
			}
		})
	}
}

// TestSDKTokenFromAnotherQuery replays a NextToken against a different filter.
func TestSDKTokenFromAnotherQuery(t *testing.T) {
	_, client := newSDKClient(t)
	ctx := context.Background()
	first, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	if err != nil {
		t.Fatal(err)
	}
	if first.NextToken == nil {
		t.Fatal("no NextToken on the first page of twelve")
	}
	_, err = client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
		MaxResults: aws.Int32(5), NextToken: first.NextToken,
		Filters: []types.Filter{{Name: aws.String("instance-type"), Values: []string{"m1.small"}}},
	})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorMessage() != "Invalid value for NextToken" {
		t.Fatalf("got %v", err)
	}
	// The same query with another page size continues.
	next, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
		MaxResults: aws.Int32(6), NextToken: first.NextToken})
	if err != nil || len(next.Reservations) != 6 || aws.ToString(next.Reservations[0].ReservationId) != "r-00000000000000006" {
		t.Fatalf("continuing: %v, %+v", err, next)
	}
}
