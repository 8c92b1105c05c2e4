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
	"testing"

	"k8s.io/utils/ptr"
)

// TestRunRequestHashIsStable pins the fingerprints of two launches to those the EC2 API gave
// them before RunInstances moved into the service: a retry with a ClientToken of a launch made
// before must still be recognised as the same request.
func TestRunRequestHashIsStable(t *testing.T) {
	full := RunInstancesInput{ImageID: "ami-0123456789abcdef0", MinCount: 1, MaxCount: 3, InstanceType: "m1.small",
		KeyName: "k", UserData: []byte("hi"), SecurityGroups: []string{"default"}, SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
		Placement: &Placement{AvailabilityZone: "z", GroupName: "pg", Tenancy: "default"}, KernelID: "aki-0123456789abcdef0",
		RamdiskID: "ari-0123456789abcdef0",
		BlockDeviceMappings: []BlockDeviceMappingInput{{DeviceName: "/dev/sdb", VirtualName: "ephemeral0"},
			{DeviceName: "/dev/sdc", EBS: &EBSInput{VolumeSize: ptr.To[int32](8), DeleteOnTermination: ptr.To(true),
				VolumeType: "gp2", Encrypted: ptr.To(false), Iops: ptr.To[int32](100)}},
			{DeviceName: "/dev/sdd", NoDevice: ptr.To("")}},
		ClientToken: "tok", TagSpecifications: []TagSpecification{{ResourceType: "instance", Tags: []Tag{{Key: "a", Value: "b"}}}},
		ShutdownBehavior: "terminate", Monitoring: &MonitoringInput{Enabled: true}, DisableAPITermination: true,
		EbsOptimized: true, DryRun: true}
	if got, want := runRequestHash(full), "228fd65f94e167f6b6dc8505d7b7b28f"; got != want {
		t.Errorf("a launch with every parameter: fingerprint %s, want %s", got, want)
	}
	minimal := RunInstancesInput{ImageID: "ami-0123456789abcdef0", MinCount: 1, MaxCount: 1}
	const wantMinimal = "a2c7d7f090016f2084468015d161b2e8"
	if got := runRequestHash(minimal); got != wantMinimal {
		t.Errorf("a minimal launch: fingerprint %s, want %s", got, wantMinimal)
	}
	// Empty lists are lists not given, whichever front door sent them.
	minimal.SecurityGroups, minimal.TagSpecifications = []string{}, []TagSpecification{}
	if got := runRequestHash(minimal); got != wantMinimal {
		t.Errorf("a minimal launch with empty lists: fingerprint %s, want %s", got, wantMinimal)
	}
	// Every parameter but DryRun counts.
	changed := full
	changed.Monitoring = &MonitoringInput{}
	if runRequestHash(changed) == runRequestHash(full) {
		t.Error("a launch that differs only in Monitoring has the same fingerprint")
	}
	changed = full
	changed.TagSpecifications = []TagSpecification{{ResourceType: "instance", Tags: []Tag{}}}
	same := full
	same.TagSpecifications = []TagSpecification{{ResourceType: "instance"}}
	if runRequestHash(changed) != runRequestHash(same) {
		t.Error("a tag specification with an empty tag list differs from one with none")
	}
}
