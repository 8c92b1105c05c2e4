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

package image

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// DefaultProtectionCooldown is how long an image stays protected after its deregistration
// protection, enabled with a cooldown, is turned off: EC2's 24 hours.
const DefaultProtectionCooldown = 24 * time.Hour

// trackProtection records in status the deregistration protection the spec asks for, and the
// end of the cooldown of one turned off from EnabledWithCooldown; it removes that end once it
// has passed. Until it has seen a protection turned off, the status keeps the image protected
// (Image.DeregistrationProtected), so no deletion slips in before the cooldown is set. It
// returns when to look again (0: not for this).
func (r *Reconciler) trackProtection(img *cloudv1.Image, now metav1.Time) time.Duration {
	st := &img.Status
	switch want := img.Spec.DeregistrationProtection; {
	case want != "":
		st.DeregistrationProtectedUntil = nil // protected anyway
	case st.DeregistrationProtection == cloudv1.DeregistrationProtectedWithCooldown:
		cooldown := r.ProtectionCooldown
		if cooldown <= 0 {
			cooldown = DefaultProtectionCooldown
		}
		st.DeregistrationProtectedUntil = &metav1.Time{Time: now.Add(cooldown)}
	}
	st.DeregistrationProtection = img.Spec.DeregistrationProtection
	if until := st.DeregistrationProtectedUntil; until != nil {
		if left := until.Sub(now.Time); left > 0 {
			return left
		}
		st.DeregistrationProtectedUntil = nil
	}
	return 0
}
