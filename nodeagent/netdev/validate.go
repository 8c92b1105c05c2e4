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

package netdev

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Validate checks a desired state on its own, without looking at the node. Converge calls it
// before changing anything.
func (d Desired) Validate() error {
	var errs []error
	maxID := int32(MaxVXLANSegment)
	switch d.Mode {
	case ModeVXLAN:
		errs = append(errs, validateUnderlayIP(d.UnderlayIP))
	case ModeVLAN:
		maxID = MaxVLANSegment
	default:
		errs = append(errs, fmt.Errorf("mode %q is neither %q nor %q", d.Mode, ModeVXLAN, ModeVLAN))
	}
	if err := validateIfName(d.Underlay); err != nil {
		errs = append(errs, fmt.Errorf("underlay: %w", err))
	} else if reservedName(d.Underlay) {
		errs = append(errs, fmt.Errorf("underlay %q has the form of a PiNet device name", d.Underlay))
	}
	segments := map[int32]bool{}
	var subnets []netip.Prefix
	for i, s := range d.Segments {
		if segments[s.ID] {
			errs = append(errs, fmt.Errorf("segment %d is listed twice", s.ID))
			continue
		}
		segments[s.ID] = true
		subnet, err := validateSegment(s, maxID, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("segment %d (index %d): %w", s.ID, i, err))
			continue
		}
		for _, other := range subnets {
			if other.Overlaps(subnet) {
				errs = append(errs, fmt.Errorf("segment %d: subnet %s overlaps %s", s.ID, subnet, other))
			}
		}
		subnets = append(subnets, subnet)
	}
	errs = append(errs, validatePorts(d, segments)...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid desired network state: %w", err)
	}
	return nil
}

func validateUnderlayIP(ip net.IP) error {
	if ip == nil {
		return errors.New("underlay IP is required in vxlan mode")
	}
	if ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("underlay IP %s is not a unicast address", ip)
	}
	return nil
}

// validateSegment checks one segment and returns its subnet.
func validateSegment(s Segment, maxID int32, d Desired) (netip.Prefix, error) {
	if s.ID < 1 || s.ID > maxID {
		return netip.Prefix{}, fmt.Errorf("id out of range 1..%d for %s mode", maxID, d.Mode)
	}
	gw, err := netip.ParsePrefix(s.GatewayCIDR)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("gateway %q is not an address/prefix-length: %w", s.GatewayCIDR, err)
	}
	subnet := gw.Masked()
	if gw.Addr().Is4() && gw.Bits() < 31 && gw.Addr() == subnet.Addr() {
		return netip.Prefix{}, fmt.Errorf("gateway %q is its subnet's network address", s.GatewayCIDR)
	}
	if !gw.Addr().IsGlobalUnicast() {
		return netip.Prefix{}, fmt.Errorf("gateway %q is not a unicast address", s.GatewayCIDR)
	}
	if d.Mode != ModeVXLAN {
		return subnet, nil
	}
	seen := map[string]bool{}
	for _, p := range s.Peers {
		switch {
		case p == nil || p.IsUnspecified() || p.IsMulticast():
			return netip.Prefix{}, fmt.Errorf("peer %q is not a unicast address", p)
		case (p.To4() == nil) != (d.UnderlayIP.To4() == nil):
			return netip.Prefix{}, fmt.Errorf("peer %s is not of the underlay IP's family", p)
		case p.Equal(d.UnderlayIP):
			return netip.Prefix{}, fmt.Errorf("peer %s is this node's own underlay IP", p)
		case seen[p.String()]:
			return netip.Prefix{}, fmt.Errorf("peer %s is listed twice", p)
		}
		seen[p.String()] = true
	}
	return subnet, nil
}

func validatePorts(d Desired, segments map[int32]bool) []error {
	var errs []error
	names := map[string]bool{}
	for _, p := range d.Ports {
		switch err := validateIfName(p.Name); {
		case err != nil:
			errs = append(errs, fmt.Errorf("port: %w", err))
		case reservedName(p.Name):
			errs = append(errs, fmt.Errorf("port %q has the form of a PiNet device name", p.Name))
		case p.Name == d.Underlay:
			errs = append(errs, fmt.Errorf("port %q is the underlay", p.Name))
		case names[p.Name]:
			errs = append(errs, fmt.Errorf("port %q is listed twice", p.Name))
		case !segments[p.Segment]:
			errs = append(errs, fmt.Errorf("port %q: segment %d is not a desired segment", p.Name, p.Segment))
		}
		names[p.Name] = true
	}
	return errs
}

// validateIfName checks that Linux would accept name as an interface name.
func validateIfName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) > ifNameSize:
		return fmt.Errorf("interface name %q is longer than %d bytes", name, ifNameSize)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	case strings.ContainsAny(name, "/: \t\n\x00"):
		return fmt.Errorf("interface name %q contains '/', ':' or whitespace", name)
	}
	return nil
}
