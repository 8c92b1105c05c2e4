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

package frontends

import (
	"bytes"
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func TestEnsureSSEMasterKey(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sse-key-test"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	// Replicas starting together converge on one key.
	keys := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := EnsureSSEMasterKey(ctx, env.Client, ns.Name)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys {
		if len(k) != 32 || !bytes.Equal(k, keys[0]) {
			t.Fatalf("keys %x differ or are not 32 bytes", keys)
		}
	}
	sec := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: SSEKeySecretName}, sec); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sec.Data[SSEKeySecretKey], keys[0]) {
		t.Fatal("the Secret does not hold the key handed out")
	}
	// A damaged key is refused, never replaced.
	sec.Data[SSEKeySecretKey] = []byte("short")
	if err := env.Client.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureSSEMasterKey(ctx, env.Client, ns.Name); err == nil {
		t.Fatal("a 5-byte master key was accepted")
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil || string(sec.Data[SSEKeySecretKey]) != "short" {
		t.Fatalf("the damaged Secret was changed: %v", err)
	}
}
