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

package ec2shim

import (
	"context"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// routes maps every action the API serves to its handler. An action is its input shape decoded
// from the request (handle), one call of the cloud service, and its output shape.
func (s *Server) routes() map[string]action {
	all := map[string]action{
		// Key pairs
		"CreateKeyPair":    handle(s.createKeyPair),
		"ImportKeyPair":    handle(s.importKeyPair),
		"DeleteKeyPair":    handle(s.deleteKeyPair),
		"DescribeKeyPairs": handle(s.describeKeyPairs),
		// Images
		"RegisterImage":                        handle(s.registerImage),
		"CreateImage":                          handle(s.createImage),
		"CopyImage":                            handle(s.copyImage),
		"DeregisterImage":                      handle(s.deregisterImage),
		"DescribeImages":                       handle(s.describeImages),
		"DescribeImageAttribute":               handle(s.describeImageAttribute),
		"ModifyImageAttribute":                 handle(s.modifyImageAttribute),
		"ResetImageAttribute":                  handle(s.resetImageAttribute),
		"EnableImageDeregistrationProtection":  handle(s.enableImageProtection),
		"DisableImageDeregistrationProtection": handle(s.disableImageProtection),
		// Volumes
		"CreateVolume":                 handle(s.createVolume),
		"DeleteVolume":                 handle(s.deleteVolume),
		"DescribeVolumes":              handle(s.describeVolumes),
		"DescribeVolumeStatus":         handle(s.describeVolumeStatus),
		"ModifyVolume":                 handle(s.modifyVolume),
		"DescribeVolumesModifications": handle(s.describeVolumesModifications),
		"AttachVolume":                 handle(s.attachVolume),
		"DetachVolume":                 handle(s.detachVolume),
		// Snapshots
		"CreateSnapshot":            handle(s.createSnapshot),
		"CopySnapshot":              handle(s.copySnapshot),
		"DeleteSnapshot":            handle(s.deleteSnapshot),
		"DescribeSnapshots":         handle(s.describeSnapshots),
		"DescribeSnapshotAttribute": handle(s.describeSnapshotAttribute),
		"ModifySnapshotAttribute":   handle(s.modifySnapshotAttribute),
		"ResetSnapshotAttribute":    handle(s.resetSnapshotAttribute),
		// Elastic IPs
		"AllocateAddress":     handle(s.allocateAddress),
		"ReleaseAddress":      handle(s.releaseAddress),
		"AssociateAddress":    handle(s.associateAddress),
		"DisassociateAddress": handle(s.disassociateAddress),
		"DescribeAddresses":   handle(s.describeAddresses),
		// Security groups
		"CreateSecurityGroup":           handle(s.createSecurityGroup),
		"DeleteSecurityGroup":           handle(s.deleteSecurityGroup),
		"AuthorizeSecurityGroupIngress": handle(s.authorizeIngress),
		"RevokeSecurityGroupIngress":    handle(s.revokeIngress),
		"DescribeSecurityGroups":        handle(s.describeSecurityGroups),
		"DescribeSecurityGroupRules":    handle(s.describeSecurityGroupRules),
		// Tags
		"CreateTags":   handle(s.createTags),
		"DeleteTags":   handle(s.deleteTags),
		"DescribeTags": handle(s.describeTags),
		// Instance types, regions, zones and the account
		"DescribeInstanceTypes":     handle(s.describeInstanceTypes),
		"DescribeRegions":           handle(s.describeRegions),
		"DescribeAvailabilityZones": handle(s.describeAvailabilityZones),
		"DescribeAccountAttributes": handle(s.describeAccountAttributes),
		// Instances
		"RunInstances":                  handle(s.runInstances),
		"DescribeInstances":             handle(s.describeInstances),
		"TerminateInstances":            changeState(s.svc.TerminateInstances),
		"StopInstances":                 changeState(s.svc.StopInstances),
		"StartInstances":                changeState(s.svc.StartInstances),
		"RebootInstances":               handle(s.rebootInstances),
		"GetConsoleOutput":              handle(s.getConsoleOutput),
		"DescribeInstanceStatus":        handle(s.describeInstanceStatus),
		"DescribeInstanceAttribute":     handle(s.describeInstanceAttribute),
		"ModifyInstanceAttribute":       handle(s.modifyInstanceAttribute),
		"ModifyInstanceMetadataOptions": handle(s.modifyInstanceMetadataOptions),
	}
	return all
}

// describeInput is what every Describe takes besides the ids or names it asks for.
type describeInput struct {
	Filters []query.Filter `ec2:"Filter,list"`
	DryRun  bool           `ec2:"DryRun"`
}

// pagedDescribeInput is the describeInput of a Describe that answers in pages.
type pagedDescribeInput struct {
	describeInput
	query.Paging
}

// handle makes an action of a handler that takes its input shape (a struct with ec2 tags)
// decoded from the request, and the caller as the cloud service knows it.
func handle[In any](h func(ctx context.Context, who cloud.Caller, in *In) (any, error)) action {
	return func(ctx context.Context, c *call) (any, error) {
		in := new(In)
		if err := c.decode(in); err != nil {
			return nil, err
		}
		return h(ctx, c.caller(), in)
	}
}

// done answers an action whose only output is its success: <return>true</return>.
func done(err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

// encoded answers an action with the service's result as encode renders it:
// encoded(toX)(s.svc.Op(...)).
func encoded[T, O any](encode func(T) O) func(T, error) (any, error) {
	return func(v T, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		return encode(v), nil
	}
}

// listOf renders items as an EC2 list, each by item. An empty list still prints its set element.
func listOf[T, O any](items []T, item func(T) O) query.List[O] {
	l := query.NewList[O]()
	for _, v := range items {
		l.Items = append(l.Items, item(v))
	}
	return l
}

// encodedPage is encoded for a paged Describe, whose result is a page of items and the token of
// the next page.
func encodedPage[T, O any](encode func(items []T, next string) O) func([]T, string, error) (any, error) {
	return func(items []T, next string, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		return encode(items, next), nil
	}
}

// page is the page a Describe's input asks for.
func page(p query.Paging) cloud.Page {
	return cloud.Page{MaxResults: p.MaxResults, NextToken: p.NextToken}
}

// byPointer is encode for a result the service returns by pointer.
func byPointer[T, O any](encode func(T) O) func(*T) O {
	return func(v *T) O { return encode(*v) }
}
