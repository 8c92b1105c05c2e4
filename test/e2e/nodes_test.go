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
	"time"

	"pinet.io/pinet/internal/testenv"
)

// inNS runs a command in a network namespace.
func inNS(ns string, args ...string) (string, error) {
	return run("/", os.Environ(), "", "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// ipCmd runs `ip ARGS...` and fails the test on an error.
func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run("/", os.Environ(), "", "ip", args...)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return out
}

// newNetNS makes a network namespace for the test, NetNSPrefix-SUFFIX, removed when it ends.
func newNetNS(t *testing.T, suffix string) string {
	t.Helper()
	ns := NetNSPrefix + "-" + suffix
	if _, err := os.Stat("/run/netns/" + ns); err == nil {
		_, _ = run("/", os.Environ(), "", "ip", "netns", "del", ns) // left by a crashed run
	}
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { _, _ = run("/", os.Environ(), "", "ip", "netns", "del", ns) })
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	return ns
}

// addNode starts an extra node agent and waits for its Hypervisor to be Ready. When the test
// ends its instances must be gone (terminateAll); the agent stops and its Hypervisor is removed,
// so that later tests never schedule onto it.
func addNode(t *testing.T, o NodeOptions) *Node {
	t.Helper()
	n, err := cloud.StartNode(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
		if out, err := cloud.Kubectl("", "delete", "hypervisor", o.Name, "--timeout=2m"); err != nil {
			t.Errorf("%v: %s", err, out)
		}
		if t.Failed() {
			t.Logf("the log of %s ends:\n%s", o.Name, tail(n.Log(), 40))
		}
	})
	testenv.Eventually(t, 2*time.Minute, "hypervisor "+o.Name+" Ready", func() error {
		out, err := cloud.Kubectl("", "get", "hypervisor", o.Name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("ready %q %v", out, err)
		}
		return nil
	})
	return n
}

// terminateAll terminates instances when the test ends (before the nodes that run them stop)
// and waits until they are terminated, so no domain outlives its node's agent.
func terminateAll(t *testing.T, aws func(args ...string) (string, error), ids ...string) {
	t.Cleanup(func() {
		if out, err := aws(append([]string{"ec2", "terminate-instances", "--instance-ids"}, ids...)...); err != nil {
			t.Errorf("%v: %s", err, out)
			return
		}
		testenv.Eventually(t, guestBoot, fmt.Sprintf("%v terminated", ids), func() error {
			for _, id := range ids {
				if _, err := cloud.Virsh("domstate", id); err == nil {
					return fmt.Errorf("domain %s still exists", id)
				}
			}
			return nil
		})
	})
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// privateIP waits for an instance's private address.
func privateIP(t *testing.T, id string) string {
	t.Helper()
	var ip string
	testenv.Eventually(t, time.Minute, id+"'s private IP", func() error {
		var out struct {
			Reservations []struct {
				Instances []struct{ PrivateIpAddress string }
			}
		}
		awsJSON(t, &out, "ec2", "describe-instances", "--instance-ids", id)
		ip = out.Reservations[0].Instances[0].PrivateIpAddress
		if ip == "" {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	return ip
}

// otherProject makes a project with a user of its own and returns the user's pinetrc variables.
func otherProject(t *testing.T, name string) map[string]string {
	t.Helper()
	user := name + "-user"
	for _, args := range [][]string{{"project", "create", name}, {"user", "create", user, "--project", name}} {
		if out, err := cloud.Pinetctl(args...); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	t.Cleanup(func() {
		_, _ = cloud.Pinetctl("user", "delete", user)
		_, _ = cloud.Pinetctl("project", "delete", name)
	})
	rc, err := cloud.RC()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := cloud.Pinetctl("user", "credentials", user, "--project", name, "--dir", dir,
		"--ec2-url", rc["EC2_URL"], "--s3-url", rc["S3_URL"], "--region", rc["AWS_DEFAULT_REGION"]); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	theirs, err := ReadRC(filepath.Join(dir, "pinetrc"))
	if err != nil {
		t.Fatal(err)
	}
	return theirs
}
