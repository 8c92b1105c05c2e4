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

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// Elastic IPs: the wire side of the cloud service's address operations.

func (s *Server) addressRoutes() map[string]action {
	return map[string]action{
		"AllocateAddress":     s.allocateAddress,
		"ReleaseAddress":      s.releaseAddress,
		"AssociateAddress":    s.associateAddress,
		"DisassociateAddress": s.disassociateAddress,
		"DescribeAddresses":   s.describeAddresses,
	}
}

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

func (s *Server) allocateAddress(ctx context.Context, c *call) (any, error) {
	var in allocateAddressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	a, err := s.svc.AllocateAddress(ctx, c.caller(), cloud.AllocateAddressInput{Domain: in.Domain,
		NetworkBorderGroup: in.NetworkBorderGroup, Pool: in.PublicIPv4Pool,
		TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &allocateAddressOutput{PublicIP: a.PublicIP, AllocationID: a.AllocationID,
		PublicIPv4Pool: a.Pool, NetworkBorderGroup: a.NetworkBorderGroup, Domain: a.Domain}, nil
}

type releaseAddressInput struct {
	AllocationID string `ec2:"AllocationId"`
	PublicIP     string `ec2:"PublicIp"`
	// NetworkBorderGroup is accepted and ignored: the cloud has one.
	NetworkBorderGroup string `ec2:"NetworkBorderGroup"`
	DryRun             bool   `ec2:"DryRun"`
}

func (s *Server) releaseAddress(ctx context.Context, c *call) (any, error) {
	var in releaseAddressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	err := s.svc.ReleaseAddress(ctx, c.caller(), cloud.ReleaseAddressInput{AllocationID: in.AllocationID,
		PublicIP: in.PublicIP, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
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

func (s *Server) associateAddress(ctx context.Context, c *call) (any, error) {
	var in associateAddressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	id, err := s.svc.AssociateAddress(ctx, c.caller(), cloud.AssociateAddressInput{AllocationID: in.AllocationID,
		PublicIP: in.PublicIP, InstanceID: in.InstanceID, AllowReassociation: in.AllowReassociation, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &associateAddressOutput{AssociationID: id}, nil
}

type disassociateAddressInput struct {
	AssociationID string `ec2:"AssociationId"`
	PublicIP      string `ec2:"PublicIp"`
	DryRun        bool   `ec2:"DryRun"`
}

func (s *Server) disassociateAddress(ctx context.Context, c *call) (any, error) {
	var in disassociateAddressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	err := s.svc.DisassociateAddress(ctx, c.caller(), cloud.DisassociateAddressInput{AssociationID: in.AssociationID,
		PublicIP: in.PublicIP, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

type describeAddressesInput struct {
	PublicIPs     []string       `ec2:"PublicIp,list"`
	AllocationIDs []string       `ec2:"AllocationId,list"`
	Filters       []query.Filter `ec2:"Filter,list"`
	DryRun        bool           `ec2:"DryRun"`
}

type describeAddressesOutput struct {
	Addresses query.List[addressItem] `xml:"addressesSet"`
}

func (s *Server) describeAddresses(ctx context.Context, c *call) (any, error) {
	var in describeAddressesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	addrs, err := s.svc.DescribeAddresses(ctx, c.caller(), cloud.DescribeAddressesInput{PublicIPs: in.PublicIPs,
		AllocationIDs: in.AllocationIDs, Filters: in.Filters, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	out := &describeAddressesOutput{Addresses: query.NewList[addressItem]()}
	for _, a := range addrs {
		out.Addresses.Items = append(out.Addresses.Items, addressItem{PublicIP: a.PublicIP, AllocationID: a.AllocationID,
			Domain: a.Domain, InstanceID: a.InstanceID, AssociationID: a.AssociationID, PrivateIPAddress: a.PrivateIP,
			NetworkBorderGroup: a.NetworkBorderGroup, PublicIPv4Pool: a.Pool, TagSet: tagList(a.Tags)})
	}
	return out, nil
}
