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
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Operations on many objects (a launch of hundreds, a termination of a fleet) write them in
// parallel, a bounded number at a time, and wait for the cache once for all of them.

// parallelWrites bounds the API requests one call has in flight.
const parallelWrites = 16

// inParallel runs do(i) for every i in [0, n), at most parallelWrites at a time. After a failure
// it starts no more and waits for those under way; it returns the error of the lowest index
// that failed, so the answer does not depend on which finished first.
func inParallel(n int, do func(i int) error) error {
	errs := make([]error, n)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed bool
	)
	slots := make(chan struct{}, parallelWrites)
	for i := range n {
		slots <- struct{}{}
		mu.Lock()
		stop := failed
		mu.Unlock()
		if stop {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := do(i); err != nil {
				errs[i] = err
				mu.Lock()
				failed = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// forAll runs do(i) for every i in [0, n), at most parallelWrites at a time, whatever fails; it
// returns the error of the lowest index that failed. Cleanups use it: one failure must not leave
// the rest undone.
func forAll(n int, do func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, parallelWrites)
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			errs[i] = do(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// AwaitCacheAll is AwaitCache for many objects with one bounded wait: it polls until the cache
// holds each of them at least at the version written, looking again only at those it did not
// see yet.
func (s *Service) AwaitCacheAll(ctx context.Context, objs []client.Object) {
	waiting := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		if o != nil {
			waiting = append(waiting, o)
		}
	}
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, s.cfg.WaitForCache, true, func(ctx context.Context) (bool, error) {
		left := waiting[:0]
		for _, o := range waiting {
			cached := o.DeepCopyObject().(client.Object)
			err := s.cfg.Client.Get(ctx, client.ObjectKeyFromObject(o), cached)
			if err != nil && !apierrors.IsNotFound(err) {
				return false, err
			}
			if err != nil || !atLeastVersion(cached.GetResourceVersion(), o.GetResourceVersion()) || !s.indexed(o, o.GetResourceVersion()) {
				left = append(left, o)
			}
		}
		waiting = left
		return len(waiting) == 0, nil
	})
	if err != nil {
		logr.FromContextOrDiscard(ctx).Info("The cache did not show writes in time", "waiting", len(waiting), "error", err.Error())
	}
}

// WithdrawAll is Withdraw of many objects, in parallel; all are tried whatever fails.
func (s *Service) WithdrawAll(ctx context.Context, objs []client.Object) error {
	return forAll(len(objs), func(i int) error { return s.Withdraw(ctx, objs[i]) })
}
