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

package claims

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Sweeper removes claims whose holder is gone. Kinds whose objects carry a finalizer release
// their claims on deletion; the sweeper catches the rest: kinds without one (key pairs, security
// groups), claims of objects deleted while the manager was down, and calls that failed half-way.
type Sweeper struct {
	Claimer *Claimer
	Clock   clock.PassiveClock
	// Interval between sweeps; Grace is how old a claim must be before it may be removed.
	Interval, Grace time.Duration
}

// NeedLeaderElection is true: one sweeper is enough.
func (s *Sweeper) NeedLeaderElection() bool { return true }

// Start sweeps at once (claims left while no manager ran), then every Interval until ctx ends.
func (s *Sweeper) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("claim-sweeper")
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if n, err := s.Sweep(ctx); err != nil {
			logger.Error(err, "Sweeping id claims")
		} else if n > 0 {
			logger.Info("Removed stale id claims", "count", n)
		}
	}, s.Interval)
	return nil
}

// Sweep removes the stale claims once and returns how many it removed. Claims are listed before
// their holders: a holder always exists before its claim, so a claim listed here whose holder is
// missing from the later list really lost it.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	c := s.Claimer
	claims := &coordinationv1.LeaseList{}
	if err := c.Reader.List(ctx, claims, client.InNamespace(c.Namespace), client.HasLabels{LabelKind}); err != nil {
		return 0, fmt.Errorf("listing id claims: %w", err)
	}
	live := map[string]map[types.UID]bool{}
	now := s.Clock.Now()
	removed := 0
	var errs []error
	for i := range claims.Items {
		held := &claims.Items[i]
		if now.Sub(held.CreationTimestamp.Time) < s.Grace {
			continue
		}
		kind := held.Labels[LabelKind]
		if _, ok := live[kind]; !ok {
			uids, err := s.uids(ctx, kind)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			live[kind] = uids
		}
		if live[kind] == nil || live[kind][holderUID(held)] {
			continue
		}
		if err := c.deleteExactly(ctx, held); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// uids lists the UIDs of every object of kind. A kind that is not served yields nil: its claims
// are left alone.
func (s *Sweeper) uids(ctx context.Context, kind string) (map[types.UID]bool, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk(kind + "List"))
	if err := s.Claimer.Reader.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing %s objects: %w", kind, err)
	}
	uids := make(map[types.UID]bool, len(list.Items))
	for i := range list.Items {
		uids[list.Items[i].UID] = true
	}
	return uids, nil
}
