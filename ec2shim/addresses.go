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

package ec2shim

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"sort"
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
// associations; the API writes the request (spec) and answers from the claim. Every address
// behaves as a VPC one: it has an allocation id and associations have ids.

func (s *Server) addressRoutes() map[string]action {
	return map[string]action{
		"AllocateAddress":     s.allocateAddress,
		"ReleaseAddress":      s.releaseAddress,
		"AssociateAddress":    s.associateAddress,
		"DisassociateAddress": s.disassociateAddress,
		"DescribeAddresses":   s.describeAddresses,
	}
}

// addressItem is EC2's Address.
type addressItem struct {
	PublicIP           string               `xml:"publicIp"`
	AllocationID       string               `xml:"allocationId"`
	Domain             string               `xml:"domain"`
	InstanceID         string               `xml:"instanceId,omitempty"`
	AssociationID      string               `xml:"associationId,omitempty"`
	PrivateIPAddress   string               `xml:"privateIpAddress,omitempty"`
	NetworkBorderGroup string               `xml:"networkBorderGroup"`
	PublicIPv4Pool     string               `xml:"publicIpv4Pool,omitempty"`
	TagSet             *query.List[tagItem] `xml:"tagSet,omitempty"`
}

// allocationID is the address's EC2 id: the one in status, else its name when that is one.
func allocationID(a *cloudv1.Address) string {
	if a.Status.AllocationID != "" {
		return a.Status.AllocationID
	}
	if ids.Valid(ids.Allocation, a.Name) {
		return a.Name
	}
	return ""
}

func addressPool(a *cloudv1.Address) string {
	if a.Status.Pool != "" {
		return a.Status.Pool
	}
	return a.Spec.Pool
}

// liveInstances maps the ids of the project's instances that can hold an address, as the address
// controller decides it: not terminated and not being deleted.
func (c *call) liveInstances(ctx context.Context) (map[string]*cloudv1.Instance, error) {
	insts, err := c.projectInstances(ctx)
	if err != nil {
		return nil, err
	}
	live := map[string]*cloudv1.Instance{}
	for _, inst := range insts {
		if inst.DeletionTimestamp.IsZero() && inst.EffectiveDesiredState() != cloudv1.DesiredTerminated {
			live[instanceID(inst)] = inst
		}
	}
	return live, nil
}

// association is the address's association as EC2 shows it: the one asked for, while the
// instance lives (EC2 drops the association of a terminated instance). The association id is
// the one the address controller computes; the private IP is the controller's record.
type association struct {
	instanceID, associationID, privateIP string
}

func associationOf(a *cloudv1.Address, live map[string]*cloudv1.Instance) association {
	want := a.Spec.InstanceID
	if want == "" || live[want] == nil {
		return association{}
	}
	out := association{instanceID: want, associationID: ids.Derive(ids.Association, allocationID(a)+"/"+want)}
	if a.Status.InstanceID == want {
		out.privateIP = a.Status.PrivateIPAddress
	}
	if out.privateIP == "" {
		out.privateIP = live[want].Status.PrivateIPAddress
	}
	return out
}

func (s *Server) toAddressItem(a *cloudv1.Address, live map[string]*cloudv1.Instance) addressItem {
	as := associationOf(a, live)
	return addressItem{
		PublicIP:           a.Status.PublicIP,
		AllocationID:       allocationID(a),
		Domain:             "vpc",
		InstanceID:         as.instanceID,
		AssociationID:      as.associationID,
		PrivateIPAddress:   as.privateIP,
		NetworkBorderGroup: s.cfg.Region,
		PublicIPv4Pool:     addressPool(a),
		TagSet:             tagList(tagsOf(a)),
	}
}

// projectAddresses lists the project's addresses that have an allocation id and are not being
// released, oldest first; allocated keeps only those with an IP.
func (c *call) projectAddresses(ctx context.Context, allocated bool) ([]*cloudv1.Address, error) {
	list := &cloudv1.AddressList{}
	if err := c.srv.cfg.Client.List(ctx, list, client.InNamespace(c.project)); err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	out := make([]*cloudv1.Address, 0, len(list.Items))
	for i := range list.Items {
		a := &list.Items[i]
		if allocationID(a) != "" && a.DeletionTimestamp.IsZero() && (!allocated || a.Status.PublicIP != "") {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return allocationID(out[i]) < allocationID(out[j])
	})
	return out, nil
}

// findAddress finds one of the project's allocated addresses by allocation id or public IP
// (exactly one of them).
func (c *call) findAddress(ctx context.Context, allocID, publicIP string) (*cloudv1.Address, error) {
	switch {
	case allocID == "" && publicIP == "":
		return nil, badRequest(codeMissingParameter, "The request must contain the parameter AllocationId or PublicIp")
	case allocID != "" && publicIP != "":
		return nil, badRequest(codeParamCombination, "The parameters AllocationId and PublicIp cannot be used together.")
	}
	all, err := c.projectAddresses(ctx, true)
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
			return nil, badRequest(codeAllocationMalformed, "Invalid id: \"%s\" (expecting \"eipalloc-...\")", clipID(id))
		}
		i := indexOf(all, func(a *cloudv1.Address) bool { return allocationID(a) == id })
		if i < 0 {
			return nil, badRequest(codeAllocationNotFound, "The allocation ID '%s' does not exist", id)
		}
		out = append(out, all[i])
	}
	for _, ip := range publicIPs {
		if ip == "" {
			continue
		}
		i := indexOf(all, func(a *cloudv1.Address) bool { return a.Status.PublicIP == ip })
		if i < 0 {
			return nil, badRequest(codeAddressNotFound, "Address '%s' not found.", clipID(ip))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func indexOf[T any](items []T, match func(T) bool) int {
	for i, item := range items {
		if match(item) {
			return i
		}
	}
	return -1
}

type allocateAddressInput struct {
	Domain             string             `ec2:"Domain"`
	PublicIPv4Pool     string             `ec2:"PublicIpv4Pool"`
	NetworkBorderGroup string             `ec2:"NetworkBorderGroup"`
	TagSpecifications  []tagSpecification `ec2:"TagSpecification,list"`
	DryRun             bool               `ec2:"DryRun"`
}

type allocateAddressOutput struct {
	PublicIP           string `xml:"publicIp"`
	AllocationID       string `xml:"allocationId"`
	PublicIPv4Pool     string `xml:"publicIpv4Pool"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
	Domain             string `xml:"domain"`
}

// allocateAddress makes an Address and answers once the address controller has claimed an IP
// for it. If the pool has none to give, the Address is withdrawn and the call fails: an address
// without an IP is never handed out.
func (s *Server) allocateAddress(ctx context.Context, c *call) (any, error) {
	var in allocateAddressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "create", "addresses", in.DryRun); err != nil {
		return nil, err
	}
	switch {
	case in.Domain != "" && in.Domain != "vpc" && in.Domain != "standard":
		return nil, invalidParam("Value (%s) for parameter domain is invalid. Valid values are vpc and standard.", clipID(in.Domain))
	case in.NetworkBorderGroup != "" && in.NetworkBorderGroup != s.cfg.Region:
		return nil, invalidParam("The network border group '%s' does not exist; this cloud has only %s.", clipID(in.NetworkBorderGroup), s.cfg.Region)
	}
	tags, err := specTags(in.TagSpecifications, "elastic-ip")
	if err != nil {
		return nil, err
	}
	if err := s.checkPool(ctx, in.PublicIPv4Pool); err != nil {
		return nil, err
	}
	q, err := c.projectQuota(ctx)
	if err != nil {
		return nil, err
	}
	gate := quota.Addresses(c.project, q)
	overQuota := badRequest(codeAddressLimit, "The maximum number of addresses has been reached.")
	if fit, _, err := gate.Room(ctx, s.cfg.Client, []int64{1}, 1, 1); err != nil || fit == 0 {
		return nil, cmp.Or(err, error(overQuota))
	}
	a := &cloudv1.Address{
		ObjectMeta: metav1.ObjectMeta{Name: ids.New(ids.Allocation), Namespace: c.project},
		Spec:       cloudv1.AddressSpec{Pool: in.PublicIPv4Pool},
	}
	setTags(a, tags)
	if !gate.Unlimited() {
		quota.MarkPending(a)
	}
	if err := s.cfg.Client.Create(ctx, a); err != nil {
		return nil, apiError(err, "allocating an address")
	}
	admitted, err := s.admitOne(ctx, gate, a)
	switch {
	case err == nil && !admitted:
		err = overQuota
	case err == nil:
		err = s.awaitAllocation(ctx, a)
	}
	if err != nil {
		if delErr := s.withdraw(ctx, a); delErr != nil {
			return nil, fmt.Errorf("withdrawing address %s after %q: %w", a.Name, err.Error(), delErr)
		}
		return nil, err
	}
	return &allocateAddressOutput{PublicIP: a.Status.PublicIP, AllocationID: allocationID(a),
		PublicIPv4Pool: addressPool(a), NetworkBorderGroup: s.cfg.Region, Domain: "vpc"}, nil
}

// checkPool checks that the named pool exists, or, with none named, that a default pool does.
func (s *Server) checkPool(ctx context.Context, name string) error {
	if name != "" {
		if err := s.cfg.Client.Get(ctx, client.ObjectKey{Name: name}, &cloudv1.AddressPool{}); err != nil {
			if apierrors.IsNotFound(err) {
				return badRequest(codePoolNotFound, "The public IPv4 pool ID '%s' does not exist", clipID(name))
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
	return query.Errorf(codeAddressCapacity, http.StatusServiceUnavailable,
		"There is no default address pool to allocate from; name one with PublicIpv4Pool.")
}

// awaitAllocation waits until the address controller has claimed an IP for a, or found that it
// cannot; on return a holds the cached Address.
func (s *Server) awaitAllocation(ctx context.Context, a *cloudv1.Address) error {
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
			failed = query.Errorf(codeAddressCapacity, http.StatusServiceUnavailable,
				"There are not enough free addresses to satisfy your request: %s.", cond.Message)
		case cloudv1.ReasonPoolNotFound:
			failed = query.Errorf(codeAddressCapacity, http.StatusServiceUnavailable,
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
		return unavailable("No address could be allocated in time; try again.")
	}
	return nil
}

type releaseAddressInput struct {
	AllocationID       string `ec2:"AllocationId"`
	PublicIP           string `ec2:"PublicIp"`
	NetworkBorderGroup string `ec2:"NetworkBorderGroup"`
	DryRun             bool   `ec2:"DryRun"`
}

// releaseAddress deletes the Address; the address controller gives its IP back to the pool.
func (s *Server) releaseAddress(ctx context.Context, c *call) (any, error) {
	var in releaseAddressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "delete", "addresses", in.DryRun); err != nil {
		return nil, err
	}
	found, err := c.findAddress(ctx, in.AllocationID, in.PublicIP)
	if err != nil {
		return nil, err
	}
	live, err := c.liveInstances(ctx)
	if err != nil {
		return nil, err
	}
	a := found.DeepCopy()
	err = s.deleteLatest(ctx, a, func() error {
		if as := associationOf(a, live); as.instanceID != "" {
			return badRequest(codeAddressInUse, "Address %s is in use: it is associated with %s.", a.Status.PublicIP, as.instanceID)
		}
		return nil
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil, badRequest(codeAllocationNotFound, "The allocation ID '%s' does not exist", allocationID(found))
	case err != nil:
		return nil, apiError(err, "address "+allocationID(found))
	}
	s.awaitDeleted(ctx, a)
	return &returnOutput{Return: true}, nil
}

type associateAddressInput struct {
	AllocationID       string `ec2:"AllocationId"`
	PublicIP           string `ec2:"PublicIp"`
	InstanceID         string `ec2:"InstanceId"`
	AllowReassociation bool   `ec2:"AllowReassociation"`
	DryRun             bool   `ec2:"DryRun"`
}

type associateAddressOutput struct {
	AssociationID string `xml:"associationId"`
}

// associateAddress points the address at an instance. An instance has one elastic IP: one it
// held before is disassociated, as in EC2.
func (s *Server) associateAddress(ctx context.Context, c *call) (any, error) {
	var in associateAddressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "update", "addresses", in.DryRun); err != nil {
		return nil, err
	}
	if in.InstanceID == "" {
		return nil, badRequest(codeMissingParameter, "The request must contain the parameter InstanceId")
	}
	found, err := c.findAddress(ctx, in.AllocationID, in.PublicIP)
	if err != nil {
		return nil, err
	}
	insts, err := c.findInstances(ctx, []string{in.InstanceID})
	if err != nil {
		return nil, err
	}
	live, err := c.liveInstances(ctx)
	if err != nil {
		return nil, err
	}
	if live[in.InstanceID] == nil {
		return nil, badRequest(codeIncorrectState, "The instance '%s' is not in a valid state for this operation.", instanceID(insts[0]))
	}
	allocID := allocationID(found)
	out := &associateAddressOutput{AssociationID: ids.Derive(ids.Association, allocID+"/"+in.InstanceID)}
	a := found.DeepCopy()
	err = s.changeLatest(ctx, a, func() error {
		cur := associationOf(a, live)
		if cur.instanceID != "" && cur.instanceID != in.InstanceID && !in.AllowReassociation {
			return badRequest(codeAlreadyAssociated, "resource %s is already associated with associate-id %s", allocID, cur.associationID)
		}
		a.Spec.InstanceID = in.InstanceID
		return nil
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil, badRequest(codeAllocationNotFound, "The allocation ID '%s' does not exist", allocID)
	case err != nil:
		return nil, apiError(err, "address "+allocID)
	}
	s.awaitCache(ctx, a)
	return out, s.dropOtherAddresses(ctx, c, a)
}

// dropOtherAddresses disassociates the project's other addresses from a's instance.
func (s *Server) dropOtherAddresses(ctx context.Context, c *call, a *cloudv1.Address) error {
	all, err := c.projectAddresses(ctx, false)
	if err != nil {
		return err
	}
	for _, other := range all {
		if other.UID == a.UID || other.Spec.InstanceID != a.Spec.InstanceID {
			continue
		}
		o := other.DeepCopy()
		err := s.changeLatest(ctx, o, func() error {
			if o.Spec.InstanceID == a.Spec.InstanceID {
				o.Spec.InstanceID = ""
			}
			return nil
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return apiError(err, "address "+allocationID(other))
		}
		if err == nil {
			s.awaitCache(ctx, o)
		}
	}
	return nil
}

type disassociateAddressInput struct {
	AssociationID string `ec2:"AssociationId"`
	PublicIP      string `ec2:"PublicIp"`
	DryRun        bool   `ec2:"DryRun"`
}

// disassociateAddress withdraws an association. By public IP an address that is not associated
// is left as it is.
func (s *Server) disassociateAddress(ctx context.Context, c *call) (any, error) {
	var in disassociateAddressInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "update", "addresses", in.DryRun); err != nil {
		return nil, err
	}
	if in.AssociationID != "" && in.PublicIP != "" {
		return nil, badRequest(codeParamCombination, "The parameters AssociationId and PublicIp cannot be used together.")
	}
	live, err := c.liveInstances(ctx)
	if err != nil {
		return nil, err
	}
	var found *cloudv1.Address
	if in.AssociationID != "" {
		all, err := c.projectAddresses(ctx, true)
		if err != nil {
			return nil, err
		}
		i := indexOf(all, func(a *cloudv1.Address) bool { return associationOf(a, live).associationID == in.AssociationID })
		if i < 0 {
			return nil, badRequest(codeAssociationNotFound, "The association ID '%s' does not exist", clipID(in.AssociationID))
		}
		found = all[i]
	} else if found, err = c.findAddress(ctx, "", in.PublicIP); err != nil {
		return nil, err
	}
	want := associationOf(found, live)
	if want.instanceID == "" {
		return &returnOutput{Return: true}, nil
	}
	a := found.DeepCopy()
	err = s.changeLatest(ctx, a, func() error {
		if a.Spec.InstanceID == want.instanceID {
			a.Spec.InstanceID = ""
		}
		return nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, apiError(err, "address "+allocationID(found))
	}
	if err == nil {
		s.awaitCache(ctx, a)
	}
	return &returnOutput{Return: true}, nil
}

type describeAddressesInput struct {
	PublicIPs     []string       `ec2:"PublicIp,list"`
	AllocationIDs []string       `ec2:"AllocationId,list"`
	Filters       []query.Filter `ec2:"Filter,list"`
	DryRun        bool           `ec2:"DryRun"`
}

type describeAddressesOutput struct {
	Addresses query.List[addressItem] `xml:"addressesSet"`
}

var addressFilters = []string{"allocation-id", "association-id", "domain", "instance-id", "public-ip",
	"private-ip-address", "network-border-group", "public-ipv4-pool"}

func (s *Server) describeAddresses(ctx context.Context, c *call) (any, error) {
	var in describeAddressesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "list", "addresses", in.DryRun); err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, addressFilters)
	if err != nil {
		return nil, err
	}
	addrs, err := c.projectAddresses(ctx, true)
	if err != nil {
		return nil, err
	}
	if len(in.PublicIPs)+len(in.AllocationIDs) > 0 {
		if addrs, err = pickAddresses(addrs, in.AllocationIDs, in.PublicIPs); err != nil {
			return nil, err
		}
	}
	live, err := c.liveInstances(ctx)
	if err != nil {
		return nil, err
	}
	out := &describeAddressesOutput{Addresses: query.NewList[addressItem]()}
	seen := map[string]bool{}
	for _, a := range addrs {
		item := s.toAddressItem(a, live)
		if seen[item.AllocationID] {
			continue
		}
		seen[item.AllocationID] = true
		attrs := func(name string) []string {
			return map[string][]string{
				"allocation-id": {item.AllocationID}, "association-id": {item.AssociationID}, "domain": {item.Domain},
				"instance-id": {item.InstanceID}, "public-ip": {item.PublicIP}, "private-ip-address": {item.PrivateIPAddress},
				"network-border-group": {item.NetworkBorderGroup}, "public-ipv4-pool": {item.PublicIPv4Pool},
			}[name]
		}
		if matcher.Match(attrs, tagsOf(a)) {
			out.Addresses.Items = append(out.Addresses.Items, item)
		}
	}
	return out, nil
}
