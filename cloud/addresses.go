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
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/quota"
)

// Elastic IPs are Address objects. The address controller claims the IP from a pool and records
// associations; the service writes the request (spec) and answers from the claim. Every address
// behaves as a VPC one: it has an allocation id and associations have ids.

// Address is an elastic IP as EC2 shows it.
type Address struct {
	PublicIP, AllocationID string
	// Domain is always vpc.
	Domain string
	// InstanceID, AssociationID and PrivateIP are set while the address is associated with a
	// live instance.
	InstanceID, AssociationID, PrivateIP string
	NetworkBorderGroup, Pool             string
	Tags                                 map[string]string
}

// AllocationID is the address's EC2 id: the one in status, else its name when that is one.
func AllocationID(a *cloudv1.Address) string {
	return idOr(a.Status.AllocationID, a.Name, ids.Allocation)
}

func addressPool(a *cloudv1.Address) string {
	if a.Status.Pool != "" {
		return a.Status.Pool
	}
	return a.Spec.Pool
}

// association is the address's association as EC2 shows it: the one asked for, while the
// instance lives (EC2 drops the association of a terminated instance). The association id is
// the one the address controller computes; the private IP is the controller's record.
type association struct {
	instanceID, associationID, privateIP string
}

func associationID(allocID, instanceID string) string {
	return ids.Derive(ids.Association, allocID+"/"+instanceID)
}

func associationOf(a *cloudv1.Address, live map[string]*cloudv1.Instance) association {
	want := a.Spec.InstanceID
	if want == "" || live[want] == nil {
		return association{}
	}
	out := association{instanceID: want, associationID: associationID(AllocationID(a), want)}
	if a.Status.InstanceID == want {
		out.privateIP = a.Status.PrivateIPAddress
	}
	if out.privateIP == "" {
		out.privateIP = live[want].Status.PrivateIPAddress
	}
	return out
}

func (s *Service) toAddress(a *cloudv1.Address, live map[string]*cloudv1.Instance) Address {
	as := associationOf(a, live)
	return Address{
		PublicIP: a.Status.PublicIP, AllocationID: AllocationID(a), Domain: "vpc",
		InstanceID: as.instanceID, AssociationID: as.associationID, PrivateIP: as.privateIP,
		NetworkBorderGroup: s.cfg.Region, Pool: addressPool(a), Tags: TagsOf(a),
	}
}

// addressKind: the project's addresses that have an allocation id and are not being released,
// oldest first.
var addressKind = kind[*cloudv1.Address]{resource: "addresses", what: "address", list: &cloudv1.AddressList{},
	id: AllocationID, prefix: ids.Allocation, notFound: allocationNotFound, malformed: func(id string) error {
		return BadRequest(CodeAllocationMalformed, "Invalid id: \"%s\" (expecting \"eipalloc-...\")", clipID(id))
	}}

// projectAddresses lists the project's addresses (addressKind); allocated keeps only those with
// an IP.
func (s *Service) projectAddresses(ctx context.Context, c Caller, allocated bool) ([]*cloudv1.Address, error) {
	all, err := inProject(ctx, s, c, addressKind)
	if err != nil || !allocated {
		return all, err
	}
	return slices.DeleteFunc(all, func(a *cloudv1.Address) bool { return a.Status.PublicIP == "" }), nil
}

// findAddress finds one of the project's allocated addresses by allocation id or public IP
// (exactly one of them).
func (s *Service) findAddress(ctx context.Context, c Caller, allocID, publicIP string) (*cloudv1.Address, error) {
	switch {
	case allocID == "" && publicIP == "":
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter AllocationId or PublicIp")
	case allocID != "" && publicIP != "":
		return nil, BadRequest(CodeParamCombination, "The parameters AllocationId and PublicIp cannot be used together.")
	}
	all, err := s.projectAddresses(ctx, c, true)
	if err != nil {
		return nil, err
	}
	found, err := pickAddresses(all, []string{allocID}, []string{publicIP})
	if err != nil {
		return nil, err
	}
	return found[0], nil
}

// pickAddresses returns the addresses with the allocation ids and public IPs ("" skipped), in
// order, or the error EC2 gives for the first that names none of them.
func pickAddresses(all []*cloudv1.Address, allocIDs, publicIPs []string) ([]*cloudv1.Address, error) {
	var out []*cloudv1.Address
	for _, id := range allocIDs {
		if id == "" {
			continue
		}
		if !ids.Valid(ids.Allocation, id) {
			return nil, addressKind.malformed(id)
		}
		a, ok := withID(all, id, AllocationID)
		if !ok {
			return nil, allocationNotFound(id)
		}
		out = append(out, a)
	}
	for _, ip := range publicIPs {
		if ip == "" {
			continue
		}
		i := slices.IndexFunc(all, func(a *cloudv1.Address) bool { return a.Status.PublicIP == ip })
		if i < 0 {
			return nil, BadRequest(CodeAddressNotFound, "Address '%s' not found.", clipID(ip))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func allocationNotFound(id string) error {
	return BadRequest(CodeAllocationNotFound, "The allocation ID '%s' does not exist", id)
}

// AllocateAddressInput asks for an elastic IP.
type AllocateAddressInput struct {
	// Domain is vpc or standard (both give a VPC address); NetworkBorderGroup, if given, must be
	// the region.
	Domain, NetworkBorderGroup string
	// Pool names the AddressPool to allocate from; empty, the default pool.
	Pool              string
	TagSpecifications []TagSpecification
	DryRun            bool
}

// AllocateAddress makes an Address and answers once the address controller has claimed an IP
// for it. If the quota or the pool has none to give, the Address is withdrawn and the call
// fails: an address without an IP is never handed out.
func (s *Service) AllocateAddress(ctx context.Context, c Caller, in AllocateAddressInput) (*Address, error) {
	tags, err := s.startCreate(ctx, c, "addresses", in.DryRun, func() error {
		switch {
		case in.Domain != "" && in.Domain != "vpc" && in.Domain != "standard":
			return InvalidParam("Value (%s) for parameter domain is invalid. Valid values are vpc and standard.", clipID(in.Domain))
		case in.NetworkBorderGroup != "" && in.NetworkBorderGroup != s.cfg.Region:
			return InvalidParam("The network border group '%s' does not exist; this cloud has only %s.", clipID(in.NetworkBorderGroup), s.cfg.Region)
		}
		return nil
	}, in.TagSpecifications, "elastic-ip")
	if err != nil {
		return nil, err
	}
	if err := s.checkPool(ctx, in.Pool); err != nil {
		return nil, err
	}
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return nil, err
	}
	gate := quota.Addresses(c.Project(), q)
	overQuota := BadRequest(CodeAddressLimit, "The maximum number of addresses has been reached.")
	if fit, _, err := gate.Room(ctx, s.cfg.Client, []int64{1}, 1, 1); err != nil || fit == 0 {
		return nil, cmp.Or(err, error(overQuota))
	}
	a := &cloudv1.Address{
		ObjectMeta: metav1.ObjectMeta{Name: ids.New(ids.Allocation), Namespace: c.Project()},
		Spec:       cloudv1.AddressSpec{Pool: in.Pool},
	}
	SetTags(a, tags)
	if !gate.Unlimited() {
		quota.MarkPending(a)
	}
	if err := s.cfg.Client.Create(ctx, a); err != nil {
		return nil, APIError(err, "allocating an address")
	}
	admitted, err := s.AdmitOne(ctx, gate, a)
	switch {
	case err == nil && !admitted:
		err = overQuota
	case err == nil:
		err = s.awaitAllocation(ctx, a)
	}
	if err != nil {
		if delErr := s.Withdraw(ctx, a); delErr != nil {
			return nil, fmt.Errorf("withdrawing address %s after %q: %w", a.Name, err.Error(), delErr)
		}
		return nil, err
	}
	out := s.toAddress(a, nil)
	return &out, nil
}

// checkPool checks that the named pool exists, or, with none named, that a default pool does.
func (s *Service) checkPool(ctx context.Context, name string) error {
	if name != "" {
		if err := s.cfg.Client.Get(ctx, client.ObjectKey{Name: name}, &cloudv1.AddressPool{}); err != nil {
			if apierrors.IsNotFound(err) {
				return BadRequest(CodePoolNotFound, "The public IPv4 pool ID '%s' does not exist", clipID(name))
			}
			return fmt.Errorf("reading address pool %s: %w", name, err)
		}
		return nil
	}
	pools := &cloudv1.AddressPoolList{}
	if err := s.cfg.Client.List(ctx, pools); err != nil {
		return fmt.Errorf("listing address pools: %w", err)
	}
	for i := range pools.Items {
		if pools.Items[i].Spec.Default {
			return nil
		}
	}
	return query.Errorf(CodeAddressCapacity, http.StatusServiceUnavailable,
		"There is no default address pool to allocate from; name one with PublicIpv4Pool.")
}

// awaitAllocation waits until the address controller has claimed an IP for a, or found that it
// cannot; on return a holds the cached Address.
func (s *Service) awaitAllocation(ctx context.Context, a *cloudv1.Address) error {
	var failed error
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, s.cfg.WaitForCache, true, func(ctx context.Context) (bool, error) {
		got := &cloudv1.Address{}
		if err := s.cfg.Client.Get(ctx, client.ObjectKeyFromObject(a), got); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		if got.Status.PublicIP != "" {
			*a = *got
			return true, nil
		}
		cond := conditions.Get(got, cloudv1.AddressAllocated)
		if cond == nil || cond.Status != metav1.ConditionFalse {
			return false, nil
		}
		switch cond.Reason {
		case cloudv1.ReasonPoolExhausted:
			// The pool's limit, as the acceptance and EC2's own limit answer name it;
			// the message says it is the pool's, not the project's quota.
			failed = query.Errorf(CodeAddressLimit, http.StatusBadRequest,
				"The maximum number of addresses has been reached: the address pool has no free address (%s).", cond.Message)
		case cloudv1.ReasonPoolNotFound:
			failed = query.Errorf(CodeAddressCapacity, http.StatusServiceUnavailable,
				"There is no address pool to allocate from: %s.", cond.Message)
		default:
			return false, nil
		}
		return true, nil
	})
	if failed != nil {
		return failed
	}
	if err != nil {
		return Unavailable("No address could be allocated in time; try again.")
	}
	return nil
}

// ReleaseAddressInput names the address to release: by allocation id or public IP.
type ReleaseAddressInput struct {
	AllocationID, PublicIP string
	DryRun                 bool
}

// ReleaseAddress deletes the Address; the address controller gives its IP back to the pool. An
// address associated with a live instance is refused.
func (s *Service) ReleaseAddress(ctx context.Context, c Caller, in ReleaseAddressInput) error {
	if err := s.authorize(ctx, c, "delete", "addresses", in.DryRun); err != nil {
		return err
	}
	found, err := s.findAddress(ctx, c, in.AllocationID, in.PublicIP)
	if err != nil {
		return err
	}
	live, err := s.liveInstances(ctx, c)
	if err != nil {
		return err
	}
	return deleteChecked(ctx, s, addressKind, found.DeepCopy(), AllocationID(found), func(a *cloudv1.Address) error {
		if as := associationOf(a, live); as.instanceID != "" {
			return BadRequest(CodeAddressInUse, "Address %s is in use: it is associated with %s.", a.Status.PublicIP, as.instanceID)
		}
		return nil
	})
}

// AssociateAddressInput points an address (by allocation id or public IP) at an instance.
type AssociateAddressInput struct {
	AllocationID, PublicIP, InstanceID string
	// AllowReassociation lets an address associated with another instance move.
	AllowReassociation bool
	DryRun             bool
}

// AssociateAddress points the address at an instance of the caller's project and returns the
// association id. An instance has one elastic IP: one it held before is disassociated, as in EC2.
func (s *Service) AssociateAddress(ctx context.Context, c Caller, in AssociateAddressInput) (string, error) {
	if err := s.authorize(ctx, c, "update", "addresses", in.DryRun); err != nil {
		return "", err
	}
	if in.InstanceID == "" {
		return "", BadRequest(CodeMissingParameter, "The request must contain the parameter InstanceId")
	}
	found, err := s.findAddress(ctx, c, in.AllocationID, in.PublicIP)
	if err != nil {
		return "", err
	}
	inst, err := findOne(ctx, s, c, instanceKind, in.InstanceID)
	if err != nil {
		return "", err
	}
	live, err := s.liveInstances(ctx, c)
	if err != nil {
		return "", err
	}
	if live[in.InstanceID] == nil {
		return "", BadRequest(CodeIncorrectState, "The instance '%s' is not in a valid state for this operation.", InstanceID(inst))
	}
	allocID := AllocationID(found)
	a := found.DeepCopy()
	err = s.change(ctx, a, func() error {
		if !a.DeletionTimestamp.IsZero() {
			// Released meanwhile: its controller is giving the IP back.
			return allocationNotFound(allocID)
		}
		cur := associationOf(a, live)
		if cur.instanceID != "" && cur.instanceID != in.InstanceID && !in.AllowReassociation {
			return BadRequest(CodeAlreadyAssociated, "resource %s is already associated with associate-id %s", allocID, cur.associationID)
		}
		a.Spec.InstanceID = in.InstanceID
		return nil
	})
	if err != nil {
		return "", addressKind.writeError(err, allocID)
	}
	if err := s.dropOtherAddresses(ctx, c, a); err != nil {
		return "", err
	}
	return associationID(allocID, in.InstanceID), nil
}

// dropOtherAddresses disassociates the project's other addresses from a's instance. They are
// listed from the API server, not the cache: of two calls associating two addresses with one
// instance at once, the later write must see the earlier, or both would keep the instance.
func (s *Service) dropOtherAddresses(ctx context.Context, c Caller, a *cloudv1.Address) error {
	all := &cloudv1.AddressList{}
	if err := s.cfg.APIReader.List(ctx, all, client.InNamespace(c.Project())); err != nil {
		return APIError(err, "listing addresses")
	}
	for i := range all.Items {
		other := &all.Items[i]
		if other.UID == a.UID || other.Spec.InstanceID != a.Spec.InstanceID {
			continue
		}
		if err := s.disassociate(ctx, other, a.Spec.InstanceID); err != nil {
			return err
		}
	}
	return nil
}

// disassociate withdraws the address's association with the instance, unless it changed
// meanwhile; an address released meanwhile is no error.
func (s *Service) disassociate(ctx context.Context, found *cloudv1.Address, instanceID string) error {
	a := found.DeepCopy()
	err := s.change(ctx, a, func() error {
		if a.Spec.InstanceID == instanceID {
			a.Spec.InstanceID = ""
		}
		return nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return APIError(err, "address "+AllocationID(found))
	}
	return nil
}

// DisassociateAddressInput names the association to withdraw: by its id or the address's public
// IP.
type DisassociateAddressInput struct {
	AssociationID, PublicIP string
	DryRun                  bool
}

// DisassociateAddress withdraws an association. By public IP an address that is not associated
// is left as it is.
func (s *Service) DisassociateAddress(ctx context.Context, c Caller, in DisassociateAddressInput) error {
	if err := s.authorize(ctx, c, "update", "addresses", in.DryRun); err != nil {
		return err
	}
	if in.AssociationID != "" && in.PublicIP != "" {
		return BadRequest(CodeParamCombination, "The parameters AssociationId and PublicIp cannot be used together.")
	}
	live, err := s.liveInstances(ctx, c)
	if err != nil {
		return err
	}
	var found *cloudv1.Address
	if in.AssociationID != "" {
		all, err := s.projectAddresses(ctx, c, true)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(a *cloudv1.Address) bool { return associationOf(a, live).associationID == in.AssociationID })
		if i < 0 {
			return BadRequest(CodeAssociationNotFound, "The association ID '%s' does not exist", clipID(in.AssociationID))
		}
		found = all[i]
	} else if found, err = s.findAddress(ctx, c, "", in.PublicIP); err != nil {
		return err
	}
	want := associationOf(found, live)
	if want.instanceID == "" {
		return nil
	}
	return s.disassociate(ctx, found, want.instanceID)
}

// DescribeAddressesInput selects addresses: by public IP, by allocation id, by filter.
type DescribeAddressesInput struct {
	PublicIPs, AllocationIDs []string
	Filters                  []query.Filter
	DryRun                   bool
}

var addressFilters = []string{"allocation-id", "association-id", "domain", "instance-id", "public-ip",
	"private-ip-address", "network-border-group", "public-ipv4-pool"}

// DescribeAddresses shows the project's allocated addresses, oldest first; each id or IP named
// must be one of them.
func (s *Service) DescribeAddresses(ctx context.Context, c Caller, in DescribeAddressesInput) ([]Address, error) {
	matcher, _, err := s.startDescribe(ctx, c, listing{resource: "addresses", filters: addressFilters}, in.DryRun, in.Filters, Page{}, 0)
	if err != nil {
		return nil, err
	}
	addrs, err := s.projectAddresses(ctx, c, true)
	if err != nil {
		return nil, err
	}
	if len(in.PublicIPs)+len(in.AllocationIDs) > 0 {
		if addrs, err = pickAddresses(addrs, in.AllocationIDs, in.PublicIPs); err != nil {
			return nil, err
		}
	}
	live, err := s.liveInstances(ctx, c)
	if err != nil {
		return nil, err
	}
	out := []Address{}
	seen := map[string]bool{}
	for _, a := range addrs {
		item := s.toAddress(a, live)
		if seen[item.AllocationID] {
			continue
		}
		seen[item.AllocationID] = true
		attrs := func(name string) []string {
			return map[string][]string{
				"allocation-id": {item.AllocationID}, "association-id": {item.AssociationID}, "domain": {item.Domain},
				"instance-id": {item.InstanceID}, "public-ip": {item.PublicIP}, "private-ip-address": {item.PrivateIP},
				"network-border-group": {item.NetworkBorderGroup}, "public-ipv4-pool": {item.Pool},
			}[name]
		}
		if matcher.Match(attrs, item.Tags) {
			out = append(out, item)
		}
	}
	return out, nil
}
