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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// TestAnotherProjectsImageNeedsAClaimedID: a public Image another project named after an id (made
// with kubectl, not yet given an id of its own by the controller) is not seen under that id; the
// project's own such Image is, as RegisterImage's answer promises.
func TestAnotherProjectsImageNeedsAClaimedID(t *testing.T) {
	const squatted = "ami-0123456789abcdef0"
	unclaimed := func(ns string) *cloudv1.Image {
		img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: squatted, Namespace: ns}}
		img.Spec.Type = cloudv1.ImageTypeMachine
		img.Spec.LaunchPermission.Public = true
		return img
	}
	idOf := imageIDFor("victim")
	if got := idOf(unclaimed("attacker")); got != "" {
		t.Errorf("another project's unclaimed image is seen as %q", got)
	}
	if got := idOf(unclaimed("victim")); got != squatted {
		t.Errorf("the project's own image just registered is seen as %q, want %s", got, squatted)
	}
	claimed := unclaimed("attacker")
	claimed.Status.ImageID = "ami-00000000000000001"
	if got := idOf(claimed); got != claimed.Status.ImageID {
		t.Errorf("another project's image with a claimed id is seen as %q", got)
	}
	visible := byAge([]*cloudv1.Image{unclaimed("attacker"), claimed}, idOf, nil)
	if len(visible) != 1 || visible[0] != claimed {
		t.Errorf("images listed for the victim: %v", visible)
	}
}
