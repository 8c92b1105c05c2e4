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

package volume

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
)

// setStatus derives the EC2 state and Ready from what the reconcile and the agents found:
// deleting while being deleted; error when the volume cannot be made (its snapshot) or its
// storage node failed to make it; in-use while the attach agent reports an attachment that is
// attaching, attached or detaching; available once exported; creating before.
func setStatus(sc *scope, err error) {
	v, now := sc.v, sc.now
	exported := conditionOf(v, cloudv1.VolumeExported)
	isExported := exported != nil && exported.Status == metav1.ConditionTrue
	switch {
	case !v.DeletionTimestamp.IsZero():
		v.Status.State = cloudv1.VolumeStateDeleting
		if attached(v) {
			conditions.MarkFalse(v, cloudv1.ReadyCondition, cloudv1.ReasonWaitingForDetach,
				fmt.Sprintf("Volume is attached to %s; it is removed once detached", v.Status.Attachment.InstanceID), now)
		} else {
			conditions.MarkFalse(v, cloudv1.ReadyCondition, cloudv1.ReasonDeleting, "Volume is being deleted", now)
		}
		return
	case err != nil:
		conditions.MarkFalse(v, cloudv1.ReadyCondition, cloudv1.ReasonInternalError, "Reconciling the volume failed; see the manager's log", now)
		return
	case sc.blocked != "":
		v.Status.State = cloudv1.VolumeStateCreating
		if sc.fatal {
			v.Status.State = cloudv1.VolumeStateError
		}
		conditions.MarkFalse(v, cloudv1.ReadyCondition, sc.blocked, sc.blockedMsg, now)
		v.Status.ObservedGeneration = v.Generation
		return
	case exported != nil && exported.Status == metav1.ConditionFalse && exported.Reason == cloudv1.ReasonExportFailed:
		v.Status.State = cloudv1.VolumeStateError
		conditions.MarkFalse(v, cloudv1.ReadyCondition, cloudv1.ReasonExportFailed, exported.Message, now)
	case attached(v):
		v.Status.State = cloudv1.VolumeStateInUse
		conditions.MarkTrue(v, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", now)
	case isExported:
		v.Status.State = cloudv1.VolumeStateAvailable
		conditions.MarkTrue(v, cloudv1.ReadyCondition, cloudv1.ReasonReady, "", now)
	case v.Status.AoE == nil:
		v.Status.State = cloudv1.VolumeStateCreating
		conditions.MarkFalse(v, cloudv1.ReadyCondition, cloudv1.ReasonPending, "Volume waits to be placed", now)
	default:
		v.Status.State = cloudv1.VolumeStateCreating
		conditions.MarkFalse(v, cloudv1.ReadyCondition, cloudv1.ReasonExporting,
			fmt.Sprintf("Storage node %s is making the volume", v.Status.AoE.Node), now)
	}
	v.Status.ObservedGeneration = v.Generation
}

// conditionOf returns the condition of the type, or nil.
func conditionOf(o cloudv1.ConditionsAccessor, t string) *metav1.Condition {
	return conditions.Get(o, t)
}
