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

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers/nodestore"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/internal/testenv"
)

func mustCreateObj(t *testing.T, o client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), o); err != nil {
		t.Fatalf("creating %s: %v", o.GetName(), err)
	}
}

func mustSucceed(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNodeStoreUsers: every node gets its own object store user with keys, and the node agents'
// role names exactly the nodes' users' Secrets, no more: a gone node's user and name go, a User
// of a node's name that PiNet did not make is neither adopted nor named (an event says so), and
// the shared users of earlier versions are removed when the manager starts.
func TestNodeStoreUsers(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"pinet-image-reader", "pinet-snapshot-store"} {
		if err := env.Client.Create(ctx, &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// An administrator's user that happens to carry ns-3's name.
	mustCreateObj(t, &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: s3client.NodeUser("ns-3")}})
	t.Cleanup(func() {
		for _, o := range []client.Object{&cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "ns-1"}},
			&cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "ns-3"}}, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "ns-4"}},
			&cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: s3client.NodeUser("ns-3")}}} {
			_ = env.Client.Delete(context.Background(), o)
		}
	})
	startManager(t)
	for _, node := range []string{"ns-1", "ns-2", "ns-3"} {
		mustCreateObj(t, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: node}})
	}
	roleNames := func() ([]string, error) {
		role := &rbacv1.Role{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: nodestore.RoleName}, role); err != nil {
			return nil, err
		}
		var names []string
		for _, r := range role.Rules {
			if len(r.ResourceNames) == 0 || !slices.Equal(r.Resources, []string{"secrets"}) || !slices.Equal(r.Verbs, []string{"get"}) {
				return nil, fmt.Errorf("rule %+v is not a get of named secrets", r)
			}
			names = append(names, r.ResourceNames...)
		}
		return names, nil
	}
	key := func(node string) string { return credentials.SecretName(s3client.NodeUser(node)) }
	testenv.Eventually(t, shortWait, "ns-1's and ns-2's users, keys and role", func() error {
		for _, node := range []string{"ns-1", "ns-2"} {
			u := &cloudv1.User{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: s3client.NodeUser(node)}, u); err != nil {
				return err
			}
			if u.Labels[cloudv1.LabelNodeUser] != node || u.Spec.Admin || len(u.Spec.Projects) > 0 {
				return fmt.Errorf("user %s: %v %+v", u.Name, u.Labels, u.Spec)
			}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: key(node)}, &corev1.Secret{}); err != nil {
				return err
			}
		}
		names, err := roleNames()
		if err != nil {
			return err
		}
		if !slices.Contains(names, key("ns-1")) || !slices.Contains(names, key("ns-2")) {
			return fmt.Errorf("role names %v", names)
		}
		for _, n := range names {
			if _, ok := s3client.NodeOfUser(n[len("pinet-user-"):]); !ok {
				return fmt.Errorf("role names %s, no node's key", n)
			}
		}
		return nil
	})
	testenv.Eventually(t, shortWait, "the retired shared users removed", func() error {
		for _, name := range []string{"pinet-image-reader", "pinet-snapshot-store"} {
			if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &cloudv1.User{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("user %s: %v", name, err)
			}
		}
		return nil
	})
	testenv.Eventually(t, shortWait, "a NodeUserTaken event for ns-3", func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "NodeUserTaken" && e.Regarding.Name == "ns-3" {
				return nil
			}
		}
		return fmt.Errorf("no NodeUserTaken event among %d", len(list.Items))
	})
	names, err := roleNames()
	if err != nil || slices.Contains(names, key("ns-3")) {
		t.Fatalf("the role names a user PiNet did not make: %v %v", names, err)
	}
	u := &cloudv1.User{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: s3client.NodeUser("ns-3")}, u); err != nil || u.Labels[cloudv1.LabelNodeUser] != "" {
		t.Fatalf("the administrator's user was adopted: %v %v", u.Labels, err)
	}

	// ns-2 goes: so do its user (with its key) and its name in the role.
	if err := env.Client.Delete(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "ns-2"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "ns-2's user and key gone", func() error {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: s3client.NodeUser("ns-2")}, &cloudv1.User{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("user: %v", err)
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: key("ns-2")}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("secret: %v", err)
		}
		names, err := roleNames()
		if err != nil {
			return err
		}
		if slices.Contains(names, key("ns-2")) || !slices.Contains(names, key("ns-1")) {
			return fmt.Errorf("role names %v", names)
		}
		return nil
	})
	// Someone widens the role: the next pass (any node event) writes it back.
	role := &rbacv1.Role{}
	mustSucceed(t, env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: nodestore.RoleName}, role))
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}})
	mustSucceed(t, env.Client.Update(ctx, role))
	mustCreateObj(t, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "ns-4"}})
	testenv.Eventually(t, shortWait, "the role written back", func() error {
		names, err := roleNames()
		if err != nil {
			return err
		}
		if !slices.Contains(names, key("ns-4")) {
			return fmt.Errorf("role names %v", names)
		}
		return nil
	})
}
