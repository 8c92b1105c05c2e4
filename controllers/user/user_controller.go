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

// Package user holds the User reconciler: it issues a user's access keys and certificate (kept in
// a Secret in the system namespace, never in the User), rotates keys on request, and binds the
// user's Kubernetes identity (pinet:user:<name>) to the member role in each of its projects and to
// the admin role when it is an admin.
package user

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/cloudca"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/patch"
)

// Reconciler reconciles Users.
type Reconciler struct {
	Client          client.Client
	Recorder        events.EventRecorder
	Clock           clock.PassiveClock
	SystemNamespace string
	// CA returns the cloud CA that signs user certificates.
	CA func(context.Context) (*cloudca.CA, error)
}

type scope struct {
	user *cloudv1.User
	keys []credentials.StoredKey
	// missingProjects are member projects without a ready namespace.
	missingProjects []string
	now             metav1.Time
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=users,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=users/status;users/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete,namespace=pinet-system
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=pinet-member;pinet-admin

// Reconcile issues credentials and role bindings for one user.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	u := &cloudv1.User{}
	if err := r.Client.Get(ctx, req.NamespacedName, u); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(u, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	s := &scope{user: u, now: metav1.NewTime(r.Clock.Now())}
	defer func() {
		if u.DeletionTimestamp.IsZero() {
			r.updateStatus(s, reterr)
		}
		if err := helper.Patch(ctx, u); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()

	if !u.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.reconcileDelete(ctx, s)
	}
	if !controllerutil.ContainsFinalizer(u, cloudv1.UserFinalizer) {
		controllerutil.AddFinalizer(u, cloudv1.UserFinalizer)
		return reconcile.Result{}, nil
	}
	if err := r.reconcileCredentials(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, r.reconcileRBAC(ctx, s)
}

// reconcileDelete removes the user's bindings and credentials, then the finalizer.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) error {
	if err := r.pruneBindings(ctx, s.user.Name, nil, false); err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.SystemNamespace, Name: credentials.SecretName(s.user.Name)}}
	if err := r.Client.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting the credentials of %s: %w", s.user.Name, err)
	}
	log.FromContext(ctx).Info("Removed user's credentials and bindings")
	controllerutil.RemoveFinalizer(s.user, cloudv1.UserFinalizer)
	return nil
}

func (r *Reconciler) updateStatus(s *scope, reconcileErr error) {
	u := s.user
	if s.keys != nil {
		u.Status.AccessKeys = u.Status.AccessKeys[:0]
		for _, k := range s.keys {
			created := metav1.NewTime(k.Created)
			u.Status.AccessKeys = append(u.Status.AccessKeys, cloudv1.AccessKey{
				AccessKeyID: k.AccessKeyID, State: cloudv1.AccessKeyState(k.State), Created: &created,
			})
		}
		u.Status.KeyRotation = u.Spec.KeyRotation
		u.Status.CredentialsSecret = credentials.SecretName(u.Name)
		conditions.MarkTrue(u, cloudv1.UserCredentialsIssued, cloudv1.ReasonIssued, "", s.now)
	} else if conditions.Get(u, cloudv1.UserCredentialsIssued) == nil {
		conditions.MarkFalse(u, cloudv1.UserCredentialsIssued, cloudv1.ReasonPending, "Issuing credentials", s.now)
	}
	switch {
	case len(s.missingProjects) > 0:
		conditions.MarkFalse(u, cloudv1.UserRBACBound, cloudv1.ReasonProjectNotFound,
			fmt.Sprintf("Projects without a ready namespace: %s", strings.Join(s.missingProjects, ", ")), s.now)
	case reconcileErr == nil:
		conditions.MarkTrue(u, cloudv1.UserRBACBound, cloudv1.ReasonBound, "", s.now)
	}
	switch {
	case reconcileErr != nil:
		conditions.MarkFalse(u, cloudv1.ReadyCondition, cloudv1.ReasonInternalError, "Reconciling the user failed; see the manager's log", s.now)
	case !conditions.IsTrue(u, cloudv1.UserCredentialsIssued):
		c := conditions.Get(u, cloudv1.UserCredentialsIssued)
		conditions.MarkFalse(u, cloudv1.ReadyCondition, c.Reason, c.Message, s.now)
	case !conditions.IsTrue(u, cloudv1.UserRBACBound):
		c := conditions.Get(u, cloudv1.UserRBACBound)
		conditions.MarkFalse(u, cloudv1.ReadyCondition, c.Reason, c.Message, s.now)
	default:
		conditions.MarkTrue(u, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", s.now)
	}
	if reconcileErr == nil {
		u.Status.ObservedGeneration = u.Generation
	}
}

// SetupWithManager registers the reconciler. It watches the user's Secret and bindings (to repair
// them) and Projects (a member project appearing completes the user's bindings).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	byUserLabel := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if name := o.GetLabels()[cloudv1.LabelUser]; name != "" {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
		}
		return nil
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.User{}).
		Watches(&corev1.Secret{}, byUserLabel).
		Watches(&rbacRoleBinding{}, byUserLabel).
		Watches(&rbacClusterRoleBinding{}, byUserLabel).
		Watches(&cloudv1.Project{}, handler.EnqueueRequestsFromMapFunc(r.membersOf)).
		Named("user").
		Complete(r)
}

// membersOf enqueues the users who list the project.
func (r *Reconciler) membersOf(ctx context.Context, o client.Object) []reconcile.Request {
	users := &cloudv1.UserList{}
	if err := r.Client.List(ctx, users); err != nil {
		log.FromContext(ctx).Error(err, "Listing users")
		return nil
	}
	var reqs []reconcile.Request
	for _, u := range users.Items {
		if slices.Contains(u.Spec.Projects, o.GetName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: u.Name}})
		}
	}
	return reqs
}
