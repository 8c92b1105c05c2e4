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
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/refs"
)

// Instances under the project's quota: a launch creates its instances marked pending and admits
// them through the project's instance ledger, in launch order; a resize of a stopped instance is
// checked against the vCPU and memory limits as the cache sees the project.

// launchQuota is the project's instance gate and what one instance of the launch takes of it.
func (s *Service) launchQuota(ctx context.Context, c Caller, spec *cloudv1.InstanceSpec) (*quota.Gate, []int64, error) {
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return nil, nil, err
	}
	it, err := refs.InstanceType(ctx, s.cfg.Client, spec.InstanceType)
	if err != nil {
		return nil, nil, fmt.Errorf("reading instance type %s: %w", spec.InstanceType, err)
	}
	return quota.Instances(c.Project(), q), quota.InstanceUse(it), nil
}

// ownRoom is gate without the instances a launch with clientToken may have made already (an
// earlier attempt of the call that crashed before it finished, which this call takes over):
// they are the launch's own and never take its room. They are named as newLaunch names them from
// the token's seed ("" without a token).
func ownRoom(gate *quota.Gate, seed string, maxCount int) *quota.Gate {
	if seed == "" || gate.Unlimited() {
		return gate
	}
	own := make(map[string]bool, maxCount)
	for i := range maxCount {
		own[ids.Derive(ids.Instance, seed+"/"+strconv.Itoa(i))] = true
	}
	g := *gate
	g.Items = func(ctx context.Context, r client.Reader) ([]quota.Item, error) {
		items, err := gate.Items(ctx, r)
		return slices.DeleteFunc(items, func(it quota.Item) bool { return own[it.Name] }), err
	}
	return &g
}

// checkResize refuses growing a stopped instance beyond the project's vCPU or memory quota, as
// the cache sees the project.
func (s *Service) checkResize(ctx context.Context, c Caller, inst *cloudv1.Instance, to *cloudv1.InstanceType) error {
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return err
	}
	gate := quota.Instances(c.Project(), q)
	if gate.Unlimited() {
		return nil
	}
	var from *cloudv1.InstanceType
	if it, err := refs.InstanceType(ctx, s.cfg.Client, inst.GivenInstanceType()); err == nil {
		from = it
	}
	// The instance counts with the type it was given; it grows by what the new one adds.
	grow := quota.InstanceGrowth(from, to)
	if grow == nil {
		return nil
	}
	_, refused, err := gate.Room(ctx, s.cfg.Client, grow, 1, 1)
	if err != nil {
		return err
	}
	if refused != nil {
		return instanceLimit(refused)
	}
	return nil
}

// admitResize admits what a stopped instance's new type adds to the project's vCPUs and memory
// through the project's ledger before ModifyInstanceAttribute answers, as a launch is admitted,
// so a resize the call accepted is never refused later for the quota (the scheduler gives the
// type once the instance's node has room too). Refused, the type goes back to previous, unless
// it changed again meanwhile, and the call answers InstanceLimitExceeded.
func (s *Service) admitResize(ctx context.Context, c Caller, inst *cloudv1.Instance, previous string) error {
	if !inst.ResizeWaiting() {
		return nil
	}
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return err
	}
	gate := quota.Instances(c.Project(), q)
	if gate.Unlimited() {
		return nil
	}
	asked := inst.Spec.InstanceType
	d, err := s.admitBatched(ctx, gate, quota.Request{Names: []string{quota.InstanceGrowthName(inst.Name, asked)}, Minimum: 1})
	if err != nil {
		return err
	}
	if len(d.Admitted) == 1 || d.Refused == nil {
		// Admitted, or nothing to admit: a type no larger, or changed again meanwhile.
		return nil
	}
	err = s.ChangeLatest(ctx, inst, func() error {
		if inst.Spec.InstanceType == asked {
			inst.Spec.InstanceType = previous
		}
		return nil
	})
	if err != nil {
		return instanceKind.writeError(err, InstanceID(inst))
	}
	return instanceLimit(d.Refused)
}

// errWithdrawnMeanwhile tells that the ledger found none of a launch's instances: they were
// withdrawn meanwhile (by a concurrent attempt with the same ClientToken that failed).
var errWithdrawnMeanwhile = errors.New("the instances of the launch were withdrawn meanwhile")

// instanceLimit is EC2's refusal of a launch beyond the project's quota, naming the limit.
func instanceLimit(ex *quota.Exceeded) error {
	if ex == nil {
		return errWithdrawnMeanwhile
	}
	return BadRequest(CodeInstanceLimit, "Your quota allows for %d more %s (project quota %s: %d). You requested at least %d.",
		ex.Left(), ex.Limit.Unit, ex.Limit.Field, ex.Limit.Max, ex.Need)
}

// admitLaunch admits the instances of one launch, created marked pending, in launch order: as
// many as fit, at least minimum, or none. The admitted ones lose the mark; the others are
// withdrawn, so a refused launch leaves nothing behind.
func (s *Service) admitLaunch(ctx context.Context, g *quota.Gate, created []*cloudv1.Instance, minimum int) ([]*cloudv1.Instance, error) {
	if g.Unlimited() {
		return created, nil
	}
	names := make([]string, len(created))
	for i, inst := range created {
		names[i] = inst.Name
	}
	d, err := s.admitBatched(ctx, g, quota.Request{Names: names, Minimum: minimum})
	admitted := d.Admitted
	if err == nil && len(admitted) == 0 {
		err = instanceLimit(d.Refused)
	}
	isAdmitted := make(map[string]bool, len(admitted))
	for _, name := range admitted {
		isAdmitted[name] = err == nil
	}
	var kept []*cloudv1.Instance
	var drop []client.Object
	for _, inst := range created {
		if isAdmitted[inst.Name] {
			kept = append(kept, inst)
		} else {
			drop = append(drop, inst)
		}
	}
	// The cleanup finishes even if the caller went away meanwhile.
	if delErr := s.WithdrawAll(context.WithoutCancel(ctx), drop); delErr != nil {
		return nil, fmt.Errorf("withdrawing instances beyond the quota: %w", delErr)
	}
	if err != nil {
		return nil, err
	}
	_ = forAll(len(kept), func(i int) error {
		s.Unmark(ctx, kept[i])
		return nil
	})
	return kept, nil
}

// earlierLaunch returns the instances an earlier, finished call with the ClientToken kept, in
// launch order: a retry answers with them and launches no more, whatever the quota says now.
// It returns none when there was no earlier call, or it has not finished: any of its instances
// is still marked pending (this call takes its instances over). A different request reusing the
// token is IdempotentParameterMismatch.
func (s *Service) earlierLaunch(ctx context.Context, c Caller, seed, hash string) ([]*cloudv1.Instance, error) {
	first := &cloudv1.Instance{}
	err := s.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Project(), Name: ids.Derive(ids.Instance, seed+"/0")}, first)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading the instance of an earlier call: %w", err)
	case first.Annotations[annotationRequestHash] != hash:
		return nil, idempotentMismatch()
	case quota.IsMarkedPending(first):
		return nil, nil
	}
	gone := Unavailable("The instances of an earlier call with this ClientToken went away meanwhile; try again.")
	list := &cloudv1.InstanceList{}
	if err := s.cfg.APIReader.List(ctx, list, client.InNamespace(c.Project()),
		client.MatchingLabels{cloudv1.LabelReservationID: ids.Derive(ids.Reservation, seed)}); err != nil {
		return nil, gone
	}
	var out []*cloudv1.Instance
	for i := range list.Items {
		inst := &list.Items[i]
		if !inst.DeletionTimestamp.IsZero() {
			continue
		}
		// The call drops the marks one instance at a time after admitting them all: one still
		// marked means it ended (crashed) before it finished, and this call takes it over.
		if quota.IsMarkedPending(inst) {
			return nil, nil
		}
		out = append(out, inst)
	}
	if len(out) == 0 {
		return nil, gone
	}
	if want, err := strconv.Atoi(first.Annotations[annotationLaunchCount]); err == nil && len(out) < want {
		// The earlier call has not made them all (yet): this one completes the launch.
		return nil, nil
	}
	sort.Slice(out, func(i, j int) bool { return launchIndex(out[i]) < launchIndex(out[j]) })
	return out, nil
}
