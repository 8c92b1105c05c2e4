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

package ec2shim_test

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/testenv"
)

// Address pools are cluster-wide and shared by every test of the binary: each test draws from a
// pool of its own, over a range no other test uses. Ranges:
//
//	198.51.100.0/28   eiplife     198.51.100.16/28  eipbad      198.51.100.32/28  eipquota
//	198.51.100.48/28  eipab       198.51.100.64/28  eipkube     198.51.100.80/29  tagall
//	198.51.100.88/29  tagbad      198.51.100.96/29  rescli      192.0.2.200/32    eipcap-tiny
//	203.0.113.0/26    the default pool

// addAddressPool creates a pool and waits until the controllers have read it.
func addAddressPool(t *testing.T, name string, isDefault bool, cidrs ...string) {
	t.Helper()
	ctx := context.Background()
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.AddressPoolSpec{CIDRs: cidrs, Default: isDefault}}
	if err := env.Client.Create(ctx, pool); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "pool "+name+" to be counted", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
			return err
		}
		if pool.Status.Total == 0 {
			return fmt.Errorf("pool %s not counted yet", name)
		}
		return nil
	})
}

// defaultPoolCIDR is the range of the default pool the tests create.
const defaultPoolCIDR = "203.0.113.0/26"

func allocate(t *testing.T, cl *ec2.Client, pool string) *ec2.AllocateAddressOutput {
	t.Helper()
	in := &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc}
	if pool != "" {
		in.PublicIpv4Pool = aws.String(pool)
	}
	out, err := cl.AllocateAddress(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func describeAddress(t *testing.T, cl *ec2.Client, allocID string) types.Address {
	t.Helper()
	return only(t, "address "+allocID, cl.DescribeAddresses, &ec2.DescribeAddressesInput{AllocationIds: []string{allocID}},
		func(out *ec2.DescribeAddressesOutput) []types.Address { return out.Addresses })
}

// instanceIP is an instance's public address as DescribeInstances reports it.
func instanceIP(cl *ec2.Client, id string) (string, error) {
	out, err := cl.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Reservations[0].Instances[0].PublicIpAddress), nil
}

func waitInstanceIP(t *testing.T, cl *ec2.Client, id, want string) {
	t.Helper()
	testenv.Eventually(t, shortWait, fmt.Sprintf("%s to have public IP %q", id, want), func() error {
		got, err := instanceIP(cl, id)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("public IP %q", got)
		}
		return nil
	})
}

func allocationIDsOf(addrs []types.Address) []string {
	return idsOf(addrs, func(a types.Address) *string { return a.AllocationId })
}

func launchTwo(t *testing.T, cl *ec2.Client, ami string) (string, string) {
	t.Helper()
	out, err := cl.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(2), MaxCount: aws.Int32(2), InstanceType: "m1.tiny"})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Instances[0].InstanceId), aws.ToString(out.Instances[1].InstanceId)
}

func TestAddressLifecycle(t *testing.T) {
	_, _, cl, ami := tenantWithNode(t, "eiplife")
	addAddressPool(t, "eiplife-pool", false, "198.51.100.0/28")
	ctx := context.Background()
	pool := netip.MustParsePrefix("198.51.100.0/28")

	out, err := cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc, PublicIpv4Pool: aws.String("eiplife-pool"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeElasticIp, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("front")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	a1, ip1 := aws.ToString(out.AllocationId), aws.ToString(out.PublicIp)
	if !strings.HasPrefix(a1, "eipalloc-") || !pool.Contains(netip.MustParseAddr(ip1)) || out.Domain != types.DomainTypeVpc ||
		aws.ToString(out.PublicIpv4Pool) != "eiplife-pool" || aws.ToString(out.NetworkBorderGroup) != "pinet" {
		t.Fatalf("allocated %+v", out)
	}
	d := describeAddress(t, cl, a1)
	if aws.ToString(d.PublicIp) != ip1 || d.Domain != types.DomainTypeVpc || aws.ToString(d.InstanceId) != "" || len(d.Tags) != 1 {
		t.Fatalf("described %+v", d)
	}
	second := allocate(t, cl, "eiplife-pool")
	a2, ip2 := aws.ToString(second.AllocationId), aws.ToString(second.PublicIp)
	if ip2 == ip1 {
		t.Fatalf("two addresses got %s", ip1)
	}

	inst1, inst2 := launchTwo(t, cl, ami)
	assoc, err := cl.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(a1), InstanceId: aws.String(inst1)})
	if err != nil {
		t.Fatal(err)
	}
	assoc1 := aws.ToString(assoc.AssociationId)
	if assoc1 != ids.Derive(ids.Association, a1+"/"+inst1) {
		t.Fatalf("association id %s", assoc1)
	}
	if d := describeAddress(t, cl, a1); aws.ToString(d.InstanceId) != inst1 || aws.ToString(d.AssociationId) != assoc1 {
		t.Fatalf("associated address %+v", d)
	}
	waitInstanceIP(t, cl, inst1, ip1)
	if again, err := cl.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(a1), InstanceId: aws.String(inst1)}); err != nil ||
		aws.ToString(again.AssociationId) != assoc1 {
		t.Fatalf("associating again: %v %s", err, aws.ToString(again.AssociationId))
	}

	// Filters.
	expectFilters(t, []filterCase{
		{"instance-id", inst1, []string{a1}},
		{"association-id", assoc1, []string{a1}},
		{"public-ip", ip2, []string{a2}},
		{"allocation-id", a2, []string{a2}},
		{"domain", "vpc", sorted(a1, a2)},
		{"network-border-group", "pinet", sorted(a1, a2)},
		{"public-ipv4-pool", "eiplife-pool", sorted(a1, a2)},
		{"tag:Name", "front", []string{a1}},
		{"tag-key", "Name", []string{a1}},
		{"domain", "standard", nil},
	}, func(f []types.Filter) (*ec2.DescribeAddressesOutput, error) {
		return cl.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: f})
	}, func(out *ec2.DescribeAddressesOutput) []string { return allocationIDsOf(out.Addresses) })
	byIP, err := cl.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{PublicIps: []string{ip2, ip1}})
	if err != nil || fmt.Sprint(allocationIDsOf(byIP.Addresses)) != fmt.Sprint(sorted(a1, a2)) {
		t.Fatalf("by public IP: %v (%v)", allocationIDsOf(byIP.Addresses), err)
	}

	// An instance has one elastic IP: a second one takes over.
	if _, err := cl.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(a2), InstanceId: aws.String(inst1)}); err != nil {
		t.Fatal(err)
	}
	if d := describeAddress(t, cl, a1); aws.ToString(d.InstanceId) != "" || aws.ToString(d.AssociationId) != "" {
		t.Fatalf("the replaced address is still associated: %+v", d)
	}
	waitInstanceIP(t, cl, inst1, ip2)

	// Moving an associated address needs AllowReassociation.
	_, err = cl.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(a2), InstanceId: aws.String(inst2)})
	expectCode(t, err, "Resource.AlreadyAssociated")
	moved, err := cl.AssociateAddress(ctx, &ec2.AssociateAddressInput{PublicIp: aws.String(ip2), InstanceId: aws.String(inst2), AllowReassociation: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	waitInstanceIP(t, cl, inst2, ip2)
	waitInstanceIP(t, cl, inst1, "")

	// An associated address is not released; disassociating frees it.
	_, err = cl.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(a2)})
	expectCode(t, err, "InvalidIPAddress.InUse")
	_, err = cl.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: aws.String(assoc1)})
	expectCode(t, err, "InvalidAssociationID.NotFound")
	if _, err := cl.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: moved.AssociationId}); err != nil {
		t.Fatal(err)
	}
	if d := describeAddress(t, cl, a2); aws.ToString(d.InstanceId) != "" {
		t.Fatalf("disassociated address %+v", d)
	}
	waitInstanceIP(t, cl, inst2, "")
	if _, err := cl.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{PublicIp: aws.String(ip2)}); err != nil {
		t.Fatalf("disassociating an unassociated address by IP: %v", err)
	}

	// A terminated instance loses its address, which can then be released.
	if _, err := cl.AssociateAddress(ctx, &ec2.AssociateAddressInput{PublicIp: aws.String(ip1), InstanceId: aws.String(inst1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{inst1}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the terminated instance's address to be free", func() error {
		if d := describeAddress(t, cl, a1); aws.ToString(d.InstanceId) != "" {
			return fmt.Errorf("still associated with %s", aws.ToString(d.InstanceId))
		}
		return nil
	})
	_, err = cl.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(a1), InstanceId: aws.String(inst1)})
	expectCode(t, err, "IncorrectInstanceState")
	if _, err := cl.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{PublicIp: aws.String(ip1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(a2)}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{a1}})
	expectCode(t, err, "InvalidAllocationID.NotFound")
	_, err = cl.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{PublicIps: []string{ip2}})
	expectCode(t, err, "InvalidAddress.NotFound")
	_, err = cl.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(a1)})
	expectCode(t, err, "InvalidAllocationID.NotFound")
	waitCount(t, shortWait, "eiplife", &cloudv1.AddressList{}, 0, "the released addresses to go")
}

func TestAddressesRefuseBadInput(t *testing.T) {
	c, creds, cl, ami := tenantWithNode(t, "eipbad")
	addAddressPool(t, "eipbad-pool", false, "198.51.100.16/28")
	ctx := context.Background()
	inst, _ := launchTwo(t, cl, ami)

	for _, tc := range []struct {
		name   string
		action string
		params url.Values
		code   string
	}{
		{"unknown pool", "AllocateAddress", url.Values{"PublicIpv4Pool": {"nosuch"}}, "InvalidPublicIpv4PoolID.NotFound"},
		{"classic domain", "AllocateAddress", url.Values{"Domain": {"classic"}, "PublicIpv4Pool": {"eipbad-pool"}}, "InvalidParameterValue"},
		{"other border group", "AllocateAddress", url.Values{"NetworkBorderGroup": {"us-east-1"}, "PublicIpv4Pool": {"eipbad-pool"}}, "InvalidParameterValue"},
		{"a chosen address", "AllocateAddress", url.Values{"Address": {"198.51.100.17"}, "PublicIpv4Pool": {"eipbad-pool"}}, "UnknownParameter"},
		{"tags for instances", "AllocateAddress", url.Values{"PublicIpv4Pool": {"eipbad-pool"},
			"TagSpecification.1.ResourceType": {"instance"}, "TagSpecification.1.Tag.1.Key": {"k"}}, "InvalidParameterValue"},
		{"dry run", "AllocateAddress", url.Values{"PublicIpv4Pool": {"eipbad-pool"}, "DryRun": {"true"}}, "DryRunOperation"},
		{"release nothing", "ReleaseAddress", url.Values{}, "MissingParameter"},
		{"release both", "ReleaseAddress", url.Values{"AllocationId": {"eipalloc-0123456789abcdef0"}, "PublicIp": {"198.51.100.17"}}, "InvalidParameterCombination"},
		{"release malformed", "ReleaseAddress", url.Values{"AllocationId": {"eipalloc-1"}}, "InvalidAllocationID.Malformed"},
		{"release unknown", "ReleaseAddress", url.Values{"AllocationId": {"eipalloc-0123456789abcdef0"}}, "InvalidAllocationID.NotFound"},
		{"release unknown IP", "ReleaseAddress", url.Values{"PublicIp": {"198.51.100.17"}}, "InvalidAddress.NotFound"},
		{"associate without instance", "AssociateAddress", url.Values{"AllocationId": {"eipalloc-0123456789abcdef0"}}, "MissingParameter"},
		{"associate without address", "AssociateAddress", url.Values{"InstanceId": {inst}}, "MissingParameter"},
		{"associate unknown", "AssociateAddress", url.Values{"AllocationId": {"eipalloc-0123456789abcdef0"}, "InstanceId": {inst}}, "InvalidAllocationID.NotFound"},
		{"associate an interface", "AssociateAddress", url.Values{"AllocationId": {"eipalloc-0123456789abcdef0"}, "NetworkInterfaceId": {"eni-1"}}, "UnknownParameter"},
		{"disassociate unknown", "DisassociateAddress", url.Values{"AssociationId": {"eipassoc-0123456789abcdef0"}}, "InvalidAssociationID.NotFound"},
		{"disassociate unknown IP", "DisassociateAddress", url.Values{"PublicIp": {"198.51.100.17"}}, "InvalidAddress.NotFound"},
		{"disassociate both", "DisassociateAddress", url.Values{"PublicIp": {"198.51.100.17"}, "AssociationId": {"eipassoc-0123456789abcdef0"}}, "InvalidParameterCombination"},
		{"describe unknown", "DescribeAddresses", url.Values{"AllocationId.1": {"eipalloc-0123456789abcdef0"}}, "InvalidAllocationID.NotFound"},
		{"describe malformed", "DescribeAddresses", url.Values{"AllocationId.1": {"eip-1"}}, "InvalidAllocationID.Malformed"},
		{"describe unknown IP", "DescribeAddresses", url.Values{"PublicIp.1": {"198.51.100.17"}}, "InvalidAddress.NotFound"},
		{"describe bad filter", "DescribeAddresses", url.Values{"Filter.1.Name": {"vpc-id"}, "Filter.1.Value.1": {"x"}}, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectQueryCode(t, c, creds, tc.action, tc.params, tc.code) })
	}
	a := allocate(t, cl, "eipbad-pool")
	for _, tc := range []struct {
		name, instance, code string
	}{
		{"unknown instance", "i-0123456789abcdef0", "InvalidInstanceID.NotFound"},
		{"malformed instance", "i-1", "InvalidInstanceID.Malformed"},
	} {
		_, err := cl.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: a.AllocationId, InstanceId: aws.String(tc.instance)})
		expectCode(t, err, tc.code)
	}

	// Nothing was half-made: one address, not associated.
	out, err := cl.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil || len(out.Addresses) != 1 || aws.ToString(out.Addresses[0].InstanceId) != "" {
		t.Fatalf("addresses after refused calls: %+v (%v)", out.Addresses, err)
	}
	expectCount(t, "eipbad", &cloudv1.AddressList{}, 1)
}

func TestAddressPools(t *testing.T) {
	_, _, cl := tenant(t, "eipcap")
	ctx := context.Background()

	// Without a pool named, the default pool gives the address; without one, nothing does.
	pools := &cloudv1.AddressPoolList{}
	if err := env.Client.List(ctx, pools); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(pools.Items, func(p cloudv1.AddressPool) bool { return p.Spec.Default }) {
		_, err := cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{})
		expectCode(t, err, "InsufficientAddressCapacity")
		addAddressPool(t, "eip-default", true, defaultPoolCIDR)
	}
	var fromDefault *ec2.AllocateAddressOutput
	testenv.Eventually(t, shortWait, "an address from the default pool", func() error {
		out, err := cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{})
		fromDefault = out
		return err
	})
	if aws.ToString(fromDefault.PublicIpv4Pool) != "eip-default" || !netip.MustParsePrefix(defaultPoolCIDR).Contains(netip.MustParseAddr(aws.ToString(fromDefault.PublicIp))) {
		t.Fatalf("from the default pool: %+v", fromDefault)
	}

	// An exhausted pool refuses, and leaves no Address behind.
	addAddressPool(t, "eipcap-tiny", false, "192.0.2.200/32")
	only := allocate(t, cl, "eipcap-tiny")
	if aws.ToString(only.PublicIp) != "192.0.2.200" {
		t.Fatalf("the tiny pool gave %s", aws.ToString(only.PublicIp))
	}
	_, err := cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{PublicIpv4Pool: aws.String("eipcap-tiny")})
	expectCode(t, err, "AddressLimitExceeded")
	if !strings.Contains(err.Error(), "address pool has no free address") {
		t.Fatalf("an empty pool's answer does not say it is the pool's: %v", err)
	}
	waitCount(t, shortWait, "eipcap", &cloudv1.AddressList{}, 2, "the refused Address to go")
	// Released, the address can be allocated again.
	if _, err := cl.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: only.AllocationId}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the released address to be allocated again", func() error {
		out, err := cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{PublicIpv4Pool: aws.String("eipcap-tiny")})
		if err != nil {
			return err
		}
		if aws.ToString(out.PublicIp) != "192.0.2.200" {
			t.Fatalf("the tiny pool gave %s", aws.ToString(out.PublicIp))
		}
		return nil
	})
}

func TestAddressQuota(t *testing.T) {
	_, _, cl := tenant(t, "eipquota")
	addAddressPool(t, "eipquota-pool", false, "198.51.100.32/28")
	ctx := context.Background()
	setQuota(t, cl, "eipquota", cloudv1.ProjectQuota{Addresses: ptr.To[int32](3)})

	// Racing allocations stop at the quota.
	errs := testenv.Race(8, func(int) error {
		_, err := cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{PublicIpv4Pool: aws.String("eipquota-pool")})
		return err
	})
	if won := winners(t, errs, "AddressLimitExceeded"); won != 3 {
		t.Fatalf("%d of 8 racing allocations succeeded under a quota of 3", won)
	}
	testenv.Eventually(t, shortWait, "three Address objects", func() error {
		list := &cloudv1.AddressList{}
		if err := env.Client.List(ctx, list, client.InNamespace("eipquota")); err != nil {
			return err
		}
		if len(list.Items) != 3 {
			return fmt.Errorf("%d Address objects", len(list.Items))
		}
		for _, a := range list.Items {
			if _, pending := a.Annotations["cloud.pinet.io/quota-pending"]; pending {
				return fmt.Errorf("admitted address %s is still marked pending", a.Name)
			}
		}
		return nil
	})
	out, err := cl.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil || len(out.Addresses) != 3 {
		t.Fatalf("%d addresses (%v)", len(out.Addresses), err)
	}
	_, err = cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{PublicIpv4Pool: aws.String("eipquota-pool")})
	expectCode(t, err, "AddressLimitExceeded")
	if _, err := cl.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: out.Addresses[0].AllocationId}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "room under the quota", func() error {
		_, err := cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{PublicIpv4Pool: aws.String("eipquota-pool")})
		return err
	})

	// An address made with kubectl counts too, once its controller has admitted it: with one
	// released, a kubectl-made one takes the room, and the API refuses the next.
	out, err = cl.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: out.Addresses[0].AllocationId}); err != nil {
		t.Fatal(err)
	}
	byHand := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: "by-hand", Namespace: "eipquota"}, Spec: cloudv1.AddressSpec{Pool: "eipquota-pool"}}
	if err := env.Client.Create(ctx, byHand); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the kubectl-made address's IP", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(byHand), byHand); err != nil {
			return err
		}
		if byHand.Status.PublicIP == "" {
			return fmt.Errorf("no IP yet: %+v", byHand.Status.Conditions)
		}
		return nil
	})
	// Admission reads the API server, not the cache: the next allocation is refused at once.
	_, err = cl.AllocateAddress(ctx, &ec2.AllocateAddressInput{PublicIpv4Pool: aws.String("eipquota-pool")})
	expectCode(t, err, "AddressLimitExceeded")
}

func TestAddressesAcrossProjects(t *testing.T) {
	c, ca, a := tenant(t, "eip-a")
	_, _, b := tenant(t, "eip-b")
	c.AddNode(t, "eipab-node", "eipab-zone", 4, 8192)
	ami := c.RegisterRawImage(t, ca, "eip-a", "disk", []byte("0123456789"), false)
	addAddressPool(t, "eipab-pool", false, "198.51.100.48/28")
	ctx := context.Background()
	theirs := allocate(t, a, "eipab-pool")
	inst, _ := launchTwo(t, a, ami)
	assoc, err := a.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: theirs.AllocationId, InstanceId: aws.String(inst)})
	if err != nil {
		t.Fatal(err)
	}
	mine := allocate(t, b, "eipab-pool")

	_, err = b.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{aws.ToString(theirs.AllocationId)}})
	expectCode(t, err, "InvalidAllocationID.NotFound")
	_, err = b.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{PublicIps: []string{aws.ToString(theirs.PublicIp)}})
	expectCode(t, err, "InvalidAddress.NotFound")
	_, err = b.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: theirs.AllocationId})
	expectCode(t, err, "InvalidAllocationID.NotFound")
	_, err = b.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: theirs.AllocationId, InstanceId: aws.String(inst)})
	expectCode(t, err, "InvalidAllocationID.NotFound")
	_, err = b.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: mine.AllocationId, InstanceId: aws.String(inst)})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	_, err = b.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: assoc.AssociationId})
	expectCode(t, err, "InvalidAssociationID.NotFound")
	out, err := b.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil || fmt.Sprint(allocationIDsOf(out.Addresses)) != fmt.Sprint([]string{aws.ToString(mine.AllocationId)}) {
		t.Fatalf("b sees %v (%v)", allocationIDsOf(out.Addresses), err)
	}
	if d := describeAddress(t, a, aws.ToString(theirs.AllocationId)); aws.ToString(d.InstanceId) != inst {
		t.Fatalf("a's address after b's calls: %+v", d)
	}
}

func TestAddressMadeWithKubectl(t *testing.T) {
	_, _, cl := tenant(t, "eipkube")
	addAddressPool(t, "eipkube-pool", false, "198.51.100.64/28")
	ctx := context.Background()
	a := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: "from-manifest", Namespace: "eipkube"}, Spec: cloudv1.AddressSpec{Pool: "eipkube-pool"}}
	if err := env.Client.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	var found types.Address
	testenv.Eventually(t, shortWait, "the address to be described", func() error {
		out, err := cl.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
		if err != nil {
			return err
		}
		if len(out.Addresses) != 1 {
			return fmt.Errorf("%d addresses", len(out.Addresses))
		}
		found = out.Addresses[0]
		return nil
	})
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(a), a); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(found.AllocationId) != a.Status.AllocationID || aws.ToString(found.PublicIp) != a.Status.PublicIP ||
		aws.ToString(found.PublicIpv4Pool) != "eipkube-pool" {
		t.Fatalf("described %+v; status %+v", found, a.Status)
	}
	if _, err := cl.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: found.AllocationId}); err != nil {
		t.Fatal(err)
	}
}
