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
	"net/netip"
	"strings"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/ipam"
)

// addressDecision is what assignAddress decided in this reconcile.
type addressDecision struct {
	decided         bool
	assigned        bool
	reason, message string
	releasedNow     bool
}

// assignAddress gives an admitted instance a private address of its project's subnet, claimed
// exclusively (internal/ipam, one claim per address, held by the instance's UID), and the MAC and
// network facts the node agent needs: status.privateIpAddress, macAddress, privateDnsName,
// segmentId, subnet, gateway. A stopped instance keeps its address; a terminated one gives it back
// once its domain is gone (the guest might still use it before). When the subnet is full the
// instance waits, unscheduled, with AddressAssigned=False/InsufficientAddresses, and is tried again
// when an instance of its project releases one.
func (r *Reconciler) assignAddress(ctx context.Context, s *scope) error {
	inst := s.instance
	switch {
	case r.Addresses == nil:
		return nil
	case inst.EffectiveDesiredState() == cloudv1.DesiredTerminated:
		return r.releaseAddressAtTermination(ctx, s)
	case !conditions.IsTrue(inst, cloudv1.InstanceQuotaAdmitted) && !s.quota.admitted && inst.Status.Hypervisor == "":
		return nil // not admitted: it takes nothing yet
	}
	p := &cloudv1.Project{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: inst.Namespace}, p); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reading project %s: %w", inst.Namespace, err)
	}
	if p.Status.Subnet == "" || p.Status.SegmentID == 0 {
		s.address = addressDecision{decided: true, reason: cloudv1.ReasonWaitingForProjectNetwork,
			message: fmt.Sprintf("Project %s has no segment and subnet yet", inst.Namespace)}
		return nil
	}
	subnet, err := netip.ParsePrefix(p.Status.Subnet)
	if err != nil {
		return fmt.Errorf("project %s has subnet %q: %w", p.Name, p.Status.Subnet, err)
	}
	if ip, err := netip.ParseAddr(inst.Status.PrivateIPAddress); err == nil && r.networkStatusIs(inst, p.Status.SegmentID, subnet, ip) {
		s.address = addressDecision{decided: true, assigned: true, reason: cloudv1.ReasonAddressAssigned}
		return nil
	}
	// The status shows no address of the subnet: ask for a new one, without listing first what
	// the instance holds (a claim an earlier reconcile made and could not record still wins).
	ip, err := r.Addresses.AllocateNew(ctx, ipam.HostSet(subnet), string(inst.UID))
	if errors.Is(err, ipam.ErrExhausted) {
		s.address = addressDecision{decided: true, reason: cloudv1.ReasonInsufficientAddresses,
			message: fmt.Sprintf("Every address of subnet %s of project %s is in use", subnet, p.Name)}
		return nil
	}
	if err != nil {
		return fmt.Errorf("assigning a private address: %w", err)
	}
	log.FromContext(ctx).Info("Assigned a private address", "address", ip, "subnet", subnet)
	r.setNetworkStatus(inst, p.Status.SegmentID, subnet, ip)
	s.address = addressDecision{decided: true, assigned: true, reason: cloudv1.ReasonAddressAssigned}
	return nil
}

// networkStatusIs reports whether the instance's status shows exactly the network of ip.
func (r *Reconciler) networkStatusIs(inst *cloudv1.Instance, segment int32, subnet netip.Prefix, ip netip.Addr) bool {
	want := inst.DeepCopy()
	r.setNetworkStatus(want, segment, subnet, ip)
	return ipam.HostSet(subnet).Contains(ip) && want.Status.MACAddress == inst.Status.MACAddress &&
		want.Status.PrivateDNSName == inst.Status.PrivateDNSName && want.Status.SegmentID == inst.Status.SegmentID &&
		want.Status.Subnet == inst.Status.Subnet && want.Status.Gateway == inst.Status.Gateway
}

func (r *Reconciler) setNetworkStatus(inst *cloudv1.Instance, segment int32, subnet netip.Prefix, ip netip.Addr) {
	st := &inst.Status
	st.PrivateIPAddress = ip.String()
	st.MACAddress = ipam.MAC(segment, ip)
	st.PrivateDNSName = privateDNSName(ip, r.Region)
	st.SegmentID = segment
	st.Subnet = subnet.String()
	st.Gateway = ipam.Gateway(subnet).String()
}

// privateDNSName is EC2's private host name of ip: ip-10-128-0-5.<region>.compute.internal.
func privateDNSName(ip netip.Addr, region string) string {
	domain := "compute.internal"
	if region != "" {
		domain = region + "." + domain
	}
	return "ip-" + strings.ReplaceAll(ip.String(), ".", "-") + "." + domain
}

// releaseAddressAtTermination gives a terminated instance's address back once its domain is gone,
// and clears its network status, as EC2 shows a terminated instance without one.
func (r *Reconciler) releaseAddressAtTermination(ctx context.Context, s *scope) error {
	inst := s.instance
	if controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer) {
		return nil
	}
	if inst.Status.PrivateIPAddress == "" && !conditions.IsTrue(inst, cloudv1.InstanceAddressAssigned) {
		// Released already (by an earlier reconcile, whose message says so): nothing to write.
		if c := conditions.Get(inst, cloudv1.InstanceAddressAssigned); c != nil && c.Reason != cloudv1.ReasonAddressReleased {
			s.address = addressDecision{decided: true, reason: cloudv1.ReasonAddressReleased,
				message: "The instance is terminated; it holds no address"}
		}
		return nil
	}
	if err := r.releaseRecordedAddress(ctx, inst); err != nil {
		return fmt.Errorf("releasing the private address: %w", err)
	}
	log.FromContext(ctx).Info("Released the private address", "address", inst.Status.PrivateIPAddress)
	st := &inst.Status
	st.PrivateIPAddress, st.MACAddress, st.PrivateDNSName, st.Subnet, st.Gateway, st.SegmentID = "", "", "", "", "", 0
	s.address = addressDecision{decided: true, reason: cloudv1.ReasonAddressReleased,
		message: "The instance is terminated; its address was released", releasedNow: true}
	return nil
}

// releaseAddressOnDelete gives the address of an instance being deleted back; its status is not
// touched (the object is about to go). A claim it never recorded is the address sweeper's.
func (r *Reconciler) releaseAddressOnDelete(ctx context.Context, inst *cloudv1.Instance) error {
	if r.Addresses == nil {
		return nil
	}
	if err := r.releaseRecordedAddress(ctx, inst); err != nil {
		return fmt.Errorf("releasing the private address: %w", err)
	}
	return nil
}

// setAddressAssigned writes the decision of assignAddress, with an event when the subnet is full.
func (r *Reconciler) setAddressAssigned(s *scope) {
	inst := s.instance
	d := s.address
	if !d.decided {
		return
	}
	before := conditions.Get(inst, cloudv1.InstanceAddressAssigned)
	if d.assigned {
		conditions.MarkTrue(inst, cloudv1.InstanceAddressAssigned, d.reason, inst.Status.PrivateIPAddress, s.now)
	} else {
		conditions.MarkFalse(inst, cloudv1.InstanceAddressAssigned, d.reason, d.message, s.now)
	}
	// An address assigned is no event: the condition (its message the address, its time the
	// assignment's) and status.privateIpAddress say it, and an event per launched instance
	// would be one more write for each.
	if r.Recorder != nil && d.reason == cloudv1.ReasonInsufficientAddresses && (before == nil || before.Reason != d.reason) {
		r.Recorder.Eventf(inst, nil, "Warning", d.reason, "AssignAddress", "%s", d.message)
	}
}

// addressReleases enqueues the instances of a project waiting for an address when one of its
// instances releases its own (terminated, or gone).
func (r *Reconciler) addressReleases() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.ObjectOld.(*cloudv1.Instance).Status.PrivateIPAddress != "" && e.ObjectNew.(*cloudv1.Instance).Status.PrivateIPAddress == "" {
				r.enqueueWaitingForAddress(ctx, e.ObjectNew.GetNamespace(), q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.enqueueWaitingForAddress(ctx, e.Object.GetNamespace(), q)
		},
	}
}

// projectNetworkChanges enqueues the instances of a project that got its network.
func (r *Reconciler) projectNetworkChanges() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.ObjectOld.(*cloudv1.Project).Status.Subnet != e.ObjectNew.(*cloudv1.Project).Status.Subnet {
				r.enqueueWaitingForAddress(ctx, e.ObjectNew.GetName(), q)
			}
		},
	}
}

func (r *Reconciler) enqueueWaitingForAddress(ctx context.Context, namespace string, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	r.enqueueWaiting(ctx, namespace, index.WaitingForAddress, q)
}
