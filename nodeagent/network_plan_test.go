/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package nodeagent

import (
	"os"
	"strings"
	"testing"
)

func TestNetworkConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  NetworkConfig
		want string
	}{
		{NetworkConfig{}, ""},
		{NetworkConfig{Mode: NetworkNone}, ""},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1", UnderlayIP: "192.0.2.1"}, ""},
		{NetworkConfig{Mode: NetworkVLAN, UnderlayInterface: "eth1"}, ""},
		{NetworkConfig{Mode: "gre", UnderlayInterface: "eth1"}, "want none, vxlan or vlan"},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayIP: "192.0.2.1"}, "needs an underlay interface"},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1"}, "needs the node's underlay IP"},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1", UnderlayIP: "2001:db8::1"}, "not an IPv4 address"},
		{NetworkConfig{Mode: NetworkVXLAN, UnderlayInterface: "eth1", UnderlayIP: "nope"}, "not an IPv4 address"},
		{NetworkConfig{Mode: NetworkVLAN, UnderlayInterface: "eth1", MetadataPort: 70000}, "out of range"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: got %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
}

// A bad network configuration stops the agent before it connects anywhere or makes anything.
func TestRunRefusesBadNetworkConfig(t *testing.T) {
	dir := t.TempDir() + "/state"
	err := Run(t.Context(), Config{NodeName: "n", StateDir: dir, Network: NetworkConfig{Mode: NetworkVXLAN}}, nil)
	if err == nil || !strings.Contains(err.Error(), "underlay interface") {
		t.Fatalf("Run: %v", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("the state dir was made: %v", statErr)
	}
}

func TestTapName(t *testing.T) {
	if got := TapName("i-0123456789abcdef0"); got != "pt0123456789abc" || len(got) > 15 {
		t.Errorf("TapName = %q", got)
	}
}
