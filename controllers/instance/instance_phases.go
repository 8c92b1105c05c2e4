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
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/refs"
)

// assignIDs gives the instance its EC2 ids, once, each claimed cluster-wide (internal/claims).
// An object the EC2 shim made is named by its id and keeps it; an object whose name is an id
// another object holds (made with kubectl in another project, say) gets a new one, as does any
// other. A reservation id comes from the label the shim sets on every instance of one
// RunInstances call, and is held by the project; a label naming another project's reservation is
// ignored.
func (r *Reconciler) assignIDs(ctx context.Context, s *scope) error {
	inst := s.instance
	if inst.Status.InstanceID == "" {
		id, taken, err := r.Claims.Assign(ctx, ids.Instance, inst.Name, claims.HolderOf(Kind, inst))
		if err != nil {
			return fmt.Errorf("assigning an instance id: %w", err)
		}
		if taken {
			r.event(inst, "Warning", "IDTaken", "The name %s is the id of another object; the instance's id is %s", inst.Name, id)
		}
		inst.Status.InstanceID = id
	}
	if inst.Status.ReservationID == "" {
		id, err := r.assignReservation(ctx, inst)
		if err != nil {
			return err
		}
		inst.Status.ReservationID = id
	}
	if inst.Status.OwnerID == "" {
		inst.Status.OwnerID = inst.Namespace
	}
	if inst.Status.LaunchTime == nil {
		t := inst.CreationTimestamp
		inst.Status.LaunchTime = &t
	}
	return nil
}

// assignReservation claims the reservation id of the instance's launch for its project.
func (r *Reconciler) assignReservation(ctx context.Context, inst *cloudv1.Instance) (string, error) {
	holder, err := r.projectHolder(ctx, inst.Namespace)
	if err != nil {
		return "", err
	}
	if want := inst.Labels[cloudv1.LabelReservationID]; ids.Valid(ids.Reservation, want) {
		// Every instance of a launch after the first finds the claim its project made already:
		// reading it costs the API server less than a create it must refuse.
		held, err := r.Claims.Holds(ctx, want, holder.UID)
		if err != nil {
			return "", err
		}
		if held {
			return want, nil
		}
		err = r.Claims.Claim(ctx, want, holder)
		if err == nil {
			return want, nil
		}
		if !errors.Is(err, claims.ErrTaken) {
			return "", fmt.Errorf("claiming reservation %s: %w", want, err)
		}
		r.event(inst, "Warning", "IDTaken", "Reservation %s belongs to another project; the instance gets its own", want)
	}
	id, _, err := r.Claims.Assign(ctx, ids.Reservation, "", holder)
	if err != nil {
		return "", fmt.Errorf("assigning a reservation id: %w", err)
	}
	return id, nil
}

// projectHolder is the instance's namespace as the holder of reservation ids.
func (r *Reconciler) projectHolder(ctx context.Context, namespace string) (claims.Holder, error) {
	ns := &corev1.Namespace{}
	if err := r.Claims.Reader.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return claims.Holder{}, fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	return claims.Holder{Kind: claims.KindNamespace, Name: namespace, UID: ns.UID}, nil
}

// releaseIDs drops the instance's id claim, and its project's claim on the reservation id when
// no other instance of the project carries it.
func (r *Reconciler) releaseIDs(ctx context.Context, inst *cloudv1.Instance) error {
	// The id the instance records is read by its name. Listing its claims instead would make
	// the API server look at every claim of the cloud for each instance deleted; a claim a
	// failed reconcile made and never recorded is the claim sweeper's once the instance is gone.
	var err error
	if id := inst.Status.InstanceID; id != "" {
		err = r.Claims.Release(ctx, id, inst.UID)
	} else {
		err = r.Claims.ReleaseAll(ctx, inst.UID)
	}
	if err != nil {
		return err
	}
	rid := inst.Status.ReservationID
	if rid == "" {
		return nil
	}
	list := &cloudv1.InstanceList{}
	// The instances of the reservation, from the cache's index: reading every instance of the
	// project per deletion would make a termination O(fleet).
	if err := r.Client.List(ctx, list, client.InNamespace(inst.Namespace), client.MatchingFields{index.InstanceReservation: rid}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing the instances of reservation %s: %w", rid, err)
	}
	for i := range list.Items {
		if o := &list.Items[i]; o.UID != inst.UID {
			return nil
		}
	}
	holder, err := r.projectHolder(ctx, inst.Namespace)
	if err != nil {
		return client.IgnoreNotFound(err)
	}
	return r.Claims.Release(ctx, rid, holder.UID)
}

// resolveReferences checks that what the spec names exists and may be used by the project. A
// missing reference is the user's to fix: it becomes a condition, not an error to retry; the
// instance is reconciled again when the referenced object appears.
func (r *Reconciler) resolveReferences(ctx context.Context, s *scope) error {
	inst := s.instance
	project := inst.Namespace
	logger := log.FromContext(ctx)

	fail := func(reason string, err error) error {
		if errors.Is(err, refs.ErrNotFound) {
			s.refReason, s.refErr = reason, err
			logger.V(1).Info("Unresolved reference", "reason", reason, "detail", err.Error())
			return nil
		}
		return err
	}

	s.resolving = true
	it, err := refs.InstanceType(ctx, r.Client, inst.Spec.InstanceType)
	if err != nil {
		return fail(cloudv1.ReasonInstanceTypeNotFound, err)
	}
	s.instanceType = it

	// Once launched, an instance keeps running when its image is deregistered or its key pair
	// deleted, as in EC2; only the instance type (which may change while stopped) is checked again.
	if conditions.IsTrue(inst, cloudv1.InstanceReferencesResolved) {
		return nil
	}

	img, err := refs.Image(ctx, r.Client, project, inst.Spec.ImageID)
	if err != nil {
		return fail(cloudv1.ReasonImageNotFound, err)
	}
	if img.Spec.Type != cloudv1.ImageTypeMachine {
		return fail(cloudv1.ReasonImageNotFound, fmt.Errorf("image %s is a %s image, not a machine image: %w",
			inst.Spec.ImageID, img.Spec.Type, refs.ErrNotFound))
	}
	s.image = img

	// The image's own kernel and ramdisk, where the instance names none, must be the instance's
	// project's to see as well: another project may have shared them with the image's owner and
	// no one else.
	for _, ref := range []struct{ named, dflt, reason string }{
		{inst.Spec.KernelID, img.Spec.KernelID, cloudv1.ReasonKernelNotFound},
		{inst.Spec.RamdiskID, img.Spec.RamdiskID, cloudv1.ReasonRamdiskNotFound},
	} {
		if ref.named != "" || ref.dflt == "" {
			continue
		}
		if _, err := refs.ImageDefault(ctx, r.Client, img, ref.dflt, project); err != nil {
			return fail(ref.reason, err)
		}
	}
	for _, ref := range []struct{ id, reason string }{
		{inst.Spec.KernelID, cloudv1.ReasonKernelNotFound},
		{inst.Spec.RamdiskID, cloudv1.ReasonRamdiskNotFound},
	} {
		if ref.id == "" {
			continue
		}
		if _, err := refs.Image(ctx, r.Client, project, ref.id); err != nil {
			return fail(ref.reason, err)
		}
	}

	if inst.Spec.KeyName != "" {
		if _, err := refs.KeyPair(ctx, r.Client, project, inst.Spec.KeyName); err != nil {
			return fail(cloudv1.ReasonKeyPairNotFound, err)
		}
	}
	// Groups are named (or given by sg- id) in the instance's own project only. A group being
	// deleted is as good as gone: an instance waits to join it as it would for a missing one.
	for _, g := range inst.Spec.SecurityGroups {
		sg, err := refs.SecurityGroup(ctx, r.Client, project, g)
		if err == nil && !sg.DeletionTimestamp.IsZero() {
			err = fmt.Errorf("security group %s is being deleted: %w", g, refs.ErrNotFound)
		}
		if err != nil {
			return fail(cloudv1.ReasonSecurityGroupNotFound, err)
		}
	}
	return nil
}
