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

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Instance metadata options: how the node's metadata service answers an instance (IMDSv2 tokens
// required or not, the service on or off, the hop limit of a token's answer), set at launch or
// later with ModifyInstanceMetadataOptions, and shown by DescribeInstances.

// MetadataOptionsInput is EC2's InstanceMetadataOptionsRequest; what is not given is left as is
// (at launch: EC2's defaults).
type MetadataOptionsInput struct {
	HTTPTokens, HTTPEndpoint string
	HTTPPutResponseHopLimit  *int32
	// HTTPProtocolIPv6 and InstanceMetadataTags are taken only as "disabled": the service has
	// no IPv6 address and serves no tags.
	HTTPProtocolIPv6, InstanceMetadataTags string
}

// MetadataOptions is EC2's InstanceMetadataOptionsResponse.
type MetadataOptions struct {
	// State is "applied" (DescribeInstances: the spec the node's agent follows) or "pending"
	// (ModifyInstanceMetadataOptions' answer: written, the agent not yet acting on it).
	State                                  string
	HTTPTokens, HTTPEndpoint               string
	HTTPPutResponseHopLimit                int32
	HTTPProtocolIPv6, InstanceMetadataTags string
}

// metadataOptionsOf renders an instance's options with EC2's defaults filled in.
func metadataOptionsOf(inst *cloudv1.Instance, state string) *MetadataOptions {
	o := inst.EffectiveMetadataOptions()
	return &MetadataOptions{State: state, HTTPTokens: o.HTTPTokens, HTTPEndpoint: o.HTTPEndpoint,
		HTTPPutResponseHopLimit: o.HTTPPutResponseHopLimit, HTTPProtocolIPv6: "disabled", InstanceMetadataTags: "disabled"}
}

// applyMetadataOptions checks in and writes what it gives into opts.
func applyMetadataOptions(opts **cloudv1.MetadataOptions, in *MetadataOptionsInput) error {
	switch in.HTTPTokens {
	case "", cloudv1.MetadataTokensOptional, cloudv1.MetadataTokensRequired:
	default:
		return InvalidParam("Value (%s) for parameter HttpTokens is invalid. Valid values: optional, required.", in.HTTPTokens)
	}
	switch in.HTTPEndpoint {
	case "", cloudv1.MetadataEndpointEnabled, cloudv1.MetadataEndpointDisabled:
	default:
		return InvalidParam("Value (%s) for parameter HttpEndpoint is invalid. Valid values: enabled, disabled.", in.HTTPEndpoint)
	}
	if h := in.HTTPPutResponseHopLimit; h != nil && (*h < 1 || *h > 64) {
		return InvalidParam("Value (%d) for parameter HttpPutResponseHopLimit is invalid. Expected an integer from 1 to 64.", *h)
	}
	switch in.HTTPProtocolIPv6 {
	case "", "disabled":
	case "enabled":
		return InvalidParam("The metadata service has no IPv6 endpoint: HttpProtocolIpv6 can only be disabled.")
	default:
		return InvalidParam("Value (%s) for parameter HttpProtocolIpv6 is invalid. Valid values: enabled, disabled.", in.HTTPProtocolIPv6)
	}
	switch in.InstanceMetadataTags {
	case "", "disabled":
	case "enabled":
		return InvalidParam("The metadata service does not serve tags: InstanceMetadataTags can only be disabled.")
	default:
		return InvalidParam("Value (%s) for parameter InstanceMetadataTags is invalid. Valid values: enabled, disabled.", in.InstanceMetadataTags)
	}
	if in.HTTPTokens == "" && in.HTTPEndpoint == "" && in.HTTPPutResponseHopLimit == nil {
		return nil
	}
	if *opts == nil {
		*opts = &cloudv1.MetadataOptions{}
	}
	o := *opts
	if in.HTTPTokens != "" {
		o.HTTPTokens = in.HTTPTokens
	}
	if in.HTTPEndpoint != "" {
		o.HTTPEndpoint = in.HTTPEndpoint
	}
	if in.HTTPPutResponseHopLimit != nil {
		o.HTTPPutResponseHopLimit = *in.HTTPPutResponseHopLimit
	}
	return nil
}

// ModifyInstanceMetadataOptionsInput names the instance and the options to change.
type ModifyInstanceMetadataOptionsInput struct {
	InstanceID string
	MetadataOptionsInput
	DryRun bool
}

// ModifyInstanceMetadataOptions changes how the metadata service answers an instance, running or
// not; the node's agent follows at once. A terminated instance's are not changed.
func (s *Service) ModifyInstanceMetadataOptions(ctx context.Context, c Caller, in ModifyInstanceMetadataOptionsInput) (string, *MetadataOptions, error) {
	inst, err := resolveOne(ctx, s, c, instanceKind, "update", in.InstanceID, in.DryRun)
	if err != nil {
		return "", nil, err
	}
	id := InstanceID(inst)
	err = s.ChangeLatest(ctx, inst, func() error {
		if inst.Terminating() {
			return BadRequest(CodeIncorrectState, "The instance '%s' is not in a state from which its metadata options can be changed.", id)
		}
		return applyMetadataOptions(&inst.Spec.MetadataOptions, &in.MetadataOptionsInput)
	})
	if err != nil {
		return "", nil, instanceKind.writeError(err, id)
	}
	s.AwaitCache(ctx, inst)
	return id, metadataOptionsOf(inst, "pending"), nil
}
