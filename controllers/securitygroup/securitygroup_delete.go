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

package securitygroup

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
)

// A group is deleted, through whatever door, only once nothing uses it: no instance of its
// project that is not terminated names it (instances being deleted count until their domains are
// gone), and no other group's rule admits it. Until then the group keeps its finalizer and its
// rules, and says why in Ready (reason InUse). A rule of a group that is itself being deleted
// does not count, so that groups admitting one another, deleted together (a project's namespace
// going, say), do not hold each other for ever.

// shownUsers bounds how many users a blocked group's condition names.
const shownUsers = 3

// reconcileDelete lets an unused group go, or returns what keeps it.
func (r *Reconciler) reconcileDelete(ctx context.Context, sg *cloudv1.SecurityGroup, now metav1.Time) (string, error) {
	if !controllerutil.ContainsFinalizer(sg, cloudv1.SecurityGroupFinalizer) {
		return "", nil
	}
	// The members still filtered by the group's rules keep being counted while it waits.
	members, err := r.memberIPs(ctx, sg)
	if err != nil {
		return "", err
	}
	sg.Status.MemberIPs = members
	users, err := groupUsers(ctx, r.Client, sg)
	if err == nil && len(users) == 0 && r.APIReader != nil {
		// The cache may lag a launch or a rule made a moment ago: only the API server's own
		// answer lets the group go.
		users, err = groupUsers(ctx, r.APIReader, sg)
	}
	if err != nil {
		return "", err
	}
	if len(users) > 0 {
		blocked := fmt.Sprintf("Security group %s is in use by %s; it is deleted once they are gone",
			sg.EffectiveGroupName(), describeUsers(users))
		conditions.MarkFalse(sg, cloudv1.ReadyCondition, cloudv1.ReasonInUse, blocked, now)
		return blocked, nil // instances and groups changing bring the group back
	}
	if err := r.Claims.ReleaseAll(ctx, sg.UID); err != nil {
		return "", fmt.Errorf("releasing the id of group %s: %w", sg.Name, err)
	}
	log.FromContext(ctx).Info("Security group unused; letting it go")
	controllerutil.RemoveFinalizer(sg, cloudv1.SecurityGroupFinalizer)
	return "", nil
}

// groupUsers lists, as reader shows them, what uses the group: "instance <id>" for each instance
// of its project in the group that is not terminated, "group <name>" for each other group not
// being deleted whose rules admit it; sorted.
func groupUsers(ctx context.Context, reader client.Reader, sg *cloudv1.SecurityGroup) ([]string, error) {
	insts := &cloudv1.InstanceList{}
	// Read only: the cache's own objects (the API server's reader ignores the option).
	if err := reader.List(ctx, insts, client.InNamespace(sg.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the instances of %s: %w", sg.Namespace, err)
	}
	var users []string
	for i := range insts.Items {
		inst := &insts.Items[i]
		if inst.Status.State == cloudv1.InstanceStateTerminated || !InGroup(inst, sg) {
			continue
		}
		id := inst.Status.InstanceID
		if id == "" {
			id = inst.Name
		}
		users = append(users, "instance "+id)
	}
	groups := &cloudv1.SecurityGroupList{}
	if err := reader.List(ctx, groups, client.InNamespace(sg.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the security groups of %s: %w", sg.Namespace, err)
	}
	for i := range groups.Items {
		other := &groups.Items[i]
		if other.UID != sg.UID && other.DeletionTimestamp.IsZero() && admits(other, sg) {
			users = append(users, "group "+other.EffectiveGroupName())
		}
	}
	slices.Sort(users)
	return users, nil
}

// admits reports whether a rule of other names sg (by group name or sg- id) as a source.
func admits(other, sg *cloudv1.SecurityGroup) bool {
	for _, rule := range other.Spec.Ingress {
		for _, src := range rule.SourceGroups {
			if src == sg.EffectiveGroupName() || (sg.Status.GroupID != "" && src == sg.Status.GroupID) {
				return true
			}
		}
	}
	return false
}

// describeUsers names the first few users and counts the rest.
func describeUsers(users []string) string {
	if len(users) <= shownUsers {
		return strings.Join(users, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(users[:shownUsers], ", "), len(users)-shownUsers)
}
