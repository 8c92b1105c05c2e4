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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// TestProtectedImageDeletions: the admission policy refuses to delete an Image while its spec
// asks for deregistration protection, while its status still records a protection the image
// controller has not seen turned off (so no deletion slips in before a cooldown is set), and
// within a cooldown; then, or once its project's namespace is being deleted, it may go. No image
// controller runs here: the test writes the status as it would.
func TestProtectedImageDeletions(t *testing.T) {
	ctx := context.Background()
	const project = "imgprotns"
	quotaProject(t, project, cloudv1.ProjectQuota{}, false)
	// An administrator of the cluster (not the manager) deletes as kubectl and GitOps tools do.
	admin, err := env.ClientAs("imgprotns-admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: project},
		Spec: cloudv1.ImageSpec{ImageLocation: "bkt/kept.manifest.xml", DeregistrationProtection: cloudv1.DeregistrationProtectedWithCooldown}}
	if err := admin.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	refused := func(why string) {
		t.Helper()
		if err := admin.Delete(ctx, img.DeepCopy()); err == nil || !strings.Contains(err.Error(), "has deregistration protection") {
			t.Fatalf("deleting an image %s: %v", why, err)
		}
	}
	update := func(change func(*cloudv1.Image), status bool) {
		t.Helper()
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(img), img); err != nil {
			t.Fatal(err)
		}
		change(img)
		write := env.Client.Update
		if status {
			write = func(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
				return env.Client.Status().Update(ctx, obj)
			}
		}
		if err := write(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	refused("whose spec asks for protection")
	update(func(i *cloudv1.Image) {
		i.Status.DeregistrationProtection = cloudv1.DeregistrationProtectedWithCooldown
	}, true)
	update(func(i *cloudv1.Image) { i.Spec.DeregistrationProtection = "" }, false)
	refused("whose protection was turned off unseen")
	update(func(i *cloudv1.Image) {
		i.Status.DeregistrationProtection = ""
		i.Status.DeregistrationProtectedUntil = &metav1.Time{Time: time.Now().Add(time.Hour)}
	}, true)
	refused("in its cooldown")
	// The cooldown over (the controller removes its end), the image may go.
	update(func(i *cloudv1.Image) { i.Status.DeregistrationProtectedUntil = nil }, true)
	if err := admin.Delete(ctx, img.DeepCopy()); err != nil {
		t.Fatalf("deleting an image no longer protected: %v", err)
	}

	// The project goes: a protected image with it.
	img = &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "protected", Namespace: project},
		Spec: cloudv1.ImageSpec{ImageLocation: "bkt/protected.manifest.xml", DeregistrationProtection: cloudv1.DeregistrationProtected}}
	if err := admin.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	refused("of a project that stays")
	if err := admin.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: project}}); err != nil {
		t.Fatal(err)
	}
	// This control plane has no namespace controller: the test deletes as it would, once the
	// policy sees the namespace terminating.
	testenv.Eventually(t, longWait, "the image to be deleted with its project", func() error {
		return admin.Delete(ctx, img.DeepCopy())
	})
	testenv.Eventually(t, longWait, "the image to go", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(img), &cloudv1.Image{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}
