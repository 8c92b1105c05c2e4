/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// A call that creates an object under a project quota creates it marked pending, then admits it
// through the project's ledger for the kind: a Lease whose annotation lists the pending objects
// admitted so far. The ledger is only ever written with the resourceVersion it was read at, so
// of racing calls one admits at a time, and each counts every admission before its own. Objects
// without the mark (admitted, or made with kubectl) always count; pending objects count once the
// ledger lists them. Objects being deleted never count: they were released or refused.
const (
	annotationQuotaPending  = "cloud.pinet.io/quota-pending"
	annotationQuotaAdmitted = "cloud.pinet.io/quota-admitted"
	quotaLedgerPrefix       = "pinet-quota-"
)

// quotaItem is an object counted against a quota.
type quotaItem struct {
	name    string
	weight  int64
	pending bool
}

// newQuotaItem describes obj, or returns false when it is being deleted.
func newQuotaItem(obj client.Object, weight int64) (quotaItem, bool) {
	if !obj.GetDeletionTimestamp().IsZero() {
		return quotaItem{}, false
	}
	_, pending := obj.GetAnnotations()[annotationQuotaPending]
	return quotaItem{name: obj.GetName(), weight: weight, pending: pending}, true
}

// quotaGate bounds how many objects of a kind a project has, and how much they weigh in all (a
// nil or zero limit is none).
type quotaGate struct {
	// kind names the ledger: one per project and kind.
	kind    string
	project string
	count   *int32
	weight  *int64
	// items lists the objects the quota counts.
	items func(ctx context.Context, r client.Reader) ([]quotaItem, error)
}

func (g *quotaGate) unlimited() bool {
	return (g.count == nil || *g.count == 0) && (g.weight == nil || *g.weight == 0)
}

// exceeded tells whether the items are over the limits.
func (g *quotaGate) exceeded(items []quotaItem) bool {
	var weight int64
	for _, it := range items {
		weight += it.weight
	}
	return g.count != nil && *g.count > 0 && int64(len(items)) > int64(*g.count) ||
		g.weight != nil && *g.weight > 0 && weight > *g.weight
}

// markPending marks an object about to be created as awaiting admission, when there is a quota.
func (g *quotaGate) markPending(obj client.Object) {
	if g.unlimited() {
		return
	}
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[annotationQuotaPending] = "true"
	obj.SetAnnotations(a)
}

// quotaRoom tells whether one more object of the weight fits, as the cache sees the project:
// a cheap refusal before anything is created.
func (s *Server) quotaRoom(ctx context.Context, g *quotaGate, weight int64) (bool, error) {
	if g.unlimited() {
		return true, nil
	}
	items, err := g.items(ctx, s.cfg.Client)
	if err != nil {
		return false, err
	}
	counted := slices.DeleteFunc(items, func(it quotaItem) bool { return it.pending })
	return !g.exceeded(append(counted, quotaItem{weight: weight})), nil
}

// quotaAdmits decides whether obj, created marked pending, may stay; admitted, it loses the
// mark. Racing admissions retry on the ledger's conflicts until WaitForCache runs out.
func (s *Server) quotaAdmits(ctx context.Context, g *quotaGate, obj client.Object) (bool, error) {
	if g.unlimited() {
		return true, nil
	}
	admitted, decided := false, false
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, s.cfg.WaitForCache, true, func(ctx context.Context) (bool, error) {
		ok, err := s.admitOnce(ctx, g, obj.GetName())
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			return false, nil // another call admitted first: count again
		}
		if err != nil {
			return false, err
		}
		admitted, decided = ok, true
		return true, nil
	})
	if err != nil && !(wait.Interrupted(err) && !decided) {
		return false, err
	}
	if !admitted {
		return false, nil
	}
	patch := client.RawPatch(types.MergePatchType,
		[]byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, annotationQuotaPending)))
	if err := s.cfg.Client.Patch(ctx, obj, patch); client.IgnoreNotFound(err) != nil {
		// Listed in the ledger, the object keeps counting; only the mark stays behind.
		logr.FromContextOrDiscard(ctx).Info("Leaving the quota mark on an admitted object", "object", obj.GetName(), "error", err.Error())
	}
	return true, nil
}

// admitOnce reads the ledger and the objects, and admits self if it fits, writing the ledger at
// the version it read. A conflict means another admission came first.
func (s *Server) admitOnce(ctx context.Context, g *quotaGate, self string) (bool, error) {
	key := client.ObjectKey{Namespace: g.project, Name: quotaLedgerPrefix + g.kind}
	ledger := &coordinationv1.Lease{}
	exists := true
	if err := s.cfg.APIReader.Get(ctx, key, ledger); apierrors.IsNotFound(err) {
		exists = false
		ledger = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
			Labels: map[string]string{cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet}}}
	} else if err != nil {
		return false, fmt.Errorf("reading the %s quota ledger: %w", g.kind, err)
	}
	items, err := g.items(ctx, s.cfg.APIReader)
	if err != nil {
		return false, err
	}
	listed := strings.Fields(ledger.Annotations[annotationQuotaAdmitted])
	var counted []quotaItem
	var still []string // ledger entries still pending: the rest need no entry any more
	var me *quotaItem
	for i := range items {
		it := items[i]
		switch {
		case it.name == self:
			me = &it
		case !it.pending:
			counted = append(counted, it)
		case slices.Contains(listed, it.name):
			counted = append(counted, it)
			still = append(still, it.name)
		}
	}
	if me == nil {
		return false, nil // withdrawn meanwhile
	}
	if g.exceeded(append(counted, *me)) {
		return false, nil
	}
	if ledger.Annotations == nil {
		ledger.Annotations = map[string]string{}
	}
	ledger.Annotations[annotationQuotaAdmitted] = strings.Join(append(still, self), " ")
	if !exists {
		return true, s.cfg.Client.Create(ctx, ledger)
	}
	return true, s.cfg.Client.Update(ctx, ledger)
}
