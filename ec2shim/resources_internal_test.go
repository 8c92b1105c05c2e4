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

package ec2shim

import (
	"testing"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query/querytest"
)

// TestResourceShapesMatchTheModel checks every input and output shape of the key pair, image,
// volume, address, security group and tag actions against botocore's EC2 model: a parameter or
// element the model does not have would be one no client sends or reads.
func TestResourceShapesMatchTheModel(t *testing.T) {
	checkShapes(t, []shapeCase{
		{"CreateKeyPair", &createKeyPairInput{}, &createKeyPairOutput{}},
		{"ImportKeyPair", &importKeyPairInput{}, &importKeyPairOutput{}},
		{"DeleteKeyPair", &deleteKeyPairInput{}, &deleteKeyPairOutput{}},
		{"DescribeKeyPairs", &describeKeyPairsInput{}, &describeKeyPairsOutput{}},
		{"RegisterImage", &registerImageInput{}, &registerImageOutput{}},
		{"CreateImage", &createImageInput{}, &registerImageOutput{}},
		{"CopyImage", &copyImageInput{}, &registerImageOutput{}},
		{"EnableImageDeregistrationProtection", &imageProtectionInput{}, &returnStringOutput{}},
		{"DisableImageDeregistrationProtection", &disableImageProtectionInput{}, &returnStringOutput{}},
		{"DeregisterImage", &deregisterImageInput{}, &returnOutput{}},
		{"DescribeImages", &describeImagesInput{}, &describeImagesOutput{}},
		{"DescribeImageAttribute", &describeImageAttributeInput{}, &imageAttributeOutput{}},
		{"ModifyImageAttribute", &modifyImageAttributeInput{}, &returnOutput{}},
		{"ResetImageAttribute", &resetImageAttributeInput{}, &returnOutput{}},
		{"CreateVolume", &createVolumeInput{}, &volumeItem{}},
		{"DeleteVolume", &volumeIDInput{}, &returnOutput{}},
		{"DescribeVolumes", &describeVolumesInput{}, &describeVolumesOutput{}},
		{"DescribeVolumeStatus", &describeVolumesInput{}, &describeVolumeStatusOutput{}},
		{"AttachVolume", &attachVolumeInput{}, &volumeAttachmentItem{}},
		{"DetachVolume", &detachVolumeInput{}, &volumeAttachmentItem{}},
		{"CreateSnapshot", &createSnapshotInput{}, &snapshotItem{}},
		{"DeleteSnapshot", &snapshotIDInput{}, &returnOutput{}},
		{"CopySnapshot", &copySnapshotInput{}, &copySnapshotOutput{}},
		{"DescribeSnapshots", &describeSnapshotsInput{}, &describeSnapshotsOutput{}},
		{"DescribeSnapshotAttribute", &snapshotAttributeInput{}, &snapshotAttributeOutput{}},
		{"ModifySnapshotAttribute", &modifySnapshotAttributeInput{}, &returnOutput{}},
		{"ResetSnapshotAttribute", &snapshotAttributeInput{}, &returnOutput{}},
		{"AllocateAddress", &allocateAddressInput{}, &allocateAddressOutput{}},
		{"ReleaseAddress", &releaseAddressInput{}, &returnOutput{}},
		{"AssociateAddress", &associateAddressInput{}, &associateAddressOutput{}},
		{"DisassociateAddress", &disassociateAddressInput{}, &returnOutput{}},
		{"DescribeAddresses", &describeAddressesInput{}, &describeAddressesOutput{}},
		{"CreateSecurityGroup", &createSecurityGroupInput{}, &createSecurityGroupOutput{}},
		{"DeleteSecurityGroup", &deleteSecurityGroupInput{}, &deleteSecurityGroupOutput{}},
		{"AuthorizeSecurityGroupIngress", &ingressInput{}, &authorizeIngressOutput{}},
		{"RevokeSecurityGroupIngress", &revokeIngressInput{}, &returnOutput{}},
		{"DescribeSecurityGroups", &describeSecurityGroupsInput{}, &describeSecurityGroupsOutput{}},
		{"DescribeSecurityGroupRules", &describeSecurityGroupRulesInput{}, &describeSecurityGroupRulesOutput{}},
		{"CreateTags", &createTagsInput{}, &returnOutput{}},
		{"DeleteTags", &deleteTagsInput{}, &returnOutput{}},
		{"DescribeTags", &describeTagsInput{}, &describeTagsOutput{}},
	})
}

// shapeCase is an action and its input and output shapes (a nil input is not checked).
type shapeCase struct {
	op      string
	in, out any
}

// checkShapes checks each case's shapes against botocore's EC2 model.
func checkShapes(t *testing.T, cases []shapeCase) {
	m := querytest.LoadModel(t)
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			if tc.in != nil {
				m.CheckInput(t, tc.op, tc.in)
			}
			m.CheckOutput(t, tc.op, tc.out)
		})
	}
}

// FuzzDeviceSlot checks that every device name AttachVolume accepts is one the Volume CRD accepts.
func FuzzDeviceSlot(f *testing.F) {
	for _, seed := range []string{"/dev/sdf", "/dev/xvdba1", "/dev/vda", "/dev/hda", "sdf", "/dev/sd"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, device string) {
		slot, ok := cloud.DeviceSlot(device)
		if !ok {
			return
		}
		if len(device) > 32 || !cloud.DeviceName.MatchString(device) || slot == "" || len(slot) > 2 {
			t.Fatalf("accepted %q as disk %q", device, slot)
		}
	})
}
