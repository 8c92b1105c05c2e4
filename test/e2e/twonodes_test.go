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
	"slices"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/internal/testenv"
)

// Node 2 of the two-node tests: its datapath namespace, underlay address and zone.
const (
	node2Name      = "e2e-node-2"
	node2Zone      = "pinet-1b"
	node2Underlay  = "10.255.0.2"
	node2UnderIfce = "under1"
)

// node2NS makes the namespace of node 2's datapath. The underlay joining it to the cloud's node
// is the cloud's spare underlay veth end (under1 in <prefix>-node, peer of the node's under0),
// moved into node 2's namespace for the test.
func node2NS(t *testing.T) string {
	t.Helper()
	ns := newNetNS(t, "n2")
	nodeNS := NetNSPrefix + "-node"
	ipCmd(t, "-n", nodeNS, "link", "set", node2UnderIfce, "netns", ns)
	t.Cleanup(func() {
		_, _ = run("/", os.Environ(), "", "ip", "-n", ns, "link", "set", node2UnderIfce, "netns", nodeNS)
		_, _ = run("/", os.Environ(), "", "ip", "-n", nodeNS, "link", "set", node2UnderIfce, "up")
	})
	ipCmd(t, "-n", ns, "addr", "add", node2Underlay+"/24", "dev", node2UnderIfce)
	ipCmd(t, "-n", ns, "link", "set", node2UnderIfce, "up")
	return ns
}

// startNode2 starts a second compute node in zone pinet-1b with its datapath in ns (node2NS);
// storageIface, when set, is its end of a storage network in the same namespace.
func startNode2(t *testing.T, ns, storageIface string) *Node {
	t.Helper()
	o := NodeOptions{Name: node2Name, Zone: node2Zone, MemoryMiB: 2048,
		DatapathNS: ns, UnderlayInterface: node2UnderIfce, UnderlayIP: node2Underlay}
	if storageIface != "" {
		o.StorageNS, o.StorageInterface = ns, storageIface
	}
	return addNode(t, o)
}

// datapath is what a node's datapath namespace holds: its packet filter's rules and its links,
// each sorted so that only duplicates and real differences count.
type datapath struct{ rules, links []string }

func datapathOf(t *testing.T, ns string) datapath {
	t.Helper()
	rules, err := inNS(ns, "nft", "list", "ruleset")
	if err != nil {
		t.Fatalf("%v: %s", err, rules)
	}
	var d datapath
	for _, l := range strings.Split(rules, "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "}" {
			d.rules = append(d.rules, l)
		}
	}
	for _, l := range strings.Split(ipCmd(t, "-n", ns, "-br", "link"), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			d.links = append(d.links, strings.SplitN(f[0], "@", 2)[0])
		}
	}
	slices.Sort(d.rules)
	slices.Sort(d.links)
	return d
}

func linksOfType(t *testing.T, ns, kind string) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(ipCmd(t, "-n", ns, "-br", "link", "show", "type", kind), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, strings.SplitN(f[0], "@", 2)[0])
		}
	}
	return names
}

// The second acceptance point: guests of one project on two nodes get their addresses
// by DHCP and reach each other over VXLAN; a guest of another project reaches neither. Then the
// kill -9 point: node 2's agent is killed, its segment's VXLAN device is removed behind its back,
// and the restarted agent converges to the same rules and links, none twice, with the guests
// reaching each other again.
func TestGuestsOfOneProjectOnTwoNodes(t *testing.T) {
	ami := sampleAMI(t)
	ns2 := node2NS(t)
	node2 := startNode2(t, ns2, "")

	a := runInstances(t, "--image-id", ami, "--instance-type", "m1.tiny", "--placement", "AvailabilityZone=pinet-1a")[0]
	terminateAll(t, cloud.AWS, a)
	ipA := privateIP(t, a)
	// B pings A every few seconds for as long as it runs.
	loop := fmt.Sprintf("#!/bin/sh\nwhile true; do if ping -c 1 -W 2 %s >/dev/null 2>&1; then echo ping-A ok; else echo ping-A lost; fi; sleep 3; done\n", ipA)
	b := runInstances(t, "--image-id", ami, "--instance-type", "m1.tiny", "--placement", "AvailabilityZone="+node2Zone, "--user-data", loop)[0]
	terminateAll(t, cloud.AWS, b)
	ipB := privateIP(t, b)
	for id, node := range map[string]string{a: "e2e-node-1", b: node2Name} {
		if got := jsonpath(t, "instance", id, "{.status.hypervisor}"); got != node {
			t.Fatalf("%s runs on %q, not %s", id, got, node)
		}
	}
	waitConsole(t, a, "udhcpc: eth0 "+ipA+"/")
	waitConsole(t, b, "udhcpc: eth0 "+ipB+"/")
	waitConsole(t, b, "ping-A ok")
	if vx := linksOfType(t, ns2, "vxlan"); len(vx) != 1 {
		t.Fatalf("node 2 has VXLAN devices %v, want its one segment's", vx)
	}

	// C, of another project, on node 2 beside B: its own network works (its meta-data), but
	// neither A nor B answers it.
	rc2 := otherProject(t, "e2e-net2")
	awsOther := func(args ...string) (string, error) { return cloud.AWSAs(rc2, args...) }
	probe := fmt.Sprintf(`#!/bin/sh
echo "C: metadata says $(wget -qO- http://169.254.169.254/latest/meta-data/instance-id)"
for who in A:%s B:%s; do
  if ping -c 3 -W 2 ${who#*:} >/dev/null 2>&1; then echo "C: reached ${who%%%%:*}"; else echo "C: cannot reach ${who%%%%:*}"; fi
done
echo "C: done"
`, ipA, ipB)
	var c string
	testenv.Eventually(t, time.Minute, "run-instances in the other project", func() error {
		out, err := awsOther("ec2", "run-instances", "--image-id", ami, "--instance-type", "m1.tiny",
			"--placement", "AvailabilityZone="+node2Zone, "--user-data", probe, "--query", "Instances[0].InstanceId", "--output", "text")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		c = strings.TrimSpace(out)
		return nil
	})
	terminateAll(t, awsOther, c)
	var text string
	testenv.Eventually(t, guestBoot, "C's probe to finish", func() error {
		if text = consoleVia(t, awsOther, c); !strings.Contains(text, "C: done") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	for _, want := range []string{"C: metadata says " + c, "C: cannot reach A", "C: cannot reach B"} {
		if !strings.Contains(text, want) {
			t.Errorf("C's console lacks %q:\n%s", want, text)
		}
	}
	if t.Failed() {
		return
	}

	before := datapathOf(t, ns2)
	if n := strings.Count(strings.Join(before.rules, "\n"), "table "); n == 0 {
		t.Fatalf("node 2 has no packet filter:\n%s", strings.Join(before.rules, "\n"))
	}
	if err := node2.Kill9(); err != nil {
		t.Fatal(err)
	}
	bridges := linksOfType(t, ns2, "bridge")
	if len(bridges) != 2 {
		t.Fatalf("node 2 has bridges %v, want one for each of its two projects' segments", bridges)
	}
	for _, vx := range linksOfType(t, ns2, "vxlan") {
		ipCmd(t, "-n", ns2, "link", "del", vx)
	}
	if err := node2.Start(); err != nil {
		t.Fatal(err)
	}
	oks := strings.Count(consoleOf(t, b), "ping-A ok")
	testenv.Eventually(t, 2*time.Minute, "B to reach A again after node 2's agent restarted", func() error {
		if n := strings.Count(consoleOf(t, b), "ping-A ok"); n <= oks {
			return fmt.Errorf("%d oks, as before", n)
		}
		return nil
	})
	var after datapath
	testenv.Eventually(t, time.Minute, "node 2's datapath to be as before the crash", func() error {
		after = datapathOf(t, ns2)
		if !slices.Equal(after.links, before.links) {
			return fmt.Errorf("links %v, before %v", after.links, before.links)
		}
		if !slices.Equal(after.rules, before.rules) {
			return fmt.Errorf("rules differ:\n%s\nbefore:\n%s", strings.Join(after.rules, "\n"), strings.Join(before.rules, "\n"))
		}
		return nil
	})
	if br := linksOfType(t, ns2, "bridge"); !slices.Equal(br, bridges) {
		t.Errorf("node 2 has bridges %v after the restart, %v before", br, bridges)
	}
}
