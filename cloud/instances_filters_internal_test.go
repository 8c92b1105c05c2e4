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

package cloud

import (
	"slices"
	"testing"
	"time"

	"pinet.io/pinet/ec2shim/query"
)

// TestInstanceFilterValues checks the value every DescribeInstances filter reads from an
// instance, and that each filter the listing names has one.
func TestInstanceFilterValues(t *testing.T) {
	launched := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	attached := launched.Add(time.Minute)
	i := Instance{InstanceID: "i-0123456789abcdef0", ImageID: "ami-0123456789abcdef0", State: InstanceState{Code: 80, Name: "stopped"},
		Reason: "ShutdownByGuest", StateReason: guestShutdown, KeyName: "k", InstanceType: "m1.tiny", LaunchIndex: 2,
		LaunchTime: launched, Placement: Placement{AvailabilityZone: "z", Tenancy: "default"}, KernelID: "aki-1", RamdiskID: "ari-1",
		MonitoringState: "disabled", MetadataOptions: &MetadataOptions{HTTPTokens: "required", HTTPEndpoint: "enabled", HTTPPutResponseHopLimit: 2},
		PrivateIPAddress: "10.0.0.5", PublicIPAddress: "198.51.100.7", Groups: []GroupPair{{GroupID: "sg-1", GroupName: "web"}},
		Architecture: "x86_64", RootDeviceType: "instance-store", RootDeviceName: RootDevice, VirtualizationType: "hvm",
		Hypervisor: "xen", ClientToken: "tok", DNSName: "d", PrivateDNSName: "pd", ReservationID: "r-1", OwnerID: "p",
		BlockDevices: []InstanceBlockDevice{{DeviceName: "/dev/sdf", VolumeID: "vol-1", Status: "attached", AttachTime: attached, DeleteOnTermination: true},
			{DeviceName: "/dev/sdg", VolumeID: "vol-2", Status: "attaching"}}}
	want := map[string][]string{
		"instance-id": {"i-0123456789abcdef0"}, "instance-state-name": {"stopped"}, "instance-state-code": {"80"},
		"image-id": {"ami-0123456789abcdef0"}, "private-ip-address": {"10.0.0.5"}, "ip-address": {"198.51.100.7"},
		"key-name": {"k"}, "instance-type": {"m1.tiny"}, "availability-zone": {"z"}, "reservation-id": {"r-1"},
		"owner-id": {"p"}, "launch-index": {"2"}, "group-id": {"sg-1"}, "group-name": {"web"}, "instance.group-id": {"sg-1"},
		"instance.group-name": {"web"}, "kernel-id": {"aki-1"}, "ramdisk-id": {"ari-1"}, "client-token": {"tok"},
		"dns-name": {"d"}, "private-dns-name": {"pd"}, "architecture": {"x86_64"}, "hypervisor": {"xen"},
		"root-device-type": {"instance-store"}, "virtualization-type": {"hvm"}, "placement.availability-zone": {"z"},
		"launch-time": {launched.Format(query.TimestampLayout)}, "state-reason-code": {"Client.InstanceInitiatedShutdown"},
		"state-reason-message": {"Client.InstanceInitiatedShutdown: Instance initiated shutdown"}, "reason": {"ShutdownByGuest"},
		"tenancy": {"default"}, "placement.tenancy": {"default"}, "monitoring-state": {"disabled"}, "root-device-name": {RootDevice},
		"block-device-mapping.device-name": {"/dev/sdf", "/dev/sdg"}, "block-device-mapping.volume-id": {"vol-1", "vol-2"},
		"block-device-mapping.status":                {"attached", "attaching"},
		"block-device-mapping.attach-time":           {attached.Format(query.TimestampLayout), ""},
		"block-device-mapping.delete-on-termination": {"true", "false"},
		"metadata-options.http-tokens":               {"required"}, "metadata-options.http-endpoint": {"enabled"},
		"metadata-options.http-put-response-hop-limit": {"2"},
	}
	for _, name := range instanceFilters {
		w, ok := want[name]
		if !ok {
			t.Errorf("filter %s: no expected value in this test", name)
			continue
		}
		if got := i.attributes(name); !slices.Equal(got, w) {
			t.Errorf("filter %s: %q, want %q", name, got, w)
		}
	}
	if got := (Instance{}).attributes("metadata-options.http-tokens"); got != nil {
		t.Errorf("an instance without metadata options: %q", got)
	}
	if got := (Instance{}).attributes("state-reason-code"); got != nil {
		t.Errorf("an instance without a state reason: %q", got)
	}
}
