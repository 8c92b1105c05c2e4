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
	"strings"
	"testing"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
)

func readyNode(name string, cpus, memMiB int64) *node {
	return &node{name: name, zone: "z1", ready: true, maxInstances: 10, milliCPU: cpus * 1000, memoryMiB: memMiB}
}

func small() request {
	return request{claim: capacity.Claim{MilliCPU: 1000, MemoryMiB: 2048, Class: cloudv1.InstanceClassStandard}}
}

func tiny() request {
	return request{claim: capacity.Claim{MilliCPU: 200, MemoryMiB: 512, Class: cloudv1.InstanceClassTiny}}
}

func TestChooseSpreadsByFreeCapacity(t *testing.T) {
	a, b := readyNode("a", 4, 8192), readyNode("b", 4, 8192)
	a.add(small().claim)
	n, _, _ := choose([]*node{a, b}, small())
	if n == nil || n.name != "b" {
		t.Fatalf("chose %v, want the emptier node b", n)
	}
	n, _, _ = choose([]*node{readyNode("y", 4, 8192), readyNode("x", 4, 8192)}, small())
	if n.name != "x" {
		t.Fatalf("tie went to %s, want x (by name)", n.name)
	}
}

func TestChooseExplainsShortage(t *testing.T) {
	full := readyNode("full", 1, 8192)
	full.add(small().claim)
	lowMem := readyNode("lowmem", 8, 1024)
	notReady := readyNode("down", 8, 8192)
	notReady.ready = false
	quota := readyNode("quota", 8, 8192)
	quota.maxInstances = 0
	cordoned := readyNode("cordoned", 8, 8192)
	cordoned.unschedulable = true
	n, reason, msg := choose([]*node{full, lowMem, notReady, quota, cordoned}, small())
	if n != nil {
		t.Fatalf("chose %s", n.name)
	}
	if reason != cloudv1.ReasonInsufficientCapacity {
		t.Fatalf("reason %s", reason)
	}
	for _, want := range []string{"0/5", "1 short of CPU", "1 short of memory", "1 not ready", "1 at their instance quota", "1 cordoned", "2048 MiB"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if _, reason, _ := choose(nil, small()); reason != cloudv1.ReasonNoHypervisors {
		t.Fatalf("no nodes: reason %s", reason)
	}
}

func TestChooseZone(t *testing.T) {
	a, b := readyNode("a", 4, 8192), readyNode("b", 4, 8192)
	b.zone = "z2"
	req := small()
	req.zone = "z2"
	if n, _, _ := choose([]*node{a, b}, req); n == nil || n.name != "b" {
		t.Fatalf("zone request went to %v", n)
	}
	req.zone = "z3"
	if n, _, msg := choose([]*node{a, b}, req); n != nil || !strings.Contains(msg, "2 in another zone") {
		t.Fatalf("unknown zone: %v %q", n, msg)
	}
}

func TestClassIsolation(t *testing.T) {
	iso := readyNode("iso", 8, 16384)
	iso.classIsolation = true
	iso.add(small().claim)
	if n, _, msg := choose([]*node{iso}, tiny()); n != nil || !strings.Contains(msg, "isolated") {
		t.Fatalf("tiny placed on isolated node hosting standard: %v %q", n, msg)
	}
	if n, _, _ := choose([]*node{iso}, small()); n == nil {
		t.Fatal("standard refused on node hosting standard")
	}
	shared := readyNode("shared", 8, 16384)
	shared.add(small().claim)
	if n, _, _ := choose([]*node{shared}, tiny()); n == nil {
		t.Fatal("tiny refused on a node without isolation")
	}
}

func TestOvercommitLetsTinyPack(t *testing.T) {
	n := readyNode("n", 1, 4096)
	for i := 0; i < 5; i++ {
		if fit(n, tiny()) != "" {
			t.Fatalf("tiny %d did not fit", i)
		}
		n.add(tiny().claim)
	}
	if fit(n, tiny()) != skipCPU {
		t.Fatalf("sixth tiny on one CPU: %q, want CPU shortage", fit(n, tiny()))
	}
}
