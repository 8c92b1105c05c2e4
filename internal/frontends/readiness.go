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
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Readiness tells whether a replica may take requests: every front door added with it serves,
// and the cache they read from holds every kind they read, synced. It is the manager's /readyz
// check; a replica that is not the leader is ready as soon as that holds, since the front doors
// need no leader.
type Readiness struct {
	mu      sync.Mutex
	pending map[string]bool
}

// NewReadiness returns a Readiness that is not ready until the cache is warm.
func NewReadiness() *Readiness {
	return &Readiness{pending: map[string]bool{"cache": true}}
}

// expect adds something that must start before the replica is ready.
func (r *Readiness) expect(name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending[name] = true
}

// done marks name started.
func (r *Readiness) done(name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, name)
}

// Check is a healthz.Checker: nil once everything expected has started.
func (r *Readiness) Check(_ *http.Request) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		return nil
	}
	names := make([]string, 0, len(r.pending))
	for n := range r.pending {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("not started yet: %s", strings.Join(names, ", "))
}

// cacheWarmer starts the cache's informers for every PiNet kind and the Secrets (users' keys)
// the front doors read, and marks the cache ready once they are synced. Without it a replica
// that is not the leader would start an informer on the first request that reads a kind (no
// controller asked for one), and answer that request only after a full list.
type cacheWarmer struct {
	cache     cache.Cache
	scheme    *runtime.Scheme
	readiness *Readiness
}

func (w cacheWarmer) NeedLeaderElection() bool { return false }

func (w cacheWarmer) Start(ctx context.Context) error {
	objs := []client.Object{&corev1.Secret{}}
	for kind := range w.scheme.KnownTypes(cloudv1.GroupVersion) {
		if strings.HasSuffix(kind, "List") {
			continue
		}
		o, err := w.scheme.New(cloudv1.GroupVersion.WithKind(kind))
		if err != nil {
			return fmt.Errorf("warming the cache for %s: %w", kind, err)
		}
		if obj, ok := o.(client.Object); ok {
			objs = append(objs, obj)
		}
	}
	for _, obj := range objs {
		// GetInformer blocks until the informer has synced.
		if _, err := w.cache.GetInformer(ctx, obj); err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return fmt.Errorf("warming the cache for %T: %w", obj, err)
		}
	}
	if !w.cache.WaitForCacheSync(ctx) {
		return nil
	}
	w.readiness.done("cache")
	return nil
}
