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

package instance

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ipam"
)

// DefaultAddressSweep is how often the private address claims are swept, and how old a claim
// must be before the sweep looks at it.
const DefaultAddressSweep = 10 * time.Minute

// releaseRecordedAddress gives back the private address the instance's status records, by the
// name of its claim: listing the instance's claims instead would have the API server look at every
// claim of the cloud for each instance terminated or deleted. A claim the instance made and never
// recorded is the address sweeper's (AddressSweeper).
func (r *Reconciler) releaseRecordedAddress(ctx context.Context, inst *cloudv1.Instance) error {
	ip, err := netip.ParseAddr(inst.Status.PrivateIPAddress)
	if err != nil {
		return nil
	}
	subnet, err := netip.ParsePrefix(inst.Status.Subnet)
	if err != nil {
		// An address without its subnet cannot name its claim: look for it.
		return r.Addresses.ReleaseAll(ctx, string(inst.UID))
	}
	return r.Addresses.ReleaseClaim(ctx, ipam.ClaimName(ipam.HostSet(subnet).Name, ip), string(inst.UID))
}

// AddressSweeper gives back the private address claims no instance needs (addressClaimNeeded):
// claims of instances deleted while no manager ran, or that a reconcile made and could not record.
func (r *Reconciler) AddressSweeper(every time.Duration) *ipam.Sweeper {
	return &ipam.Sweeper{Allocator: r.Addresses, Clock: r.Clock, Interval: every, Grace: every,
		HolderKind: ipam.HostHolderKind, Needed: r.addressClaimsNeeded}
}

// addressClaimsNeeded reads the instances once for a sweep, from the cache. An instance exists
// before it claims, and a sweep looks only at claims older than its grace, so a holder missing
// from the cache is gone. A claim the cached instance does not need is checked again against the
// API server before it is given back: the cache may lag behind the status that records it.
func (r *Reconciler) addressClaimsNeeded(ctx context.Context) (ipam.NeededFunc, error) {
	list := &cloudv1.InstanceList{}
	if err := r.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	cached := make(map[types.UID]*cloudv1.Instance, len(list.Items))
	for i := range list.Items {
		cached[list.Items[i].UID] = &list.Items[i]
	}
	return func(ctx context.Context, holder, v string) (bool, error) {
		uid := types.UID(holder)
		inst, ok := cached[uid]
		if !ok {
			return false, nil
		}
		if addressClaimNeeded(inst, v) {
			return true, nil
		}
		key, fresh := client.ObjectKeyFromObject(inst), &cloudv1.Instance{}
		if err := r.APIReader.Get(ctx, key, fresh); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return true, fmt.Errorf("reading instance %s: %w", key, err)
		}
		// Another instance under the name is not the holder: the holder is gone.
		return fresh.UID == uid && addressClaimNeeded(fresh, v), nil
	}, nil
}

// addressClaimNeeded reports whether inst needs its claim on address v: it records v, or it
// records no address and may still (a reconcile that claims for it finds and keeps its earlier
// claim). A terminated instance whose domain is gone never takes an address again.
func addressClaimNeeded(inst *cloudv1.Instance, v string) bool {
	switch ip := inst.Status.PrivateIPAddress; {
	case ip == v:
		return true
	case ip != "":
		return false
	}
	return !inst.Terminating() || controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer)
}
