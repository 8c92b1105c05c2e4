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

package capacity

import (
	"maps"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Holding is what one instance holds: a place on a hypervisor, sized by its instance type.
type Holding struct {
	Node         string
	InstanceType string
}

// Tally is what the instances on one hypervisor hold: how many there are, by instance type.
type Tally struct {
	Count  int32
	ByType map[string]int32
}

func (t *Tally) add(h Holding, n int32) {
	t.Count += n
	if t.ByType == nil {
		t.ByType = map[string]int32{}
	}
	t.ByType[h.InstanceType] += n
	if t.ByType[h.InstanceType] == 0 {
		delete(t.ByType, h.InstanceType)
	}
}

func (t Tally) clone() Tally {
	return Tally{Count: t.Count, ByType: maps.Clone(t.ByType)}
}

type assumption struct {
	Holding
	expires time.Time
}

// Ledger keeps, per hypervisor, what the instances bound to it hold. It is fed instance by
// instance from the informer's events (Observe, Forget), keyed by UID — an instance made again
// under an old name is another instance — so reading it costs what the hypervisors and instance
// types cost, never what the fleet does. A scheduler also records the bindings it has written
// but not yet seen (Assume); they count until an event shows the binding or the instance going,
// and expire in any case. The zero value is ready to use.
type Ledger struct {
	mu      sync.Mutex
	held    map[types.UID]Holding
	assumed map[types.UID]assumption
	nodes   map[string]*Tally
}

// Observe records what inst holds now and returns the hypervisors whose tally changed, counting
// assumptions: a hypervisor where an assumption of inst ended without inst holding a place there
// now has room it did not have.
func (l *Ledger) Observe(inst *cloudv1.Instance) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var changed []string
	cur := Holding{Node: inst.Status.Hypervisor, InstanceType: inst.GivenInstanceType()}
	if a, ok := l.assumed[inst.UID]; ok && (inst.Terminating() ||
		(inst.Status.Hypervisor != "" && (a.Node != cur.Node || a.InstanceType == cur.InstanceType))) {
		// The cache shows the binding or the resize, or the instance is going (or bound
		// elsewhere): nothing left to assume.
		delete(l.assumed, inst.UID)
		if a.Holding != cur || !Holds(inst) {
			changed = append(changed, a.Node)
		}
	}
	old, had := l.held[inst.UID]
	holds := Holds(inst)
	if had && holds && old == cur {
		return changed
	}
	if had {
		l.release(inst.UID, old)
		changed = append(changed, old.Node)
	}
	if holds {
		if l.held == nil {
			l.held = map[types.UID]Holding{}
		}
		l.held[inst.UID] = cur
		l.tally(cur.Node).add(cur, 1)
		if !had || old.Node != cur.Node {
			changed = append(changed, cur.Node)
		}
	}
	return changed
}

// Forget drops a deleted instance and returns the hypervisors whose tally changed, its
// assumption's included.
func (l *Ledger) Forget(uid types.UID) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var changed []string
	if a, ok := l.assumed[uid]; ok {
		delete(l.assumed, uid)
		changed = append(changed, a.Node)
	}
	old, had := l.held[uid]
	if !had {
		return changed
	}
	l.release(uid, old)
	return append(changed, old.Node)
}

func (l *Ledger) release(uid types.UID, h Holding) {
	delete(l.held, uid)
	t := l.tally(h.Node)
	t.add(h, -1)
	if t.Count == 0 {
		delete(l.nodes, h.Node)
	}
}

func (l *Ledger) tally(node string) *Tally {
	if l.nodes == nil {
		l.nodes = map[string]*Tally{}
	}
	t := l.nodes[node]
	if t == nil {
		t = &Tally{}
		l.nodes[node] = t
	}
	return t
}

// Assume counts a binding (or a bound instance's resize) written but not yet observed until
// expires.
func (l *Ledger) Assume(uid types.UID, h Holding, expires time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.assumed == nil {
		l.assumed = map[types.UID]assumption{}
	}
	l.assumed[uid] = assumption{Holding: h, expires: expires}
}

// Unassume drops an assumption (its binding was never written) and reports whether there was
// one: if so, its hypervisor has room again.
func (l *Ledger) Unassume(uid types.UID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.assumed[uid]
	delete(l.assumed, uid)
	return ok
}

// Assumed reports whether uid has a live assumption at now, and how long it has left.
func (l *Ledger) Assumed(uid types.UID, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.assumed[uid]
	if !ok {
		return 0, false
	}
	left := a.expires.Sub(now)
	if left <= 0 {
		delete(l.assumed, uid)
		return 0, false
	}
	return left, true
}

// NextExpiry returns how long after now the first live assumption expires, if there is one:
// when it does, its room comes back without any event to say so.
func (l *Ledger) NextExpiry(now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Duration
	found := false
	for _, a := range l.assumed {
		left := a.expires.Sub(now)
		if left <= 0 {
			continue
		}
		if !found || left < first {
			first, found = left, true
		}
	}
	return first, found
}

// Assumptions is how many bindings are assumed.
func (l *Ledger) Assumptions() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.assumed)
}

// Tally returns what the instances observed on node hold (assumptions not counted).
func (l *Ledger) Tally(node string) Tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.nodes[node]; t != nil {
		return t.clone()
	}
	return Tally{}
}

// Tallies returns every hypervisor's tally at now, live assumptions included; expired ones are
// dropped.
func (l *Ledger) Tallies(now time.Time) map[string]Tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Tally, len(l.nodes))
	for name, t := range l.nodes {
		out[name] = t.clone()
	}
	for uid, a := range l.assumed {
		if !now.Before(a.expires) {
			delete(l.assumed, uid)
			continue
		}
		if h, observed := l.held[uid]; observed {
			if h == a.Holding {
				continue
			}
			// A resize written but not yet seen: the instance holds the assumed size instead.
			t := out[h.Node]
			t.add(h, -1)
			out[h.Node] = t
		}
		t := out[a.Node]
		t.add(a.Holding, 1)
		out[a.Node] = t
	}
	return out
}
