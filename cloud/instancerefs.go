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

// instanceKind: the project's instances that have an EC2 id, oldest first, those being deleted
// included (they show as terminated until they go).
var instanceKind = kind[*cloudv1.Instance]{resource: "instances", what: "instance", list: &cloudv1.InstanceList{},
	id: InstanceID, prefix: ids.Instance, notFound: instanceNotFound, deletedToo: true, malformed: func(id string) error {
		return BadRequest(CodeInstanceMalformed, "Invalid id: \"%s\"", id)
	}}

func instanceNotFound(id string) error {
	return BadRequest(CodeInstanceNotFound, "The instance ID '%s' does not exist", id)
}

// liveInstances maps the ids of the project's instances that can hold an address, as the address
// controller decides it: not terminated and not being deleted.
func (s *Service) liveInstances(ctx context.Context, c Caller) (map[string]*cloudv1.Instance, error) {
	insts, err := inProject(ctx, s, c, instanceKind)
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

// resolveInstances is how an operation on instances by id starts: the caller may verb instances
// (DryRun ends here), the call names some, and every id is one of the project's instances. It
// returns a copy of the instance for each name, even for an id named twice: the callers change
// them in parallel, and two writers must never share one object.
func (s *Service) resolveInstances(ctx context.Context, c Caller, verb string, in InstanceIDsInput) ([]*cloudv1.Instance, error) {
	if err := s.authorize(ctx, c, verb, "instances", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.InstanceIDs) == 0 {
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter InstanceId")
	}
	insts, err := findIn(ctx, s, c, instanceKind, in.InstanceIDs)
	if err != nil {
		return nil, err
	}
	for i, inst := range insts {
		insts[i] = inst.DeepCopy()
	}
	return insts, nil
}
