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

package scheduler

import (
	"fmt"
	"sort"
	"strings"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
)

// node is a hypervisor as the scheduler sees it: what it offers and what is claimed on it.
type node struct {
	name           string
	zone           string
	ready          bool
	unschedulable  bool
	classIsolation bool
	maxInstances   int32
	milliCPU       int64 // capacity
	memoryMiB      int64 // capacity
	used           capacity.Claim
	count          int32
	classes        map[cloudv1.InstanceClass]int
}

func (n *node) add(c capacity.Claim) {
	n.used = n.used.Add(c)
	n.count++
	if n.classes == nil {
		n.classes = map[cloudv1.InstanceClass]int{}
	}
	n.classes[c.Class]++
}

// request is what an instance needs from a node.
type request struct {
	claim capacity.Claim
	zone  string
}

// Why a node was passed over; the counts go into the Scheduled condition's message.
const (
	skipNotReady      = "not ready"
	skipCordoned      = "cordoned"
	skipZone          = "in another zone"
	skipQuota         = "at their instance quota"
	skipCPU           = "short of CPU"
	skipMemory        = "short of memory"
	skipClassIsolated = "isolated for another instance class"
)

// fit returns why n cannot take req, or "" if it can.
func fit(n *node, req request) string {
	switch {
	case !n.ready:
		return skipNotReady
	case n.unschedulable:
		return skipCordoned
	case req.zone != "" && n.zone != req.zone:
		return skipZone
	case n.count >= n.maxInstances:
		return skipQuota
	case n.used.MilliCPU+req.claim.MilliCPU > n.milliCPU:
		return skipCPU
	case n.used.MemoryMiB+req.claim.MemoryMiB > n.memoryMiB:
		return skipMemory
	}
	if n.classIsolation {
		for class, count := range n.classes {
			if class != req.claim.Class && count > 0 {
				return skipClassIsolated
			}
		}
	}
	return ""
}

// score ranks nodes that fit: the most free memory after placement, as a share of capacity,
// spreads instances across nodes. Higher is better.
func score(n *node, req request) float64 {
	freeMem := float64(n.memoryMiB-n.used.MemoryMiB-req.claim.MemoryMiB) / float64(max(n.memoryMiB, 1))
	freeCPU := float64(n.milliCPU-n.used.MilliCPU-req.claim.MilliCPU) / float64(max(n.milliCPU, 1))
	return freeMem + freeCPU
}

// choose picks the node for req, or explains why none fits.
func choose(nodes []*node, req request) (*node, string, string) {
	if len(nodes) == 0 {
		return nil, cloudv1.ReasonNoHypervisors, "No hypervisors are registered"
	}
	var best *node
	var bestScore float64
	skipped := map[string]int{}
	for _, n := range nodes {
		if why := fit(n, req); why != "" {
			skipped[why]++
			continue
		}
		s := score(n, req)
		if best == nil || s > bestScore || (s == bestScore && n.name < best.name) {
			best, bestScore = n, s
		}
	}
	if best != nil {
		return best, cloudv1.ReasonScheduled, ""
	}
	reasons := make([]string, 0, len(skipped))
	for why, count := range skipped {
		reasons = append(reasons, fmt.Sprintf("%d %s", count, why))
	}
	sort.Strings(reasons)
	msg := fmt.Sprintf("0/%d hypervisors can take %d mCPU and %d MiB of %s-class instance: %s",
		len(nodes), req.claim.MilliCPU, req.claim.MemoryMiB, req.claim.Class, strings.Join(reasons, ", "))
	return nil, cloudv1.ReasonInsufficientCapacity, msg
}
