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

package cloud

import (
	"context"
	"time"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// ImageProtectionInput turns an own image's deregistration protection on (with a cooldown or
// not) or off.
type ImageProtectionInput struct {
	ID string
	// WithCooldown keeps the image protected for the cloud's cooldown (EC2's 24 hours) after the
	// protection is turned off.
	WithCooldown bool
	DryRun       bool
}

// EnableImageDeregistrationProtection keeps an image of the caller's project from being
// deregistered, through every door (an admission policy refuses kubectl's deletion), until it is
// disabled and, with a cooldown, the cooldown has ended.
func (s *Service) EnableImageDeregistrationProtection(ctx context.Context, c Caller, in ImageProtectionInput) error {
	img, err := s.resolveOwnImage(ctx, c, "update", in.ID, false, in.DryRun)
	if err != nil {
		return err
	}
	want := cloudv1.DeregistrationProtected
	if in.WithCooldown {
		want = cloudv1.DeregistrationProtectedWithCooldown
	}
	return s.changeImageSpec(ctx, img, func(spec *cloudv1.ImageSpec) { spec.DeregistrationProtection = want })
}

// DisableImageDeregistrationProtection turns an own image's protection off; one enabled with a
// cooldown stays protected until the cooldown ends.
func (s *Service) DisableImageDeregistrationProtection(ctx context.Context, c Caller, in ImageProtectionInput) error {
	img, err := s.resolveOwnImage(ctx, c, "update", in.ID, false, in.DryRun)
	if err != nil {
		return err
	}
	return s.changeImageSpec(ctx, img, func(spec *cloudv1.ImageSpec) { spec.DeregistrationProtection = "" })
}

// deregistrationProtection is the image's protection as EC2 shows it.
func deregistrationProtection(img *cloudv1.Image) string {
	switch img.Spec.DeregistrationProtection {
	case cloudv1.DeregistrationProtected:
		return "enabled-without-cooldown"
	case cloudv1.DeregistrationProtectedWithCooldown:
		return "enabled-with-cooldown"
	}
	if until := img.Status.DeregistrationProtectedUntil; until != nil {
		return "disabled-until " + until.UTC().Format(time.RFC3339)
	}
	return "disabled"
}

// refuseProtected refuses to deregister a protected image.
func refuseProtected(img *cloudv1.Image, id string) error {
	if !img.DeregistrationProtected() {
		return nil
	}
	if until := img.Status.DeregistrationProtectedUntil; until != nil && img.Spec.DeregistrationProtection == "" {
		return BadRequest(CodeNotPermitted, "The image '%s' is protected from deregistration until %s: its protection was disabled with a cooldown",
			id, until.UTC().Format(time.RFC3339))
	}
	return BadRequest(CodeNotPermitted, "The image '%s' is protected from deregistration. Disable its deregistration protection and try again.", id)
}
