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

package instance

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/refs"
)

// assignIDs gives the instance its EC2 ids, once. An object the EC2 shim made is named by its id
// and keeps it; any other gets a new random one. A reservation id comes from the label the shim
// sets on every instance of one RunInstances call, or is new.
func (r *Reconciler) assignIDs(s *scope) {
	inst := s.instance
	if inst.Status.InstanceID == "" {
		if ids.Valid(ids.Instance, inst.Name) {
			inst.Status.InstanceID = inst.Name
		} else {
			inst.Status.InstanceID = ids.New(ids.Instance)
		}
	}
	if inst.Status.ReservationID == "" {
		if r := inst.Labels[cloudv1.LabelReservationID]; ids.Valid(ids.Reservation, r) {
			inst.Status.ReservationID = r
		} else {
			inst.Status.ReservationID = ids.New(ids.Reservation)
		}
	}
	if inst.Status.OwnerID == "" {
		inst.Status.OwnerID = inst.Namespace
	}
	if inst.Status.LaunchTime == nil {
		t := inst.CreationTimestamp
		inst.Status.LaunchTime = &t
	}
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
	return nil
}
