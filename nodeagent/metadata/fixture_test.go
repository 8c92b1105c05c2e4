// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//	http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package metadata

import (
	"context"
	"errors"
	"net/netip"
	"sync"
)

// table is a Lookup over a fixed set of instances: the node agent's would read its
// instances' addresses; this one is the test's own data, not a stand-in for a component.
type table struct {
	mu    sync.Mutex
	byIP  map[netip.Addr]*Instance
	fails bool
}

func (t *table) Lookup(_ context.Context, remote netip.Addr) (*Instance, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fails {
		return nil, errors.New("the instance cache is not synced")
	}
	if inst, ok := t.byIP[remote]; ok {
		c := *inst
		return &c, nil
	}
	return nil, ErrUnknownCaller
}

var (
	addrA = netip.MustParseAddr("127.0.0.2")
	addrB = netip.MustParseAddr("127.0.0.3")
)

const keyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKxJ0vPJ1TfJbAWs7EBw0ahP4Kq2QFz0ZPpYHk2Zs9yG alice@example"

// instanceA is a full instance; instanceB another of another project with its own data.
func instanceA() *Instance {
	return &Instance{
		InstanceID: "i-0a1b2c3d4e5f60718", ImageID: "ami-00000000000000001", LaunchIndex: 0,
		ManifestPath: "images/debian.manifest.xml",
		BlockDevices: []BlockDevice{{"ami", "vda"}, {"root", "/dev/vda"}, {"ephemeral0", "vdb"}, {"swap", "vdc"}},
		Hostname:     "ip-10-128-5-7", LocalHostname: "ip-10-128-5-7", InstanceType: "m1.small",
		KernelID: "aki-00000000000000002", RamdiskID: "ari-00000000000000003",
		LocalIPv4: netip.MustParseAddr("10.128.5.7"), AvailabilityZone: "pinet-a",
		PublicHostname: "ec2-203-0-113-9", PublicIPv4: netip.MustParseAddr("203.0.113.9"),
		PublicKeys:    []PublicKey{{Name: "alice", OpenSSHKey: keyA}},
		ReservationID: "r-00000000000000004", SecurityGroups: []string{"default", "web"},
		UserData: []byte("#!/bin/sh\necho hello from A\n"),
	}
}

func instanceB() *Instance {
	return &Instance{
		InstanceID: "i-0fedcba9876543210", ImageID: "ami-0000000000000000b", LaunchIndex: 1,
		Hostname: "ip-10-129-0-5", LocalHostname: "ip-10-129-0-5", InstanceType: "m1.tiny",
		LocalIPv4: netip.MustParseAddr("10.129.0.5"), AvailabilityZone: "pinet-b",
		PublicKeys:    []PublicKey{{Name: "bob", OpenSSHKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQbob bob@example"}},
		ReservationID: "r-0000000000000000b", SecurityGroups: []string{"default"},
		UserData: []byte("secret of B"), RequireToken: true,
	}
}

func twoInstances() *table {
	return &table{byIP: map[netip.Addr]*Instance{addrA: instanceA(), addrB: instanceB()}}
}
