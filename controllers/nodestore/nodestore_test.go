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

package nodestore

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// A cloud without nodes gets a Role without rules: a rule naming no Secret would grant them all.
// When the last node goes, the Role loses its rule and the node its user.
func TestRoleWithoutNodesGrantsNothing(t *testing.T) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := cloudv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	// A user someone labelled as a node's is not PiNet's to remove.
	alice := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: "alice", Labels: map[string]string{cloudv1.LabelNodeUser: "gone"}}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(hv, alice).Build()
	r := &Reconciler{Client: c, APIReader: c, SystemNamespace: "pinet-system"}
	ctx := context.Background()
	rules := func() []rbacv1.PolicyRule {
		t.Helper()
		if _, err := r.Reconcile(ctx, reconcile.Request{}); err != nil {
			t.Fatal(err)
		}
		role := &rbacv1.Role{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "pinet-system", Name: RoleName}, role); err != nil {
			t.Fatal(err)
		}
		return role.Rules
	}
	if got := rules(); len(got) != 1 || len(got[0].ResourceNames) != 1 || got[0].ResourceNames[0] != "pinet-user-pinet-node-n1" {
		t.Fatalf("with one node: %+v", got)
	}
	if err := c.Delete(ctx, hv); err != nil {
		t.Fatal(err)
	}
	if got := rules(); len(got) != 0 {
		t.Fatalf("without nodes the role holds %+v", got)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "pinet-node-n1"}, &cloudv1.User{}); err == nil {
		t.Fatal("the gone node's user was kept")
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "alice"}, &cloudv1.User{}); err != nil {
		t.Fatalf("a labelled user that is no node's: %v", err)
	}
}
