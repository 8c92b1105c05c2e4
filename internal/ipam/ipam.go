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

// Package ipam hands out IPv4 addresses from ranges so that no address is ever given twice: each
// address in use is a claim object whose name is derived from the range set and the address, and
// the API server lets only one such object exist. A crashed or restarted allocator finds its
// earlier claims by holder and reuses them.
package ipam

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Labels on claims.
const (
	LabelSet    = "ipam.pinet.io/set"
	LabelHolder = "ipam.pinet.io/holder"
)

// ErrExhausted means every address of the set is claimed.
var ErrExhausted = errors.New("no free address")

// Set is a set of addresses to allocate from.
type Set struct {
	// Name identifies the set (a pool's name, a project's subnet); it prefixes the claims.
	Name     string
	Prefixes []netip.Prefix
	Exclude  map[netip.Addr]bool
}

// NewSet parses CIDRs and excluded addresses.
func NewSet(name string, cidrs, exclude []string) (*Set, error) {
	s := &Set{Name: name, Exclude: map[netip.Addr]bool{}}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("range %q is not an IPv4 CIDR", c)
		}
		s.Prefixes = append(s.Prefixes, p.Masked())
	}
	for _, e := range exclude {
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("excluded address %q is not an IP address", e)
		}
		s.Exclude[a] = true
	}
	return s, nil
}

// Size is how many addresses the set can hand out.
func (s *Set) Size() int64 {
	var n int64
	s.each(func(netip.Addr) bool { n++; return true })
	return n
}

// each calls fn for every allocatable address in order until fn returns false.
func (s *Set) each(fn func(netip.Addr) bool) {
	for _, p := range s.Prefixes {
		first := binary.BigEndian.Uint32(p.Addr().AsSlice())
		count := uint64(1) << (32 - p.Bits())
		for i := uint64(0); i < count; i++ {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], first+uint32(i))
			a := netip.AddrFrom4(b)
			if s.Exclude[a] {
				continue
			}
			if !fn(a) {
				return
			}
		}
	}
}

// Contains reports whether a is in the set.
func (s *Set) Contains(a netip.Addr) bool {
	if s.Exclude[a] {
		return false
	}
	for _, p := range s.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClaimName is the name of the claim on address a in set.
func ClaimName(set string, a netip.Addr) string {
	return "ip-" + set + "-" + strings.ReplaceAll(a.String(), ".", "-")
}

// Allocator makes claims as Lease objects in a namespace.
type Allocator struct {
	Client client.Client
	// Reader reads claims straight from the API server: a cache that lags could hide a claim
	// this holder made a moment ago, and it would claim a second address.
	Reader    client.Reader
	Namespace string
}

// Claims lists the set's claims.
func (al *Allocator) Claims(ctx context.Context, set string) ([]coordinationv1.Lease, error) {
	list := &coordinationv1.LeaseList{}
	if err := al.Reader.List(ctx, list, client.InNamespace(al.Namespace), client.MatchingLabels{LabelSet: set}); err != nil {
		return nil, fmt.Errorf("listing the claims of %s: %w", set, err)
	}
	return list.Items, nil
}

// Allocate returns the address held by holder (a UID) in the set, claiming a free one if it holds
// none.
func (al *Allocator) Allocate(ctx context.Context, s *Set, holder string) (netip.Addr, error) {
	claims, err := al.Claims(ctx, s.Name)
	if err != nil {
		return netip.Addr{}, err
	}
	taken := map[string]bool{}
	for _, c := range claims {
		if c.Labels[LabelHolder] == holder {
			if a, err := netip.ParseAddr(c.Annotations["ipam.pinet.io/address"]); err == nil {
				return a, nil
			}
		}
		taken[c.Name] = true
	}
	var got netip.Addr
	var lastErr error
	s.each(func(a netip.Addr) bool {
		name := ClaimName(s.Name, a)
		if taken[name] {
			return true
		}
		claim := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Namespace:   al.Namespace,
				Name:        name,
				Labels:      map[string]string{LabelSet: s.Name, LabelHolder: holder, cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet},
				Annotations: map[string]string{"ipam.pinet.io/address": a.String()},
			},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder)},
		}
		err := al.Client.Create(ctx, claim)
		switch {
		case err == nil:
			got = a
			return false
		case apierrors.IsAlreadyExists(err):
			return true // claimed since we listed
		default:
			lastErr = err
			return false
		}
	})
	if lastErr != nil {
		return netip.Addr{}, fmt.Errorf("claiming an address in %s: %w", s.Name, lastErr)
	}
	if !got.IsValid() {
		return netip.Addr{}, fmt.Errorf("%s: %w", s.Name, ErrExhausted)
	}
	return got, nil
}

// Release deletes every claim holder has in the set.
func (al *Allocator) Release(ctx context.Context, set, holder string) error {
	claims, err := al.Claims(ctx, set)
	if err != nil {
		return err
	}
	for i := range claims {
		if claims[i].Labels[LabelHolder] != holder {
			continue
		}
		uid := claims[i].UID
		if err := al.Client.Delete(ctx, &claims[i], client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("releasing %s: %w", claims[i].Name, err)
		}
	}
	return nil
}
