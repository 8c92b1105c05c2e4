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

package ec2shim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"pinet.io/pinet/internal/testenv"
)

// TestDescribeVolumeStatus: a volume on a ready storage node is ok; while the node's agent is
// gone (the node not ready) its I/O is impaired, and ok again once the agent is back. Filters
// select by status; another project's volume is not found.
func TestDescribeVolumeStatus(t *testing.T) {
	store, cl, _ := tenantWithStorage(t, "volstatus")
	_, _, other := tenant(t, "volstatus-other")
	ctx := context.Background()
	created, err := cl.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1), AvailabilityZone: aws.String("volstatus-zone")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.VolumeId)
	waitVolumeState(t, cl, id, types.VolumeStateAvailable, "none")

	statusOf := func() (string, string, error) {
		out, err := cl.DescribeVolumeStatus(ctx, &ec2.DescribeVolumeStatusInput{VolumeIds: []string{id}})
		if err != nil {
			return "", "", err
		}
		if len(out.VolumeStatuses) != 1 {
			return "", "", fmt.Errorf("%d statuses", len(out.VolumeStatuses))
		}
		st := out.VolumeStatuses[0]
		if aws.ToString(st.VolumeId) != id || aws.ToString(st.AvailabilityZone) != "volstatus-zone" {
			return "", "", fmt.Errorf("status of %s in %s", aws.ToString(st.VolumeId), aws.ToString(st.AvailabilityZone))
		}
		io := ""
		for _, d := range st.VolumeStatus.Details {
			if d.Name == types.VolumeStatusNameIoEnabled {
				io = aws.ToString(d.Status)
			}
		}
		return string(st.VolumeStatus.Status), io, nil
	}
	until := func(status, io string) {
		t.Helper()
		testenv.Eventually(t, longWait, id+" to be "+status, func() error {
			got, gotIO, err := statusOf()
			if err != nil {
				return err
			}
			if got != status || gotIO != io {
				return fmt.Errorf("%s, io-enabled %s", got, gotIO)
			}
			return nil
		})
	}
	until("ok", "passed")
	filtered := func(status string) int {
		t.Helper()
		out, err := cl.DescribeVolumeStatus(ctx, &ec2.DescribeVolumeStatusInput{Filters: []types.Filter{
			{Name: aws.String("volume-status.status"), Values: []string{status}}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.VolumeStatuses)
	}
	if ok, impaired := filtered("ok"), filtered("impaired"); ok != 1 || impaired != 0 {
		t.Fatalf("by status: %d ok, %d impaired", ok, impaired)
	}
	_, err = other.DescribeVolumeStatus(ctx, &ec2.DescribeVolumeStatusInput{VolumeIds: []string{id}})
	expectCode(t, err, "InvalidVolume.NotFound")
	_, err = cl.DescribeVolumeStatus(ctx, &ec2.DescribeVolumeStatusInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"red"}}}})
	expectCode(t, err, "InvalidParameterValue")

	store.Stop()
	until("impaired", "failed")
	store.Start()
	until("ok", "passed")
}
