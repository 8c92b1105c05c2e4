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
	"slices"
	"sync"

	"pinet.io/pinet/internal/quota"
)

// admissions gathers the single-object admissions (AdmitOne) of this process that wait on one
// ledger (a project's kind) into batches: one batch at a time asks the ledger for all its
// objects at once, while the next one fills. Two hundred concurrent AllocateAddress calls of a
// project thus write the ledger a few times instead of two hundred times in turn, each
// conflicting with all the others, which cannot finish in time on a loaded API server.
// Replicas of the front ends still admit through the same ledger under its optimistic lock.
type admissions struct {
	mu sync.Mutex
	// running is closed when the ledger's running batch ends; next is the batch filling behind it.
	running map[string]chan struct{}
	next    map[string]*admissionBatch
}

// admissionBatch is the objects one ledger write decides.
type admissionBatch struct {
	names    []string
	done     chan struct{}
	admitted []string
	err      error
}

func newAdmissions() *admissions {
	return &admissions{running: map[string]chan struct{}{}, next: map[string]*admissionBatch{}}
}

// admitBatched admits the object name (created marked pending) through g's ledger together with
// whatever else of this process waits on it, and tells whether it was admitted.
func (s *Service) admitBatched(ctx context.Context, g *quota.Gate, name string) (bool, error) {
	key := g.Project + "/" + g.Kind
	a := s.admissions
	a.mu.Lock()
	b, lead := a.next[key], false
	if b == nil {
		b, lead = &admissionBatch{done: make(chan struct{})}, true
		a.next[key] = b
	}
	b.names = append(b.names, name)
	a.mu.Unlock()
	if lead {
		// The batch runs to its end whoever waits for it: the ledger's own timeout bounds it.
		go s.runAdmissionBatch(context.WithoutCancel(ctx), g, key, b)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if b.err != nil {
		return false, b.err
	}
	return slices.Contains(b.admitted, name), nil
}

// runAdmissionBatch waits until the ledger's running batch ends, closes b to newcomers, and
// admits its objects in the order they came.
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
	b.admitted, _, b.err = s.admitPending(ctx, g, b.names, 0)
	a.mu.Lock()
	delete(a.running, key)
	a.mu.Unlock()
	close(b.done)
}
