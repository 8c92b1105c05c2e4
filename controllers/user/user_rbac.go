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

package user

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

type (
	rbacRoleBinding        = rbacv1.RoleBinding
	rbacClusterRoleBinding = rbacv1.ClusterRoleBinding
)

// bindingName names a user's RoleBinding in a project namespace and its admin ClusterRoleBinding.
func bindingName(user string) string { return "pinet-user-" + user }

// reconcileRBAC binds the user in each member project's namespace and, for admins, cluster-wide;
// bindings for projects the user left are removed.
func (r *Reconciler) reconcileRBAC(ctx context.Context, s *scope) error {
	u := s.user
	var bound []string
	for _, p := range u.Spec.Projects {
		ns := &corev1.Namespace{}
		err := r.Client.Get(ctx, client.ObjectKey{Name: p}, ns)
		if apierrors.IsNotFound(err) || (err == nil && (ns.Labels[cloudv1.LabelProject] != p || !ns.DeletionTimestamp.IsZero())) {
			s.missingProjects = append(s.missingProjects, p)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading namespace %s: %w", p, err)
		}
		if err := r.ensureRoleBinding(ctx, u, p); err != nil {
			return err
		}
		bound = append(bound, p)
	}
	if u.Spec.Admin {
		if err := r.ensureAdminBinding(ctx, u); err != nil {
			return err
		}
	}
	return r.pruneBindings(ctx, u.Name, bound, u.Spec.Admin)
}

func (r *Reconciler) ensureRoleBinding(ctx context.Context, u *cloudv1.User, namespace string) error {
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: bindingName(u.Name)}}
	op, err := controllerutil.CreateOrUpdate(ctx, r.Client, rb, func() error {
		rb.Labels = managedLabels(u.Name)
		rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cloudv1.MemberRole}
		rb.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: cloudv1.UserPrefix + u.Name}}
		return controllerutil.SetOwnerReference(u, rb, r.Client.Scheme())
	})
	if err != nil {
		return fmt.Errorf("binding %s in project %s: %w", u.Name, namespace, err)
	}
	if op == controllerutil.OperationResultCreated {
		log.FromContext(ctx).Info("Bound user in project", "project", namespace)
		r.event(u, "Normal", "ProjectBound", "Bind", "Bound to project %s", namespace)
	}
	return nil
}

func (r *Reconciler) ensureAdminBinding(ctx context.Context, u *cloudv1.User) error {
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: bindingName(u.Name)}}
	op, err := controllerutil.CreateOrUpdate(ctx, r.Client, crb, func() error {
		crb.Labels = managedLabels(u.Name)
		crb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cloudv1.AdminRole}
		crb.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: cloudv1.UserPrefix + u.Name}}
		return controllerutil.SetOwnerReference(u, crb, r.Client.Scheme())
	})
	if err != nil {
		return fmt.Errorf("binding admin %s: %w", u.Name, err)
	}
	if op == controllerutil.OperationResultCreated {
		r.event(u, "Normal", "AdminBound", "Bind", "Granted the admin role")
	}
	return nil
}

// pruneBindings deletes the user's bindings outside keepNamespaces, and its admin binding unless
// keepAdmin.
func (r *Reconciler) pruneBindings(ctx context.Context, user string, keepNamespaces []string, keepAdmin bool) error {
	rbs := &rbacv1.RoleBindingList{}
	if err := r.Client.List(ctx, rbs, client.MatchingLabels{cloudv1.LabelUser: user}); err != nil {
		return fmt.Errorf("listing the bindings of %s: %w", user, err)
	}
	for i := range rbs.Items {
		rb := &rbs.Items[i]
		if slices.Contains(keepNamespaces, rb.Namespace) {
			continue
		}
		log.FromContext(ctx).Info("Unbinding user from project", "project", rb.Namespace)
		if err := r.Client.Delete(ctx, rb); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("unbinding %s from %s: %w", user, rb.Namespace, err)
		}
	}
	if keepAdmin {
		return nil
	}
	crb := &rbacv1.ClusterRoleBinding{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: bindingName(user)}, crb)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		err = r.Client.Delete(ctx, crb)
	}
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing the admin binding of %s: %w", user, err)
	}
	return nil
}

func managedLabels(user string) map[string]string {
	return map[string]string{cloudv1.LabelUser: user, cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet}
}
