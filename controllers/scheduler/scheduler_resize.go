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

package scheduler

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/quota"
)

// admissionTimeout bounds how long one resize retries its project's quota ledger against racing
// admissions before the batch fails and runs again.
const admissionTimeout = 5 * time.Second

// resizeWait is a bound instance whose spec.instanceType is not the type it was given: a stopped
// instance resized (through the EC2 API or kubectl), or one bound before the given type was
// recorded (from empty: it is given its spec's type, which it has always been counted by).
type resizeWait struct {
	key      client.ObjectKey
	created  time.Time
	node     string
	from, to string
}

// resizing is what a batch decided for one resize.
type resizing struct {
	resizeWait
	uid   types.UID
	given bool
	// skip: nothing to write now (its hypervisor is not known to the view, or the API server no
	// longer shows the resize); events bring it back.
	skip        bool
	reason, msg string
}

// resizeAsked tells whether inst is bound and holds its place with a type other than its spec's.
func resizeAsked(inst *cloudv1.Instance) bool {
	return capacity.Holds(inst) && !inst.Terminating() && inst.Status.InstanceType != inst.Spec.InstanceType
}

// noteResize records whether inst waits for a resize, and reports whether it does.
func (r *Reconciler) noteResize(inst *cloudv1.Instance) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !resizeAsked(inst) {
		delete(r.resizes, inst.UID)
		return false
	}
	if r.resizes == nil {
		r.resizes = map[types.UID]resizeWait{}
	}
	r.resizes[inst.UID] = resizeWait{
		key: client.ObjectKeyFromObject(inst), created: inst.CreationTimestamp.Time,
		node: inst.Status.Hypervisor, from: inst.Status.InstanceType, to: inst.Spec.InstanceType,
	}
	return true
}

// resizesInOrder returns the waiting resizes, oldest instance first.
func (r *Reconciler) resizesInOrder() []resizing {
	r.mu.Lock()
	out := make([]resizing, 0, len(r.resizes))
	for uid, z := range r.resizes {
		out = append(out, resizing{resizeWait: z, uid: uid})
	}
	r.mu.Unlock()
	sort.Slice(out, func(a, b int) bool {
		if !out[a].created.Equal(out[b].created) {
			return out[a].created.Before(out[b].created)
		}
		return out[a].key.String() < out[b].key.String()
	})
	return out
}

// resize decides one resize against its hypervisor's room in the batch's view, then against its
// project's quota through the project's ledger, and counts it on the node (and in the ledger's
// assumptions) at once, as a placement is.
func (r *Reconciler) resize(ctx context.Context, nodes map[string]*node, claims map[string]capacity.Claim, z resizing, now time.Time) (resizing, error) {
	if z.from == "" {
		// Counted by its spec's type all along: record it.
		z.given = true
		return z, nil
	}
	to, ok := claims[z.to]
	if !ok {
		z.reason, z.msg = cloudv1.ReasonInstanceTypeNotFound, fmt.Sprintf("instance type %q not found", z.to)
		return z, nil
	}
	from, ok := claims[z.from]
	if !ok {
		// Its type was deleted; the view counts it by its last known size, as here.
		from = capacity.Claim{Class: cloudv1.InstanceClassStandard}
	}
	n := nodes[z.node]
	if n == nil {
		z.skip = true // its Hypervisor is gone: the node-lost path deals with the instance
		return z, nil
	}
	if why := n.fitsResize(from, to); why != "" {
		z.reason, z.msg = cloudv1.ReasonInsufficientCapacity,
			fmt.Sprintf("Hypervisor %s has no room for %s (%d mCPU, %d MiB): %s", n.name, z.to, to.MilliCPU, to.MemoryMiB, why)
		return z, nil
	}
	refused, admitted, err := r.admitGrowth(ctx, z)
	switch {
	case err != nil:
		return z, err
	case refused != nil:
		z.reason, z.msg = cloudv1.ReasonQuotaExceeded, refused.Error()
		return z, nil
	case !admitted:
		z.skip = true
		return z, nil
	}
	n.resize(from, to)
	z.given = true
	r.ledger.Assume(z.uid, capacity.Holding{Node: z.node, InstanceType: z.to}, now.Add(r.assumeTTL()))
	return z, nil
}

// admitGrowth admits what the resize adds under the project's vCPU and memory quota (nothing to
// admit for a smaller type). admitted is false when the API server no longer shows the resize
// (the instance changed or went since its event).
func (r *Reconciler) admitGrowth(ctx context.Context, z resizing) (*quota.Exceeded, bool, error) {
	q, err := quota.Of(ctx, r.Client, z.key.Namespace)
	if err != nil {
		return nil, false, err
	}
	gate := quota.Instances(z.key.Namespace, q)
	if gate.Unlimited() {
		return nil, true, nil
	}
	types := &cloudv1.InstanceTypeList{}
	if err := r.Client.List(ctx, types); err != nil {
		return nil, false, fmt.Errorf("listing instance types: %w", err)
	}
	var from, to *cloudv1.InstanceType
	for i := range types.Items {
		switch types.Items[i].Name {
		case z.from:
			from = &types.Items[i]
		case z.to:
			to = &types.Items[i]
		}
	}
	if quota.InstanceGrowth(from, to) == nil {
		return nil, true, nil
	}
	ledger := &quota.Ledger{Reader: r.APIReader, Writer: r.Client}
	admitted, refused, err := ledger.Admit(ctx, gate, []string{quota.InstanceGrowthName(z.key.Name, z.to)}, 1, admissionTimeout)
	if err != nil {
		return nil, false, err
	}
	return refused, len(admitted) == 1, nil
}

// recordResize writes one resize decision: the given type, or why the resize waits.
func (r *Reconciler) recordResize(ctx context.Context, z resizing) error {
	inst := &cloudv1.Instance{}
	if err := r.Client.Get(ctx, z.key, inst); err != nil {
		if apierrors.IsNotFound(err) && z.given {
			r.ledger.Unassume(z.uid)
		}
		return client.IgnoreNotFound(err)
	}
	if inst.UID != z.uid || !resizeAsked(inst) || inst.Status.InstanceType != z.from || inst.Spec.InstanceType != z.to {
		// Changed since the event the batch decided on: its own event brings it back.
		if z.given && r.ledger.Unassume(z.uid) {
			r.roomAppeared()
		}
		return nil
	}
	helper, err := patch.NewHelper(inst, r.Client)
	if err != nil {
		return err
	}
	now := metav1.NewTime(r.Clock.Now())
	before := conditions.Get(inst, cloudv1.InstanceResized)
	if z.given {
		inst.Status.InstanceType = z.to
		if z.from != "" {
			log.FromContext(ctx).Info("Resizing instance", "instance", z.key, "from", z.from, "to", z.to)
			conditions.MarkTrue(inst, cloudv1.InstanceResized, cloudv1.ReasonResized, fmt.Sprintf("Resized from %s to %s", z.from, z.to), now)
		}
	} else {
		conditions.MarkFalse(inst, cloudv1.InstanceResized, z.reason, z.msg, now)
	}
	if err := helper.Patch(ctx, inst); err != nil {
		if z.given {
			r.ledger.Unassume(z.uid)
		}
		return err
	}
	after := conditions.Get(inst, cloudv1.InstanceResized)
	if r.Recorder == nil || after == nil || (before != nil && before.Status == after.Status && before.Reason == after.Reason) {
		return nil
	}
	if after.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(inst, nil, "Normal", cloudv1.ReasonResized, "Resize", "%s", after.Message)
	} else {
		r.Recorder.Eventf(inst, nil, "Warning", "FailedResize", "Resize", "%s", after.Message)
	}
	return nil
}

// fitsResize returns why n cannot hold an instance it holds with from at to instead, or "" if it
// can. A resized instance keeps its place whether the node is cordoned or not; only its room
// counts.
func (n *node) fitsResize(from, to capacity.Claim) string {
	switch {
	case n.used.MilliCPU-from.MilliCPU+to.MilliCPU > n.milliCPU:
		return skipCPU
	case n.used.MemoryMiB-from.MemoryMiB+to.MemoryMiB > n.memoryMiB:
		return skipMemory
	}
	if n.classIsolation && from.Class != to.Class {
		for class, count := range n.classes {
			if class == from.Class {
				count--
			}
			if class != to.Class && count > 0 {
				return skipClassIsolated
			}
		}
	}
	return ""
}

// resize counts the change of one of n's instances from one claim to another.
func (n *node) resize(from, to capacity.Claim) {
	n.used = n.used.Add(to)
	n.used.MilliCPU -= from.MilliCPU
	n.used.MemoryMiB -= from.MemoryMiB
	n.classes[from.Class]--
	n.classes[to.Class]++
}
