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

// Elastic IPs: the wire side of the cloud service's address operations.

// addressItem is EC2's Address.
type addressItem struct {
	PublicIP           string               `xml:"publicIp"`
	AllocationID       string               `xml:"allocationId"`
	Domain             string               `xml:"domain"`
	InstanceID         string               `xml:"instanceId,omitempty"`
	AssociationID      string               `xml:"associationId,omitempty"`
	PrivateIPAddress   string               `xml:"privateIpAddress,omitempty"`
	NetworkBorderGroup string               `xml:"networkBorderGroup"`
	PublicIPv4Pool     string               `xml:"publicIpv4Pool,omitempty"`
	TagSet             *query.List[tagItem] `xml:"tagSet,omitempty"`
}

func toAddressItem(a cloud.Address) addressItem {
	return addressItem{PublicIP: a.PublicIP, AllocationID: a.AllocationID, Domain: a.Domain, InstanceID: a.InstanceID,
		AssociationID: a.AssociationID, PrivateIPAddress: a.PrivateIP, NetworkBorderGroup: a.NetworkBorderGroup,
		PublicIPv4Pool: a.Pool, TagSet: tagList(a.Tags)}
}

type allocateAddressInput struct {
	Domain             string             `ec2:"Domain"`
	PublicIPv4Pool     string             `ec2:"PublicIpv4Pool"`
	NetworkBorderGroup string             `ec2:"NetworkBorderGroup"`
	TagSpecifications  []tagSpecification `ec2:"TagSpecification,list"`
	DryRun             bool               `ec2:"DryRun"`
}

type allocateAddressOutput struct {
	PublicIP           string `xml:"publicIp"`
	AllocationID       string `xml:"allocationId"`
	PublicIPv4Pool     string `xml:"publicIpv4Pool"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
	Domain             string `xml:"domain"`
}

func toAllocateAddressOutput(a *cloud.Address) *allocateAddressOutput {
	return &allocateAddressOutput{PublicIP: a.PublicIP, AllocationID: a.AllocationID, PublicIPv4Pool: a.Pool,
		NetworkBorderGroup: a.NetworkBorderGroup, Domain: a.Domain}
}

func (s *Server) allocateAddress(ctx context.Context, who cloud.Caller, in *allocateAddressInput) (any, error) {
	return encoded(toAllocateAddressOutput)(s.svc.AllocateAddress(ctx, who, cloud.AllocateAddressInput{
		Domain: in.Domain, NetworkBorderGroup: in.NetworkBorderGroup, Pool: in.PublicIPv4Pool,
		TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun}))
}

type releaseAddressInput struct {
	AllocationID string `ec2:"AllocationId"`
	PublicIP     string `ec2:"PublicIp"`
	// NetworkBorderGroup is accepted and ignored: the cloud has one.
	NetworkBorderGroup string `ec2:"NetworkBorderGroup"`
	DryRun             bool   `ec2:"DryRun"`
}

func (s *Server) releaseAddress(ctx context.Context, who cloud.Caller, in *releaseAddressInput) (any, error) {
	return done(s.svc.ReleaseAddress(ctx, who, cloud.ReleaseAddressInput{AllocationID: in.AllocationID,
		PublicIP: in.PublicIP, DryRun: in.DryRun}))
}

type associateAddressInput struct {
	AllocationID       string `ec2:"AllocationId"`
	PublicIP           string `ec2:"PublicIp"`
	InstanceID         string `ec2:"InstanceId"`
	AllowReassociation bool   `ec2:"AllowReassociation"`
	DryRun             bool   `ec2:"DryRun"`
}

type associateAddressOutput struct {
	AssociationID string `xml:"associationId"`
}

func toAssociateAddressOutput(id string) *associateAddressOutput {
	return &associateAddressOutput{AssociationID: id}
}

func (s *Server) associateAddress(ctx context.Context, who cloud.Caller, in *associateAddressInput) (any, error) {
	return encoded(toAssociateAddressOutput)(s.svc.AssociateAddress(ctx, who, cloud.AssociateAddressInput{
		AllocationID: in.AllocationID, PublicIP: in.PublicIP, InstanceID: in.InstanceID,
		AllowReassociation: in.AllowReassociation, DryRun: in.DryRun}))
}

type disassociateAddressInput struct {
	AssociationID string `ec2:"AssociationId"`
	PublicIP      string `ec2:"PublicIp"`
	DryRun        bool   `ec2:"DryRun"`
}

func (s *Server) disassociateAddress(ctx context.Context, who cloud.Caller, in *disassociateAddressInput) (any, error) {
	return done(s.svc.DisassociateAddress(ctx, who, cloud.DisassociateAddressInput{AssociationID: in.AssociationID,
		PublicIP: in.PublicIP, DryRun: in.DryRun}))
}

type describeAddressesInput struct {
	PublicIPs     []string `ec2:"PublicIp,list"`
	AllocationIDs []string `ec2:"AllocationId,list"`
	describeInput
}

type describeAddressesOutput struct {
	Addresses query.List[addressItem] `xml:"addressesSet"`
}

func toDescribeAddressesOutput(addrs []cloud.Address) *describeAddressesOutput {
	return &describeAddressesOutput{Addresses: listOf(addrs, toAddressItem)}
}

func (s *Server) describeAddresses(ctx context.Context, who cloud.Caller, in *describeAddressesInput) (any, error) {
	return encoded(toDescribeAddressesOutput)(s.svc.DescribeAddresses(ctx, who, cloud.DescribeAddressesInput{
		PublicIPs: in.PublicIPs, AllocationIDs: in.AllocationIDs, Filters: in.Filters, DryRun: in.DryRun}))
}
