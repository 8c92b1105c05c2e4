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

// Package quota admits objects under their project's quota through a per-project ledger, one
// for each quota'd kind: a Lease whose annotation lists the objects admitted but not yet shown
// as admitted on the objects themselves. The ledger is only ever written at the resourceVersion
// it was read at, so of racing admissions (EC2 calls, controllers, several manager replicas) one
// decides at a time, and each counts every admission before its own: the quota is never exceeded.
//
// An object is pending until it is admitted; pending objects count only once the ledger lists
// them, and a ledger entry is dropped once its object is no longer pending or gone. Objects
// being deleted never count. A crash between creating an object and admitting it therefore
// leaves a pending object that counts for nothing, and no entry that counts forever.
package quota

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

const (
	// AnnotationPending marks an object its creator is admitting: made by a call that answers
	// only after deciding, and withdrawn if refused.
	AnnotationPending = "cloud.pinet.io/quota-pending"
	// annotationAdmitted on a ledger lists the pending objects admitted so far.
	annotationAdmitted = "cloud.pinet.io/quota-admitted"
	// LedgerPrefix names a project's ledger for a kind: pinet-quota-<kind>.
	LedgerPrefix = "pinet-quota-"
	// maxConflictDelay bounds the pause (before jitter) of an admission that lost a race for
	// the ledger before it counts again.
	maxConflictDelay = 250 * time.Millisecond
)

// Limit is one bound of a quota.
type Limit struct {
	// Field is the quota field in a Project's spec, naming the limit in messages.
	Field string
	// Unit is what is counted, for messages ("instance(s)", "vCPU(s)").
	Unit string
	// Max is the bound; 0 or less is none.
	Max int64
}

// Item is an object a quota counts.
type Item struct {
	Name string
	// Use is what the object takes of each limit of its gate, in the gate's order.
	Use []int64
	// Pending objects count only once the ledger lists them.
	Pending bool
}

// Gate is one project's quota for one kind.
type Gate struct {
	// Kind names the ledger: one per project and kind.
	Kind    string
	Project string
	Limits  []Limit
	// Items lists the objects the quota counts, read from r; objects being deleted are left out.
	Items func(ctx context.Context, r client.Reader) ([]Item, error)
}

// Exceeded tells which limit refused an admission.
type Exceeded struct {
	Limit Limit
	// InUse is what the project holds of the limit; Need what the refused request asked for.
	InUse, Need int64
}

// Left is how much of the limit is still free.
func (e *Exceeded) Left() int64 { return max(e.Limit.Max-e.InUse, 0) }

func (e *Exceeded) Error() string {
	return fmt.Sprintf("project quota %s exceeded: %d of %d in use, %d more needed",
		e.Limit.Field, e.InUse, e.Limit.Max, e.Need)
}

// Unlimited tells whether the gate bounds nothing.
func (g *Gate) Unlimited() bool {
	for _, l := range g.Limits {
		if l.Max > 0 {
			return false
		}
	}
	return true
}

// usage sums what the items take of each limit.
func (g *Gate) usage(items []Item) []int64 {
	sum := make([]int64, len(g.Limits))
	for _, it := range items {
		for i := range sum {
			if i < len(it.Use) {
				sum[i] += it.Use[i]
			}
		}
	}
	return sum
}

// fits tells whether n more of use fit on top of used, or which limit refuses them.
func (g *Gate) fits(used, use []int64, n int64) *Exceeded {
	for i, l := range g.Limits {
		// What takes nothing of a limit never exceeds it, even one lowered below its use.
		if i < len(use) && use[i] > 0 && l.Max > 0 && used[i]+n*use[i] > l.Max {
			return &Exceeded{Limit: l, InUse: used[i], Need: n * use[i]}
		}
	}
	return nil
}

// Room tells how many (at most n) more objects each taking use fit, counting the objects r
// shows that are admitted; with fewer than minimum it also says which limit refuses minimum of
// them. It is a cheap refusal before anything is created: only Admit decides.
func (g *Gate) Room(ctx context.Context, r client.Reader, use []int64, minimum, n int) (int, *Exceeded, error) {
	if g.Unlimited() {
		return n, nil, nil
	}
	items, err := g.Items(ctx, r)
	if err != nil {
		return 0, nil, err
	}
	used := g.usage(slices.DeleteFunc(items, func(it Item) bool { return it.Pending }))
	k := 0
	for k < n && g.fits(used, use, int64(k+1)) == nil {
		k++
	}
	if k < minimum {
		return k, g.fits(used, use, int64(minimum)), nil
	}
	return k, nil, nil
}

// MarkPending marks an object about to be created as being admitted by its creator.
func MarkPending(obj client.Object) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationPending] = "true"
	obj.SetAnnotations(a)
}

// IsMarkedPending tells whether obj's creator is admitting it.
func IsMarkedPending(obj client.Object) bool {
	_, ok := obj.GetAnnotations()[AnnotationPending]
	return ok
}

// Unmark drops the creator's mark from an admitted object.
func Unmark(ctx context.Context, c client.Client, obj client.Object) error {
	patch := client.RawPatch(types.MergePatchType,
		[]byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, AnnotationPending)))
	return client.IgnoreNotFound(c.Patch(ctx, obj, patch))
}

// Ledger admits objects; Reader must read the API server itself (not a cache), Writer writes
// the ledger Leases.
type Ledger struct {
	Reader client.Reader
	Writer client.Client
}

// Request asks a ledger to admit Names (existing objects of the gate's kind, created marked
// pending) in order, as many as fit, and only if at least Minimum of them do.
type Request struct {
	Names   []string
	Minimum int
}

// Decision is a ledger's answer to one Request: the names admitted, a prefix of those that
// exist, or none, with the limit that refused Minimum of them (nil when they were withdrawn
// meanwhile).
type Decision struct {
	Admitted []string
	Refused  *Exceeded
}

// Admit admits candidates (names of existing objects of the gate's kind) in order, as many as
// fit, and only if at least min of them do: then it returns their names, a prefix of the
// candidates that exist. Candidates already admitted stay admitted and count towards min. With
// fewer than min it admits none and says which limit refused. Racing admissions retry on the
// ledger's conflicts for at most timeout.
func (l *Ledger) Admit(ctx context.Context, g *Gate, candidates []string, minimum int, timeout time.Duration) ([]string, *Exceeded, error) {
	if g.Unlimited() {
		return candidates, nil, nil
	}
	d, err := l.AdmitAll(ctx, g, []Request{{Names: candidates, Minimum: minimum}}, timeout)
	if err != nil {
		return nil, nil, err
	}
	return d[0].Admitted, d[0].Refused, nil
}

// AdmitMade admits obj, an object of the gate's kind about to be given a share of something
// every project draws on (an IP of a pool, room on a storage node), before its controller gives
// it: how an object made with kubectl is held to its project's quota. One marked pending is its
// creator's to admit (an EC2 call, or controllers/quotapending once that call is gone) and
// passes. It reports whether obj may have its share, and the limit that refused it (nil when obj
// went meanwhile).
func (l *Ledger) AdmitMade(ctx context.Context, g *Gate, obj client.Object, timeout time.Duration) (bool, *Exceeded, error) {
	if IsMarkedPending(obj) || g.Unlimited() {
		return true, nil, nil
	}
	admitted, refused, err := l.Admit(ctx, g, []string{obj.GetName()}, 1, timeout)
	if err != nil {
		return false, nil, err
	}
	return len(admitted) == 1, refused, nil
}

// AdmitAll decides several requests with one write of the ledger, each as Admit would and in
// their order: each counts the admissions of those before it. Many admissions waiting at once
// (a burst of launches in one process) thus write the ledger once instead of each in turn,
// conflicting with all the others. Racing writers retry on the ledger's conflicts for at most
// timeout, backing off a little more each time.
func (l *Ledger) AdmitAll(ctx context.Context, g *Gate, reqs []Request, timeout time.Duration) ([]Decision, error) {
	if g.Unlimited() {
		out := make([]Decision, len(reqs))
		for i, r := range reqs {
			out[i].Admitted = r.Names
		}
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Jittered and growing a little: writers that conflict do not retry in lockstep.
	delay := 20 * time.Millisecond
	for {
		decisions, err := l.admitOnce(ctx, g, reqs)
		if err == nil {
			return decisions, nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("admitting %s of project %s under its quota: %w", g.Kind, g.Project, err)
		}
		// Another admission came first: count again.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("admitting %s of project %s under its quota: %w", g.Kind, g.Project, ctx.Err())
		case <-time.After(wait.Jitter(delay, 1)):
		}
		delay = min(delay*3/2, maxConflictDelay)
	}
}

// admitOnce reads the ledger and the objects, decides, and writes the ledger at the version it
// read. A conflict means another admission came first.
func (l *Ledger) admitOnce(ctx context.Context, g *Gate, reqs []Request) ([]Decision, error) {
	key := client.ObjectKey{Namespace: g.Project, Name: LedgerPrefix + g.Kind}
	ledger := &coordinationv1.Lease{}
	exists := true
	if err := l.Reader.Get(ctx, key, ledger); apierrors.IsNotFound(err) {
		exists = false
		ledger = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
			Labels: map[string]string{cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet}}}
	} else if err != nil {
		return nil, fmt.Errorf("reading the %s quota ledger: %w", g.Kind, err)
	}
	items, err := g.Items(ctx, l.Reader)
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, r := range reqs {
		for _, name := range r.Names {
			wanted[name] = true
		}
	}
	listed := strings.Fields(ledger.Annotations[annotationAdmitted])
	var counted []Item
	var entries []string // ledger entries: those still pending, then the ones added now
	isCounted := map[string]bool{}
	waiting := map[string]Item{}
	for _, it := range items {
		isListed := slices.Contains(listed, it.Name)
		switch {
		case !it.Pending || isListed:
			counted, isCounted[it.Name] = append(counted, it), true
			if it.Pending {
				entries = append(entries, it.Name)
			}
		case wanted[it.Name]:
			waiting[it.Name] = it
		}
	}
	used := g.usage(counted)
	decisions := make([]Decision, len(reqs))
	added := false
	for i, r := range reqs {
		var now []string
		decisions[i], now, used = g.decide(r, used, isCounted, waiting)
		for _, name := range now {
			isCounted[name] = true
			delete(waiting, name)
		}
		entries, added = append(entries, now...), added || len(now) > 0
	}
	if !added {
		return decisions, nil
	}
	if ledger.Annotations == nil {
		ledger.Annotations = map[string]string{}
	}
	ledger.Annotations[annotationAdmitted] = strings.Join(entries, " ")
	if !exists {
		return decisions, l.Writer.Create(ctx, ledger)
	}
	return decisions, l.Writer.Update(ctx, ledger)
}

// decide answers one request on top of used: its names counted already are admitted, the
// waiting ones in order as long as they fit. It returns the decision, the names it adds to the
// ledger, and the use after it (used itself when it admits none).
func (g *Gate) decide(r Request, used []int64, isCounted map[string]bool, waiting map[string]Item) (Decision, []string, []int64) {
	var admitted, added []string
	var refused *Exceeded
	var use []int64 // what one candidate takes, for the refusal's message
	after := used
	for _, name := range r.Names {
		it, ok := waiting[name]
		switch {
		case isCounted[name]:
			admitted = append(admitted, name)
		case !ok || refused != nil || slices.Contains(added, name):
			// Withdrawn meanwhile, or after one that did not fit: candidates go in order.
		default:
			use = it.Use
			if refused = g.fits(after, it.Use, 1); refused == nil {
				after = g.usage([]Item{{Use: after}, it})
				admitted, added = append(admitted, name), append(added, name)
			}
		}
	}
	if len(admitted) >= r.Minimum {
		return Decision{Admitted: admitted}, added, after
	}
	if refused == nil {
		return Decision{}, nil, used // candidates withdrawn meanwhile
	}
	before := len(admitted) - len(added)
	if ex := g.fits(used, use, int64(r.Minimum-before)); ex != nil {
		refused = ex
	}
	return Decision{Refused: refused}, nil, used
}
