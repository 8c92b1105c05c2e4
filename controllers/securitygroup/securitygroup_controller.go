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

// Package securitygroup holds the SecurityGroup reconciler: it gives a group its EC2 id and owner,
// checks that the groups its rules admit exist in the same project, and publishes the private
// addresses of its members (status.memberIPs), which rules naming the group as a source admit.
// Node agents turn the rules into packet filters. A group in use is kept, through any door, until
// it is unused (securitygroup_delete.go).
package securitygroup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/refs"
)

// ReasonSourceGroupNotFound: a rule admits a group that does not exist in the project.
const ReasonSourceGroupNotFound = "SourceGroupNotFound"

// Reconciler reconciles SecurityGroups.
type Reconciler struct {
	Client client.Client
	// APIReader confirms from the API server that a group being deleted is unused before its
	// finalizer goes: the cache may not show yet an instance or a rule that names it.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Claims makes group ids exclusive across the cluster.
	Claims *claims.Claimer
	// MemberBatch is how long a change of members waits for more before the group's members
	// are counted and written again; 0 is DefaultMemberBatch.
	MemberBatch time.Duration
}

// DefaultMemberBatch gathers a launch's (or a termination's) changes of members: a group's
// status is written at most about once a second (a large group's less often: memberBatch)
// however many instances join or leave it, instead of once per instance with a recount of the
// whole project each time.
const DefaultMemberBatch = time.Second

// Larger groups wait longer between writes: each write sends the whole member list (to the API
// server, and from it to every watcher), so at one write per MemberBatch a launch into a group of
// thousands would cost O(members) per second, and the launch O(fleet²). One MemberBatch more per
// membersPerBatch members keeps the bytes written per second level; maxMemberBatches bounds how
// long a member of a large group waits to be admitted by its peers.
const (
	membersPerBatch  = 1000
	maxMemberBatches = 10
)

// memberBatch is how long a change of sg's members waits before they are counted again.
func (r *Reconciler) memberBatch(sg *cloudv1.SecurityGroup) time.Duration {
	n := 1 + len(sg.Status.MemberIPs)/membersPerBatch
	return r.MemberBatch * time.Duration(min(n, maxMemberBatches))
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=securitygroups,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=securitygroups/status;securitygroups/finalizers,verbs=get;update;patch

// Reconcile computes one group's status.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	sg := &cloudv1.SecurityGroup{}
	if err := r.Client.Get(ctx, req.NamespacedName, sg); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(sg, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	// blocked is what keeps a group being deleted, found by this reconcile; the Warning event
	// goes out once, when the group is first found blocked.
	blocked, wasBlocked := "", false
	if c := conditions.Get(sg, cloudv1.ReadyCondition); c != nil {
		wasBlocked = c.Reason == cloudv1.ReasonInUse
	}
	defer func() {
		if err := helper.Patch(ctx, sg); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		if blocked != "" && !wasBlocked && r.Recorder != nil {
			r.Recorder.Eventf(sg, nil, "Warning", "DeleteBlocked", "Delete", "%s", blocked)
		}
	}()
	now := metav1.NewTime(r.Clock.Now())
	if !sg.DeletionTimestamp.IsZero() {
		blocked, err = r.reconcileDelete(ctx, sg, now)
		return reconcile.Result{}, err
	}
	if !controllerutil.ContainsFinalizer(sg, cloudv1.SecurityGroupFinalizer) {
		controllerutil.AddFinalizer(sg, cloudv1.SecurityGroupFinalizer)
		return reconcile.Result{}, nil
	}
	return reconcile.Result{}, r.reconcileNormal(ctx, sg, now)
}

// reconcileNormal gives a group its id and owner, checks the groups its rules admit and counts
// its members.
func (r *Reconciler) reconcileNormal(ctx context.Context, sg *cloudv1.SecurityGroup, now metav1.Time) error {
	if sg.Status.GroupID == "" {
		id, _, err := r.Claims.Assign(ctx, ids.SecurityGroup, sg.Name, claims.HolderOf("SecurityGroup", sg))
		if err != nil {
			return fmt.Errorf("assigning a group id: %w", err)
		}
		sg.Status.GroupID = id
	}
	sg.Status.OwnerID = sg.Namespace

	var missing []string
	for _, rule := range sg.Spec.Ingress {
		for _, src := range rule.SourceGroups {
			if _, err := refs.SecurityGroup(ctx, r.Client, sg.Namespace, src); err != nil {
				if !errors.Is(err, refs.ErrNotFound) {
					return err
				}
				missing = append(missing, src)
			}
		}
	}
	members, err := r.memberIPs(ctx, sg)
	if err != nil {
		return err
	}
	sg.Status.MemberIPs = members
	if len(missing) > 0 {
		conditions.MarkFalse(sg, cloudv1.ReadyCondition, ReasonSourceGroupNotFound,
			fmt.Sprintf("Rules admit groups that do not exist: %s", strings.Join(missing, ", ")), now)
		return nil
	}
	conditions.MarkTrue(sg, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", now)
	sg.Status.ObservedGeneration = sg.Generation
	return nil
}

// memberIPs lists the private addresses of the project's instances in the group (an instance
// naming no group is in the default group), sorted and without duplicates.
func (r *Reconciler) memberIPs(ctx context.Context, sg *cloudv1.SecurityGroup) ([]string, error) {
	list := &cloudv1.InstanceList{}
	// Read only: the cache's own objects, not a copy of the whole project per member change.
	if err := r.Client.List(ctx, list, client.InNamespace(sg.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the instances of %s: %w", sg.Namespace, err)
	}
	var ips []string
	for i := range list.Items {
		inst := &list.Items[i]
		if inst.Status.PrivateIPAddress != "" && InGroup(inst, sg) {
			ips = append(ips, inst.Status.PrivateIPAddress)
		}
	}
	slices.Sort(ips)
	return slices.Compact(ips), nil
}

// InGroup reports whether the instance names the group (by name or sg- id), or names none and the
// group is its project's default group.
func InGroup(inst *cloudv1.Instance, sg *cloudv1.SecurityGroup) bool {
	if inst.Namespace != sg.Namespace {
		return false
	}
	if len(inst.Spec.SecurityGroups) == 0 {
		return sg.EffectiveGroupName() == cloudv1.DefaultSecurityGroupName
	}
	for _, ref := range inst.Spec.SecurityGroups {
		if ref == sg.EffectiveGroupName() || (sg.Status.GroupID != "" && ref == sg.Status.GroupID) {
			return true
		}
	}
	return false
}

// SetupWithManager registers the reconciler; any group changing in a namespace re-checks the
// others that have rules, and those being deleted (a rule naming one may have gone).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.MemberBatch == 0 {
		r.MemberBatch = DefaultMemberBatch
	}
	return ctrl.NewControllerManagedBy(mgr).
		// The group's own status is this controller's write: reconciling again on it would
		// recount the members at once, past the batch.
		For(&cloudv1.SecurityGroup{}, builder.WithPredicates(notStatusOnly())).
		Watches(&cloudv1.SecurityGroup{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			list := &cloudv1.SecurityGroupList{}
			if err := r.Client.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
				return nil
			}
			var reqs []reconcile.Request
			for i := range list.Items {
				other := &list.Items[i]
				if (len(other.Spec.Ingress) > 0 || !other.DeletionTimestamp.IsZero()) && other.UID != o.GetUID() {
					reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
				}
			}
			return reqs
		}), builder.WithPredicates(sourceChanged())).
		// An instance gaining or losing its address, or changing groups, changes members; the
		// changes of one batch make one recount and one write.
		Watches(&cloudv1.Instance{}, r.memberChanges(), builder.WithPredicates(membershipChanged())).
		Named("securitygroup").
		Complete(r)
}

// memberChanges enqueues the groups of an instance's project a memberBatch after the first
// change of their members: the workqueue keeps one entry per group, so the changes that come
// meanwhile join it.
func (r *Reconciler) memberChanges() handler.EventHandler {
	enqueue := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		list := &cloudv1.SecurityGroupList{}
		if err := r.Client.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
			log.FromContext(ctx).Error(err, "Listing the groups of an instance's project", "project", o.GetNamespace())
			return
		}
		for i := range list.Items {
			q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}, r.memberBatch(&list.Items[i]))
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
	}
}

// membershipChanged passes instance events that can change a group's members or users: an
// instance coming or going, its private address or its groups changing, its termination. The rest
// of an instance's life (placement, domain reports) does not recount its project's groups.
func membershipChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, cur := e.ObjectOld.(*cloudv1.Instance), e.ObjectNew.(*cloudv1.Instance)
			return old.Status.PrivateIPAddress != cur.Status.PrivateIPAddress ||
				!slices.Equal(old.Spec.SecurityGroups, cur.Spec.SecurityGroups) ||
				(old.Status.State == cloudv1.InstanceStateTerminated) != (cur.Status.State == cloudv1.InstanceStateTerminated)
		},
	}
}

// notStatusOnly passes a group's events but updates of its status alone.
func notStatusOnly() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, cur := e.ObjectOld, e.ObjectNew
			return old.GetGeneration() != cur.GetGeneration() ||
				!old.GetDeletionTimestamp().Equal(cur.GetDeletionTimestamp()) ||
				!slices.Equal(old.GetFinalizers(), cur.GetFinalizers()) ||
				!maps.Equal(old.GetLabels(), cur.GetLabels()) ||
				!maps.Equal(old.GetAnnotations(), cur.GetAnnotations())
		},
	}
}

// sourceChanged passes the group events that matter to other groups: its coming and going, its
// id, its name and its deletion (whether their rules find it as a source), its rules (whether it
// still names a group being deleted); not a recount of its members, which would make every other
// group with rules recount its own at once.
func sourceChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, cur := e.ObjectOld.(*cloudv1.SecurityGroup), e.ObjectNew.(*cloudv1.SecurityGroup)
			return old.Generation != cur.Generation || old.Status.GroupID != cur.Status.GroupID ||
				old.EffectiveGroupName() != cur.EffectiveGroupName() ||
				!old.DeletionTimestamp.Equal(cur.DeletionTimestamp)
		},
	}
}
