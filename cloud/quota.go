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
	"cmp"
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/quota"
)

// An operation that creates an object under a project quota creates it marked pending (quota
// package), then admits it through the project's ledger for the kind before it answers;
// refused, the object is withdrawn. Objects made with kubectl are admitted by their controllers
// (quota.Ledger.AdmitMade for addresses and volumes).

// Ledger admits objects through the API server itself, never the cache.
func (s *Service) Ledger() *quota.Ledger {
	return &quota.Ledger{Reader: s.cfg.APIReader, Writer: s.cfg.Client}
}

// ProjectQuota is a project's quota (none if the project is unknown).
func (s *Service) ProjectQuota(ctx context.Context, project string) (cloudv1.ProjectQuota, error) {
	return quota.Of(ctx, s.cfg.Client, project)
}

// AdmitOne decides whether obj, created marked pending, may stay; admitted, it loses the mark.
func (s *Service) AdmitOne(ctx context.Context, g *quota.Gate, obj client.Object) (bool, error) {
	if g.Unlimited() {
		return true, nil
	}
	d, err := s.admitBatched(ctx, g, quota.Request{Names: []string{obj.GetName()}, Minimum: 1})
	if err != nil || len(d.Admitted) == 0 {
		return false, err
	}
	s.Unmark(ctx, obj)
	return true, nil
}

// admitOrWithdraw admits obj, created marked pending, under the gate; refused (overQuota), or when
// the ledger cannot decide, it withdraws obj, so nothing over the quota stays.
func (s *Service) admitOrWithdraw(ctx context.Context, g *quota.Gate, obj client.Object, overQuota error) error {
	if admitted, err := s.AdmitOne(ctx, g, obj); err != nil || !admitted {
		if delErr := s.Withdraw(ctx, obj); delErr != nil {
			return fmt.Errorf("withdrawing %s over the quota: %w", obj.GetName(), delErr)
		}
		return cmp.Or(err, overQuota)
	}
	return nil
}

// admitPending asks the project's ledger to decide the requests, each naming objects created
// marked pending, in this order: of each, as many as fit, at least its minimum, or none (the
// decision's Refused says which limit stopped them). A ledger that cannot decide in time is
// Unavailable.
func (s *Service) admitPending(ctx context.Context, g *quota.Gate, reqs []quota.Request) ([]quota.Decision, error) {
	decisions, err := s.Ledger().AdmitAll(ctx, g, reqs, s.cfg.WaitForCache)
	if err != nil {
		var names []string
		for _, r := range reqs {
			names = append(names, r.Names...)
		}
		logr.FromContextOrDiscard(ctx).Info("Admitting under the quota failed", "objects", names, "error", err.Error())
		return nil, Unavailable("The quota of project %s could not be checked in time; try again.", g.Project)
	}
	return decisions, nil
}

// Unmark drops the pending mark of an admitted object. Listed in the ledger, the object counts
// whether or not the mark goes; a mark left behind is only cosmetic.
func (s *Service) Unmark(ctx context.Context, obj client.Object) {
	if err := quota.Unmark(ctx, s.cfg.Client, obj); err != nil {
		logr.FromContextOrDiscard(ctx).Info("Leaving the quota mark on an admitted object", "object", obj.GetName(), "error", err.Error())
	}
}
