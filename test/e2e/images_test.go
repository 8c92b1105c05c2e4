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

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pinet.io/pinet/internal/testenv"
)

// TestImageOfABootedGuest makes an image of a running guest with the AWS CLI (create-image: the
// guest is shut down for the copy and started again) and boots it: a file the first guest wrote
// is in the second, which runs from the image.
func TestImageOfABootedGuest(t *testing.T) {
	ami := sampleAMI(t)
	var key struct{ KeyName, KeyMaterial string }
	awsJSON(t, &key, "ec2", "create-key-pair", "--key-name", "image-key")
	defer awsJSON(t, nil, "ec2", "delete-key-pair", "--key-name", "image-key")
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, []byte(key.KeyMaterial), 0o600); err != nil {
		t.Fatal(err)
	}
	var alloc struct{ PublicIp, AllocationId string }
	awsJSON(t, &alloc, "ec2", "allocate-address")
	defer awsJSON(t, nil, "ec2", "release-address", "--allocation-id", alloc.AllocationId)

	// boot launches an instance of image and returns its id once ssh at the address reaches it.
	boot := func(image string) string {
		t.Helper()
		var launched struct{ Instances []instanceJSON }
		awsJSON(t, &launched, "ec2", "run-instances", "--image-id", image, "--instance-type", "m1.tiny", "--key-name", "image-key")
		id := launched.Instances[0].InstanceID
		waitInstances(t, []string{id}, "running")
		awsJSON(t, nil, "ec2", "associate-address", "--instance-id", id, "--allocation-id", alloc.AllocationId)
		waitSSH(t, keyFile, alloc.PublicIp, id)
		return id
	}
	first := boot(ami)
	if out, err := sshGuest(keyFile, alloc.PublicIp, "echo written-before-the-image > /root/pinet-marker && sync"); err != nil {
		t.Fatalf("writing in the guest: %v: %s", err, out)
	}

	var made struct{ ImageId string }
	awsJSON(t, &made, "ec2", "create-image", "--instance-id", first, "--name", "e2e image of "+first, "--description", "made by the e2e test")
	testenv.Eventually(t, guestBoot, made.ImageId+" to be available", func() error {
		var out struct {
			Images []struct {
				State       string
				StateReason struct{ Code, Message string }
			}
		}
		awsJSON(t, &out, "ec2", "describe-images", "--image-ids", made.ImageId)
		if len(out.Images) != 1 {
			return fmt.Errorf("%d images", len(out.Images))
		}
		if img := out.Images[0]; img.State != "available" {
			if img.State == "failed" {
				t.Fatalf("the image failed: %+v", img.StateReason)
			}
			return fmt.Errorf("state %s", img.State)
		}
		return nil
	})
	// The first guest was started again after the copy.
	waitInstances(t, []string{first}, "running")
	waitSSH(t, keyFile, alloc.PublicIp, first)

	awsJSON(t, nil, "ec2", "disassociate-address", "--public-ip", alloc.PublicIp)
	second := boot(made.ImageId)
	got, err := sshGuest(keyFile, alloc.PublicIp, "cat /root/pinet-marker")
	if err != nil || strings.TrimSpace(got) != "written-before-the-image" {
		t.Errorf("the image's guest reads %q, %v", got, err)
	}

	awsJSON(t, nil, "ec2", "terminate-instances", "--instance-ids", first, second)
	waitInstances(t, []string{first, second}, "terminated")
	awsJSON(t, nil, "ec2", "deregister-image", "--image-id", made.ImageId)
}

// waitSSH waits until ssh at addr reaches instance id (its command line names it).
func waitSSH(t *testing.T, keyFile, addr, id string) {
	t.Helper()
	testenv.Eventually(t, guestBoot, "ssh root@"+addr+" to reach "+id, func() error {
		out, err := sshGuest(keyFile, addr, "cat /proc/cmdline")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "pinet.instance_id="+id) {
			return fmt.Errorf("reached another guest: %q", out)
		}
		return nil
	})
}
