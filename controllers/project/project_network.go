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

package project

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ipam"
)

// Network is where projects' segments and subnets come from.
type Network struct {
	Allocator *ipam.Allocator
	Segments  ipam.Range
	Subnets   ipam.Subnets
}

// reconcileNetwork gives the project a segment id and a subnet, each claimed exclusively
// (internal/ipam). The project holds both or neither: when one is exhausted, the other is given
// back, the status stays empty and NetworkAllocated says which ran out; the project is tried again
// when another project goes. The claims are found by the project's UID, so a crash between
// claiming and writing the status claims nothing twice.
func (r *Reconciler) reconcileNetwork(ctx context.Context, s *scope) error {
	p := s.project
	if p.Status.SegmentID != 0 && p.Status.Subnet != "" {
		s.netReason = cloudv1.ReasonNetworkAllocated
		return nil
	}
	holder := string(p.UID)
	al := r.Network.Allocator
	seg, err := al.AllocateSegment(ctx, r.Network.Segments, holder)
	if errors.Is(err, ipam.ErrExhausted) {
		s.netReason, s.netMessage = cloudv1.ReasonSegmentsExhausted,
			fmt.Sprintf("Every segment id of %s is held by another project", r.Network.Segments)
		return r.giveBack(ctx, s, ipam.SubnetsLabel)
	}
	if err != nil {
		return fmt.Errorf("claiming a segment for %s: %w", p.Name, err)
	}
	subnet, err := al.AllocateSubnet(ctx, r.Network.Subnets, holder)
	if errors.Is(err, ipam.ErrExhausted) {
		s.netReason, s.netMessage = cloudv1.ReasonSubnetsExhausted,
			fmt.Sprintf("Every /%d subnet of %s is held by another project", r.Network.Subnets.Bits, r.Network.Subnets.Supernet)
		return r.giveBack(ctx, s, ipam.SegmentsLabel)
	}
	if err != nil {
		return fmt.Errorf("claiming a subnet for %s: %w", p.Name, err)
	}
	log.FromContext(ctx).Info("Allocated the project's network", "segment", seg, "subnet", subnet)
	p.Status.SegmentID, p.Status.Subnet = seg, subnet.String()
	s.netReason = cloudv1.ReasonNetworkAllocated
	s.netAllocated = true
	return nil
}

// giveBack releases what the project claimed of the other half of its network.
func (r *Reconciler) giveBack(ctx context.Context, s *scope, label string) error {
	if err := r.Network.Allocator.Release(ctx, label, string(s.project.UID)); err != nil {
		return fmt.Errorf("releasing the network of %s: %w", s.project.Name, err)
	}
	return nil
}

// releaseNetwork gives the project's segment and subnet back once nothing of the project is left.
// The addresses of its subnet go first, so none can outlive the subnet into another project.
func (r *Reconciler) releaseNetwork(ctx context.Context, s *scope) error {
	p := s.project
	al := r.Network.Allocator
	holder := string(p.UID)
	subnets, err := al.Held(ctx, ipam.SubnetsLabel, holder)
	if err != nil {
		return err
	}
	for _, v := range subnets {
		subnet, err := netip.ParsePrefix(v)
		if err != nil {
			continue
		}
		if err := al.Purge(ctx, ipam.HostSet(subnet).Name); err != nil {
			return fmt.Errorf("releasing the addresses of %s: %w", subnet, err)
		}
	}
	for _, label := range []string{ipam.SubnetsLabel, ipam.SegmentsLabel} {
		if err := al.Release(ctx, label, holder); err != nil {
			return fmt.Errorf("releasing the network of %s: %w", p.Name, err)
		}
	}
	if len(subnets) > 0 {
		log.FromContext(ctx).Info("Released the project's network", "subnet", subnets[0])
	}
	return nil
}
