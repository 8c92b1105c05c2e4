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

package ipam

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// NeededFunc tells a Sweeper whether holder still needs its claim on value. A sweep gets one
// from its Sweeper's Needed after it listed the claims.
type NeededFunc func(ctx context.Context, holder, value string) (bool, error)

// Sweeper gives back the claims of one kind of holder that their holders no longer need and did
// not release: a claim a call made and could not record (its holder records another item, or is
// done with the pool), the claims of a holder deleted while no manager ran. Holders release the
// item they record by name (ReleaseClaim), so no release lists the claims of the whole cloud;
// the sweeper lists them once an Interval instead.
type Sweeper struct {
	Allocator *Allocator
	Clock     clock.PassiveClock
	// Interval between sweeps; Grace is how old a claim must be before it is looked at, so that
	// a claim whose holder is about to record it is left alone.
	Interval, Grace time.Duration
	// HolderKind selects the claims swept (LabelHolderKind).
	HolderKind string
	// Needed returns the test of one sweep, for the claims it listed.
	Needed func(ctx context.Context) (NeededFunc, error)
}

// NeedLeaderElection is true: one sweeper is enough.
func (s *Sweeper) NeedLeaderElection() bool { return true }

// Start sweeps at once (claims left while no manager ran), then every Interval until ctx ends.
func (s *Sweeper) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("ipam-sweeper").WithValues("holderKind", s.HolderKind)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if n, err := s.Sweep(ctx); err != nil {
			logger.Error(err, "Sweeping claims")
		} else if n > 0 {
			logger.Info("Released claims no holder needs", "count", n)
		}
	}, s.Interval)
	return nil
}

// Sweep releases the claims not needed once and returns how many it released. Claims are listed
// before their holders are asked, and a holder exists before it claims, so a claim older than
// Grace whose holder is gone really lost it.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	al := s.Allocator
	list := &coordinationv1.LeaseList{}
	if err := al.Reader.List(ctx, list, client.InNamespace(al.Namespace), client.MatchingLabels{LabelHolderKind: s.HolderKind}); err != nil {
		return 0, fmt.Errorf("listing the claims of %s holders: %w", s.HolderKind, err)
	}
	now := s.Clock.Now()
	var old []*coordinationv1.Lease
	for i := range list.Items {
		if l := &list.Items[i]; now.Sub(l.CreationTimestamp.Time) >= s.Grace {
			old = append(old, l)
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	needed, err := s.Needed(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the %s holders: %w", s.HolderKind, err)
	}
	released := 0
	var errs []error
	for _, l := range old {
		keep, err := needed(ctx, l.Labels[LabelHolder], value(l))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if keep {
			continue
		}
		if err := al.deleteExactly(ctx, l); err != nil {
			errs = append(errs, err)
			continue
		}
		log.FromContext(ctx).V(1).Info("Released a claim no holder needs", "claim", l.Name, "holder", l.Labels[LabelHolder])
		released++
	}
	return released, errors.Join(errs...)
}
