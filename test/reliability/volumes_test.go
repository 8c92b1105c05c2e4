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

package reliability

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// Several instances race to attach one volume, and several callers race to detach it, round
// after round: exactly one attachment wins each time (the API server's optimistic lock on the
// Volume), the volume ends attached to the winner only, and each detach race frees it once.
func TestVolumeAttachStorm(t *testing.T) {
	c := startCloud(t)
	const zone = "rel-vol"
	c.AddStorageNodes(t, "rel-vol-store", "rel-vol-compute", zone)
	tn := newTenant(t, c, "rel-vol", testcloud.NoQuota())
	ctx := context.Background()
	insts := launch(t, tn, zone, scale(3, 6))
	testenv.Eventually(t, longWait, "the instances to run", func() error {
		if n := runningCount(t, tn.project); n != len(insts) {
			return fmt.Errorf("%d running", n)
		}
		return nil
	})
	vol, err := tn.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1), AvailabilityZone: aws.String(zone)})
	if err != nil {
		t.Fatal(err)
	}
	volID := aws.ToString(vol.VolumeId)
	waitVolume(t, tn, volID, ec2types.VolumeStateAvailable, "")

	for round := range scale(2, 6) {
		winners := 0
		var winner string
		for i, err := range testenv.Race(len(insts), func(i int) error {
			_, err := tn.ec2.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(volID),
				InstanceId: aws.String(insts[i]), Device: aws.String("/dev/sdf")})
			return err
		}) {
			switch apiCode(err) {
			case "":
				winners, winner = winners+1, insts[i]
			case "VolumeInUse":
			default:
				t.Fatalf("round %d: attaching to %s: %v", round, insts[i], err)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d attachments won", round, winners)
		}
		waitVolume(t, tn, volID, ec2types.VolumeStateInUse, winner)

		detached := 0
		for i, err := range testenv.Race(len(insts), func(int) error {
			_, err := tn.ec2.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(volID)})
			return err
		}) {
			switch apiCode(err) {
			case "":
				detached++
			case "IncorrectState":
			default:
				t.Fatalf("round %d: detach %d: %v", round, i, err)
			}
		}
		if detached != 1 {
			t.Fatalf("round %d: %d detaches won", round, detached)
		}
		waitVolume(t, tn, volID, ec2types.VolumeStateAvailable, "")
	}
}

// waitVolume waits until the volume is in state, attached to instance (or to none) and to no
// other.
func waitVolume(t *testing.T, tn *tenant, volID string, state ec2types.VolumeState, instance string) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to be %s (attached to %q)", volID, state, instance), func() error {
		out, err := tn.ec2.DescribeVolumes(context.Background(), &ec2.DescribeVolumesInput{VolumeIds: []string{volID}})
		if err != nil {
			return err
		}
		v := out.Volumes[0]
		if v.State != state {
			return fmt.Errorf("state %s", v.State)
		}
		var on []string
		for _, a := range v.Attachments {
			on = append(on, aws.ToString(a.InstanceId)+"/"+string(a.State))
		}
		switch {
		case instance == "" && len(on) == 0:
			return nil
		case instance != "" && len(on) == 1 && on[0] == instance+"/attached":
			return nil
		}
		return fmt.Errorf("attachments %v", on)
	})
}
