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

package ec2shim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// Metadata options are taken at launch, shown by DescribeInstances, changed with
// ModifyInstanceMetadataOptions on a running instance, and land in the Instance's spec, which the
// node's metadata service follows (nodeagent's network test). Bad values are refused with
// nothing changed, another project's instance is not found, a terminated one not changed.
func TestInstanceMetadataOptions(t *testing.T) {
	const project = "imds-opts"
	ctx := context.Background()
	_, _, cl, ami := tenantOnNode(t, project, 2, 4096)
	_, _, other := tenant(t, "imds-opts-other")
	launch := func(opts *types.InstanceMetadataOptionsRequest) (*ec2.RunInstancesOutput, error) {
		// On the project's own node (see runIn).
		return cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: types.InstanceType("m1.tiny"),
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), MetadataOptions: opts,
			Placement: &types.Placement{AvailabilityZone: aws.String(project + "-zone")}})
	}
	shown := func(id string) *types.InstanceMetadataOptionsResponse {
		t.Helper()
		out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Reservations[0].Instances[0].MetadataOptions
	}
	same := func(what string, got *types.InstanceMetadataOptionsResponse, state types.InstanceMetadataOptionsState,
		tokens types.HttpTokensState, endpoint types.InstanceMetadataEndpointState, hops int32) {
		t.Helper()
		if got == nil || got.State != state || got.HttpTokens != tokens || got.HttpEndpoint != endpoint ||
			aws.ToInt32(got.HttpPutResponseHopLimit) != hops || got.HttpProtocolIpv6 != types.InstanceMetadataProtocolStateDisabled ||
			got.InstanceMetadataTags != types.InstanceMetadataTagsStateDisabled {
			t.Fatalf("%s: %+v, want %s tokens %s endpoint %s hops %d", what, got, state, tokens, endpoint, hops)
		}
	}

	// EC2's defaults when none are given.
	plain, err := launch(nil)
	if err != nil {
		t.Fatal(err)
	}
	plainID := aws.ToString(plain.Instances[0].InstanceId)
	same("a launch without options", shown(plainID), types.InstanceMetadataOptionsStateApplied,
		types.HttpTokensStateOptional, types.InstanceMetadataEndpointStateEnabled, 1)

	// Given at launch.
	run, err := launch(&types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	same("RunInstances' answer", run.Instances[0].MetadataOptions, types.InstanceMetadataOptionsStateApplied,
		types.HttpTokensStateRequired, types.InstanceMetadataEndpointStateEnabled, 2)
	inst := instanceByID(t, project, id)
	if o := inst.Spec.MetadataOptions; o == nil || o.HTTPTokens != cloudv1.MetadataTokensRequired || o.HTTPPutResponseHopLimit != 2 {
		t.Fatalf("the instance's spec holds %+v", o)
	}

	// Bad values: refused, nothing launched or changed.
	for _, bad := range []*types.InstanceMetadataOptionsRequest{
		{HttpTokens: "sometimes"},
		{HttpEndpoint: "off"},
		{HttpPutResponseHopLimit: aws.Int32(0)},
		{HttpPutResponseHopLimit: aws.Int32(65)},
		{HttpProtocolIpv6: types.InstanceMetadataProtocolStateEnabled},
		{InstanceMetadataTags: types.InstanceMetadataTagsStateEnabled},
	} {
		if _, err := launch(bad); apiCode(err) != "InvalidParameterValue" {
			t.Errorf("launch with %+v: %v", *bad, err)
		}
		_, err := cl.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(id),
			HttpTokens: bad.HttpTokens, HttpEndpoint: bad.HttpEndpoint, HttpPutResponseHopLimit: bad.HttpPutResponseHopLimit,
			HttpProtocolIpv6: bad.HttpProtocolIpv6, InstanceMetadataTags: bad.InstanceMetadataTags})
		if apiCode(err) != "InvalidParameterValue" {
			t.Errorf("modify with %+v: %v", *bad, err)
		}
	}
	expectLive(t, project, 2)
	same("after refused changes", shown(id), types.InstanceMetadataOptionsStateApplied,
		types.HttpTokensStateRequired, types.InstanceMetadataEndpointStateEnabled, 2)

	// Changed on the running instance; what is not given stays.
	waitState(t, cl, id, types.InstanceStateNameRunning)
	mod, err := cl.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(id),
		HttpEndpoint: types.InstanceMetadataEndpointStateDisabled})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(mod.InstanceId) != id {
		t.Fatalf("modify answered instance %s", aws.ToString(mod.InstanceId))
	}
	same("ModifyInstanceMetadataOptions' answer", mod.InstanceMetadataOptions, types.InstanceMetadataOptionsStatePending,
		types.HttpTokensStateRequired, types.InstanceMetadataEndpointStateDisabled, 2)
	same("after the change", shown(id), types.InstanceMetadataOptionsStateApplied,
		types.HttpTokensStateRequired, types.InstanceMetadataEndpointStateDisabled, 2)
	if state, err := stateOf(ctx, cl, id); err != nil || state != types.InstanceStateNameRunning {
		t.Fatalf("after the change the instance is %s (%v)", state, err)
	}

	// Another project's instance does not exist for the caller; a terminated one is not changed.
	_, err = other.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(id),
		HttpTokens: types.HttpTokensStateOptional})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{plainID}}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(plainID),
		HttpTokens: types.HttpTokensStateRequired})
	expectCode(t, err, "IncorrectInstanceState")
	testenv.Eventually(t, shortWait, "the options of both as they were", func() error {
		for _, want := range []struct {
			id     string
			tokens string
		}{{plainID, ""}, {id, cloudv1.MetadataTokensRequired}} {
			inst := instanceByID(t, project, want.id)
			got := ""
			if inst.Spec.MetadataOptions != nil {
				got = inst.Spec.MetadataOptions.HTTPTokens
			}
			if got != want.tokens {
				return fmt.Errorf("%s: tokens %q", client.ObjectKeyFromObject(inst), got)
			}
		}
		return nil
	})
}
