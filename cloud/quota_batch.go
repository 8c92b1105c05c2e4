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
	"context"
	"sync"

	"pinet.io/pinet/internal/quota"
)

// admissions gathers the admissions of this process that wait on one ledger (a project's kind)
// into batches: one batch at a time asks the ledger for all its requests at once, while the next
// one fills. Two hundred concurrent AllocateAddress or RunInstances calls of a project thus write
// the ledger a few times instead of two hundred times in turn, each conflicting with all the
// others, which cannot finish in time on a loaded API server. Replicas of the front ends still
// admit through the same ledger under its optimistic lock.
type admissions struct {
	mu sync.Mutex
	// running is closed when the ledger's running batch ends; next is the batch filling behind it.
	running map[string]chan struct{}
	next    map[string]*admissionBatch
}

// admissionBatch is the requests one ledger write decides.
type admissionBatch struct {
	reqs      []quota.Request
	done      chan struct{}
	decisions []quota.Decision
	err       error
}

func newAdmissions() *admissions {
	return &admissions{running: map[string]chan struct{}{}, next: map[string]*admissionBatch{}}
}

// admitBatched asks g's ledger to admit the request's objects (created marked pending) together
// with whatever else of this process waits on it, and returns the ledger's decision.
func (s *Service) admitBatched(ctx context.Context, g *quota.Gate, req quota.Request) (quota.Decision, error) {
	key := g.Project + "/" + g.Kind
	a := s.admissions
	a.mu.Lock()
	b, lead := a.next[key], false
	if b == nil {
		b, lead = &admissionBatch{done: make(chan struct{})}, true
		a.next[key] = b
	}
	i := len(b.reqs)
	b.reqs = append(b.reqs, req)
	a.mu.Unlock()
	if lead {
		// The batch runs to its end whoever waits for it: the ledger's own timeout bounds it.
		go s.runAdmissionBatch(context.WithoutCancel(ctx), g, key, b)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return quota.Decision{}, ctx.Err()
	}
	if b.err != nil {
		return quota.Decision{}, b.err
	}
	return b.decisions[i], nil
}

// runAdmissionBatch waits until the ledger's running batch ends, closes b to newcomers, and
// decides its requests in the order they came.
func (s *Service) runAdmissionBatch(ctx context.Context, g *quota.Gate, key string, b *admissionBatch) {
	a := s.admissions
	for {
		a.mu.Lock()
		prev := a.running[key]
		if prev == nil {
			a.running[key] = b.done
			delete(a.next, key)
			a.mu.Unlock()
			break
		}
		a.mu.Unlock()
		<-prev
	}
	b.decisions, b.err = s.admitPending(ctx, g, b.reqs)
	a.mu.Lock()
	delete(a.running, key)
	a.mu.Unlock()
	close(b.done)
}
