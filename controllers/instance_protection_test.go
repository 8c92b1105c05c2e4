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
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// TestProtectedInstanceDeletions: deleting an Instance with termination protection is refused
// to anyone but the manager, unless the instance is already terminating or its project's
// namespace is being deleted (what the namespace controller does when a project goes).
func TestProtectedInstanceDeletions(t *testing.T) {
	startManager(t)
	createProject(t, "protns")
	ctx := context.Background()
	// An administrator of the cluster (not the manager) deletes as kubectl and GitOps tools do.
	admin, err := env.ClientAs("protns-admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	newProtected := func(name string) *cloudv1.Instance {
		inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "protns"},
			Spec: cloudv1.InstanceSpec{ImageID: "img", DisableAPITermination: true}}
		if err := admin.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
		return inst
	}
	refused := func(inst *cloudv1.Instance) {
		t.Helper()
		if err := admin.Delete(ctx, inst.DeepCopy()); err == nil || !strings.Contains(err.Error(), "has termination protection") {
			t.Fatalf("deleting protected %s: %v", inst.Name, err)
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil || !inst.DeletionTimestamp.IsZero() {
			t.Fatalf("after the refused deletion %s: %v, deleted %v", inst.Name, err, inst.DeletionTimestamp)
		}
	}
	gone := func(inst *cloudv1.Instance) {
		t.Helper()
		testenv.Eventually(t, longWait, inst.Name+" to go", func() error {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), &cloudv1.Instance{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (%v)", err)
		})
	}

	// Terminated first (with kubectl: unprotected, terminated, protected again), it may go.
	terminated := newProtected("terminated")
	refused(terminated)
	for _, patch := range []string{`{"spec":{"disableApiTermination":false}}`, `{"spec":{"desiredState":"Terminated"}}`,
		`{"spec":{"disableApiTermination":true}}`} {
		if err := admin.Patch(ctx, terminated, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
	}
	if err := admin.Delete(ctx, terminated); err != nil {
		t.Fatalf("deleting a terminated protected instance: %v", err)
	}
	gone(terminated)

	// The project goes: its protected instance with it.
	kept := newProtected("kept")
	refused(kept)
	if err := admin.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "protns"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the namespace to be terminating", func() error {
		ns := &corev1.Namespace{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "protns"}, ns); err != nil {
			return err
		}
		if ns.DeletionTimestamp.IsZero() {
			return fmt.Errorf("not terminating")
		}
		return nil
	})
	// This control plane has no namespace controller: the test deletes as it would.
	testenv.Eventually(t, longWait, "the policy to see the namespace terminating", func() error {
		return admin.Delete(ctx, kept.DeepCopy())
	})
	gone(kept)
}
