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

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
)

// Operations on other resources name instances by their EC2 id, which resolves only among the
// caller's project's instances.

// InstanceID is the instance's EC2 id: the controller's, else its name when that is one.
func InstanceID(inst *cloudv1.Instance) string {
	return idOr(inst.Status.InstanceID, inst.Name, ids.Instance)
}

// projectInstances lists the project's instances that have an EC2 id, oldest first, those being
// deleted included (they show as terminated until they go).
func (s *Service) projectInstances(ctx context.Context, c Caller) ([]*cloudv1.Instance, error) {
	insts, err := projectList[*cloudv1.Instance](ctx, s, c, &cloudv1.InstanceList{}, "instances")
	return byAge(insts, InstanceID, nil), err
}

// findInstances returns the project's instances with the ids, in order; the first id that is
// malformed or not the project's is an error naming it, as in EC2.
func (s *Service) findInstances(ctx context.Context, c Caller, wanted []string) ([]*cloudv1.Instance, error) {
	all, err := s.projectInstances(ctx, c)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*cloudv1.Instance, len(all))
	for _, inst := range all {
		byID[InstanceID(inst)] = inst
	}
	out := make([]*cloudv1.Instance, 0, len(wanted))
	for _, id := range wanted {
		if !ids.Valid(ids.Instance, id) {
			return nil, BadRequest(CodeInstanceMalformed, "Invalid id: \"%s\"", id)
		}
		inst, ok := byID[id]
		if !ok {
			return nil, instanceNotFound(id)
		}
		out = append(out, inst)
	}
	return out, nil
}

func instanceNotFound(id string) error {
	return BadRequest(CodeInstanceNotFound, "The instance ID '%s' does not exist", id)
}

// findInstance is findInstances for one id.
func (s *Service) findInstance(ctx context.Context, c Caller, id string) (*cloudv1.Instance, error) {
	insts, err := s.findInstances(ctx, c, []string{id})
	if err != nil {
		return nil, err
	}
	return insts[0], nil
}

// liveInstances maps the ids of the project's instances that can hold an address, as the address
// controller decides it: not terminated and not being deleted.
func (s *Service) liveInstances(ctx context.Context, c Caller) (map[string]*cloudv1.Instance, error) {
	insts, err := s.projectInstances(ctx, c)
	if err != nil {
		return nil, err
	}
	live := map[string]*cloudv1.Instance{}
	for _, inst := range insts {
		if inst.DeletionTimestamp.IsZero() && inst.EffectiveDesiredState() != cloudv1.DesiredTerminated {
			live[InstanceID(inst)] = inst
		}
	}
	return live, nil
}
