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
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func vlanDesired() Desired {
	return Desired{
		Mode:     ModeVLAN,
		Underlay: "eno1",
		// Peers are ignored in VLAN mode: the switch floods.
		Segments: []Segment{
			{ID: 101, GatewayCIDR: "10.128.1.1/24", Peers: []net.IP{net.ParseIP("192.0.2.2")}},
			{ID: 4094, GatewayCIDR: "10.128.9.1/26"},
		},
		Ports: []Port{{Name: "vnet0", Segment: 4094}},
	}
}

// TestVLANPlan checks the 802.1Q configuration VLAN mode would make, which this kernel cannot.
func TestVLANPlan(t *testing.T) {
	d := vlanDesired()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := buildPlan(d, underlay{Index: 7, MTU: 9000})
	if err != nil {
		t.Fatal(err)
	}
	if p.MTU != 9000 || len(p.Segments) != 2 {
		t.Fatalf("plan MTU %d with %d segments", p.MTU, len(p.Segments))
	}
	s := p.Segments[1]
	vlan, ok := s.Uplink.(*netlink.Vlan)
	if !ok {
		t.Fatalf("uplink is %T, want *netlink.Vlan", s.Uplink)
	}
	if vlan.Name != "pvl4094" || vlan.VlanId != 4094 || vlan.ParentIndex != 7 ||
		vlan.VlanProtocol != netlink.VLAN_PROTOCOL_8021Q || vlan.MTU != 9000 ||
		vlan.Alias != "pinet:segment:4094" || vlan.TxQLen != -1 || vlan.MasterIndex != 0 {
		t.Errorf("vlan is %+v", vlan)
	}
	if vlan.Type() != "vlan" {
		t.Errorf("vlan kind %q", vlan.Type())
	}
	br := s.Bridge
	if br.Name != "pbr4094" || br.MTU != 9000 || br.Alias != "pinet:segment:4094" ||
		br.HardwareAddr.String() != "02:70:6e:00:0f:fe" || br.TxQLen != -1 {
		t.Errorf("bridge is %+v", br)
	}
	if s.Gateway.IPNet.String() != "10.128.9.1/26" {
		t.Errorf("gateway %s", s.Gateway.IPNet)
	}
	if len(p.Segments[0].Peers) != 0 || len(s.Peers) != 0 {
		t.Errorf("VLAN mode has FDB peers: %v %v", p.Segments[0].Peers, s.Peers)
	}
	if want := []portPlan{{Name: "vnet0", Bridge: "pbr4094"}}; !reflect.DeepEqual(p.Ports, want) {
		t.Errorf("ports %+v, want %+v", p.Ports, want)
	}
	if got := describe(vlan); got != "vlan id 4094 parent #7 protocol 802.1q" {
		t.Errorf("describe: %q", got)
	}
}

func TestVXLANPlan(t *testing.T) {
	d := Desired{Mode: ModeVXLAN, Underlay: "ul0", UnderlayIP: net.ParseIP("192.0.2.1"),
		Segments: []Segment{{ID: 16777215, GatewayCIDR: "10.0.0.1/16",
			Peers: []net.IP{net.ParseIP("192.0.2.9"), net.ParseIP("192.0.2.3")}}}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := buildPlan(d, underlay{Index: 3, MTU: 1500})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Segments[0]
	vx, ok := s.Uplink.(*netlink.Vxlan)
	if !ok {
		t.Fatalf("uplink is %T", s.Uplink)
	}
	if p.MTU != 1450 || vx.Name != "pvx16777215" || vx.VxlanId != 16777215 || vx.VtepDevIndex != 3 ||
		!vx.SrcAddr.Equal(d.UnderlayIP) || vx.Port != 4789 || !vx.Learning || vx.MTU != 1450 {
		t.Errorf("vxlan is %+v (plan MTU %d)", vx, p.MTU)
	}
	if len(s.Bridge.Name) > ifNameSize || len(vx.Name) > ifNameSize {
		t.Errorf("names too long: %s %s", s.Bridge.Name, vx.Name)
	}
	var peers []string
	for _, n := range s.Peers {
		if n.Family != unix.AF_BRIDGE || n.Flags != netlink.NTF_SELF || !isZeroMAC(n.HardwareAddr) {
			t.Errorf("peer entry %+v", n)
		}
		peers = append(peers, n.IP.String())
	}
	if strings.Join(peers, ",") != "192.0.2.3,192.0.2.9" {
		t.Errorf("peers %v", peers)
	}

	d6 := Desired{Mode: ModeVXLAN, Underlay: "ul0", UnderlayIP: net.ParseIP("2001:db8::1"),
		Segments: []Segment{{ID: 5, GatewayCIDR: "10.0.0.1/24"}}}
	if p6, err := buildPlan(d6, underlay{Index: 3, MTU: 1500}); err != nil || p6.MTU != 1430 {
		t.Errorf("IPv6 underlay: MTU %v, %v; want 1430", p6, err)
	}
	if _, err := buildPlan(d6, underlay{Index: 3, MTU: 1300}); err == nil ||
		!strings.Contains(err.Error(), "below the minimum") {
		t.Errorf("small underlay MTU: %v", err)
	}
}

func TestOwnership(t *testing.T) {
	for _, c := range []struct {
		name, alias string
		owned       bool
	}{
		{"pbr101", "", true},
		{"pvx7", "", true},
		{"pvl4094", "", true},
		{"old-br", "pinet:segment:7", true},
		{"pbr", "", false},
		{"pbr1a", "", false},
		{"pbrx", "", false},
		{"br0", "", false},
		{"eth0", "pinetx", false},
		{"pinet-ul", "pinet:underlay", false},
		{"vnet3", "", false},
	} {
		if got := ownedDevice(c.name, c.alias); got != c.owned {
			t.Errorf("ownedDevice(%q, %q) = %t, want %t", c.name, c.alias, got, c.owned)
		}
	}
}
