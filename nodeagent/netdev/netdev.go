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

// Package netdev converges a node's tenant network devices to a desired state. Each segment (a
// project's L2 domain) is a bridge holding the segment's gateway address, joined to the other
// nodes either by a VXLAN device (VNI = segment id, head-end replication to every peer) or by an
// 802.1Q VLAN sub-interface of the underlay (id = segment id). Guest ports (libvirt's taps) are
// enslaved to their segment's bridge.
//
// The package owns only the devices whose names it makes (pbr<id>, pvx<id>, pvl<id>) or whose
// alias starts with "pinet:segment:"; everything else on the host is left alone, except that desired
// ports are enslaved to their bridge (and given its MTU) and foreign members of a PiNet bridge
// are released from it.
package netdev

import (
	"net"
	"strconv"
	"strings"
)

// Mode says how a segment's bridge reaches the other nodes.
type Mode string

const (
	// ModeVXLAN joins a segment's bridges over any L3 underlay with a VXLAN device per segment.
	ModeVXLAN Mode = "vxlan"
	// ModeVLAN joins a segment's bridges with an 802.1Q sub-interface of the underlay per segment.
	ModeVLAN Mode = "vlan"
)

// VXLANPort is the UDP destination port of every VXLAN device (the IANA port).
const VXLANPort = 4789

// Segment id limits per mode.
const (
	MaxVXLANSegment = 1<<24 - 1
	MaxVLANSegment  = 4094
)

const (
	bridgePrefix = "pbr"
	vxlanPrefix  = "pvx"
	vlanPrefix   = "pvl"
	// aliasPrefix marks a device as a PiNet segment's: its alias is aliasPrefix + "<id>". The
	// kernel ignores an alias given at creation, so a device can be left without one by a crash;
	// its reserved name still marks it.
	aliasPrefix = "pinet:segment:"
	// ifNameSize is the longest interface name Linux accepts (IFNAMSIZ without the NUL).
	ifNameSize = 15
)

// Desired is the complete network device state of one node.
type Desired struct {
	// Mode is ModeVXLAN or ModeVLAN.
	Mode Mode
	// Underlay is the name of the interface that carries the segments between nodes.
	Underlay string
	// UnderlayIP is this node's address on the underlay; the VXLAN devices send from it.
	// Required in VXLAN mode, ignored in VLAN mode.
	UnderlayIP net.IP
	// Segments are the segments this node serves; every other PiNet segment device is removed.
	Segments []Segment
	// Ports are the guest-facing interfaces (taps or veths) to put on their segment's bridge.
	Ports []Port
}

// Segment is one tenant L2 domain on this node.
type Segment struct {
	// ID is the VNI (VXLAN mode, 1..MaxVXLANSegment) or 802.1Q id (VLAN mode, 1..MaxVLANSegment).
	ID int32
	// GatewayCIDR is the address the node's bridge holds in the segment's subnet, e.g. "10.128.5.1/24".
	GatewayCIDR string
	// Peers are the underlay addresses of the other nodes serving the segment: broadcast, unknown
	// unicast and multicast frames are replicated to each of them (VXLAN mode only; ignored in
	// VLAN mode, where the switch does that).
	Peers []net.IP
}

// Port is a guest interface created by someone else (libvirt's tap, a veth in tests).
type Port struct {
	// Name is the interface name on the node.
	Name string
	// Segment is the ID of the segment whose bridge the port joins; it must be in Desired.Segments.
	Segment int32
}

// Change is one modification Converge made.
type Change struct {
	// Device is the interface changed.
	Device string
	// Action says what was done, e.g. "create", "delete", "set mtu 1450", "append peer 192.0.2.2".
	Action string
}

func (c Change) String() string { return c.Device + ": " + c.Action }

// Result reports what a Converge did and what it could not do yet.
type Result struct {
	// Changes lists every modification in the order made; empty when the node already matched.
	Changes []Change
	// MissingPorts are desired ports with no device on the node (yet): a normal wait, not an error.
	MissingPorts []string
	// MTU is the MTU of every segment's bridge and ports; guests should use it (DHCP option 26).
	MTU int
}

// BridgeName is the name of a segment's bridge, e.g. "pbr101"; guests' taps are attached to it.
func BridgeName(segment int32) string { return bridgePrefix + strconv.FormatInt(int64(segment), 10) }

func vxlanName(segment int32) string { return vxlanPrefix + strconv.FormatInt(int64(segment), 10) }

func vlanName(segment int32) string { return vlanPrefix + strconv.FormatInt(int64(segment), 10) }

func segmentAlias(segment int32) string {
	return aliasPrefix + strconv.FormatInt(int64(segment), 10)
}

// gatewayMAC is the bridge's fixed, locally administered MAC: 02:70:6e ("pn") and the segment id.
// Every node uses the same gateway address and MAC for a segment (an anycast gateway), so a guest's
// ARP entry for its gateway stays right whichever node answers and whatever ports come and go.
func gatewayMAC(segment int32) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x70, 0x6e, byte(segment >> 16), byte(segment >> 8), byte(segment)}
}

// reservedName reports whether name has the form of a PiNet segment device (pbr|pvx|pvl + digits).
func reservedName(name string) bool {
	for _, prefix := range []string{bridgePrefix, vxlanPrefix, vlanPrefix} {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || rest == "" {
			continue
		}
		if strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}

// ownedDevice reports whether a device with this name and alias belongs to PiNet.
func ownedDevice(name, alias string) bool {
	return reservedName(name) || strings.HasPrefix(alias, aliasPrefix)
}
