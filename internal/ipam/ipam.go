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

// Package ipam hands out network resources so that none is ever given twice: elastic IPs from
// address pools, segment ids and subnets to projects, private addresses to instances. Each item in
// use is a claim object (a Lease in the system namespace) whose name is derived from the item, and
// the API server lets only one such object exist, so of two allocators (two managers, say) that
// want one item exactly one gets it. A claim is labelled with its pool and its holder (a UID); a
// crashed or restarted allocator finds its earlier claims by holder and reuses them.
package ipam

import (
	"context"
	"errors"
	"fmt"
	"sort"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Labels and annotations on claims.
const (
	LabelSet    = "ipam.pinet.io/set"
	LabelHolder = "ipam.pinet.io/holder"
	// LabelHolderKind is the kind of object that holds a claim, on the claims of pools that say
	// it (a project subnet's addresses: Instance); a Sweeper selects the claims it checks by it.
	LabelHolderKind = "ipam.pinet.io/holder-kind"
	// AnnotationValue is the item claimed (an address, a segment id, a subnet).
	AnnotationValue = "ipam.pinet.io/value"
	// annotationAddress is where claims made before segments and subnets recorded their address.
	annotationAddress = "ipam.pinet.io/address"
)

// ErrExhausted means every item of the pool is claimed.
var ErrExhausted = errors.New("nothing free")

// Pool is what an Allocator draws from: a Set of addresses, a Range of segment ids, the Subnets of
// a supernet.
type Pool interface {
	// Label is the value of LabelSet on the pool's claims; they are listed by it.
	Label() string
	// candidates calls fn with the claim name and the value of every item that may be handed
	// out, in order, until fn returns false. claimed holds the values of the pool's claims;
	// holder is who asks (a pool may start its order where the holder's differs from others').
	candidates(claimed []string, holder string, fn func(name, value string) bool)
}

// Allocator makes claims as Lease objects in a namespace.
type Allocator struct {
	Client client.Client
	// Reader reads claims straight from the API server: a cache that lags could hide a claim
	// this holder made a moment ago, and it would claim a second item.
	Reader    client.Reader
	Namespace string
}

// Claims lists the claims labelled with a pool's label.
func (al *Allocator) Claims(ctx context.Context, label string) ([]coordinationv1.Lease, error) {
	list := &coordinationv1.LeaseList{}
	if err := al.Reader.List(ctx, list, client.InNamespace(al.Namespace), client.MatchingLabels{LabelSet: label}); err != nil {
		return nil, fmt.Errorf("listing the claims of %s: %w", label, err)
	}
	return list.Items, nil
}

// claimsOf lists holder's claims in the pool labelled label, straight from the API server: the
// API server selects them, so the answer does not grow with the pool.
func (al *Allocator) claimsOf(ctx context.Context, label, holder string) ([]coordinationv1.Lease, error) {
	list := &coordinationv1.LeaseList{}
	if err := al.Reader.List(ctx, list, client.InNamespace(al.Namespace), client.MatchingLabels{LabelSet: label, LabelHolder: holder}); err != nil {
		return nil, fmt.Errorf("listing the claims of %s in %s: %w", holder, label, err)
	}
	return list.Items, nil
}

// Held returns the values holder claims in the pool labelled label, the earliest claim first.
func (al *Allocator) Held(ctx context.Context, label, holder string) ([]string, error) {
	claims, err := al.claimsOf(ctx, label, holder)
	if err != nil {
		return nil, err
	}
	return heldBy(claims, holder), nil
}

// heldBy returns the values of holder's claims, the earliest made first.
func heldBy(claims []coordinationv1.Lease, holder string) []string {
	mine := ownClaims(claims, holder)
	out := make([]string, len(mine))
	for i, l := range mine {
		out[i] = value(l)
	}
	return out
}

// ownClaims returns holder's claims, the earliest made first. Claims are never updated, so their
// resourceVersion is the revision that made them: every allocator that lists them agrees on the
// order, to the write.
func ownClaims(claims []coordinationv1.Lease, holder string) []*coordinationv1.Lease {
	var mine []*coordinationv1.Lease
	for i := range claims {
		if claims[i].Labels[LabelHolder] == holder && value(&claims[i]) != "" {
			mine = append(mine, &claims[i])
		}
	}
	sort.Slice(mine, func(i, j int) bool { return madeBefore(mine[i], mine[j]) })
	return mine
}

func madeBefore(a, b *coordinationv1.Lease) bool {
	if c, err := resourceversion.CompareResourceVersion(a.ResourceVersion, b.ResourceVersion); err == nil {
		return c < 0
	}
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.Name < b.Name
}

func value(l *coordinationv1.Lease) string {
	if v := l.Annotations[AnnotationValue]; v != "" {
		return v
	}
	return l.Annotations[annotationAddress]
}

// take returns the value holder holds in the pool, claiming the first free item if it holds none.
// Unless fresh, it first lists what holder holds. A fresh take (for a holder that believes it
// holds nothing) skips that list. In a probed pool it then walks the holder's candidates, taking
// the first that is free or already the holder's (probe); a claim the holder made earlier on a
// candidate further on is not found then — it takes a call that failed after its create — and
// stays the holder's until it releases all it holds, or a Sweeper finds that its holder records
// another item. Otherwise the settle after the claim lists the holder's claims and keeps the
// earliest.
func (al *Allocator) take(ctx context.Context, p Pool, holder string, fresh bool) (string, error) {
	if holder == "" {
		return "", fmt.Errorf("claiming in %s: no holder", p.Label())
	}
	if !fresh {
		held, err := al.Held(ctx, p.Label(), holder)
		if err != nil {
			return "", err
		}
		if len(held) > 0 {
			return held[0], nil
		}
	}
	if pr, ok := p.(prober); ok && pr.probes() {
		got, err := al.probe(ctx, p, holder)
		if err != nil {
			return "", fmt.Errorf("claiming in %s: %w", p.Label(), err)
		}
		if got != "" {
			return got, nil
		}
	}
	// The whole pool is listed to find a free item: for pools that are not probed, or when
	// probing met only claimed items.
	claims, err := al.Claims(ctx, p.Label())
	if err != nil {
		return "", err
	}
	taken := make(map[string]bool, len(claims))
	claimed := make([]string, 0, len(claims))
	for i := range claims {
		taken[claims[i].Name] = true
		claimed = append(claimed, value(&claims[i]))
	}
	got, err := al.claimFirst(ctx, p, holder, claimed, func(name string) bool { return taken[name] })
	if err != nil {
		return "", fmt.Errorf("claiming in %s: %w", p.Label(), err)
	}
	if got == nil {
		return "", fmt.Errorf("%s: %w", p.Label(), ErrExhausted)
	}
	return al.settle(ctx, p.Label(), holder, got)
}

// prober is a pool whose holders start their search at places of their own (a spread set), so
// that a claim is usually made by a create or two without listing the pool.
type prober interface {
	probes() bool
}

// maxProbes is how many claims a probe tries to create before the pool is listed: beyond it the
// pool is full enough that the list's work pays off.
const maxProbes = 8

// probe claims for holder the first of its first maxProbes candidates in p that is free or is
// the holder's already, and returns its value ("": every one it tried was another's). Allocators
// claiming for one holder at once (two managers reconciling one object) walk the same candidates
// in the same order, so they stop at the same one: the first that one of them claimed, which
// the others find claimed by their holder. Each candidate claimed by someone costs a read of its
// claim by name, where a list of the holder's claims would have the API server look at every
// claim of the namespace.
func (al *Allocator) probe(ctx context.Context, p Pool, holder string) (string, error) {
	var got string
	var lastErr error
	tried := 0
	p.candidates(nil, holder, func(name, v string) bool {
		if tried == maxProbes {
			return false
		}
		tried++
		// A claim released between the refused create and the read is tried once more, so
		// that racing allocators still stop at the same candidate.
		for attempt := 0; attempt < 2; attempt++ {
			err := al.Client.Create(ctx, al.newClaim(p, name, v, holder))
			switch {
			case err == nil:
				got = v
				return false
			case !apierrors.IsAlreadyExists(err):
				lastErr = err
				return false
			}
			held := &coordinationv1.Lease{}
			err = al.Reader.Get(ctx, client.ObjectKey{Namespace: al.Namespace, Name: name}, held)
			switch {
			case apierrors.IsNotFound(err):
				continue
			case err != nil:
				lastErr = fmt.Errorf("reading claim %s: %w", name, err)
				return false
			case held.Labels[LabelHolder] == holder && value(held) != "":
				got = value(held)
				return false
			}
			return true // another's
		}
		return true
	})
	return got, lastErr
}

// claimFirst creates holder's claim on the first of p's candidates that taken does not skip and
// nobody else claims first. It returns nil when every candidate was claimed already.
func (al *Allocator) claimFirst(ctx context.Context, p Pool, holder string, claimed []string, taken func(name string) bool) (*coordinationv1.Lease, error) {
	var got *coordinationv1.Lease
	var lastErr error
	p.candidates(claimed, holder, func(name, v string) bool {
		if taken(name) {
			return true
		}
		claim := al.newClaim(p, name, v, holder)
		switch err := al.Client.Create(ctx, claim); {
		case err == nil:
			got = claim
			return false
		case apierrors.IsAlreadyExists(err):
			return true // claimed by another since
		default:
			lastErr = err
			return false
		}
	})
	return got, lastErr
}

// settle resolves a race between allocators claiming for one holder at once (two managers
// reconciling one object): of the holder's claims the earliest made is its own, and a later one
// this allocator just made is given back. The earliest claim is never given back by this rule,
// and a list that shows a later claim shows it too, so racing allocators all return it.
func (al *Allocator) settle(ctx context.Context, label, holder string, made *coordinationv1.Lease) (string, error) {
	claims, err := al.claimsOf(ctx, label, holder)
	if err != nil {
		return "", err // the claim stays the holder's; the next call finds it
	}
	mine := ownClaims(claims, holder)
	if len(mine) == 0 || mine[0].UID == made.UID {
		return value(made), nil
	}
	if err := al.deleteExactly(ctx, made); err != nil {
		return "", err
	}
	return value(mine[0]), nil
}

func (al *Allocator) newClaim(p Pool, name, v, holder string) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   al.Namespace,
			Name:        name,
			Labels:      map[string]string{LabelSet: p.Label(), LabelHolder: holder, cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet},
			Annotations: map[string]string{AnnotationValue: v},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder)},
	}
	if k, ok := p.(holderKinded); ok && k.holderKind() != "" {
		l.Labels[LabelHolderKind] = k.holderKind()
	}
	return l
}

// holderKinded is a pool whose claims say the kind of their holders.
type holderKinded interface {
	holderKind() string
}

// ReleaseClaim deletes the claim named name if holder holds it: for a holder whose object records
// the item it holds. It reads the one claim by name, where ReleaseAll lists the holder's claims (a
// list the API server answers by looking at every claim of the namespace). A claim holder made
// and never recorded is not found this way; a Sweeper takes it once the holder no longer needs it.
func (al *Allocator) ReleaseClaim(ctx context.Context, name, holder string) error {
	l := &coordinationv1.Lease{}
	if err := al.Reader.Get(ctx, client.ObjectKey{Namespace: al.Namespace, Name: name}, l); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading claim %s: %w", name, err)
	}
	if l.Labels[LabelHolder] != holder {
		return nil // released before, and claimed by another since
	}
	return al.deleteExactly(ctx, l)
}

// Release deletes every claim holder has in the pool labelled label.
func (al *Allocator) Release(ctx context.Context, label, holder string) error {
	claims, err := al.claimsOf(ctx, label, holder)
	if err != nil {
		return err
	}
	for i := range claims {
		if err := al.deleteExactly(ctx, &claims[i]); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseAll deletes every claim holder has, in any pool: for a holder that may have lost track
// of which pool it drew from.
func (al *Allocator) ReleaseAll(ctx context.Context, holder string) error {
	list := &coordinationv1.LeaseList{}
	if err := al.Reader.List(ctx, list, client.InNamespace(al.Namespace), client.MatchingLabels{LabelHolder: holder}); err != nil {
		return fmt.Errorf("listing the claims of %s: %w", holder, err)
	}
	for i := range list.Items {
		if err := al.deleteExactly(ctx, &list.Items[i]); err != nil {
			return err
		}
	}
	return nil
}

// Purge deletes every claim of the pool labelled label, whoever holds it: for a pool that goes
// away with its owner (a project's subnet, once none of its instances is left).
func (al *Allocator) Purge(ctx context.Context, label string) error {
	claims, err := al.Claims(ctx, label)
	if err != nil {
		return err
	}
	for i := range claims {
		if err := al.deleteExactly(ctx, &claims[i]); err != nil {
			return err
		}
	}
	return nil
}

// deleteExactly deletes the claim that was read, and no newer one of the same name.
func (al *Allocator) deleteExactly(ctx context.Context, l *coordinationv1.Lease) error {
	uid := l.UID
	if err := al.Client.Delete(ctx, l, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("releasing %s: %w", l.Name, err)
	}
	return nil
}
