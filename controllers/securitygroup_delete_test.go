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
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// TestNamespaceDeletionLetsGroupsGo does what the namespace controller does to a project's
// namespace (this control plane has none): it deletes every instance and every group at once.
// The groups in use wait for the instances, and groups admitting one another do not hold each
// other: everything goes.
func TestNamespaceDeletionLetsGroupsGo(t *testing.T) {
	startManager(t)
	createProject(t, "sgns")
	ctx := context.Background()
	def := &cloudv1.SecurityGroup{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "sgns", Name: cloudv1.DefaultSecurityGroupName}, def); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(def.Finalizers, cloudv1.SecurityGroupFinalizer) {
		t.Fatalf("the default group was made without the finalizer: %v", def.Finalizers)
	}
	rule := func(src string) []cloudv1.IngressRule {
		return []cloudv1.IngressRule{{Protocol: cloudv1.ProtocolAll, SourceGroups: []string{src}}}
	}
	pair := []*cloudv1.SecurityGroup{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "sgns"}, Spec: cloudv1.SecurityGroupSpec{Ingress: rule("db")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "sgns"}, Spec: cloudv1.SecurityGroupSpec{Ingress: rule("web")}},
	}
	for _, sg := range pair {
		if err := env.Client.Create(ctx, sg); err != nil {
			t.Fatal(err)
		}
	}
	for _, sg := range pair {
		waitReady(t, sg)
	}
	// The instance never runs (no image, no node); it is in "web" and, naming no other, not in
	// the default group.
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "sgns"},
		Spec: cloudv1.InstanceSpec{ImageID: "img", SecurityGroups: []string{"web"}}}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	// A group being deleted while the instance is there waits for it.
	web := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "sgns"}}
	if err := env.Client.Delete(ctx, web); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "web to say the instance uses it", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(web), web); err != nil {
			return err
		}
		if c := conditions.Get(web, cloudv1.ReadyCondition); c == nil || c.Reason != cloudv1.ReasonInUse || !strings.Contains(c.Message, "instance ") {
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})

	// kubectl delete namespace: the namespace is marked, then its objects are deleted.
	if err := env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sgns"}}); err != nil {
		t.Fatal(err)
	}
	for _, list := range []client.Object{&cloudv1.Instance{}, &cloudv1.SecurityGroup{}} {
		if err := env.Client.DeleteAllOf(ctx, list, client.InNamespace("sgns")); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, longWait, "every instance and group of the namespace to go", func() error {
		insts := &cloudv1.InstanceList{}
		groups := &cloudv1.SecurityGroupList{}
		if err := env.Client.List(ctx, insts, client.InNamespace("sgns")); err != nil {
			return err
		}
		if err := env.Client.List(ctx, groups, client.InNamespace("sgns")); err != nil {
			return err
		}
		if n := len(insts.Items) + len(groups.Items); n > 0 {
			return fmt.Errorf("%d instances and %d groups left", len(insts.Items), len(groups.Items))
		}
		return nil
	})
}
