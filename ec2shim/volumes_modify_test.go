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
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// ModifyVolume grows a volume on a real storage node (its backing file grows), the change shows
// in DescribeVolumesModifications from modifying to completed, bad requests are refused with the
// volume unchanged, the project's quota refuses what it has no room for, and a growth the
// storage node has no room for waits, saying why, and takes no other change meanwhile.
func TestModifyVolume(t *testing.T) {
	const project = "volmod"
	ctx := context.Background()
	c, _, cl := tenant(t, project)
	store := c.AddStorageNode(t, project+"-store", project+"-zone", 10)
	_, _, other := tenant(t, "volmod-other")
	setQuota(t, cl, project, cloudv1.ProjectQuota{VolumeGiB: ptr.To[int64](12)})
	id := newVolume(t, cl, project+"-zone", 2)
	waitVolumeState(t, cl, id, types.VolumeStateAvailable, "none")
	modify := func(in ec2.ModifyVolumeInput) (*ec2.ModifyVolumeOutput, error) {
		in.VolumeId = aws.String(id)
		return cl.ModifyVolume(ctx, &in)
	}
	modification := func() types.VolumeModification {
		t.Helper()
		out, err := cl.DescribeVolumesModifications(ctx, &ec2.DescribeVolumesModificationsInput{VolumeIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.VolumesModifications) != 1 {
			t.Fatalf("%d modifications of %s", len(out.VolumesModifications), id)
		}
		return out.VolumesModifications[0]
	}
	is := func(m types.VolumeModification, state types.VolumeModificationState, from, to int32) error {
		if aws.ToString(m.VolumeId) != id || m.ModificationState != state || aws.ToInt32(m.OriginalSize) != from ||
			aws.ToInt32(m.TargetSize) != to || m.StartTime == nil || (m.EndTime != nil) != (state == types.VolumeModificationStateCompleted) {
			return fmt.Errorf("modification %s %s %d→%d (started %v, ended %v, %q), want %s %d→%d", aws.ToString(m.VolumeId),
				m.ModificationState, aws.ToInt32(m.OriginalSize), aws.ToInt32(m.TargetSize), m.StartTime, m.EndTime,
				aws.ToString(m.StatusMessage), state, from, to)
		}
		return nil
	}

	// Never modified: none to show.
	_, err := cl.DescribeVolumesModifications(ctx, &ec2.DescribeVolumesModificationsInput{VolumeIds: []string{id}})
	expectCode(t, err, "InvalidVolumeModification.NotFound")

	// 2 → 4 GiB: modifying, then completed, and the storage node's file is 4 GiB.
	out, err := modify(ec2.ModifyVolumeInput{Size: aws.Int32(4)})
	if err != nil {
		t.Fatal(err)
	}
	if err := is(*out.VolumeModification, types.VolumeModificationStateModifying, 2, 4); err != nil {
		t.Fatalf("ModifyVolume answered: %v", err)
	}
	testenv.Eventually(t, longWait, "the modification to complete", func() error {
		return is(modification(), types.VolumeModificationStateCompleted, 2, 4)
	})
	if v := describeVolume(t, cl, id); aws.ToInt32(v.Size) != 4 {
		t.Fatalf("DescribeVolumes shows %d GiB", aws.ToInt32(v.Size))
	}
	list := &cloudv1.VolumeList{}
	if err := env.Client.List(ctx, list, client.InNamespace(project)); err != nil || len(list.Items) != 1 {
		t.Fatalf("%d volumes (%v)", len(list.Items), err)
	}
	testenv.Eventually(t, longWait, "the backing file to grow", func() error {
		fi, err := os.Stat(store.BackingFile(string(list.Items[0].UID)))
		if err != nil {
			return err
		}
		if fi.Size() != 4<<30 {
			return fmt.Errorf("%d bytes", fi.Size())
		}
		return nil
	})

	// Refused, nothing changed.
	for _, bad := range []struct {
		in   ec2.ModifyVolumeInput
		code string
	}{
		{ec2.ModifyVolumeInput{Size: aws.Int32(3)}, "InvalidParameterValue"},
		{ec2.ModifyVolumeInput{Size: aws.Int32(4)}, "InvalidParameterValue"},
		{ec2.ModifyVolumeInput{Size: aws.Int32(16385)}, "InvalidParameterValue"},
		{ec2.ModifyVolumeInput{}, "MissingParameter"},
		{ec2.ModifyVolumeInput{Size: aws.Int32(5), VolumeType: "gp9"}, "InvalidParameterValue"},
		{ec2.ModifyVolumeInput{Size: aws.Int32(5), VolumeType: types.VolumeTypeGp3}, "UnsupportedOperation"},
		{ec2.ModifyVolumeInput{Size: aws.Int32(5), Iops: aws.Int32(3000)}, "UnsupportedOperation"},
		{ec2.ModifyVolumeInput{Size: aws.Int32(20)}, "VolumeLimitExceeded"}, // 16 GiB more, 8 left
	} {
		_, err := modify(bad.in)
		if apiCode(err) != bad.code {
			t.Errorf("ModifyVolume %+v: %v, want %s", bad.in, err, bad.code)
		}
	}
	_, err = other.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(5)})
	expectCode(t, err, "InvalidVolume.NotFound")
	_, err = other.DescribeVolumesModifications(ctx, &ec2.DescribeVolumesModificationsInput{VolumeIds: []string{id}})
	expectCode(t, err, "InvalidVolume.NotFound")
	if err := is(modification(), types.VolumeModificationStateCompleted, 2, 4); err != nil {
		t.Fatalf("after the refused requests: %v", err)
	}

	// 4 → 11 GiB: within the quota (12), past the storage node's 10 GiB: it waits and says why,
	// and the volume takes no other change meanwhile.
	if _, err := modify(ec2.ModifyVolumeInput{Size: aws.Int32(11)}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the growth to wait for room", func() error {
		m := modification()
		if err := is(m, types.VolumeModificationStateModifying, 4, 11); err != nil {
			return err
		}
		if !strings.Contains(aws.ToString(m.StatusMessage), "Storage node") {
			return fmt.Errorf("status message %q", aws.ToString(m.StatusMessage))
		}
		return nil
	})
	_, err = modify(ec2.ModifyVolumeInput{Size: aws.Int32(12)})
	expectCode(t, err, "IncorrectModificationState")
	filtered, err := cl.DescribeVolumesModifications(ctx, &ec2.DescribeVolumesModificationsInput{
		Filters: []types.Filter{{Name: aws.String("modification-state"), Values: []string{"completed"}}}})
	if err != nil || len(filtered.VolumesModifications) != 0 {
		t.Fatalf("completed modifications while one waits: %v %+v", err, filtered)
	}
	if v := describeVolume(t, cl, id); v.State != types.VolumeStateAvailable {
		t.Fatalf("the waiting volume is %s", v.State)
	}
}
