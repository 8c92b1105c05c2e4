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

package nodeagent_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/nodeagent"
)

const metaDiskSerial = "<serial>pinet-meta</serial>"

// newDriveInstance makes an instance of image "img" in zone that asks for a config drive or
// not (nil: as its image says).
func newDriveInstance(t *testing.T, ns, name, zone string, drive *bool) *cloudv1.Instance {
	t.Helper()
	inst := &cloudv1.Instance{}
	inst.Name, inst.Namespace = name, ns
	inst.Spec = cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny", AvailabilityZone: zone, ConfigDrive: drive}
	if err := env.Client.Create(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	return inst
}

// On a node with a network the meta-data disk is a config drive the instance or its image asks
// for, off by default; a node without a network gives it to every instance, whatever they say,
// since its guests have no metadata service.
func TestConfigDriveIsOptInWhereThereIsANetwork(t *testing.T) {
	c := startCloud(t)
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	prefix := "pt-cd-" + hex.EncodeToString(b)
	ns := newNS(t, prefix)
	run(t, "ip", "-n", ns, "link", "add", "u0", "type", "veth", "peer", "name", "u1")
	run(t, "ip", "-n", ns, "addr", "add", "192.168.79.1/24", "dev", "u0")
	run(t, "ip", "-n", ns, "link", "set", "u0", "up")
	run(t, "ip", "-n", ns, "link", "set", "u1", "up")
	netZone, plainZone := prefix+"-zn", prefix+"-zp"
	netNode := c.AddNetworkNode(t, prefix+"-net", netZone, 8, 16384, nodeagent.NetworkConfig{
		Mode: nodeagent.NetworkVXLAN, DatapathNetNS: nsPath(ns), LibvirtNetNS: nsPath(ns),
		UnderlayInterface: "u0", UnderlayIP: "192.168.79.1",
	})
	plainNode := c.AddNode(t, prefix+"-plain", plainZone, 4, 8192)

	byDefault := newProject(t, c, prefix+"-p1")
	withDrive := newProject(t, c, prefix+"-p2")
	img := &cloudv1.Image{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: withDrive, Name: "img"}, img); err != nil {
		t.Fatal(err)
	}
	orig := img.DeepCopy()
	img.Spec.ConfigDrive = ptr.To(true)
	if err := env.Client.Patch(context.Background(), img, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}

	type launch struct {
		inst *cloudv1.Instance
		net  bool
		want bool
	}
	launches := []launch{
		{newDriveInstance(t, byDefault, "plain", netZone, nil), true, false},
		{newDriveInstance(t, byDefault, "asks", netZone, ptr.To(true)), true, true},
		{newDriveInstance(t, withDrive, "inherits", netZone, nil), true, true},
		{newDriveInstance(t, withDrive, "declines", netZone, ptr.To(false)), true, false},
		{newDriveInstance(t, byDefault, "offline", plainZone, ptr.To(false)), false, true},
	}
	for _, l := range launches {
		inst := waitState(t, client.ObjectKeyFromObject(l.inst), cloudv1.InstanceStateRunning)
		node := plainNode
		if l.net {
			node = netNode
		}
		x := node.Domains(t)[inst.Status.InstanceID].XML
		if x == "" {
			t.Fatalf("%s: no domain on its node", inst.Name)
		}
		if got := strings.Contains(x, metaDiskSerial); got != l.want {
			t.Errorf("%s: meta-data disk in its domain is %v, want %v:\n%s", inst.Name, got, l.want, x)
		}
	}
}
