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

package requestid_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/requestid"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFjCm4ZUQFKtEgTd1M3x1kcYD3fxUuR6h8lDWJ8SV5Ed test"

// TestStampsPiNetObjectsWrittenUnderARequest writes through the stamping client against the real
// API server: PiNet objects created, updated and patched under a request id carry it; writes
// without one, and objects of other groups, are left alone.
func TestStampsPiNetObjectsWrittenUnderARequest(t *testing.T) {
	ctx := context.Background()
	c := requestid.Stamping(env.Client)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "requestid"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if got := requestid.From(ctx); got != "" {
		t.Fatalf("a bare context carries request id %q", got)
	}

	kp := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: ns.Name}, Spec: cloudv1.KeyPairSpec{PublicKey: publicKey}}
	if err := c.Create(requestid.With(ctx, "req-create"), kp); err != nil {
		t.Fatal(err)
	}
	reread := func() string {
		t.Helper()
		fresh := &cloudv1.KeyPair{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(kp), fresh); err != nil {
			t.Fatal(err)
		}
		kp = fresh
		return requestid.Of(fresh)
	}
	if got := reread(); got != "req-create" {
		t.Fatalf("after Create: request id %q", got)
	}

	before := kp.DeepCopy()
	kp.Labels = map[string]string{"changed": "yes"}
	if err := c.Patch(requestid.With(ctx, "req-patch"), kp, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	if got := reread(); got != "req-patch" {
		t.Fatalf("after Patch: request id %q", got)
	}

	kp.Labels["changed"] = "again"
	if err := c.Update(requestid.With(ctx, "req-update"), kp); err != nil {
		t.Fatal(err)
	}
	if got := reread(); got != "req-update" {
		t.Fatalf("after Update: request id %q", got)
	}

	// No request: the last call's id stays.
	kp.Labels["changed"] = "by-a-controller"
	if err := c.Update(ctx, kp); err != nil {
		t.Fatal(err)
	}
	if got := reread(); got != "req-update" {
		t.Fatalf("a write without a request changed the id to %q", got)
	}

	// Not a PiNet kind: untouched.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: ns.Name}}
	if err := c.Create(requestid.With(ctx, "req-cm"), cm); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Annotations[cloudv1.AnnotationRequestID]; ok {
		t.Fatalf("a ConfigMap was stamped: %v", cm.Annotations)
	}
}
