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
	"os"
	"strings"
	"testing"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func TestNetworkConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  NetworkConfig
		want string
	}{
		{NetworkConfig{}, ""},
		{NetworkConfig{Mode: NetworkNone}, ""},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1", UnderlayIP: "192.0.2.1"}, ""},
		{NetworkConfig{Mode: NetworkVLAN, UnderlayInterface: "eth1"}, ""},
		{NetworkConfig{Mode: "gre", UnderlayInterface: "eth1"}, "want none, vxlan or vlan"},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayIP: "192.0.2.1"}, "needs an underlay interface"},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1"}, "needs the node's underlay IP"},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1", UnderlayIP: "2001:db8::1"}, "not an IPv4 address"},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1", UnderlayIP: "nope"}, "not an IPv4 address"},
		{NetworkConfig{Mode: NetworkVLAN, UnderlayInterface: "eth1", MetadataPort: 70000}, "out of range"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: got %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
}

// A bad network configuration stops the agent before it connects anywhere or makes anything.
func TestRunRefusesBadNetworkConfig(t *testing.T) {
	dir := t.TempDir() + "/state"
	err := Run(t.Context(), Config{NodeName: "n", StateDir: dir, Network: NetworkConfig{Mode: NetworkVXLAN}}, nil)
	if err == nil || !strings.Contains(err.Error(), "underlay interface") {
		t.Fatalf("Run: %v", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("the state dir was made: %v", statErr)
	}
}

func TestTapName(t *testing.T) {
	if got := TapName("i-0123456789abcdef0"); got != "pt0123456789abc" || len(got) > 15 {
		t.Errorf("TapName = %q", got)
	}
}

func netInstance(id, ip, mac string, seg int32, subnet, gw string) *cloudv1.Instance {
	return &cloudv1.Instance{Status: cloudv1.InstanceStatus{
		Hypervisor: "n1", InstanceID: id, PrivateIPAddress: ip, MACAddress: mac, SegmentID: seg,
		Subnet: subnet, Gateway: gw, PrivateDNSName: "ip-" + strings.ReplaceAll(ip, ".", "-") + ".pinet.compute.internal",
	}}
}

// Guests become ports on their segment's bridge and leases of its DHCP server; an instance with
// an incomplete network status, bound elsewhere, or whose segment disagrees with another guest's
// gets nothing.
func TestPlanNodeNet(t *testing.T) {
	all := []*cloudv1.Instance{
		netInstance("i-b0000000000000000", "10.128.0.3", "02:65:0a:80:00:03", 101, "10.128.0.0/24", "10.128.0.1"),
		netInstance("i-a0000000000000000", "10.128.0.2", "02:65:0a:80:00:02", 101, "10.128.0.0/24", "10.128.0.1"),
		netInstance("i-c0000000000000000", "10.128.1.2", "02:66:0a:80:01:02", 102, "10.128.1.0/24", "10.128.1.1"),
		netInstance("i-d0000000000000000", "10.128.9.2", "02:65:0a:80:09:02", 101, "10.128.9.0/24", "10.128.9.1"),
		netInstance("i-e0000000000000000", "10.128.0.4", "", 101, "10.128.0.0/24", "10.128.0.1"),
		netInstance("i-f0000000000000000", "10.128.0.5", "02:65:0a:80:00:05", 101, "10.128.0.0/24", "10.128.0.1"),
	}
	all[5].Status.Hypervisor = "n2"
	var guests []guestNet
	for _, inst := range all {
		if g, ok := guestNetOf(inst, "n1"); ok {
			guests = append(guests, g)
		}
	}
	if len(guests) != 4 {
		t.Fatalf("%d guests, want 4 (no MAC, another node)", len(guests))
	}
	peers := []net.IP{net.ParseIP("192.0.2.2")}
	n, skipped := planNodeNet(NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1", UnderlayIP: "192.0.2.1"}, guests, peers)
	if fmt.Sprint(skipped) != "[i-d0000000000000000]" {
		t.Errorf("skipped %v", skipped)
	}
	if got := fmt.Sprint(n.devices.Ports); got != "[{pta000000000000 101} {ptb000000000000 101} {ptc000000000000 102}]" {
		t.Errorf("ports %s", got)
	}
	if got := fmt.Sprint(n.devices.Segments); got != "[{101 10.128.0.1/24 [192.0.2.2]} {102 10.128.1.1/24 [192.0.2.2]}]" {
		t.Errorf("segments %s", got)
	}
	if err := n.devices.Validate(); err != nil {
		t.Error(err)
	}
	leases := n.segments[101].leases
	if len(leases) != 2 || leases[0].IP.String() != "10.128.0.2" || leases[0].Hostname != "ip-10-128-0-2" {
		t.Errorf("leases of 101: %+v", leases)
	}
}
