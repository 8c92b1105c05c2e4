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

package nodeagent

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/nodeagent/dhcp"
	"pinet.io/pinet/nodeagent/metadata"
	"pinet.io/pinet/nodeagent/netdev"
	"pinet.io/pinet/nodeagent/netfilter"
)

// NetworkMode says whether and how the agent gives guests a network.
type NetworkMode string

const (
	// NetworkNone gives guests no network interface.
	NetworkNone NetworkMode = "none"
	// NetworkVXLAN joins the nodes' segment bridges with VXLAN devices over an L3 underlay.
	NetworkVXLAN NetworkMode = "vxlan"
	// NetworkVLAN joins them with 802.1Q sub-interfaces of the underlay.
	NetworkVLAN NetworkMode = "vlan"
)

// DefaultMetadataPort is where the metadata server listens in the datapath's namespace; guests'
// connections to 169.254.169.254:80 are redirected there.
const DefaultMetadataPort = 8775

// NetworkConfig is how the agent builds the node's tenant datapath.
type NetworkConfig struct {
	// Mode is none (the default), vxlan or vlan.
	Mode NetworkMode
	// DatapathNetNS is the path of the network namespace the datapath (bridges, packet filter,
	// DHCP and metadata servers) lives in; empty is the agent's own.
	DatapathNetNS string
	// LibvirtNetNS is the path of the network namespace libvirtd creates guests' taps in; empty
	// is the agent's own. A tap found there is moved into the datapath's namespace.
	LibvirtNetNS string
	// UnderlayInterface carries segments between nodes; UnderlayIP is the node's address on it
	// (required in vxlan mode), reported in the Hypervisor's status so other nodes learn it.
	UnderlayInterface string
	UnderlayIP        string
	// PublicInterface faces the world: elastic IPs arrive and leave there. Empty: no elastic IPs.
	PublicInterface string
	// MetadataPort is the metadata server's port (0: DefaultMetadataPort).
	MetadataPort int
}

// Enabled reports whether guests get a network.
func (c NetworkConfig) Enabled() bool { return c.Mode != "" && c.Mode != NetworkNone }

// Validate checks the configuration before the agent starts.
func (c NetworkConfig) Validate() error {
	switch c.Mode {
	case "", NetworkNone:
		return nil
	case NetworkVXLAN, NetworkVLAN:
	default:
		return fmt.Errorf("network mode %q: want none, vxlan or vlan", c.Mode)
	}
	if c.UnderlayInterface == "" {
		return fmt.Errorf("network mode %s needs an underlay interface", c.Mode)
	}
	if c.UnderlayIP != "" {
		if a, err := netip.ParseAddr(c.UnderlayIP); err != nil || !a.Is4() {
			return fmt.Errorf("underlay IP %q is not an IPv4 address", c.UnderlayIP)
		}
	} else if c.Mode == NetworkVXLAN {
		return fmt.Errorf("network mode vxlan needs the node's underlay IP")
	}
	if c.MetadataPort < 0 || c.MetadataPort > 65535 {
		return fmt.Errorf("metadata port %d is out of range", c.MetadataPort)
	}
	return nil
}

func (c NetworkConfig) metadataPort() int {
	if c.MetadataPort == 0 {
		return DefaultMetadataPort
	}
	return c.MetadataPort
}

// TapName is the name of an instance's tap on the node: "pt" and 13 hex digits of its id, so the
// datapath can name the port before libvirt makes it.
func TapName(instanceID string) string {
	hex := strings.TrimPrefix(instanceID, "i-")
	if len(hex) > 13 {
		hex = hex[:13]
	}
	return "pt" + hex
}

// guestNet is one guest's network facts, checked.
type guestNet struct {
	inst    *cloudv1.Instance
	tap     string
	mac     net.HardwareAddr
	ip      netip.Addr
	subnet  netip.Prefix
	gateway netip.Addr
	segment int32
	public  netip.Addr
}

// guestNetOf reads an instance's network status; ok is false while it has none (or a broken one).
func guestNetOf(inst *cloudv1.Instance, node string) (guestNet, bool) {
	st := &inst.Status
	if st.Hypervisor != node || st.InstanceID == "" || st.SegmentID == 0 {
		return guestNet{}, false
	}
	g := guestNet{inst: inst, tap: TapName(st.InstanceID), segment: st.SegmentID}
	var err error
	if g.mac, err = net.ParseMAC(st.MACAddress); err != nil {
		return guestNet{}, false
	}
	if g.ip, err = netip.ParseAddr(st.PrivateIPAddress); err != nil {
		return guestNet{}, false
	}
	if g.subnet, err = netip.ParsePrefix(st.Subnet); err != nil {
		return guestNet{}, false
	}
	if g.gateway, err = netip.ParseAddr(st.Gateway); err != nil {
		return guestNet{}, false
	}
	if a, err := netip.ParseAddr(st.PublicIPAddress); err == nil && a.Is4() {
		g.public = a
	}
	return g, true
}

// segmentNet is one segment served on the node.
type segmentNet struct {
	id      int32
	subnet  netip.Prefix
	gateway netip.Addr
	leases  []dhcp.Lease
}

// nodeNet is the node's desired network, computed from its guests and the cloud's facts.
type nodeNet struct {
	devices  netdev.Desired
	segments map[int32]*segmentNet
	guests   []guestNet
}

// planNodeNet derives the devices and DHCP leases from the node's guests; peers are the other
// nodes' underlay addresses. Guests whose segment disagrees with another guest's (subnet or
// gateway) are left out and returned in skipped.
func planNodeNet(cfg NetworkConfig, guests []guestNet, peers []net.IP) (nodeNet, []string) {
	n := nodeNet{segments: map[int32]*segmentNet{}}
	n.devices = netdev.Desired{Mode: netdev.Mode(cfg.Mode), Underlay: cfg.UnderlayInterface}
	if cfg.UnderlayIP != "" {
		n.devices.UnderlayIP = net.ParseIP(cfg.UnderlayIP)
	}
	var skipped []string
	slices.SortFunc(guests, func(a, b guestNet) int { return strings.Compare(a.tap, b.tap) })
	for _, g := range guests {
		seg, ok := n.segments[g.segment]
		if !ok {
			seg = &segmentNet{id: g.segment, subnet: g.subnet.Masked(), gateway: g.gateway}
			n.segments[g.segment] = seg
		} else if seg.subnet != g.subnet.Masked() || seg.gateway != g.gateway {
			skipped = append(skipped, g.inst.Status.InstanceID)
			continue
		}
		host, _, _ := strings.Cut(g.inst.Status.PrivateDNSName, ".")
		if host == "" {
			host = dhcp.Hostname(g.ip)
		}
		seg.leases = append(seg.leases, dhcp.Lease{MAC: g.mac, IP: g.ip, Hostname: host})
		n.guests = append(n.guests, g)
		n.devices.Ports = append(n.devices.Ports, netdev.Port{Name: g.tap, Segment: g.segment})
	}
	ids := make([]int32, 0, len(n.segments))
	for id := range n.segments {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		seg := n.segments[id]
		n.devices.Segments = append(n.devices.Segments, netdev.Segment{
			ID:          id,
			GatewayCIDR: netip.PrefixFrom(seg.gateway, seg.subnet.Bits()).String(),
			Peers:       peers,
		})
	}
	return n, skipped
}

// groupSet resolves security groups for the packet filter: the groups of the node's guests with
// their rules, and the groups those rules admit, with their members.
type groupSet struct {
	byID  map[string]*netfilter.Group
	names map[string]string // sg id -> group name, for the metadata service
}

// ruleOf turns an API rule into the packet filter's, with its source groups resolved to ids.
func ruleOf(r cloudv1.IngressRule, sourceIDs []string) netfilter.Rule {
	out := netfilter.Rule{Protocol: netfilter.Protocol(r.Protocol), CIDRs: r.CIDRIPs, SourceGroupIDs: sourceIDs}
	if r.FromPort != nil {
		out.FromPort = *r.FromPort
	}
	if r.ToPort != nil {
		out.ToPort = *r.ToPort
	}
	return out
}

// metadataOf is what the metadata service tells a guest about itself: the facts of its meta-data
// disk (writeMeta), its addresses, key, user data, groups and block devices; it, the type the
// instance was given, is nil when the node's cache does not show it, and volumes are the
// mappings of its launch volumes (cloudv1.LaunchVolumes).
func metadataOf(g guestNet, it *cloudv1.InstanceType, volumes []cloudv1.BlockDeviceMapping, key *cloudv1.KeyPair, groupNames []string) *metadata.Instance {
	inst := g.inst
	host := inst.Status.PrivateDNSName
	if host == "" {
		host = inst.Status.InstanceID
	}
	opts := inst.EffectiveMetadataOptions()
	m := &metadata.Instance{
		RequireToken:     opts.HTTPTokens == cloudv1.MetadataTokensRequired,
		Disabled:         opts.HTTPEndpoint == cloudv1.MetadataEndpointDisabled,
		TokenHopLimit:    int(opts.HTTPPutResponseHopLimit),
		InstanceID:       inst.Status.InstanceID,
		ImageID:          inst.Spec.ImageID,
		Hostname:         host,
		LocalHostname:    host,
		InstanceType:     inst.GivenInstanceType(),
		KernelID:         inst.Spec.KernelID,
		RamdiskID:        inst.Spec.RamdiskID,
		LocalIPv4:        g.ip,
		AvailabilityZone: inst.Status.AvailabilityZone,
		PublicIPv4:       g.public,
		ReservationID:    inst.Status.ReservationID,
		SecurityGroups:   groupNames,
		BlockDevices:     blockDevicesOf(it, volumes),
	}
	if len(inst.Spec.UserData) > 0 {
		m.UserData = inst.Spec.UserData
	}
	if key != nil {
		m.PublicKeys = []metadata.PublicKey{{Name: key.EffectiveKeyName(), OpenSSHKey: key.Spec.PublicKey}}
	}
	return m
}

// blockDevicesOf is the instance's block-device-mapping/ as EC2 tells it: ami and root its root
// disk, its type's instance-store disks (ephemeral0, swap) at the guest disks they take, and
// ebs1, ebs2, … the devices of its launch volumes, named as the mappings name them (cloud-init
// finds sdX under the vdX a virtio guest has).
func blockDevicesOf(it *cloudv1.InstanceType, volumes []cloudv1.BlockDeviceMapping) []metadata.BlockDevice {
	out := []metadata.BlockDevice{{Name: "ami", Device: "/dev/vda"}, {Name: "root", Device: "/dev/vda"}}
	if it != nil {
		for i, name := range it.InstanceStoreDisks() {
			out = append(out, metadata.BlockDevice{Name: name, Device: "vd" + string(rune('b'+i))})
		}
	}
	for i, m := range volumes {
		out = append(out, metadata.BlockDevice{Name: "ebs" + strconv.Itoa(i+1), Device: strings.TrimPrefix(m.DeviceName, "/dev/")})
	}
	return out
}
