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

package netfilter

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
)

// listing describes every table of the namespace through the library: chains with their rules'
// expressions, and sets with their elements. Rule handles are left out.
func listing(t *testing.T, ns netns.NsHandle) (text string, rules int) {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	must(t, err)
	tables, err := conn.ListTables()
	must(t, err)
	chains, err := conn.ListChains()
	must(t, err)
	var lines []string
	for _, tb := range tables {
		head := fmt.Sprintf("table %d %s", tb.Family, tb.Name)
		lines = append(lines, head)
		sets, err := conn.GetSets(tb)
		must(t, err)
		for _, s := range sets {
			elems, err := conn.GetSetElements(s)
			must(t, err)
			var es []string
			for _, e := range elems {
				es = append(es, fmt.Sprintf("%x:%x:%v:%+v", e.Key, e.Val, e.IntervalEnd, e.VerdictData))
			}
			slices.Sort(es)
			lines = append(lines, fmt.Sprintf("%s set %s %s %v", head, s.Name, s.KeyType.Name, es))
		}
		for _, c := range chains {
			if c.Table.Name != tb.Name || c.Table.Family != tb.Family {
				continue
			}
			rs, err := conn.GetRules(tb, c)
			must(t, err)
			for i, r := range rs {
				rules++
				var es []string
				for _, e := range r.Exprs {
					es = append(es, fmt.Sprintf("%T%+v", e, e))
				}
				lines = append(lines, fmt.Sprintf("%s chain %s rule %d: %s", head, c.Name, i, strings.Join(es, " ")))
			}
			if len(rs) == 0 {
				lines = append(lines, fmt.Sprintf("%s chain %s", head, c.Name))
			}
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), rules
}

// nftListing is `nft list ruleset` in the namespace, when the nft tool is installed.
func nftListing(t *testing.T, nsName string) (string, bool) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		return "", false
	}
	out, err := exec.Command("ip", "netns", "exec", nsName, "nft", "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list ruleset: %v: %s", err, out)
	}
	return string(out), true
}

// addForeignTable installs a table PiNet does not own, with a set, a chain and a rule.
func addForeignTable(t *testing.T, ns netns.NsHandle) {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	must(t, err)
	tb := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "operator"})
	must(t, conn.AddSet(&nftables.Set{Table: tb, Name: "blocked", KeyType: nftables.TypeIPAddr},
		[]nftables.SetElement{{Key: []byte{203, 0, 113, 7}}}))
	c := conn.AddChain(&nftables.Chain{Table: tb, Name: "input", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
	conn.AddRule(&nftables.Rule{Table: tb, Chain: c, Exprs: []expr.Any{
		networkLoad(offIPSaddr, 4, reg1), &expr.Lookup{SourceRegister: reg1, SetName: "blocked"}, verdict(expr.VerdictDrop),
	}})
	must(t, conn.Flush())
}

func TestApplyReplacesOnlyPiNetTables(t *testing.T) {
	n := &testNet{}
	n.nodeName = "pt-nf-apply-" + randomSuffix()
	n.node = newNamedNS(t, n.nodeName)
	addForeignTable(t, n.node)
	foreign, foreignRules := listing(t, n.node)
	f := New(int(n.node))
	ctx := context.Background()

	p := withRules(basePolicy(), "sg-web",
		Rule{Protocol: ProtocolICMP, FromPort: 8, ToPort: -1, CIDRs: []string{"10.0.0.0/8"}},
		Rule{Protocol: ProtocolUDP, FromPort: 1194, ToPort: 1194, SourceGroupIDs: []string{"sg-web", "sg-b"}})
	rs, err := Render(p)
	must(t, err)
	must(t, f.Apply(ctx, p))
	first, firstRules := listing(t, n.node)
	firstNft, haveNft := nftListing(t, n.nodeName)
	if want := foreignRules + rs.Rules(); firstRules != want {
		t.Errorf("after Apply: %d rules, want %d (%d foreign + %d rendered)", firstRules, want, foreignRules, rs.Rules())
	}
	must(t, f.Apply(ctx, p))
	second, secondRules := listing(t, n.node)
	if second != first || secondRules != firstRules {
		t.Errorf("a second Apply changed the ruleset (%d -> %d rules):\n%s\n---\n%s", firstRules, secondRules, first, second)
	}
	if haveNft {
		if again, _ := nftListing(t, n.nodeName); again != firstNft {
			t.Errorf("nft list ruleset changed on a second Apply:\n%s\n---\n%s", firstNft, again)
		}
		t.Logf("nft list ruleset:\n%s", firstNft)
	}

	t.Run("a bad policy changes nothing", func(t *testing.T) {
		bad := withRules(p, "sg-web", Rule{Protocol: ProtocolTCP, FromPort: 90, ToPort: 80, CIDRs: []string{"0.0.0.0/0"}})
		if err := f.Apply(ctx, bad); !errors.Is(err, ErrInvalidPolicy) {
			t.Fatalf("Apply(bad) = %v, want ErrInvalidPolicy", err)
		}
		if now, _ := listing(t, n.node); now != first {
			t.Errorf("a refused policy changed the ruleset")
		}
	})

	t.Run("a transaction the kernel refuses keeps the old ruleset", func(t *testing.T) {
		rs, err := Render(basePolicy())
		must(t, err)
		// A rule jumping to a chain that does not exist fails in the kernel, after the tables
		// were queued for deletion in the same batch.
		last := rs.rules[len(rs.rules)-1]
		last.Exprs = append(last.Exprs, &expr.Verdict{Kind: expr.VerdictJump, Chain: "no_such_chain"})
		if err := f.install(ctx, rs); err == nil {
			t.Fatal("installing a broken ruleset succeeded")
		}
		if now, _ := listing(t, n.node); now != first {
			t.Errorf("a failed transaction changed the ruleset:\n%s\n---\n%s", first, now)
		}
	})

	t.Run("Delete removes PiNet's tables only", func(t *testing.T) {
		must(t, f.Delete(ctx))
		if now, _ := listing(t, n.node); now != foreign {
			t.Errorf("after Delete:\n%s\nwant only the foreign table:\n%s", now, foreign)
		}
		must(t, f.Delete(ctx)) // nothing left to delete is no error
	})
}
