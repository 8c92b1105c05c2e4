// Copyright 2026 The PiNet Authors.
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//     http://www.apache.org/licenses/LICENSE-2.0
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
	"time"

	"pinet.io/pinet/internal/testenv"
)

// inWorld runs a command in the test cloud's world namespace, the internet of the local cloud.
func inWorld(args ...string) (string, error) {
	return run("/", os.Environ(), "", "ip", append([]string{"netns", "exec", NetNSPrefix + "-world"}, args...)...)
}

// sshGuest runs a command on a guest as root with the key, from the world namespace.
func sshGuest(key, addr, command string) (string, error) {
	return inWorld("ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "root@"+addr, command)
}

// probeTCP tells what a connection from the world to addr:port meets: "open", "refused" (the
// guest answered with a reset: the filter let it through) or "filtered" (no answer).
func probeTCP(addr string, port int) string {
	out, _ := inWorld("python3", "-c", `import socket,sys
s=socket.socket(); s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("open")
except ConnectionRefusedError: print("refused")
except OSError: print("filtered")`, addr, fmt.Sprint(port))
	return strings.TrimSpace(out)
}

// The first acceptance point: a key pair, an instance with it, an elastic IP; ssh from
// the world to the public address runs commands on the guest, which reads its own meta-data;
// the default group opens and closes a port as rules are authorized and revoked; terminate
// gives the address and the private IP back.
func TestSSHIntoAnInstanceByItsPublicIP(t *testing.T) {
	ami := sampleAMI(t)
	var key struct{ KeyName, KeyMaterial string }
	awsJSON(t, &key, "ec2", "create-key-pair", "--key-name", "ssh-key")
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, []byte(key.KeyMaterial), 0o600); err != nil {
		t.Fatal(err)
	}
	var launched struct{ Instances []instanceJSON }
	awsJSON(t, &launched, "ec2", "run-instances", "--image-id", ami, "--instance-type", "m1.tiny", "--key-name", "ssh-key")
	if len(launched.Instances) != 1 {
		t.Fatalf("run-instances: %+v", launched)
	}
	id := launched.Instances[0].InstanceID
	waitInstances(t, []string{id}, "running")

	var alloc struct{ PublicIp, AllocationId string }
	awsJSON(t, &alloc, "ec2", "allocate-address")
	var assoc struct{ AssociationId string }
	awsJSON(t, &assoc, "ec2", "associate-address", "--instance-id", id, "--allocation-id", alloc.AllocationId)
	testenv.Eventually(t, guestBoot, id+" to show its public IP", func() error {
		var out struct {
			Reservations []struct {
				Instances []struct{ PublicIpAddress, PrivateIpAddress string }
			}
		}
		awsJSON(t, &out, "ec2", "describe-instances", "--instance-ids", id)
		if got := out.Reservations[0].Instances[0]; got.PublicIpAddress != alloc.PublicIp || got.PrivateIpAddress == "" {
			return fmt.Errorf("addresses %+v", got)
		}
		return nil
	})

	var cmdline string
	testenv.Eventually(t, guestBoot, "ssh root@"+alloc.PublicIp, func() error {
		var err error
		cmdline, err = sshGuest(keyFile, alloc.PublicIp, "cat /proc/cmdline")
		return err
	})
	if !strings.Contains(cmdline, "pinet.instance_id="+id) {
		t.Errorf("the guest's command line: %q", cmdline)
	}
	self, err := sshGuest(keyFile, alloc.PublicIp, "wget -qO- http://169.254.169.254/latest/meta-data/instance-id")
	if err != nil || strings.TrimSpace(self) != id {
		t.Errorf("the guest's own instance-id: %q, %v", self, err)
	}

	// 8080 is not in the default group: the filter drops it. Authorized, the guest's kernel
	// answers (nothing listens: refused); revoked, it is dropped again.
	if got := probeTCP(alloc.PublicIp, 8080); got != "filtered" {
		t.Errorf("port 8080 before any rule: %s", got)
	}
	rule := []string{"--group-name", "default", "--protocol", "tcp", "--port", "8080", "--cidr", "0.0.0.0/0"}
	start := time.Now()
	awsJSON(t, nil, append([]string{"ec2", "authorize-security-group-ingress"}, rule...)...)
	testenv.Eventually(t, time.Minute, "port 8080 to open", func() error {
		if got := probeTCP(alloc.PublicIp, 8080); got == "filtered" {
			return fmt.Errorf("still %s", got)
		}
		return nil
	})
	t.Logf("authorize took effect after %s", time.Since(start).Round(100*time.Millisecond))
	start = time.Now()
	awsJSON(t, nil, append([]string{"ec2", "revoke-security-group-ingress"}, rule...)...)
	testenv.Eventually(t, time.Minute, "port 8080 to close", func() error {
		if got := probeTCP(alloc.PublicIp, 8080); got != "filtered" {
			return fmt.Errorf("still %s", got)
		}
		return nil
	})
	t.Logf("revoke took effect after %s", time.Since(start).Round(100*time.Millisecond))

	awsJSON(t, nil, "ec2", "terminate-instances", "--instance-ids", id)
	waitInstances(t, []string{id}, "terminated")
	testenv.Eventually(t, guestBoot, "the address and private IP released", func() error {
		var addrs struct {
			Addresses []struct{ PublicIp, InstanceId string }
		}
		awsJSON(t, &addrs, "ec2", "describe-addresses", "--allocation-ids", alloc.AllocationId)
		if len(addrs.Addresses) != 1 || addrs.Addresses[0].InstanceId != "" {
			return fmt.Errorf("address %+v", addrs.Addresses)
		}
		var out struct {
			Reservations []struct {
				Instances []struct{ PublicIpAddress, PrivateIpAddress string }
			}
		}
		awsJSON(t, &out, "ec2", "describe-instances", "--instance-ids", id)
		if got := out.Reservations[0].Instances[0]; got.PublicIpAddress != "" || got.PrivateIpAddress != "" {
			return fmt.Errorf("terminated instance still has %+v", got)
		}
		return nil
	})
	if _, err := sshGuest(keyFile, alloc.PublicIp, "true"); err == nil {
		t.Error("ssh to the released address still reaches a guest")
	}
	awsJSON(t, nil, "ec2", "release-address", "--allocation-id", alloc.AllocationId)
	awsJSON(t, nil, "ec2", "delete-key-pair", "--key-name", "ssh-key")
}
