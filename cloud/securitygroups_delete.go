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
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
)

// Deleting a group races with the calls that make it used: a launch into it, a rule naming it as
// a source. The API server arbitrates with a handshake. The delete marks the group (an optimistic
// write of annotationDeleting), then checks from the API server that nothing uses it, and deletes
// exactly the version it marked; finding a use, it removes its mark and refuses. A call that makes
// the group used writes first, then reads the group from the API server: marked or gone, it
// withdraws what it wrote and answers that the group does not exist. Of a delete and such a call
// racing, at least one sees the other's write, so no instance and no rule is left in a deleted
// group. A mark a delete left behind (its process died) refuses launches until a delete of the
// group is tried again, which takes the mark over, or until the mark is markTTL old: a delete
// that has not deleted by then gives up, so an older mark is a dead call's.

const (
	// annotationDeleting marks a group a DeleteSecurityGroup call is deleting; its value is the
	// time of the mark and a name of the call ("<RFC 3339 time> <call>").
	annotationDeleting = "cloud.pinet.io/deleting"
	// markTTL bounds a delete's handshake: far longer than a call takes, short enough that a
	// dead call's mark does not keep a group from launches for long.
	markTTL = 2 * time.Minute
)

// deleteMark is a mark for a delete call made now.
func (s *Service) deleteMark() string {
	return s.cfg.Clock.Now().UTC().Format(time.RFC3339Nano) + " " + ids.New("del")
}

// markLive says whether a mark was made less than markTTL ago; one it cannot read is live.
func (s *Service) markLive(mark string) bool {
	at, _, _ := strings.Cut(mark, " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	return err != nil || s.cfg.Clock.Now().Sub(t) < markTTL
}

// deletingGroup says whether the group is marked as being deleted by a call that may still act.
func (s *Service) deletingGroup(sg *cloudv1.SecurityGroup) bool {
	mark := sg.Annotations[annotationDeleting]
	return mark != "" && s.markLive(mark)
}

// deleteUnused deletes a group (a copy the call may change) by the handshake: mark, check use from
// the API server, delete the version marked or unmark and refuse.
func (s *Service) deleteUnused(ctx context.Context, c Caller, sg *cloudv1.SecurityGroup) error {
	id, mark := groupID(sg), s.deleteMark()
	err := s.ChangeLatest(ctx, sg, func() error {
		metav1.SetMetaDataAnnotation(&sg.ObjectMeta, annotationDeleting, mark)
		return nil
	})
	if err != nil {
		return groupKind.writeError(err, id)
	}
	if s.afterDeleteMark != nil {
		s.afterDeleteMark(id)
	}
	if err := s.checkGroupUnused(ctx, s.cfg.APIReader, c, sg); err != nil {
		// The refusal stands whether or not the caller waits for the mark to go.
		if unErr := s.unmarkDeleting(context.WithoutCancel(ctx), sg, mark); unErr != nil {
			return fmt.Errorf("removing the delete mark of %s after %q: %w", id, err.Error(), unErr)
		}
		return err
	}
	return deleteChecked(ctx, s, groupKind, sg, id, func(latest *cloudv1.SecurityGroup) error {
		if latest.Annotations[annotationDeleting] != mark {
			// Another delete took the mark over and decides on its own.
			return BadRequest(CodeIncorrectResource, "Another delete of the security group %s is under way; try again", id)
		}
		if !s.markLive(mark) {
			// Launches no longer honour the mark: what this call checked may be stale.
			return Unavailable("The delete of the security group %s took too long; try again.", id)
		}
		return nil
	})
}

// unmarkDeleting removes the call's own mark, if the group still has it.
func (s *Service) unmarkDeleting(ctx context.Context, sg *cloudv1.SecurityGroup, mark string) error {
	err := s.change(ctx, sg, func() error {
		if sg.Annotations[annotationDeleting] == mark {
			delete(sg.Annotations, annotationDeleting)
		}
		return nil
	})
	return client.IgnoreNotFound(err)
}

// confirmGroups is the other side of the handshake: after a call has written what makes the
// groups refs (names or ids, in the project) used, it reads them from the API server and answers
// InvalidGroup.NotFound for the first that is gone or being deleted.
func (s *Service) confirmGroups(ctx context.Context, project string, refs []string) error {
	if len(refs) == 0 {
		return nil
	}
	list := &cloudv1.SecurityGroupList{}
	if err := s.cfg.APIReader.List(ctx, list, client.InNamespace(project)); err != nil {
		return fmt.Errorf("listing the security groups of %s: %w", project, err)
	}
	groups := make([]*cloudv1.SecurityGroup, len(list.Items))
	for i := range list.Items {
		groups[i] = &list.Items[i]
	}
	x := newGroupIndex(project, groups)
	for _, ref := range refs {
		if sg := x.byRef[ref]; sg == nil || s.deletingGroup(sg) || !sg.DeletionTimestamp.IsZero() {
			return groupNotFound(ref)
		}
	}
	return nil
}

// confirmLaunchGroups confirms the groups of a launch once its instances exist, and withdraws
// them when a group is gone or being deleted.
func (s *Service) confirmLaunchGroups(ctx context.Context, l *launch, created []*cloudv1.Instance) error {
	err := s.confirmGroups(ctx, l.project, l.spec.SecurityGroups)
	if err == nil {
		return nil
	}
	withdraw := make([]client.Object, len(created))
	for i, inst := range created {
		withdraw[i] = inst
	}
	// The cleanup finishes even if the caller went away meanwhile.
	if delErr := s.WithdrawAll(context.WithoutCancel(ctx), withdraw); delErr != nil {
		return fmt.Errorf("withdrawing the instances of a launch after %q: %w", err.Error(), delErr)
	}
	return err
}

// confirmSources confirms the source groups of the permissions an Authorize added to sg (other
// than sg itself) once they are written, and withdraws them when a source is gone or being deleted.
func (s *Service) confirmSources(ctx context.Context, sg *cloudv1.SecurityGroup, added []permission, x *groupIndex) error {
	var sources []string
	for _, p := range added {
		if src := x.byRef[p.group]; p.cidr == "" && (src == nil || src.Name != sg.Name) {
			sources = append(sources, p.group)
		}
	}
	err := s.confirmGroups(ctx, sg.Namespace, sources)
	if err == nil {
		return nil
	}
	drop := map[string]bool{}
	for _, p := range added {
		drop[p.key(x)] = true
	}
	// The cleanup finishes even if the caller went away meanwhile; the group may be gone too.
	unErr := s.change(context.WithoutCancel(ctx), sg, func() error {
		var kept []permission
		for _, p := range expand(sg.Spec.Ingress) {
			if !drop[p.key(x)] {
				kept = append(kept, p)
			}
		}
		sg.Spec.Ingress = regroup(kept)
		return nil
	})
	if unErr = client.IgnoreNotFound(unErr); unErr != nil {
		return fmt.Errorf("withdrawing the rules of %s after %q: %w", groupID(sg), err.Error(), unErr)
	}
	return err
}

// checkGroupUnused refuses to delete a group that an instance which is not terminated is in, or
// that another group's rule admits, as r (the cache, or the API server itself) shows them.
func (s *Service) checkGroupUnused(ctx context.Context, r client.Reader, c Caller, sg *cloudv1.SecurityGroup) error {
	id := groupID(sg)
	inUse := BadRequest(CodeDependencyViolation, "resource %s has a dependent object", id)
	groups := &cloudv1.SecurityGroupList{}
	if err := r.List(ctx, groups, client.InNamespace(c.Project())); err != nil {
		return fmt.Errorf("listing security groups: %w", err)
	}
	all := make([]*cloudv1.SecurityGroup, len(groups.Items))
	for i := range groups.Items {
		all[i] = &groups.Items[i]
	}
	x := newGroupIndex(c.Project(), all)
	isIt := func(ref string) bool {
		g := x.byRef[ref]
		return ref == id || g != nil && g.Name == sg.Name
	}
	insts := &cloudv1.InstanceList{}
	if err := r.List(ctx, insts, client.InNamespace(c.Project())); err != nil {
		return fmt.Errorf("listing instances: %w", err)
	}
	for i := range insts.Items {
		inst := &insts.Items[i]
		if InstanceID(inst) == "" || inst.Status.State == cloudv1.InstanceStateTerminated {
			continue
		}
		memberOf := inst.Spec.SecurityGroups
		if len(memberOf) == 0 {
			memberOf = []string{cloudv1.DefaultSecurityGroupName}
		}
		for _, ref := range memberOf {
			if isIt(ref) {
				return inUse
			}
		}
	}
	for _, other := range all {
		if other.Name == sg.Name {
			continue
		}
		for _, p := range expand(other.Spec.Ingress) {
			if p.cidr == "" && isIt(p.group) {
				return inUse
			}
		}
	}
	return nil
}
