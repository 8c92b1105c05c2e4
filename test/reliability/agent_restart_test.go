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

package reliability

import (
	"testing"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// The node agents go down and come back, again and again, while a launch is placed and realised
// and while the instances terminate: in the end every instance runs as exactly one domain on its
// node, and after the terminations nothing is left.
func TestNodeAgentRestarts(t *testing.T) {
	c := startCloud(t)
	const zone = "rel-agent"
	nodes := []*testcloud.Node{
		c.AddNode(t, "rel-agent-1", zone, 64, 65536),
		c.AddNode(t, "rel-agent-2", zone, 64, 65536),
	}
	tn := newTenant(t, c, "rel-agent", testcloud.NoQuota())
	n, rounds := scale(24, 120), scale(2, 5)

	ids := launch(t, tn, zone, n)
	for round := range rounds {
		// Down at a different point each round: before anything runs, then part way.
		waitFor(shortWait, func() bool { return runningCount(t, tn.project) >= round*n/(rounds+1) })
		t.Logf("restarting the agents with %d of %d instances running", runningCount(t, tn.project), n)
		restartAgents(nodes)
	}
	testenv.Eventually(t, longWait, "the launch to converge after the agents' restarts", func() error {
		return converged(t, tn.project, ids, nodes)
	})

	terminate(t, tn, ids)
	for round := range rounds {
		left := func() int {
			d, err := domainsOf(nodes)
			if err != nil {
				t.Fatal(err)
			}
			return len(d)
		}
		waitFor(shortWait, func() bool { return left() <= n-(round+1)*n/(rounds+1) })
		t.Logf("restarting the agents with %d of %d domains left", left(), n)
		restartAgents(nodes)
	}
	testenv.Eventually(t, longWait, "the terminations to converge after the agents' restarts", func() error {
		return allGone(t, tn.project, nodes)
	})
}

// restartAgents stops every node's agent, then starts them all again.
func restartAgents(nodes []*testcloud.Node) {
	for _, n := range nodes {
		n.Stop()
	}
	for _, n := range nodes {
		n.Start()
	}
}
