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

package address

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/refs"
)

// An association is kept in two places: the Address's status records the instance that holds
// the IP, and that instance's status.publicIpAddress shows it. The record always covers what
// instances show, so nothing is lost whatever step fails or however the steps of several
// addresses interleave:
//   - an instance is given the IP only once the status records it, and the record moves away
//     from an instance only once the instance no longer shows the IP;
//   - the record is read afresh (Reconcile), never from a cache that may lag this controller's
//     own last write of it;
//   - an instance's public IP is set and cleared under an optimistic lock on the instance, so no
//     address overwrites a value it has not seen, and cleared only while it shows this IP;
//   - of two addresses naming one instance (the service moves the instance to the newer one, but
//     a manifest can name it twice) the one whose IP the instance shows keeps it, and the other
//     waits (Associated=False) until the instance is free, instead of both taking it in turn.

// instanceIPRetries bounds how often a change of an instance's public IP is re-read and tried
// again after a conflict; writers of the instance's other fields cause most of them.
const instanceIPRetries = 8

// associate makes the address's association what its spec asks: the instance named, if it lives
// and no other address holds it, and no other instance.
func (r *Reconciler) associate(ctx context.Context, a *cloudv1.Address, now metav1.Time) error {
	inst, err := r.wantedInstance(ctx, a)
	if err != nil {
		return err
	}
	if inst != nil {
		holder, err := r.otherHolder(ctx, a, inst)
		if err != nil {
			return err
		}
		if holder != "" {
			if err := r.release(ctx, a, ""); err != nil {
				return err
			}
			conditions.MarkFalse(a, cloudv1.AddressAssociated, cloudv1.ReasonInstanceHasAddress,
				fmt.Sprintf("Instance %s holds address %s; this one waits until it is free", a.Spec.InstanceID, holder), now)
			return nil
		}
	}
	want := ""
	if inst != nil {
		want = inst.Status.InstanceID
	}
	if err := r.release(ctx, a, want); err != nil {
		return err
	}
	if inst == nil {
		if a.Spec.InstanceID != "" {
			conditions.MarkFalse(a, cloudv1.AddressAssociated, cloudv1.ReasonInstanceNotFound,
				fmt.Sprintf("Instance %s does not exist or is terminated", a.Spec.InstanceID), now)
		} else {
			conditions.Delete(a, cloudv1.AddressAssociated)
		}
		return nil
	}
	if err := r.record(ctx, a, inst); err != nil {
		return err
	}
	took, err := r.take(ctx, a, inst)
	if err != nil {
		return err
	}
	if !took {
		// Another address took the instance between the check above and the write; the next
		// reconcile (the instance's change brings this address back) records that this one waits.
		return nil
	}
	conditions.MarkTrue(a, cloudv1.AddressAssociated, cloudv1.ReasonReady, "", now)
	return nil
}

// wantedInstance is the live instance the spec names, or nil.
func (r *Reconciler) wantedInstance(ctx context.Context, a *cloudv1.Address) (*cloudv1.Instance, error) {
	if a.Spec.InstanceID == "" {
		return nil, nil
	}
	inst, err := refs.Instance(ctx, r.Client, a.Namespace, a.Spec.InstanceID)
	switch {
	case errors.Is(err, refs.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case inst.Terminating():
		return nil, nil
	}
	return inst, nil
}

// otherHolder names the address that holds inst, if not a: one that names inst and whose IP
// inst shows.
func (r *Reconciler) otherHolder(ctx context.Context, a *cloudv1.Address, inst *cloudv1.Instance) (string, error) {
	shown := inst.Status.PublicIPAddress
	if shown == "" || shown == a.Status.PublicIP {
		return "", nil
	}
	list := &cloudv1.AddressList{}
	if err := r.Client.List(ctx, list, client.InNamespace(a.Namespace)); err != nil {
		return "", fmt.Errorf("listing the addresses of %s: %w", a.Namespace, err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID != a.UID && other.DeletionTimestamp.IsZero() && other.Status.PublicIP == shown &&
			other.Spec.InstanceID == inst.Status.InstanceID {
			return other.Name, nil
		}
	}
	return "", nil
}

// release takes the address's IP off every instance but keep; with no keep, it then records no
// association (with one, the caller records keep next).
func (r *Reconciler) release(ctx context.Context, a *cloudv1.Address, keep string) error {
	if err := r.withdraw(ctx, a, keep); err != nil || keep != "" {
		return err
	}
	return r.record(ctx, a, nil)
}

// withdraw clears the address's IP from the instance its status records and from every other
// instance the cache shows with it, keep excepted.
func (r *Reconciler) withdraw(ctx context.Context, a *cloudv1.Address, keep string) error {
	targets := map[string]bool{}
	if id := a.Status.InstanceID; id != "" && id != keep {
		targets[id] = true
	}
	if a.Status.PublicIP != "" {
		showing := &cloudv1.InstanceList{}
		if err := r.Client.List(ctx, showing, client.InNamespace(a.Namespace),
			client.MatchingFields{index.InstancePublicIP: a.Status.PublicIP}); err != nil {
			return fmt.Errorf("listing the instances that show %s: %w", a.Status.PublicIP, err)
		}
		for _, inst := range showing.Items {
			if id := inst.Status.InstanceID; id != "" && id != keep {
				targets[id] = true
			}
		}
	}
	for id := range targets {
		if err := r.clearInstanceIP(ctx, a.Namespace, id, a.Status.PublicIP); err != nil {
			return err
		}
	}
	return nil
}

// record writes the association with inst (none if nil) into the address's status at once,
// before any instance shows it, and raises the events of the move.
func (r *Reconciler) record(ctx context.Context, a *cloudv1.Address, inst *cloudv1.Instance) error {
	prev := a.Status.InstanceID
	before := a.DeepCopy()
	a.Status.InstanceID, a.Status.AssociationID, a.Status.PrivateIPAddress = "", "", ""
	if inst != nil {
		a.Status.InstanceID = inst.Status.InstanceID
		a.Status.AssociationID = ids.Derive(ids.Association, a.Status.AllocationID+"/"+inst.Status.InstanceID)
		a.Status.PrivateIPAddress = inst.Status.PrivateIPAddress
	}
	if a.Status.InstanceID == before.Status.InstanceID && a.Status.AssociationID == before.Status.AssociationID &&
		a.Status.PrivateIPAddress == before.Status.PrivateIPAddress {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, a, client.MergeFrom(before)); err != nil {
		a.Status = before.Status
		return fmt.Errorf("recording the association of address %s: %w", a.Name, err)
	}
	r.recordAssociation(a, prev)
	return nil
}

// recordAssociation raises the events of the address moving from instance prev to its current one.
func (r *Reconciler) recordAssociation(a *cloudv1.Address, prev string) {
	if r.Recorder == nil || prev == a.Status.InstanceID {
		return
	}
	if prev != "" {
		r.Recorder.Eventf(a, nil, "Normal", "Disassociated", "Disassociate", "Disassociated %s from %s", a.Status.PublicIP, prev)
	}
	if a.Status.InstanceID != "" {
		r.Recorder.Eventf(a, nil, "Normal", "Associated", "Associate", "Associated %s with %s", a.Status.PublicIP, a.Status.InstanceID)
	}
}

// take makes inst show the address's IP, unless another address holding it (see otherHolder)
// got there first; it tells whether inst shows the IP.
func (r *Reconciler) take(ctx context.Context, a *cloudv1.Address, inst *cloudv1.Instance) (bool, error) {
	ip, took := a.Status.PublicIP, false
	err := r.changeInstanceIP(ctx, inst, func(inst *cloudv1.Instance) (bool, error) {
		if inst.Status.PublicIPAddress == ip {
			took = true
			return false, nil
		}
		holder, err := r.otherHolder(ctx, a, inst)
		if err != nil || holder != "" {
			return false, err
		}
		inst.Status.PublicIPAddress, took = ip, true
		return true, nil
	})
	return took, err
}

// clearInstanceIP removes ip from the instance's status if it shows it; read afresh, since the
// cache may not show yet the IP this controller set a moment ago.
func (r *Reconciler) clearInstanceIP(ctx context.Context, namespace, instanceID, ip string) error {
	inst, err := refs.Instance(ctx, r.Client, namespace, instanceID)
	if errors.Is(err, refs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := r.reread(ctx, inst); err != nil {
		return client.IgnoreNotFound(err)
	}
	return r.changeInstanceIP(ctx, inst, func(inst *cloudv1.Instance) (bool, error) {
		if inst.Status.PublicIPAddress != ip {
			return false, nil
		}
		inst.Status.PublicIPAddress = ""
		return true, nil
	})
}

// changeInstanceIP lets change decide on inst (and change it) and writes the public IP it set
// under an optimistic lock on the version decided on; after a conflict it reads inst afresh and
// decides again. A deleted instance needs nothing.
func (r *Reconciler) changeInstanceIP(ctx context.Context, inst *cloudv1.Instance, change func(*cloudv1.Instance) (bool, error)) error {
	for attempt := 0; ; attempt++ {
		before := inst.DeepCopy()
		write, err := change(inst)
		if err != nil || !write {
			return err
		}
		err = r.Client.Status().Patch(ctx, inst, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		switch {
		case err == nil || apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err) || attempt == instanceIPRetries:
			return fmt.Errorf("writing the public IP of instance %s: %w", inst.Name, err)
		}
		log.FromContext(ctx).V(1).Info("Instance changed meanwhile; deciding its public IP again", "instance", client.ObjectKeyFromObject(inst))
		if err := r.reread(ctx, inst); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
}

// reread reads obj afresh from the API server (from the cache if the reconciler has no reader).
func (r *Reconciler) reread(ctx context.Context, obj client.Object) error {
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	return reader.Get(ctx, client.ObjectKeyFromObject(obj), obj)
}

// addressesOf enqueues the addresses in the instance's namespace that name it, record it or
// whose IP it shows (called with the old and the new instance of an update, so an IP it stops
// or starts showing brings its address).
func (r *Reconciler) addressesOf(ctx context.Context, o client.Object) []reconcile.Request {
	inst := o.(*cloudv1.Instance)
	id, ip := inst.Status.InstanceID, inst.Status.PublicIPAddress
	if id == "" && ip == "" {
		return nil
	}
	list := &cloudv1.AddressList{}
	if err := r.Client.List(ctx, list, client.InNamespace(inst.Namespace)); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		a := &list.Items[i]
		if (id != "" && (a.Spec.InstanceID == id || a.Status.InstanceID == id)) || (ip != "" && a.Status.PublicIP == ip) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(a)})
		}
	}
	return reqs
}
