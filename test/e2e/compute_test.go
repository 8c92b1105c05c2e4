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
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/internal/testenv"
)

func runInstances(t *testing.T, args ...string) []string {
	t.Helper()
	var run struct{ Instances []instanceJSON }
	awsJSON(t, &run, append([]string{"ec2", "run-instances"}, args...)...)
	var ids []string
	for _, inst := range run.Instances {
		ids = append(ids, inst.InstanceID)
	}
	return ids
}

func terminate(t *testing.T, ids ...string) {
	t.Helper()
	awsJSON(t, nil, append([]string{"ec2", "terminate-instances", "--instance-ids"}, ids...)...)
}

// Sizes reach the guest: m1.tiny and m1.small guests see their type's vCPUs and memory, as libvirt
// does.
func TestGuestsGetTheirTypesSize(t *testing.T) {
	ami := sampleAMI(t)
	for _, tc := range []struct {
		itype  string
		memMiB int
	}{{"m1.tiny", 512}, {"m1.small", 2048}} {
		t.Run(tc.itype, func(t *testing.T) {
			id := runInstances(t, "--image-id", ami, "--instance-type", tc.itype)[0]
			defer terminate(t, id)
			text := waitConsole(t, id, "PiNet guest: ready")
			m := regexp.MustCompile(`cpus (\d+) memory-mib (\d+)`).FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("the guest did not report its size:\n%s", text)
			}
			cpus, _ := strconv.Atoi(m[1])
			mem, _ := strconv.Atoi(m[2])
			// The kernel keeps some memory for itself.
			if cpus != 1 || mem > tc.memMiB || mem < tc.memMiB*3/4 {
				t.Fatalf("%s guest sees %d CPUs and %d MiB", tc.itype, cpus, mem)
			}
			info, err := cloud.Virsh("dominfo", id)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(info, fmt.Sprintf("Max memory:     %d KiB", tc.memMiB*1024)) || !regexp.MustCompile(`CPU\(s\):\s+1\n`).MatchString(info) {
				t.Fatalf("libvirt's view of %s:\n%s", id, info)
			}
		})
	}
}

// Stop keeps the root disk; terminate removes every file and the domain.
func TestStopKeepsTheDiskTerminateRemovesIt(t *testing.T) {
	ami := sampleAMI(t)
	script := "#!/bin/sh\nif [ -f /var/marker ]; then echo \"marker found: $(cat /var/marker)\"; else echo first-boot > /var/marker; sync; echo marker written; fi\n"
	id := runInstances(t, "--image-id", ami, "--instance-type", "m1.tiny", "--user-data", script)[0]
	waitConsole(t, id, "marker written")
	waitConsole(t, id, "PiNet guest: ready")
	awsJSON(t, nil, "ec2", "stop-instances", "--instance-ids", id)
	waitInstances(t, []string{id}, "stopped")
	awsJSON(t, nil, "ec2", "start-instances", "--instance-ids", id)
	waitInstances(t, []string{id}, "running")
	waitConsole(t, id, "marker found: first-boot")

	dir := filepath.Join(cloud.StateDir(), "instances", id)
	if _, err := os.Stat(filepath.Join(dir, "root.qcow2")); err != nil {
		t.Fatalf("the running instance has no root disk: %v", err)
	}
	terminate(t, id)
	waitInstances(t, []string{id}, "terminated")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the instance's files survived termination: %v", err)
	}
	if _, err := cloud.Virsh("dominfo", id); err == nil {
		t.Fatalf("the domain of %s survived termination", id)
	}
}

// A guest that powers itself off is stopped, as in EC2.
func TestGuestPowerOffIsStopped(t *testing.T) {
	ami := sampleAMI(t)
	id := runInstances(t, "--image-id", ami, "--instance-type", "m1.tiny", "--user-data", "#!/bin/sh\necho powering off now\npoweroff\n")[0]
	defer terminate(t, id)
	waitInstances(t, []string{id}, "stopped")
	var out struct {
		Reservations []struct {
			Instances []struct{ StateReason struct{ Code string } }
		}
	}
	awsJSON(t, &out, "ec2", "describe-instances", "--instance-ids", id)
	if code := out.Reservations[0].Instances[0].StateReason.Code; code != "Client.InstanceInitiatedShutdown" {
		t.Fatalf("state reason %q", code)
	}
}

// The console reaches kubectl users too, through pinetctl and their kubeconfig.
func TestPinetctlConsole(t *testing.T) {
	manifest := `{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"Instance","metadata":{"name":"console-demo"},"spec":{"imageId":"sample","instanceType":"m1.tiny"}}`
	if out, err := cloud.Kubectl(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	defer func() { _, _ = cloud.Kubectl("", "delete", "instance", "console-demo", "--wait=false") }()
	id := ""
	testenv.Eventually(t, guestBoot, "the banner through pinetctl console", func() error {
		out, err := cloud.Kubectl("", "get", "instance", "console-demo", "-o", "jsonpath={.status.instanceId}")
		if err != nil {
			return err
		}
		id = out
		text, err := cloud.Pinetctl("console", "console-demo")
		if err != nil {
			return err
		}
		if !strings.Contains(text, "instance "+id+" booted") {
			return fmt.Errorf("no banner yet")
		}
		return nil
	})
}

// Three launches of an image no node has cached download it once; a corrupted cached copy is
// caught by its MD5 and fetched again.
func TestImageCacheDownloadsOnceAndHeals(t *testing.T) {
	ami := sampleAMI(t)
	// A fresh copy of the sample root under a new image id, so it is not cached yet.
	var reg struct{ ImageId string }
	awsJSON(t, &reg, "ec2", "register-image", "--image-location", "pinet-images/sample/sample.manifest.xml",
		"--name", "cache-test", "--kernel-id", kernelOf(t, ami), "--ramdisk-id", ramdiskOf(t, ami))
	testenv.Eventually(t, 3*time.Minute, "the new image to be available", func() error {
		var out struct{ Images []struct{ State string } }
		awsJSON(t, &out, "ec2", "describe-images", "--image-ids", reg.ImageId)
		if len(out.Images) != 1 || out.Images[0].State != "available" {
			return fmt.Errorf("%+v", out.Images)
		}
		return nil
	})
	ids := runInstances(t, "--image-id", reg.ImageId, "--instance-type", "m1.tiny", "--count", "3")
	defer terminate(t, ids...)
	waitInstances(t, ids, "running")
	if n := strings.Count(cloud.AgentLog(), `"msg":"Downloaded image","hypervisor":"e2e-node-1","image":"`+reg.ImageId+`"`); n != 1 {
		t.Fatalf("the image was downloaded %d times for 3 launches", n)
	}
	cached := filepath.Join(cloud.StateDir(), "images", reg.ImageId, "image")
	f, err := os.OpenFile(cached, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteAt([]byte("corrupt"), 4096)
	f.Close()
	more := runInstances(t, "--image-id", reg.ImageId, "--instance-type", "m1.tiny")
	defer terminate(t, more...)
	waitInstances(t, more, "running")
	if !strings.Contains(cloud.AgentLog(), "Cached image is corrupt; fetching it again") {
		t.Fatal("the corrupted cached image was not noticed")
	}
	waitConsole(t, more[0], "PiNet guest: ready")
}

func kernelOf(t *testing.T, ami string) string { return imageField(t, ami, "KernelId") }

func ramdiskOf(t *testing.T, ami string) string { return imageField(t, ami, "RamdiskId") }

func imageField(t *testing.T, ami, field string) string {
	t.Helper()
	var out struct{ Images []map[string]any }
	awsJSON(t, &out, "ec2", "describe-images", "--image-ids", ami)
	v, _ := out.Images[0][field].(string)
	return v
}

// Restarting the node agent and libvirtd in the middle of a ten-instance launch: all ten end
// running, and exactly ten domains exist.
func TestTenInstancesSurviveAgentAndLibvirtdRestarts(t *testing.T) {
	ami := sampleAMI(t)
	ids := runInstances(t, "--image-id", ami, "--instance-type", "m1.tiny", "--count", "10")
	defer terminate(t, ids...)
	if err := cloud.Kill("nodeagent"); err != nil {
		t.Fatal(err)
	}
	if err := cloud.RestartLibvirtd(); err != nil {
		t.Fatal(err)
	}
	if err := cloud.Up(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := cloud.RestartLibvirtd(); err != nil {
		t.Fatal(err)
	}
	waitInstances(t, ids, "running")
	testenv.Eventually(t, time.Minute, "exactly ten domains", func() error {
		n := 0
		for _, id := range ids {
			out, err := cloud.Virsh("domstate", id)
			if err != nil {
				return err
			}
			if strings.TrimSpace(out) == "running" {
				n++
			}
		}
		if n != 10 {
			return fmt.Errorf("%d of 10 domains running", n)
		}
		return nil
	})
	all, err := cloud.Virsh("list", "--all", "--name")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if c := strings.Count(all, id); c != 1 {
			t.Fatalf("%s appears %d times in libvirt", id, c)
		}
	}
}
