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
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/patch"
)

// labelAttachNode labels the volume with the node of the instance it should be attached to, so
// that node's agent sees it: spec.attachTo names an instance of the volume's project that is
// bound to a node and neither terminated nor being deleted. Otherwise the label stays while the
// attach agent still reports an attachment (it is detaching), and goes once it reports none.
func (r *Reconciler) labelAttachNode(ctx context.Context, sc *scope) error {
	v := sc.v
	want := ""
	if v.Spec.AttachTo != nil && v.DeletionTimestamp.IsZero() {
		node, err := r.instanceNode(ctx, v.Namespace, v.Spec.AttachTo.InstanceID)
		if err != nil {
			return err
		}
		want = node
	}
	if want == "" && attached(v) {
		return nil // detaching: the agent holding the attachment must still see the volume
	}
	patch.SetLabel(v, cloudv1.LabelAttachNode, want)
	return nil
}

// instanceNode returns the node the instance of the project is bound to, or "" when it is not
// bound, terminated, being deleted or not in the project.
func (r *Reconciler) instanceNode(ctx context.Context, ns, instanceID string) (string, error) {
	list := &cloudv1.InstanceList{}
	if err := r.Client.List(ctx, list, client.InNamespace(ns), client.MatchingFields{index.InstanceID: instanceID}); err != nil {
		return "", fmt.Errorf("finding instance %s: %w", instanceID, err)
	}
	for i := range list.Items {
		inst := &list.Items[i]
		if inst.Terminating() {
			continue
		}
		return inst.Labels[cloudv1.LabelHypervisor], nil
	}
	return "", nil
}

// attached: the attach agent reports an attachment that is not (yet) detached.
func attached(v *cloudv1.Volume) bool {
	a := v.Status.Attachment
	return a != nil && a.State != "" && a.State != cloudv1.AttachmentDetached
}

// attachedTo enqueues the volumes of an instance's project that name it.
func (r *Reconciler) attachedTo(ctx context.Context, o client.Object) []reconcile.Request {
	inst := o.(*cloudv1.Instance)
	if inst.Status.InstanceID == "" {
		return nil
	}
	list := &cloudv1.VolumeList{}
	if err := r.Client.List(ctx, list, client.InNamespace(inst.Namespace)); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		v := &list.Items[i]
		if (v.Spec.AttachTo != nil && v.Spec.AttachTo.InstanceID == inst.Status.InstanceID) ||
			(v.Status.Attachment != nil && v.Status.Attachment.InstanceID == inst.Status.InstanceID) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(v)})
		}
	}
	return reqs
}
