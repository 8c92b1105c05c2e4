// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//	http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package metadata

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// cloud-init's python (Debian's cloud-init lives in the system python's packages).
const systemPython = "/usr/bin/python3"

// TestCloudInitCrawl runs cloud-init's EC2 helpers against the server and compares the tree
// they crawl with the instance's facts. The crawler connects from 127.0.0.1, which the
// lookup maps to the instance; it must use a token, as the instance requires one.
func TestCloudInitCrawl(t *testing.T) {
	if err := exec.Command(systemPython, "-c", "import cloudinit.sources.helpers.ec2").Run(); err != nil {
		t.Skipf("cloud-init is not installed for %s: %v", systemPython, err)
	}
	inst := instanceA()
	inst.RequireToken = true
	inst.PublicKeys = append(inst.PublicKeys, PublicKey{Name: "deploy", OpenSSHKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQdeploy deploy\n"})
	lk := twoInstances()
	lk.byIP[netip.MustParseAddr("127.0.0.1")] = inst
	url := serve(t, lk)

	want := map[string]any{
		"ami-id":            "ami-00000000000000001",
		"ami-launch-index":  "0",
		"ami-manifest-path": "images/debian.manifest.xml",
		"block-device-mapping": map[string]any{
			"ami": "vda", "root": "/dev/vda", "ephemeral0": "vdb", "swap": "vdc",
		},
		"hostname":        "ip-10-128-5-7",
		"instance-id":     "i-0a1b2c3d4e5f60718",
		"instance-type":   "m1.small",
		"kernel-id":       "aki-00000000000000002",
		"local-hostname":  "ip-10-128-5-7",
		"local-ipv4":      "10.128.5.7",
		"placement":       map[string]any{"availability-zone": "pinet-a"},
		"public-hostname": "ec2-203-0-113-9",
		"public-ipv4":     "203.0.113.9",
		"public-keys":     map[string]any{"alice": []any{keyA}, "deploy": []any{"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQdeploy deploy"}},
		"ramdisk-id":      "ari-00000000000000003",
		"reservation-id":  "r-00000000000000004",
		"security-groups": []any{"default", "web"},
	}
	for _, version := range []string{"2009-04-04", "latest"} {
		t.Run(version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, systemPython, "testdata/crawl.py", url, version)
			cmd.Env = noProxy(os.Environ())
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("crawl: %v\n%s", err, stderr.String())
			}
			var got struct {
				Meta map[string]any `json:"meta"`
				User string         `json:"user"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("crawl output %q: %v", out, err)
			}
			if !reflect.DeepEqual(got.Meta, want) {
				t.Errorf("cloud-init crawled\n%v\nwant\n%v\n(stderr: %s)", got.Meta, want, stderr.String())
			}
			if ud, _ := base64.StdEncoding.DecodeString(got.User); string(ud) != string(inst.UserData) {
				t.Errorf("user-data %q, want %q", ud, inst.UserData)
			}
		})
	}
}

// noProxy drops proxy settings: the crawler talks to loopback only.
func noProxy(env []string) []string {
	var out []string
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		if strings.HasSuffix(strings.ToLower(name), "_proxy") {
			continue
		}
		out = append(out, e)
	}
	return out
}
