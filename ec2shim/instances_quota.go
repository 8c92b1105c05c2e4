/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/refs"
)

// launchQuota is the project's instance gate and what one instance of the launch takes of it.
func (s *Server) launchQuota(ctx context.Context, c *call, spec *cloudv1.InstanceSpec) (*quota.Gate, []int64, error) {
	q, err := c.projectQuota(ctx)
	if err != nil {
		return nil, nil, err
	}
	it, err := refs.InstanceType(ctx, s.cfg.Client, spec.InstanceType)
	if err != nil {
		return nil, nil, fmt.Errorf("reading instance type %s: %w", spec.InstanceType, err)
	}
	return quota.Instances(c.project, q), quota.InstanceUse(it), nil
}

// checkResize refuses growing a stopped instance beyond the project's vCPU or memory quota, as
// the cache sees the project.
func (s *Server) checkResize(ctx context.Context, c *call, inst *cloudv1.Instance, to *cloudv1.InstanceType) error {
	q, err := c.projectQuota(ctx)
	if err != nil {
		return err
	}
	gate := quota.Instances(c.project, q)
	if gate.Unlimited() {
		return nil
	}
	var from *cloudv1.InstanceType
	if it, err := refs.InstanceType(ctx, s.cfg.Client, inst.Spec.InstanceType); err == nil {
		from = it
	}
	// The instance counts with its present type; it grows by the difference.
	grow := quota.InstanceUse(to)
	for i, was := range quota.InstanceUse(from) {
		grow[i] -= was
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

// instanceLimit is EC2's refusal of a launch beyond the project's quota, naming the limit.
func instanceLimit(ex *quota.Exceeded) error {
	if ex == nil {
		return unavailable("The instances of this launch were withdrawn meanwhile; try again.")
	}
	return badRequest(codeInstanceLimit, "Your quota allows for %d more %s (project quota %s: %d). You requested at least %d.",
		ex.Left(), ex.Limit.Unit, ex.Limit.Field, ex.Limit.Max, ex.Need)
}

// admitLaunch admits the instances of one launch, created marked pending, in launch order: as
// many as fit, at least minimum, or none. The admitted ones lose the mark; the others are
// withdrawn, so a refused launch leaves nothing behind.
func (s *Server) admitLaunch(ctx context.Context, g *quota.Gate, created []*cloudv1.Instance, minimum int) ([]*cloudv1.Instance, error) {
	if g.Unlimited() {
		return created, nil
	}
	names := make([]string, len(created))
	for i, inst := range created {
		names[i] = inst.Name
	}
	admitted, refused, err := s.ledger().Admit(ctx, g, names, minimum, s.cfg.WaitForCache)
	if err != nil {
		logr.FromContextOrDiscard(ctx).Info("Admitting a launch under the quota failed", "error", err.Error())
		err = unavailable("The quota of project %s could not be checked in time; try again.", g.Project)
	} else if len(admitted) == 0 {
		err = instanceLimit(refused)
	}
	var kept, withdrawn []*cloudv1.Instance
	for _, inst := range created {
		if err == nil && slices.Contains(admitted, inst.Name) {
			kept = append(kept, inst)
		} else {
			withdrawn = append(withdrawn, inst)
		}
	}
	for _, inst := range withdrawn {
		if delErr := s.withdraw(ctx, inst); delErr != nil {
			return nil, fmt.Errorf("withdrawing instance %s beyond the quota: %w", inst.Name, delErr)
		}
	}
	if err != nil {
		return nil, err
	}
	for _, inst := range kept {
		s.unmark(ctx, inst)
	}
	return kept, nil
}

// earlierLaunch returns the instances an earlier, finished call with the ClientToken kept, in
// launch order: a retry answers with them and launches no more, whatever the quota says now.
func (s *Server) earlierLaunch(ctx context.Context, project, reservation string) ([]*cloudv1.Instance, error) {
	list := &cloudv1.InstanceList{}
	if err := s.cfg.APIReader.List(ctx, list, client.InNamespace(project),
		client.MatchingLabels{cloudv1.LabelReservationID: reservation}); err != nil {
		return nil, fmt.Errorf("listing the instances of an earlier call: %w", err)
	}
	var out []*cloudv1.Instance
	for i := range list.Items {
		if inst := &list.Items[i]; inst.DeletionTimestamp.IsZero() && !quota.IsMarkedPending(inst) {
			out = append(out, inst)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the instances of an earlier call are gone")
	}
	index := func(inst *cloudv1.Instance) int {
		n, _ := strconv.Atoi(inst.Annotations[launchIndexAnnotation])
		return n
	}
	sort.Slice(out, func(i, j int) bool { return index(out[i]) < index(out[j]) })
	return out, nil
}

func (s *Server) withdraw(ctx context.Context, obj client.Object) error {
	return s.svc.Withdraw(ctx, obj)
}

func unavailable(format string, args ...any) error { return cloud.Unavailable(format, args...) }
