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
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/netdev"
)

// run runs a command and returns its output; a failure fails the test.
func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// try runs a command and returns its output and error.
func try(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// netTest holds the namespaces of one test: two nodes' datapaths joined by an underlay veth,
// the namespace node A's "libvirt" makes taps in, and one namespace per simulated guest.
type netTest struct {
	prefix       string
	a, b, lv     string
	nodeA, nodeB *testcloud.Node
}

func newNS(t *testing.T, name string) string {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _, _ = try("ip", "netns", "del", name) })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

func nsPath(name string) string { return filepath.Join("/run/netns", name) }

func setupNetTest(t *testing.T, c *testcloud.Cloud) *netTest {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	nt := &netTest{prefix: "pt-na-" + hex.EncodeToString(b)}
	nt.a, nt.b, nt.lv = newNS(t, nt.prefix+"a"), newNS(t, nt.prefix+"b"), newNS(t, nt.prefix+"l")
	run(t, "ip", "-n", nt.a, "link", "add", "ua", "type", "veth", "peer", "name", "ub", "netns", nt.b)
	run(t, "ip", "-n", nt.a, "addr", "add", "192.168.77.1/24", "dev", "ua")
	run(t, "ip", "-n", nt.b, "addr", "add", "192.168.77.2/24", "dev", "ub")
	run(t, "ip", "-n", nt.a, "link", "set", "ua", "up")
	run(t, "ip", "-n", nt.b, "link", "set", "ub", "up")
	nt.nodeA = c.AddNetworkNode(t, nt.prefix+"-node-a", nt.prefix+"-za", 8, 16384, nodeagent.NetworkConfig{
		Mode: nodeagent.NetworkVXLAN, DatapathNetNS: nsPath(nt.a), LibvirtNetNS: nsPath(nt.lv),
		UnderlayInterface: "ua", UnderlayIP: "192.168.77.1",
	})
	nt.nodeB = c.AddNetworkNode(t, nt.prefix+"-node-b", nt.prefix+"-zb", 8, 16384, nodeagent.NetworkConfig{
		Mode: nodeagent.NetworkVXLAN, DatapathNetNS: nsPath(nt.b), LibvirtNetNS: nsPath(nt.b),
		UnderlayInterface: "ub", UnderlayIP: "192.168.77.2",
	})
	return nt
}

// waitNetwork waits until the instance runs and has its network facts.
func waitNetwork(t *testing.T, inst *cloudv1.Instance) *cloudv1.Instance {
	t.Helper()
	key := client.ObjectKeyFromObject(inst)
	waitState(t, key, cloudv1.InstanceStateRunning)
	var got *cloudv1.Instance
	testenv.Eventually(t, longWait, key.String()+" to have an address", func() error {
		var err error
		if got, err = get(t, key); err != nil {
			return err
		}
		if got.Status.PrivateIPAddress == "" || got.Status.MACAddress == "" || got.Status.SegmentID == 0 {
			return fmt.Errorf("network status %+v", got.Status)
		}
		return nil
	})
	return got
}

// plugGuest plays a guest on node namespace node: a veth whose node side is named like the
// instance's tap and whose other side, in a namespace of its own, has the instance's MAC.
func (nt *netTest) plugGuest(t *testing.T, node string, inst *cloudv1.Instance) string {
	t.Helper()
	g := newNS(t, nt.prefix+"g"+inst.Status.InstanceID[len(inst.Status.InstanceID)-4:])
	tap := nodeagent.TapName(inst.Status.InstanceID)
	run(t, "ip", "-n", node, "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", g)
	run(t, "ip", "-n", g, "link", "set", "eth0", "address", inst.Status.MACAddress)
	run(t, "ip", "-n", g, "link", "set", "eth0", "up")
	return g
}

// dhcpLease runs busybox's udhcpc in the guest's namespace and returns what the server offered.
func dhcpLease(t *testing.T, guestNS string) map[string]string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "lease.sh")
	out := filepath.Join(filepath.Dir(script), "lease")
	body := "#!/bin/sh\n[ \"$1\" = bound ] && echo \"ip=$ip mask=$mask router=$router mtu=$mtu hostname=$hostname\" > " + out + "\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	var lease string
	testenv.Eventually(t, longWait, "a DHCP lease in "+guestNS, func() error {
		if _, err := try("ip", "netns", "exec", guestNS, "busybox", "udhcpc", "-q", "-n", "-f", "-t", "3", "-T", "1", "-i", "eth0", "-s", script); err != nil {
			return err
		}
		b, err := os.ReadFile(out)
		lease = string(b)
		return err
	})
	facts := map[string]string{}
	for _, kv := range strings.Fields(lease) {
		k, v, _ := strings.Cut(kv, "=")
		facts[k] = v
	}
	return facts
}

// configureGuest gives the guest's namespace its address and default route, as udhcpc's script would.
func configureGuest(t *testing.T, guestNS string, inst *cloudv1.Instance) {
	t.Helper()
	p := netip.MustParsePrefix(inst.Status.Subnet)
	run(t, "ip", "-n", guestNS, "addr", "add", fmt.Sprintf("%s/%d", inst.Status.PrivateIPAddress, p.Bits()), "dev", "eth0")
	run(t, "ip", "-n", guestNS, "route", "add", "default", "via", inst.Status.Gateway)
}

// fetch gets a URL from inside a namespace.
func fetch(ns, url string) (string, error) {
	return try("ip", "netns", "exec", ns, "python3", "-c",
		"import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1],timeout=3).read().decode())", url)
}

func masterOf(t *testing.T, ns, dev string) string {
	t.Helper()
	out, err := try("ip", "-n", ns, "-o", "link", "show", "dev", dev)
	if err != nil {
		return ""
	}
	f := strings.Fields(out)
	for i := range f {
		if f[i] == "master" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// TestNetworkDatapath runs two agents, each with its datapath in its own namespace, and checks
// what they converge for the instances bound to them: segment bridges (one per project), the
// taps libvirt made moved in and enslaved, DHCP leases, the packet filter, the metadata service,
// VXLAN between the nodes, and the same state after an agent restart.
func TestNetworkDatapath(t *testing.T) {
	c := startCloud(t)
	nt := setupNetTest(t, c)
	p1, p2 := newProject(t, c, nt.prefix+"-p1"), newProject(t, c, nt.prefix+"-p2")

	tapped := waitNetwork(t, newInstance(t, p1, "tapped", "m1.tiny", nt.prefix+"-za"))
	a1 := waitNetwork(t, newInstance(t, p1, "a1", "m1.tiny", nt.prefix+"-za"))
	other := waitNetwork(t, newInstance(t, p2, "other", "m1.tiny", nt.prefix+"-za"))
	b1 := waitNetwork(t, newInstance(t, p1, "b1", "m1.tiny", nt.prefix+"-zb"))
	if tapped.Status.SegmentID == other.Status.SegmentID {
		t.Fatalf("two projects share segment %d", other.Status.SegmentID)
	}
	seg1, seg2 := netdev.BridgeName(a1.Status.SegmentID), netdev.BridgeName(other.Status.SegmentID)

	// The domain has a plain tap with the instance's MAC, named for the datapath.
	for _, inst := range []*cloudv1.Instance{tapped, a1, other} {
		x := nt.nodeA.Domains(t)[inst.Status.InstanceID].XML
		if !strings.Contains(x, "<interface type='ethernet'>") || !strings.Contains(x, inst.Status.MACAddress) ||
			!strings.Contains(x, "dev='"+nodeagent.TapName(inst.Status.InstanceID)+"'") {
			t.Errorf("domain of %s lacks its NIC:\n%s", inst.Name, x)
		}
	}

	// libvirt's tap appears in its own namespace; the agent moves it into the datapath.
	tap := nodeagent.TapName(tapped.Status.InstanceID)
	run(t, "ip", "-n", nt.lv, "tuntap", "add", "dev", tap, "mode", "tap")
	ga1, gother, gb1 := nt.plugGuest(t, nt.a, a1), nt.plugGuest(t, nt.a, other), nt.plugGuest(t, nt.b, b1)

	testenv.Eventually(t, longWait, "ports on their segments' bridges", func() error {
		for _, w := range []struct{ ns, dev, bridge string }{
			{nt.a, tap, seg1}, {nt.a, nodeagent.TapName(a1.Status.InstanceID), seg1},
			{nt.a, nodeagent.TapName(other.Status.InstanceID), seg2}, {nt.b, nodeagent.TapName(b1.Status.InstanceID), seg1},
		} {
			if m := masterOf(t, w.ns, w.dev); m != w.bridge {
				return fmt.Errorf("%s in %s is on %q, want %s", w.dev, w.ns, m, w.bridge)
			}
		}
		return nil
	})
	if _, err := try("ip", "-n", nt.lv, "link", "show", tap); err == nil {
		t.Errorf("tap %s is still in libvirt's namespace", tap)
	}

	// DHCP hands each MAC its own address, the segment's gateway, the VXLAN MTU and the host name.
	for _, g := range []struct {
		ns   string
		inst *cloudv1.Instance
	}{{ga1, a1}, {gother, other}, {gb1, b1}} {
		lease := dhcpLease(t, g.ns)
		host, _, _ := strings.Cut(g.inst.Status.PrivateDNSName, ".")
		if lease["ip"] != g.inst.Status.PrivateIPAddress || lease["router"] != g.inst.Status.Gateway ||
			lease["mtu"] != "1450" || lease["hostname"] != host {
			t.Errorf("lease of %s: %v, want ip %s router %s mtu 1450 hostname %s", g.inst.Name, lease,
				g.inst.Status.PrivateIPAddress, g.inst.Status.Gateway, host)
		}
		configureGuest(t, g.ns, g.inst)
	}

	// The node's packet filter holds the default group's rules and every guest.
	ruleset := run(t, "ip", "netns", "exec", nt.a, "nft", "list", "ruleset")
	for _, want := range []string{"table inet pinet", "table bridge pinet", "table ip pinet-nat",
		"tcp dport 22", "tcp dport 1194", "udp dport 1194", a1.Status.PrivateIPAddress, other.Status.PrivateIPAddress} {
		if !strings.Contains(ruleset, want) {
			t.Errorf("node A's ruleset lacks %q:\n%s", want, ruleset)
		}
	}
	if strings.Contains(ruleset, b1.Status.PrivateIPAddress+" : ") {
		t.Errorf("node A filters for node B's guest %s:\n%s", b1.Status.PrivateIPAddress, ruleset)
	}

	// Each guest's metadata request answers its own facts; the node itself is no guest.
	for _, g := range []struct {
		ns   string
		inst *cloudv1.Instance
	}{{ga1, a1}, {gother, other}, {gb1, b1}} {
		var got string
		testenv.Eventually(t, shortWait, g.inst.Name+"'s instance-id", func() error {
			var err error
			got, err = fetch(g.ns, "http://169.254.169.254/latest/meta-data/instance-id")
			return err
		})
		if got != g.inst.Status.InstanceID {
			t.Errorf("%s's metadata says instance-id %q", g.inst.Name, got)
		}
		if ip, err := fetch(g.ns, "http://169.254.169.254/latest/meta-data/local-ipv4"); err != nil || ip != g.inst.Status.PrivateIPAddress {
			t.Errorf("%s's local-ipv4: %q, %v", g.inst.Name, ip, err)
		}
	}
	if out, err := fetch(nt.a, "http://192.168.77.1:8775/latest/meta-data/instance-id"); err == nil || !strings.Contains(out, "403") {
		t.Errorf("the node's own request got %q, %v; want 403", out, err)
	}

	// One project's guests reach each other across nodes over VXLAN; another project's don't.
	testenv.Eventually(t, shortWait, "a1 to reach b1 over VXLAN", func() error {
		_, err := try("ip", "netns", "exec", ga1, "busybox", "ping", "-c", "1", "-W", "2", b1.Status.PrivateIPAddress)
		return err
	})
	if _, err := try("ip", "netns", "exec", gother, "busybox", "ping", "-c", "2", "-W", "2", a1.Status.PrivateIPAddress); err == nil {
		t.Errorf("a guest of project %s reached one of project %s", p2, p1)
	}

	t.Run("metadata options", func(t *testing.T) { testMetadataOptions(t, nt, a1, ga1) })
	t.Run("groups", func(t *testing.T) { testGroupChanges(t, nt, p1, a1, b1, tapped) })
	t.Run("moving groups", func(t *testing.T) { testMovingGroups(t, nt, p1, a1, gb1) })
	t.Run("restart", func(t *testing.T) { testRestartConverges(t, nt, seg1) })
}

// imds asks the metadata service from inside a namespace: a token (PUT, token ""), or a path
// with the token given (none when "").
func imds(ns, path, token string) (string, error) {
	const script = `import sys,urllib.request
path, token = sys.argv[1], sys.argv[2]
if path == "token":
    r = urllib.request.Request("http://169.254.169.254/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
else:
    r = urllib.request.Request("http://169.254.169.254" + path, headers={"X-aws-ec2-metadata-token": token} if token else {})
sys.stdout.write(urllib.request.urlopen(r, timeout=3).read().decode())`
	return try("ip", "netns", "exec", ns, "python3", "-c", script, path, token)
}

// testMetadataOptions changes the instance's metadata options and checks that the node's
// metadata service follows: tokens required, the hop limit of a token's answer (asked from a
// "container" the guest routes for, as Docker's bridge does), the service disabled.
func testMetadataOptions(t *testing.T, nt *netTest, inst *cloudv1.Instance, guest string) {
	setOptions := func(opts string) {
		t.Helper()
		// Also when the test is over (its cleanup): not the test's context.
		if err := env.Client.Patch(context.Background(), inst.DeepCopy(), client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"metadataOptions":`+opts+`}}`))); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { setOptions("null") })
	const idPath = "/latest/meta-data/instance-id"

	// Tokens required: nothing without one, everything with one.
	setOptions(`{"httpTokens":"required"}`)
	testenv.Eventually(t, shortWait, "a request without a token refused", func() error {
		out, err := imds(guest, idPath, "")
		if err == nil || !strings.Contains(out, "401") {
			return fmt.Errorf("without a token: %q %v", out, err)
		}
		return nil
	})
	tok, err := imds(guest, "token", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := imds(guest, idPath, tok); err != nil || got != inst.Status.InstanceID {
		t.Fatalf("with a token: %q %v", got, err)
	}

	// A container behind the guest: its own namespace, routed and masqueraded by the guest.
	c := newNS(t, nt.prefix+"c"+inst.Status.InstanceID[len(inst.Status.InstanceID)-4:])
	run(t, "ip", "-n", guest, "link", "add", "ctr0", "type", "veth", "peer", "name", "eth0", "netns", c)
	run(t, "ip", "-n", guest, "addr", "add", "172.31.255.1/30", "dev", "ctr0")
	run(t, "ip", "-n", guest, "link", "set", "ctr0", "up")
	run(t, "ip", "-n", c, "addr", "add", "172.31.255.2/30", "dev", "eth0")
	run(t, "ip", "-n", c, "link", "set", "eth0", "up")
	run(t, "ip", "-n", c, "route", "add", "default", "via", "172.31.255.1")
	run(t, "ip", "netns", "exec", guest, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "netns", "exec", guest, "nft", "add table ip ctr; add chain ip ctr post { type nat hook postrouting priority 100; }; add rule ip ctr post oifname eth0 masquerade")

	// Tokens optional, hop limit 1 (the default): the container reads the metadata (its
	// answers go with the system's time-to-live), but a token's answer dies at the guest.
	setOptions(`{"httpTokens":"optional","httpPutResponseHopLimit":1}`)
	testenv.Eventually(t, shortWait, "the container to read without a token", func() error {
		got, err := imds(c, idPath, "")
		if err != nil || got != inst.Status.InstanceID {
			return fmt.Errorf("%q %v", got, err)
		}
		return nil
	})
	if out, err := imds(c, "token", ""); err == nil {
		t.Fatalf("a token reached the container one hop behind the guest with hop limit 1: %q", out)
	}
	if _, err := imds(guest, "token", ""); err != nil {
		t.Fatalf("the guest's own token with hop limit 1: %v", err)
	}
	setOptions(`{"httpPutResponseHopLimit":2}`)
	testenv.Eventually(t, shortWait, "a token to reach the container with hop limit 2", func() error {
		tok, err := imds(c, "token", "")
		if err != nil {
			return err
		}
		if got, err := imds(c, idPath, tok); err != nil || got != inst.Status.InstanceID {
			return fmt.Errorf("with the container's token: %q %v", got, err)
		}
		return nil
	})

	// Disabled: nothing at all.
	setOptions(`{"httpEndpoint":"disabled"}`)
	testenv.Eventually(t, shortWait, "the service disabled", func() error {
		for _, path := range []string{idPath, "token"} {
			if out, err := imds(guest, path, ""); err == nil || !strings.Contains(out, "403") {
				return fmt.Errorf("%s: %q %v", path, out, err)
			}
		}
		return nil
	})
}

// testGroupChanges checks the default group's members as the security group controller
// publishes them, and that authorizing and revoking a rule reach the node's nftables.
func testGroupChanges(t *testing.T, nt *netTest, project string, members ...*cloudv1.Instance) {
	ctx := t.Context()
	key := client.ObjectKey{Namespace: project, Name: cloudv1.DefaultSecurityGroupName}
	testenv.Eventually(t, shortWait, "the default group's members", func() error {
		sg := &cloudv1.SecurityGroup{}
		if err := env.Client.Get(ctx, key, sg); err != nil {
			return err
		}
		for _, m := range members {
			if !slices.Contains(sg.Status.MemberIPs, m.Status.PrivateIPAddress) {
				return fmt.Errorf("members %v lack %s", sg.Status.MemberIPs, m.Status.PrivateIPAddress)
			}
		}
		if len(sg.Status.MemberIPs) != len(members) {
			return fmt.Errorf("members %v, want %d", sg.Status.MemberIPs, len(members))
		}
		return nil
	})
	rules := func() string { return run(t, "ip", "netns", "exec", nt.a, "nft", "list", "table", "inet", "pinet") }
	setRules := func(change func([]cloudv1.IngressRule) []cloudv1.IngressRule) {
		t.Helper()
		testenv.Eventually(t, shortWait, "updating the default group", func() error {
			sg := &cloudv1.SecurityGroup{}
			if err := env.Client.Get(ctx, key, sg); err != nil {
				return err
			}
			sg.Spec.Ingress = change(sg.Spec.Ingress)
			return env.Client.Update(ctx, sg)
		})
	}
	port := int32(8080)
	setRules(func(r []cloudv1.IngressRule) []cloudv1.IngressRule {
		return append(r, cloudv1.IngressRule{Protocol: cloudv1.ProtocolTCP, FromPort: &port, ToPort: &port, CIDRIPs: []string{"198.51.100.0/24"}})
	})
	testenv.Eventually(t, shortWait, "the authorized rule on node A", func() error {
		if r := rules(); !strings.Contains(r, "tcp dport 8080") || !strings.Contains(r, "198.51.100.0/24") {
			return fmt.Errorf("no rule for 8080:\n%s", r)
		}
		return nil
	})
	setRules(func(r []cloudv1.IngressRule) []cloudv1.IngressRule {
		return slices.DeleteFunc(r, func(x cloudv1.IngressRule) bool { return x.FromPort != nil && *x.FromPort == port })
	})
	testenv.Eventually(t, shortWait, "the revoked rule gone from node A", func() error {
		if r := rules(); strings.Contains(r, "tcp dport 8080") {
			return fmt.Errorf("rule for 8080 still there:\n%s", r)
		}
		return nil
	})
}

// testMovingGroups moves a running instance out of its project's default group into one that
// admits only TCP 9090, as ModifyInstanceAttribute's groups (or kubectl) does: a guest of the
// default group on the other node no longer reaches it, and does again once it is back. It ends
// when node A's ruleset no longer has the group (the restart test after it compares rulesets).
func testMovingGroups(t *testing.T, nt *netTest, project string, inst *cloudv1.Instance, other string) {
	ctx := context.Background()
	port := int32(9090)
	moved := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "moved", Namespace: project},
		Spec: cloudv1.SecurityGroupSpec{Description: "tcp 9090 only", Ingress: []cloudv1.IngressRule{
			{Protocol: cloudv1.ProtocolTCP, FromPort: &port, ToPort: &port, CIDRIPs: []string{"0.0.0.0/0"}}}}}
	if err := env.Client.Create(ctx, moved); err != nil {
		t.Fatal(err)
	}
	setGroups := func(groups string) {
		t.Helper()
		if err := env.Client.Patch(ctx, inst.DeepCopy(), client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"securityGroups":`+groups+`}}`))); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		setGroups("null")
		_ = env.Client.Delete(context.Background(), moved)
	})
	ping := func() error {
		_, err := try("ip", "netns", "exec", other, "busybox", "ping", "-c", "1", "-W", "1", inst.Status.PrivateIPAddress)
		return err
	}
	testenv.Eventually(t, shortWait, "the default group's guest to reach "+inst.Name, ping)

	setGroups(`["moved"]`)
	testenv.Eventually(t, shortWait, inst.Name+" to be out of the default group's reach", func() error {
		if ping() == nil {
			return fmt.Errorf("%s still answers a guest of the default group", inst.Name)
		}
		return nil
	})
	setGroups("null")
	testenv.Eventually(t, shortWait, inst.Name+" back in the default group", ping)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(moved), moved); err != nil {
		t.Fatal(err)
	}
	def := &cloudv1.SecurityGroup{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: project, Name: cloudv1.DefaultSecurityGroupName}, def); err != nil {
		t.Fatal(err)
	}
	chain := "chain group_" + moved.Status.GroupID + " "
	testenv.Eventually(t, shortWait, "node A's ruleset without the group and with "+inst.Name+" among the default group's members", func() error {
		if moved.Status.GroupID == "" || def.Status.GroupID == "" {
			return fmt.Errorf("the groups have no ids")
		}
		r := run(t, "ip", "netns", "exec", nt.a, "nft", "list", "table", "inet", "pinet")
		if strings.Contains(r, chain) {
			return fmt.Errorf("still has %s", chain)
		}
		members := run(t, "ip", "netns", "exec", nt.a, "nft", "list", "set", "inet", "pinet", "members_"+def.Status.GroupID)
		if !strings.Contains(members, inst.Status.PrivateIPAddress) {
			return fmt.Errorf("the default group's members lack %s:\n%s", inst.Status.PrivateIPAddress, members)
		}
		return nil
	})
}

// testRestartConverges stops node A's agent, breaks part of its datapath, starts it again, and
// checks that it restores exactly what was there: the same devices (bridges not recreated) and
// the same ruleset, with nothing twice.
func testRestartConverges(t *testing.T, nt *netTest, bridge string) {
	links := func() string {
		return run(t, "ip", "-n", nt.a, "-o", "link", "show")
	}
	nftRules := func() string { return run(t, "ip", "netns", "exec", nt.a, "nft", "list", "ruleset") }
	beforeLinks, beforeRules := stripVolatile(links()), nftRules()

	nt.nodeA.Stop()
	run(t, "ip", "netns", "exec", nt.a, "nft", "delete", "table", "inet", "pinet")
	vx := strings.Replace(bridge, "pbr", "pvx", 1)
	run(t, "ip", "-n", nt.a, "link", "del", vx)
	nt.nodeA.Start()

	testenv.Eventually(t, longWait, "node A's datapath restored", func() error {
		if r := nftRules(); r != beforeRules {
			return fmt.Errorf("ruleset differs:\n%s\nwas:\n%s", r, beforeRules)
		}
		if masterOf(t, nt.a, vx) != bridge {
			return fmt.Errorf("%s not back on %s", vx, bridge)
		}
		return nil
	})
	after := stripVolatile(links())
	for _, line := range strings.Split(beforeLinks, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], "pbr") && !strings.Contains(after, line) {
			t.Errorf("bridge changed across the restart: %q not in\n%s", line, after)
		}
	}
	if strings.Count(after, ": pbr") != strings.Count(beforeLinks, ": pbr") || after != beforeLinks && strings.Count(after, "\n") != strings.Count(beforeLinks, "\n") {
		t.Errorf("bridges before the restart:\n%s\nafter:\n%s", beforeLinks, after)
	}
}

// stripVolatile keeps each link's index, name and master: what a recreation would change.
func stripVolatile(s string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		keep := f[0] + " " + f[1]
		for i := range f {
			if f[i] == "master" && i+1 < len(f) {
				keep += " master " + f[i+1]
			}
		}
		out = append(out, keep)
	}
	return strings.Join(out, "\n")
}
