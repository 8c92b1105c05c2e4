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
	"strconv"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Writing objects the API changes. A change is made to the newest version the API server has and
// sent with an optimistic lock: a merge patch replaces lists whole, so two calls changing one
// group's rules (or one object's tags) at once would otherwise lose one of the changes.

// latestBackoff spaces out the attempts of a change that keeps losing races, and bounds them:
// every round one of the racing writers wins, so a few dozen attempts suffice for many writers.
func latestBackoff() wait.Backoff {
	return wait.Backoff{Duration: 5 * time.Millisecond, Factor: 1.5, Jitter: 1, Steps: 32, Cap: 500 * time.Millisecond}
}

// ChangeLatest reads obj afresh from the API server, lets change modify it (or refuse, with the
// error it returns), and patches the difference under an optimistic lock, retrying on conflict.
// A NotFound error is returned as is. On success obj holds what the server stored.
func (s *Service) ChangeLatest(ctx context.Context, obj client.Object, change func() error) error {
	key := client.ObjectKeyFromObject(obj)
	return retryConflicts(ctx, func() error {
		if err := s.cfg.APIReader.Get(ctx, key, obj); err != nil {
			return err
		}
		before := obj.DeepCopyObject().(client.Object)
		if err := change(); err != nil {
			return err
		}
		return s.cfg.Client.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
}

// change is ChangeLatest followed, when it succeeds, by AwaitCache: the write step of an
// operation that changes an object.
func (s *Service) change(ctx context.Context, obj client.Object, change func() error) error {
	if err := s.ChangeLatest(ctx, obj, change); err != nil {
		return err
	}
	s.AwaitCache(ctx, obj)
	return nil
}

// DeleteLatest reads obj afresh, lets check refuse the deletion, and deletes exactly the version
// checked, retrying if it changed meanwhile. A NotFound error is returned as is.
func (s *Service) DeleteLatest(ctx context.Context, obj client.Object, check func() error) error {
	key := client.ObjectKeyFromObject(obj)
	return retryConflicts(ctx, func() error {
		if err := s.cfg.APIReader.Get(ctx, key, obj); err != nil {
			return err
		}
		if err := check(); err != nil {
			return err
		}
		uid, rv := obj.GetUID(), obj.GetResourceVersion()
		return s.cfg.Client.Delete(ctx, obj, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	})
}

// retryConflicts runs attempt again while it fails with a conflict, within latestBackoff.
func retryConflicts(ctx context.Context, attempt func() error) error {
	backoff := latestBackoff()
	for {
		err := attempt()
		if !apierrors.IsConflict(err) || backoff.Steps <= 1 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff.Step()):
		}
	}
}

// AwaitCache waits (bounded) until the informer cache holds obj at least at the version just
// written, so that the caller's next Describe shows its change. The write has happened either
// way; a cache that lags longer only delays what Describe shows, so the wait never fails the call.
func (s *Service) AwaitCache(ctx context.Context, obj client.Object) {
	want := obj.GetResourceVersion()
	cached := obj.DeepCopyObject().(client.Object)
	s.AwaitCacheUntil(ctx, client.ObjectKeyFromObject(obj), cached, func(found bool) bool {
		return found && atLeastVersion(cached.GetResourceVersion(), want) && s.indexed(obj, want)
	})
}

// Withdraw deletes an object a failing call made, and waits (bounded) until the cache stops
// showing it, so the caller's next Describe does not list what the failed call left behind.
func (s *Service) Withdraw(ctx context.Context, obj client.Object) error {
	var opts []client.DeleteOption
	if uid := obj.GetUID(); uid != "" {
		// Only the object the call knows: one made anew under its name since (a retry with the
		// same ClientToken, say) is not the failing call's to withdraw.
		opts = append(opts, client.Preconditions{UID: &uid})
	}
	if err := s.cfg.Client.Delete(ctx, obj, opts...); err != nil {
		if apierrors.IsConflict(err) {
			return nil
		}
		return client.IgnoreNotFound(err)
	}
	s.AwaitDeleted(ctx, obj)
	return nil
}

// AwaitDeleted waits (bounded) until the cache no longer shows obj, or shows it being deleted.
func (s *Service) AwaitDeleted(ctx context.Context, obj client.Object) {
	cached := obj.DeepCopyObject().(client.Object)
	s.AwaitCacheUntil(ctx, client.ObjectKeyFromObject(obj), cached, func(found bool) bool {
		return !found || cached.GetUID() != obj.GetUID() || !cached.GetDeletionTimestamp().IsZero()
	})
}

// AwaitCacheUntil waits (bounded) until done says the cache's copy of key, read into into, is
// what the caller waits for.
func (s *Service) AwaitCacheUntil(ctx context.Context, key client.ObjectKey, into client.Object, done func(found bool) bool) {
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, s.cfg.WaitForCache, true, func(ctx context.Context) (bool, error) {
		err := s.cfg.Client.Get(ctx, key, into)
		if err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		return done(err == nil), nil
	})
	if err != nil {
		logr.FromContextOrDiscard(ctx).Info("The cache did not show a write in time", "object", key.String(), "error", err.Error())
	}
}

// atLeastVersion compares resource versions. They are opaque to clients, but this API server's
// are etcd revisions, which only grow; anything that does not parse must match exactly.
func atLeastVersion(have, want string) bool {
	h, errH := strconv.ParseUint(have, 10, 64)
	w, errW := strconv.ParseUint(want, 10, 64)
	if errH != nil || errW != nil {
		return have == want
	}
	return h >= w
}
