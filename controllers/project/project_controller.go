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

// Package project holds the Project reconciler: a project owns a namespace of the same name, a
// default security group in it, and the role binding that gives its members (group
// pinet:project:<name>) the member role there, and a network: a segment id and a subnet, each
// claimed exclusively (project_network.go). A project with instances or volumes left is not
// removed; once they are gone its network is released and its namespace deleted.
package project

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/patch"
)

// membersBinding is the RoleBinding in a project's namespace for its members' group.
const membersBinding = "pinet-members"

// Reconciler reconciles Projects.
type Reconciler struct {
	Client client.Client
	// APIReader reads past the cache: deleting a project's namespace cannot be undone, so the
	// "nothing left" that allows it is confirmed live (an instance made a moment before the
	// project's deletion may not be in the cache yet).
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Network hands out segments and subnets.
	Network *Network
}

type scope struct {
	project *cloudv1.Project
	// nsReason/nsMessage explain a namespace the project cannot use; empty when it is ready.
	nsReason, nsMessage string
	// blocked says what keeps a deleted project from going.
	blocked string
	// netReason/netMessage are what reconcileNetwork found (empty when it did not run);
	// netAllocated is set when it claimed the network in this reconcile.
	netReason, netMessage string
	netAllocated          bool
	now                   metav1.Time
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=projects,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=projects/status;projects/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=securitygroups,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=pinet-member

// Reconcile sets up, or tears down, one project.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	p := &cloudv1.Project{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(p, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	s := &scope{project: p, now: metav1.NewTime(r.Clock.Now())}
	wasBlocked := conditions.Get(p, cloudv1.ReadyCondition)
	netBefore := conditions.Get(p, cloudv1.ProjectNetworkAllocated)
	defer func() {
		r.updateStatus(s, reterr)
		if err := helper.Patch(ctx, p); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		if s.blocked != "" && (wasBlocked == nil || wasBlocked.Reason != cloudv1.ReasonHasResources) && r.Recorder != nil {
			r.Recorder.Eventf(p, nil, "Warning", "DeleteBlocked", "Delete", "%s", s.blocked)
		}
		r.recordNetwork(s, netBefore)
	}()

	if !p.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.reconcileDelete(ctx, s)
	}
	if !controllerutil.ContainsFinalizer(p, cloudv1.ProjectFinalizer) {
		controllerutil.AddFinalizer(p, cloudv1.ProjectFinalizer)
		return reconcile.Result{}, nil
	}
	if err := r.reconcileNamespace(ctx, s); err != nil || s.nsReason != "" {
		return reconcile.Result{}, err
	}
	if err := r.reconcileMembersBinding(ctx, p); err != nil {
		return reconcile.Result{}, err
	}
	if err := r.reconcileDefaultGroup(ctx, p); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, r.reconcileNetwork(ctx, s)
}

func (r *Reconciler) reconcileNamespace(ctx context.Context, s *scope) error {
	p := s.project
	ns := &corev1.Namespace{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: p.Name}, ns)
	if apierrors.IsNotFound(err) {
		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:   p.Name,
			Labels: map[string]string{cloudv1.LabelProject: p.Name, cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet},
		}}
		if err := controllerutil.SetOwnerReference(p, ns, r.Client.Scheme()); err != nil {
			return err
		}
		log.FromContext(ctx).Info("Creating the project's namespace")
		if err := r.Client.Create(ctx, ns); err != nil {
			return fmt.Errorf("creating namespace %s: %w", p.Name, err)
		}
		p.Status.Namespace = p.Name
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s: %w", p.Name, err)
	}
	switch {
	case !ns.DeletionTimestamp.IsZero():
		s.nsReason, s.nsMessage = cloudv1.ReasonDeleting, fmt.Sprintf("Namespace %s is still being deleted", p.Name)
	case ns.Labels[cloudv1.LabelProject] != p.Name:
		s.nsReason, s.nsMessage = cloudv1.ReasonNamespaceOwnedElsewhere,
			fmt.Sprintf("Namespace %s exists and does not belong to this project", p.Name)
	default:
		p.Status.Namespace = p.Name
	}
	return nil
}

func (r *Reconciler) reconcileMembersBinding(ctx context.Context, p *cloudv1.Project) error {
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: p.Name, Name: membersBinding}}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, rb, func() error {
		rb.Labels = map[string]string{cloudv1.LabelProject: p.Name, cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet}
		rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cloudv1.MemberRole}
		rb.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: cloudv1.ProjectGroupPrefix + p.Name}}
		return nil
	})
	if err != nil {
		return fmt.Errorf("binding the members of %s: %w", p.Name, err)
	}
	return nil
}

// reconcileDefaultGroup creates the project's "default" security group once; its rules belong to
// the project afterwards.
func (r *Reconciler) reconcileDefaultGroup(ctx context.Context, p *cloudv1.Project) error {
	sg := &cloudv1.SecurityGroup{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: p.Name, Name: cloudv1.DefaultSecurityGroupName}, sg)
	if !apierrors.IsNotFound(err) {
		return err
	}
	sg = &cloudv1.SecurityGroup{
		// Made with the security group controller's finalizer, saving it a write.
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Name, Name: cloudv1.DefaultSecurityGroupName,
			Finalizers: []string{cloudv1.SecurityGroupFinalizer}},
		Spec: cloudv1.SecurityGroupSpec{
			GroupName:   cloudv1.DefaultSecurityGroupName,
			Description: "default group",
			Ingress:     DefaultGroupRules(),
		},
	}
	if err := r.Client.Create(ctx, sg); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the default security group of %s: %w", p.Name, err)
	}
	return nil
}

// reconcileDelete lets a project go only when no instances or volumes remain in it; then it deletes
// the project's namespace.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) error {
	p := s.project
	blocked, err := r.remaining(ctx, r.Client, p.Name)
	if err == nil && blocked == "" && r.APIReader != nil {
		blocked, err = r.remaining(ctx, r.APIReader, p.Name)
	}
	if err != nil {
		return err
	}
	if blocked != "" {
		s.blocked = fmt.Sprintf("Project %s still has %s; delete them before the project", p.Name, blocked)
		return nil
	}
	if err := r.releaseNetwork(ctx, s); err != nil {
		return err
	}
	ns := &corev1.Namespace{}
	err = r.Client.Get(ctx, client.ObjectKey{Name: p.Name}, ns)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading namespace %s: %w", p.Name, err)
	case ns.Labels[cloudv1.LabelProject] == p.Name && ns.DeletionTimestamp.IsZero():
		log.FromContext(ctx).Info("Deleting the project's namespace")
		if err := r.Client.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting namespace %s: %w", p.Name, err)
		}
	}
	controllerutil.RemoveFinalizer(p, cloudv1.ProjectFinalizer)
	return nil
}

// remaining says which instances and volumes are left in a project ("" when none), as reader sees them.
func (r *Reconciler) remaining(ctx context.Context, reader client.Reader, project string) (string, error) {
	insts := &cloudv1.InstanceList{}
	if err := reader.List(ctx, insts, client.InNamespace(project)); err != nil {
		return "", fmt.Errorf("listing the instances of %s: %w", project, err)
	}
	vols := &cloudv1.VolumeList{}
	if err := reader.List(ctx, vols, client.InNamespace(project)); err != nil {
		return "", fmt.Errorf("listing the volumes of %s: %w", project, err)
	}
	var parts []string
	if n := len(insts.Items); n > 0 {
		parts = append(parts, plural(n, "instance"))
	}
	if n := len(vols.Items); n > 0 {
		parts = append(parts, plural(n, "volume"))
	}
	return strings.Join(parts, " and "), nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func (r *Reconciler) updateStatus(s *scope, reconcileErr error) {
	p := s.project
	switch {
	case s.blocked != "":
		conditions.MarkFalse(p, cloudv1.ReadyCondition, cloudv1.ReasonHasResources, s.blocked, s.now)
		return
	case !p.DeletionTimestamp.IsZero():
		return
	case s.nsReason != "":
		conditions.MarkFalse(p, cloudv1.ProjectNamespaceReady, s.nsReason, s.nsMessage, s.now)
	case p.Status.Namespace != "":
		conditions.MarkTrue(p, cloudv1.ProjectNamespaceReady, cloudv1.ReasonReady, "", s.now)
	}
	switch s.netReason {
	case "":
	case cloudv1.ReasonNetworkAllocated:
		conditions.MarkTrue(p, cloudv1.ProjectNetworkAllocated, s.netReason,
			fmt.Sprintf("Segment %d, subnet %s", p.Status.SegmentID, p.Status.Subnet), s.now)
	default:
		conditions.MarkFalse(p, cloudv1.ProjectNetworkAllocated, s.netReason, s.netMessage, s.now)
	}
	nsc := conditions.Get(p, cloudv1.ProjectNamespaceReady)
	netc := conditions.Get(p, cloudv1.ProjectNetworkAllocated)
	switch {
	case reconcileErr != nil:
		conditions.MarkFalse(p, cloudv1.ReadyCondition, cloudv1.ReasonInternalError, "Reconciling the project failed; see the manager's log", s.now)
	case nsc == nil:
		conditions.MarkFalse(p, cloudv1.ReadyCondition, cloudv1.ReasonPending, "Creating the project's namespace", s.now)
	case nsc.Status != metav1.ConditionTrue:
		conditions.MarkFalse(p, cloudv1.ReadyCondition, nsc.Reason, nsc.Message, s.now)
	case netc == nil:
		conditions.MarkFalse(p, cloudv1.ReadyCondition, cloudv1.ReasonPending, "Allocating the project's network", s.now)
	case netc.Status != metav1.ConditionTrue:
		conditions.MarkFalse(p, cloudv1.ReadyCondition, netc.Reason, netc.Message, s.now)
	default:
		conditions.MarkTrue(p, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", s.now)
	}
	if reconcileErr == nil {
		p.Status.ObservedGeneration = p.Generation
	}
}

// recordNetwork makes an event when the project got its network, or when it found none free.
func (r *Reconciler) recordNetwork(s *scope, before *metav1.Condition) {
	p := s.project
	switch {
	case r.Recorder == nil:
	case s.netAllocated:
		r.Recorder.Eventf(p, nil, "Normal", "NetworkAllocated", "Allocate", "Segment %d, subnet %s", p.Status.SegmentID, p.Status.Subnet)
	case s.netReason != "" && s.netReason != cloudv1.ReasonNetworkAllocated && (before == nil || before.Reason != s.netReason):
		r.Recorder.Eventf(p, nil, "Warning", s.netReason, "Allocate", "%s", s.netMessage)
	}
}

// SetupWithManager registers the reconciler; instances and volumes leaving a project being
// deleted, and its namespace changing, bring it back. A project that goes may free the network
// another one waits for.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	byNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.GetNamespace()}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.Project{}).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.GetName()}}}
		})).
		Watches(&cloudv1.Instance{}, byNamespace).
		Watches(&cloudv1.Volume{}, byNamespace).
		Watches(&cloudv1.Project{}, handler.Funcs{DeleteFunc: r.retryWaitingForNetwork}).
		Named("project").
		Complete(r)
}

// retryWaitingForNetwork enqueues the projects that have no network: a project that went has
// released its own.
func (r *Reconciler) retryWaitingForNetwork(ctx context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	list := &cloudv1.ProjectList{}
	if err := r.Client.List(ctx, list); err != nil {
		log.FromContext(ctx).Error(err, "Listing projects waiting for a network")
		return
	}
	for i := range list.Items {
		if p := &list.Items[i]; p.Status.Subnet == "" && p.DeletionTimestamp.IsZero() {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		}
	}
}

// DefaultGroupRules are the rules a project's default group starts with, the original cloud's
// hard-coded group: everything from the group's own members, and tcp 22, 80, 443 and tcp and udp
// 1194 (OpenVPN) from anywhere.
func DefaultGroupRules() []cloudv1.IngressRule {
	anywhere := []string{"0.0.0.0/0"}
	port := func(proto cloudv1.IPProtocol, p int32) cloudv1.IngressRule {
		return cloudv1.IngressRule{Protocol: proto, FromPort: ptr.To(p), ToPort: ptr.To(p), CIDRIPs: anywhere}
	}
	return []cloudv1.IngressRule{
		{Protocol: cloudv1.ProtocolAll, SourceGroups: []string{cloudv1.DefaultSecurityGroupName}},
		port(cloudv1.ProtocolTCP, 22),
		port(cloudv1.ProtocolTCP, 80),
		port(cloudv1.ProtocolTCP, 443),
		port(cloudv1.ProtocolTCP, 1194),
		port(cloudv1.ProtocolUDP, 1194),
	}
}
