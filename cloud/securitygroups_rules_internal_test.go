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

package cloud

import (
	"fmt"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// fuzzGroups is a project with two groups for the permission parser to resolve.
func fuzzGroups() *groupIndex {
	return newGroupIndex("p", []*cloudv1.SecurityGroup{
		{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "p"}, Status: cloudv1.SecurityGroupStatus{GroupID: "sg-00000000000000001"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "sg-00000000000000002", Namespace: "p"}, Spec: cloudv1.SecurityGroupSpec{GroupName: "web"}},
	})
}

// FuzzIngressPermissions feeds the permission parser anything a client could send, and checks
// that what it accepts is valid for the SecurityGroup CRD and survives being stored: the rules
// regroup builds split back into the very permissions they came from.
func FuzzIngressPermissions(f *testing.F) {
	f.Add("tcp", int32(22), int32(22), false, "0.0.0.0/0", "10.1.2.3/8", "web", 3)
	f.Add("-1", int32(0), int32(0), true, "", "", "sg-00000000000000001", 1)
	f.Add("icmp", int32(-1), int32(-1), false, "192.168.0.0/16", "", "", 2)
	f.Add("17", int32(53), int32(53), false, "198.51.100.7/32", "fe80::/10", "nosuch", 5)
	f.Fuzz(func(t *testing.T, protocol string, from, to int32, noPorts bool, cidr1, cidr2, group string, copies int) {
		ip := IPPermission{Protocol: protocol}
		if !noPorts {
			ip.FromPort, ip.ToPort = &from, &to
		}
		for _, c := range []string{cidr1, cidr2} {
			if c != "" {
				ip.CIDRs = append(ip.CIDRs, c)
			}
		}
		if group != "" {
			ip.Groups = append(ip.Groups, GroupPair{GroupName: group})
		}
		in := make([]IPPermission, 1+min(max(copies, 0), 40))
		for i := range in {
			in[i] = ip
		}
		x := fuzzGroups()
		for _, strict := range []bool{true, false} {
			perms, err := parsePermissions(in, x, strict)
			if err != nil {
				continue
			}
			rules := regroup(perms)
			for _, r := range rules {
				switch {
				case r.Protocol != cloudv1.ProtocolTCP && r.Protocol != cloudv1.ProtocolUDP && r.Protocol != cloudv1.ProtocolICMP && r.Protocol != cloudv1.ProtocolAll:
					t.Fatalf("protocol %q stored", r.Protocol)
				case r.Protocol != cloudv1.ProtocolAll && (r.FromPort == nil || r.ToPort == nil):
					t.Fatalf("rule %+v lacks ports", r)
				case r.Protocol == cloudv1.ProtocolTCP || r.Protocol == cloudv1.ProtocolUDP:
					if *r.FromPort < 0 || *r.ToPort > 65535 || *r.FromPort > *r.ToPort {
						t.Fatalf("ports %d-%d stored", *r.FromPort, *r.ToPort)
					}
				case len(r.CIDRIPs) == 0 && len(r.SourceGroups) == 0, len(r.CIDRIPs) > maxRuleCIDRs, len(r.SourceGroups) > maxRuleGroups:
					t.Fatalf("rule with %d ranges and %d groups", len(r.CIDRIPs), len(r.SourceGroups))
				}
				for _, c := range r.CIDRIPs {
					if canonicalCIDR(c) != c {
						t.Fatalf("range %q stored unnormalised", c)
					}
				}
			}
			keys := func(ps []permission) []string {
				var out []string
				for _, p := range ps {
					out = append(out, p.key(x))
				}
				sort.Strings(out)
				return out
			}
			if got, want := keys(expand(rules)), keys(perms); len(got) != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("stored rules split into %v, not %v", got, want)
			}
		}
	})
}
