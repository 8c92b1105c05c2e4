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

package netdev_test

import (
	"context"
	"fmt"
	"net"

	"pinet.io/pinet/nodeagent/netdev"
)

// A node agent converges its datapath on every change and at start (after a crash or restart).
func ExampleManager_Converge() {
	m, err := netdev.Open("/run/netns/node-a") // "" for the agent's own namespace
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	res, err := m.Converge(context.Background(), netdev.Desired{
		Mode:       netdev.ModeVXLAN,
		Underlay:   "ul0",
		UnderlayIP: net.ParseIP("192.0.2.1"),
		Segments: []netdev.Segment{
			{ID: 101, GatewayCIDR: "10.128.1.1/24", Peers: []net.IP{net.ParseIP("192.0.2.2")}},
		},
		Ports: []netdev.Port{{Name: "vnet0", Segment: 101}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Guests attach to netdev.BridgeName(101) ("pbr101") and should use res.MTU.
	fmt.Println(res.Changes, res.MissingPorts, res.MTU, netdev.BridgeName(101))
}
